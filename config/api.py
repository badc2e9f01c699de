"""The JSON API under /api/v1/ (CONTRACT §3). Each app contributes a router; errors are
always `{"detail", "code"}` with a 4xx status."""

from allauth.headless.contrib.ninja.security import XSessionTokenAuth
from allauth.usersessions.internal import usersessionkit
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import SessionAuth

from odr.errors import DomainError
from odr.middleware import token_authentication


class CookieSessionAuth(SessionAuth):
    """The browser's cookie session, with Django's CSRF check on unsafe methods."""


class SessionTokenAuth(XSessionTokenAuth):
    """allauth's app client (X-Session-Token), as allauth's own `x_session_token_auth`
    (no anonymous users, no invalid tokens), reading the token's session and user through
    `token_authentication`: once per request, shared with the two-factor gate."""

    def __call__(self, request: HttpRequest):
        if not self.get_session_token(request):
            return None
        result = token_authentication(request)
        if result is None or result.user is None:
            return None
        usersessionkit.track_activity(request, user=result.user, session=result.session)
        request.user = result.user  # type: ignore[assignment]
        return result.user


api = NinjaAPI(
    title="ODR platform API",
    version="1",
    description="Online dispute resolution: disputes, mediation sessions, agreements, "
    "judicial confirmation. Authenticate with allauth's headless app client "
    "(X-Session-Token) or the browser session cookie.",
    auth=[SessionTokenAuth(), CookieSessionAuth()],
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error_response(request: HttpRequest, *, status: int, detail: str, code: str) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "code": code}, status=status)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(request, status=exc.status, detail=exc.message, code=exc.code)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    parts = []
    for error in exc.errors:
        where = ".".join(str(p) for p in error.get("loc", []) if p not in ("body", "payload"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return error_response(
        request, status=422, detail="; ".join(parts) or "Invalid input.", code="validation_error"
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, status=401, detail="Log in first.", code="unauthenticated")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, status=exc.status_code, detail=str(exc), code="http_error")


def _register_routers() -> None:
    from agreements.api import router as agreements_router
    from agreements.court.api import router as court_router
    from agreements.documents.api import router as documents_router
    from odr.api import router as odr_router
    from odr.hotline_api import router as hotline_router
    from sessions.api import router as sessions_router
    from sessions.media.api import router as media_router

    api.add_router("", odr_router)
    api.add_router("", hotline_router)
    api.add_router("", sessions_router)
    api.add_router("", media_router)
    api.add_router("", agreements_router)
    api.add_router("", documents_router)
    api.add_router("", court_router)


_register_routers()
