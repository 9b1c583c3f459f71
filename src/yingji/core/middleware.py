import ipaddress
import re

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from django.utils.functional import empty
from django.utils.translation import gettext as _

from . import audit

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # fullmatch: no trailing newline, at most the column's 64


def _ip(value: str) -> str | None:
    """``value`` as a normalised IP address, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(value.strip().split("%")[0]))  # no IPv6 zone: not storable
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address. Directly exposed (default): the socket's peer, REMOTE_ADDR. Behind
    reverse proxies (YINGJI_BEHIND_PROXY) each of the YINGJI_TRUSTED_PROXIES proxies appends the
    address it received the request from to X-Forwarded-For, so the client is the N-th entry from
    the right; whatever the client itself put to the left of it is ignored (it can be forged). A
    chain shorter than N, or an entry that is not an address, falls back to REMOTE_ADDR."""
    if getattr(settings, "BEHIND_PROXY", False):
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        trusted = max(1, getattr(settings, "TRUSTED_PROXIES", 1))
        if len(hops) >= trusted:
            address = _ip(hops[-trusted])
            if address:
                return address
    return _ip(request.META.get("REMOTE_ADDR") or "")


class RequestContextMiddleware:
    """Gives every request an id (echoed in ``X-Request-ID``) and binds it and the client
    address to the audit context for the duration of the request. An incoming ``X-Request-ID``
    is kept only when it is 1-64 characters of ``A-Z a-z 0-9 . _ -``; otherwise a new id is made."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.fullmatch(incoming) else audit.new_request_id()
        request.request_id = request_id
        request.client_ip = ip = client_ip(request)
        with audit.context(actor=None, request_id=request_id, ip=ip):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


# Pages a user who must change their password may still reach (prefixes).
PASSWORD_CHANGE_EXEMPT = ("/password/", "/logout/", "/login/", "/i18n/", "/api/", "/static/")


class ActorMiddleware:
    """After session auth: the signed-in user becomes the audit actor, and a user who must
    change their (initial or reset) password is sent to the password form first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # Replace the lazy wrapper by the user itself: services take ``type(obj)`` of the
            # records they are given (audit entries, scoping), which a SimpleLazyObject breaks.
            wrapped = getattr(user, "_wrapped", None)
            if wrapped is not None and wrapped is not empty:
                request.user = user = wrapped
            audit.set_actor(user)
            if getattr(user, "must_change_password", False) and not request.path.startswith(PASSWORD_CHANGE_EXEMPT):
                return redirect_to_login(request.get_full_path(), reverse("core:password_change"), "next")
        return self.get_response(request)


class ErrorPageMiddleware:
    """Service errors raised in a page become a Chinese error page with the right status
    (out of scope → 404), never a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            from .errors import InvalidInput

            message = _("输入内容不能包含空字符")
            return self.process_exception(request, InvalidInput(message, detail={"input": message}))
        return self.get_response(request)

    def process_exception(self, request, exception):
        from .errors import YingjiError
        from .scoping import HardDeleteForbidden

        if isinstance(exception, HardDeleteForbidden):
            from .errors import Forbidden

            exception = Forbidden("业务记录只能归档,不能删除")
        if isinstance(exception, YingjiError):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                return JsonResponse(exception.as_dict(), status=exception.status,
                                    json_dumps_params={"ensure_ascii": False})
            return error_page(request, exception)
        return None


def error_page(request, exc):
    """The page of a refused request (``core/error.html``) with the error's status. It lives here,
    below the views, so that the middleware needs no view module (core.views re-exports it)."""
    from django.shortcuts import render

    return render(request, "core/error.html", {"error": exc}, status=exc.status)


def _has_nul(request) -> bool:
    """NUL characters in the query string or a JSON body: no database stores them (PostgreSQL
    refuses them outright), so such input is refused up front, for pages and API alike."""
    if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    if request.content_type == "application/json":
        body = request.body
        return b"\x00" in body or b"\\u0000" in body
    return False
