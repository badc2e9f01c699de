"""`manage.py hotline_token NAME`: make a 12345 hotline API token and print its value
once (only its hash is kept; CONTRACT §1)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from odr.errors import DomainError
from odr.services.hotline import token_create


class Command(BaseCommand):
    help = "Make a token for the 12345 hotline system and print it (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who the token is for, e.g. 安吉县12345热线")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            _token, value = token_create(name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(value)
