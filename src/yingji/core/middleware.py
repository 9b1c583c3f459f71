import ipaddress
import json
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
        message = _bad_text(request)
        if message:
            from .errors import InvalidInput

            return self.process_exception(request, InvalidInput(message, detail={"input": message}))
        return self.get_response(request)

    def process_exception(self, request, exception):
        from .errors import YingjiError
        from .scoping import HardDeleteForbidden

        if isinstance(exception, HardDeleteForbidden):
            from .errors import Forbidden

            exception = Forbidden("业务记录只能归档,不能删除")
        if isinstance(exception, OverflowError):
            # A number no database column holds (an id beyond 64 bits reaching SQLite, a date
            # beyond year 9999): only input produces one, so it is an input error, not a 500.
            from .errors import InvalidInput

            exception = InvalidInput(_("数值超出范围"), detail={"input": _("数值超出范围")})
        if isinstance(exception, YingjiError):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                return JsonResponse(exception.as_dict(), status=exception.status,
                                    json_dumps_params={"ensure_ascii": False})
            return error_page(request, exception)
        return None


# A JSON escape of a UTF-16 surrogate (``\\ud800``-``\\udfff``): the only way a JSON body brings
# one (raw surrogate bytes are invalid UTF-8). Pairs (emoji) are fine; a lone one is not text.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _reads_json(request) -> bool:
    """Whether the body is read as JSON: declared so, or any body but a form sent to the API
    (django-ninja parses the body as JSON whatever its declared type)."""
    if request.content_type == "application/json":
        return True
    return request.path.startswith("/api/") and request.content_type not in _FORM_TYPES


def _bad_text(request) -> str | None:
    """The Chinese reason to refuse input no database stores, or None.

    NUL characters (PostgreSQL refuses them) in the query string or a JSON body, and, in a JSON
    body, bytes that are not UTF-8 or lone UTF-16 surrogates (neither SQLite nor psycopg can encode
    them). Query strings and form bodies cannot carry surrogates: Django decodes them with
    ``errors="replace"``. Cheap: a byte scan; the JSON is parsed only when a surrogate escape
    shows or the body is not an object. For the API a JSON body must be an object (a list, a
    string or ``null`` is no payload).
    """
    if _has_nul(request):
        return _("输入内容不能包含空字符")
    if not _reads_json(request):
        return None
    body = request.body
    if not body:
        return None
    try:
        text = body.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        return _("输入内容须为UTF-8编码的文本")
    data = None
    if _SURROGATE_ESCAPE.search(body):
        try:
            data = json.loads(text)
        except ValueError:
            return None  # not JSON at all: the API answers its own parse error
        if _has_lone_surrogate(data):
            return _("输入内容包含无效字符")
    if request.path.startswith("/api/") and text.lstrip()[:1] != "{":
        if data is None:
            try:
                data = json.loads(text)
            except ValueError:
                return None
        if not isinstance(data, dict):
            return _("请求内容须为JSON对象")
    return None


def _has_lone_surrogate(data) -> bool:
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(data, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_lone_surrogate(v) for v in data)
    return False


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
    if _reads_json(request):
        body = request.body
        return b"\x00" in body or b"\\u0000" in body
    return False
