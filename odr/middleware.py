"""Request middleware: the client address for the audit trail, TOTP for staff, and the one
place where a page's NotFound becomes a 404."""

from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from odr.errors import NotFound
from odr.request_context import client_ip_of, reset_client_ip, set_client_ip
from odr.selectors import user_is_staff_member

# Pages a staff member without TOTP may still reach: to set it up, or to leave.
_MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/_allauth/", "/api/v1/openapi")


class RequireStaffMFAMiddleware:
    """Mediators, coordinators and court clerks must have TOTP on in production
    (issue 2 §2). Until they do, every page sends them to the TOTP set-up page and the API
    answers 403 with code `mfa_required`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = set_client_ip(client_ip_of(request))
        try:
            return self._respond(request)
        finally:
            # The address belongs to this request only, never to the next one the same
            # worker serves.
            reset_client_ip(token)

    def _respond(self, request: HttpRequest) -> HttpResponse:
        if settings.ODR_REQUIRE_STAFF_MFA and self._needs_mfa(request):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                return JsonResponse(
                    {
                        "detail": "Two-factor authentication must be set up first.",
                        "code": "mfa_required",
                    },
                    status=403,
                )
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _needs_mfa(request: HttpRequest) -> bool:
        if request.path.startswith(_MFA_EXEMPT_PREFIXES):
            return False
        user = getattr(request, "user", None)
        if (user is None or not user.is_authenticated) and request.path.startswith("/api/"):
            # App clients authenticate by X-Session-Token, not the cookie: without this
            # a staff member could skip TOTP by using the API.
            user = _token_user(request)
        if user is None or not user.is_authenticated:
            return False
        if not user_is_staff_member(user):
            return False
        from allauth.mfa.models import Authenticator

        return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def _token_user(request: HttpRequest):
    token = request.headers.get("X-Session-Token")
    if not token:
        return None
    from allauth.headless.internal.sessionkit import authenticate_by_x_session_token

    result = authenticate_by_x_session_token(token)
    return result.user if result is not None else None


class NotFoundMiddleware:
    """A page whose selector raises NotFound answers 404, exactly as for what does not
    exist (ids cannot be probed). Views let NotFound rise instead of each catching it;
    the API has its own handler (config/api.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            raise Http404 from exception
        return None
