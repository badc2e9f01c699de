"""Request middleware: the client address for the audit trail, the one two-factor gate
(pages, API, admin; `StaffMFAWebsocketGate` applies the same rule to the room socket),
the security headers, and the one place where a page's NotFound becomes a 404."""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers

from odr.errors import NotFound
from odr.links import origin_of, reset_origin, set_origin
from odr.request_context import client_ip_of, reset_client_ip, set_client_ip
from odr.selectors import staff_member_ids

# Pages a staff member without TOTP may still reach: to set it up, or to leave.
_MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/_allauth/", "/api/v1/openapi")


def mfa_required(user) -> bool:
    """The one rule (issue 11, H1/H2): in production, mediators, coordinators, court staff
    and the platform's own administrators (superusers, admin staff) must have TOTP on
    before they reach anything but the TOTP set-up. Pages, the API, the admin and the
    room's WebSocket all ask this function (or `mfa_refused_among`, the same rule for
    several users)."""
    return user is not None and user.pk in mfa_refused_among([user])


def mfa_refused_among(users: Iterable) -> set[int]:
    """The ids of those among `users` whom the two-factor rule stops, asked for all at
    once (a batch of room joins, issue 13): no query when the rule is off, at most two
    otherwise (who of them works for an organisation, who of those held to the rule has
    TOTP on)."""
    if not settings.ODR_REQUIRE_STAFF_MFA:
        return set()
    from allauth.mfa.models import Authenticator

    people = {u.pk: u for u in users if u is not None and u.is_authenticated}
    held = {pk for pk, u in people.items() if u.is_superuser or u.is_staff}
    others = [pk for pk in people if pk not in held]
    if others:
        held |= staff_member_ids(others)
    if not held:
        return set()
    with_totp = Authenticator.objects.filter(user_id__in=held, type=Authenticator.Type.TOTP)
    return held - set(with_totp.values_list("user_id", flat=True))


class RequireStaffMFAMiddleware:
    """Pages and the API under the two-factor rule (`mfa_required`): until TOTP is on,
    every page sends its user to the TOTP set-up page and the API answers 403 with code
    `mfa_required`. The admin is a page like any other; it logs in through allauth
    (config/urls.py), so its log-in asks for the TOTP code and is rate-limited."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = set_client_ip(client_ip_of(request))
        origin = set_origin(origin_of(request))
        try:
            return self._respond(request)
        finally:
            # The address belongs to this request only, never to the next one the same
            # worker serves.
            reset_origin(origin)
            reset_client_ip(token)

    def _respond(self, request: HttpRequest) -> HttpResponse:
        if self._needs_mfa(request):
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
        if not settings.ODR_REQUIRE_STAFF_MFA or request.path.startswith(_MFA_EXEMPT_PREFIXES):
            return False
        user = getattr(request, "user", None)
        if (user is None or not user.is_authenticated) and request.path.startswith("/api/"):
            # App clients authenticate by X-Session-Token, not the cookie: without this
            # a staff member could skip TOTP by using the API.
            user = _token_user(request)
        return mfa_required(user)


def _token_user(request: HttpRequest):
    result = token_authentication(request)
    return result.user if result is not None else None


def token_authentication(request: HttpRequest):
    """The session and user of the request's X-Session-Token (allauth's
    `authenticate_by_x_session_token`), or None without a token or for an unknown one,
    looked up once per request: the two-factor gate asks before the view, the API's
    authentication (config/api.py) again in it (issue 14: the same session and user were
    read twice on every API call in production)."""
    token = request.headers.get("X-Session-Token")
    if not token:
        return None
    known = request.__dict__.get("_odr_token_authentication")
    if known is not None and known[0] == token:
        return known[1]
    from allauth.headless.internal.sessionkit import authenticate_by_x_session_token

    result = authenticate_by_x_session_token(token)
    request._odr_token_authentication = (token, result)  # type: ignore[attr-defined]
    return result


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


class StaffMFAWebsocketGate:
    """The room socket under the same two-factor rule as pages and the API: a cookie
    session whose user `mfa_required` is refused at the handshake. (A ticket is issued by
    the API, which the same rule already guards.) Wraps the cookie-authenticated stack."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        from channels.db import database_sync_to_async
        from channels.security.websocket import WebsocketDenier

        user = scope.get("user")
        signed_in = user is not None and user.is_authenticated
        if signed_in and await database_sync_to_async(mfa_required)(user):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


class SecurityHeadersMiddleware:
    """Headers beside Django's own and the CSP: a Permissions-Policy on every answer, and
    `Cache-Control: no-store` on every answer to a signed-in user (case pages, PDFs,
    API answers carry personal data a shared computer's cache must not keep)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.ODR_PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if (signed_in or request.headers.get("X-Session-Token")) and not request.path.startswith(
            settings.STATIC_URL
        ):
            add_never_cache_headers(response)
        return response
