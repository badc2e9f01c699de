"""The one domain error type (DESIGN.md §4.3). Views turn it into a message or a 4xx JSON
answer `{"detail", "code"}`; consumers into `{"type": "error", "code", "message"}`."""

from django.utils.functional import Promise


class DomainError(Exception):
    """A refused request. `status` is the HTTP status an API answers with."""

    def __init__(self, code: str, message: str | Promise, *, status: int = 409) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = str(message)
        self.status = status

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    """The object does not exist or the caller may not see it: the same answer for both,
    so ids cannot be probed."""

    def __init__(self, message: str | Promise = "Not found.") -> None:
        super().__init__("not_found", message, status=404)


class Forbidden(DomainError):
    def __init__(self, message: str | Promise, *, code: str = "forbidden") -> None:
        super().__init__(code, message, status=403)


class Invalid(DomainError):
    def __init__(self, message: str | Promise, *, code: str = "invalid") -> None:
        super().__init__(code, message, status=400)
