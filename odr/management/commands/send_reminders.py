"""Sends every reminder that is due: invitations about to expire, mediation deadlines,
sessions tomorrow and shortly, the judicial-confirmation window, court deadlines and
obligations due. `--loop SECONDS` keeps running (the run command starts it that way; in
production run it from a timer or as a service)."""

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Send every reminder that is due; with --loop, keep doing so."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--loop",
            type=int,
            default=0,
            metavar="SECONDS",
            help="run again every SECONDS seconds until stopped",
        )

    def handle(self, *args: Any, loop: int, **options: Any) -> None:
        while True:
            now = timezone.now()
            for path in settings.ODR_REMINDER_JOBS:
                sent = import_string(path)(now=now)
                if sent:
                    self.stdout.write(f"{path}: {sent} reminder(s) sent")
            if not loop:
                return
            time.sleep(loop)
