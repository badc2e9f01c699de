from django.apps import AppConfig


class FrontendConfig(AppConfig):
    # Templates, static files and the room's JavaScript; no models.
    name = "frontend"
