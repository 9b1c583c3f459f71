"""The HTTP API under /api/v1/ (django-ninja). OpenAPI at /api/v1/openapi.json.

Authentication: ``Authorization: Bearer <token>`` (``yingji token create USERNAME``) or the
browser session (with CSRF). Every error has one shape: ``{"code", "message", "detail"}`` with
``message`` in Chinese. Each app contributes a router from its ``api.py``.
"""
import logging

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from .core import audit, services
from .core.apidocs import SwaggerDocs
from .core.errors import YingjiError
from .core.scoping import HardDeleteForbidden

log = logging.getLogger(__name__)


class BearerAuth(HttpBearer):
    openapi_description = "令牌:yingji token create USERNAME"

    def authenticate(self, request, token):
        user = services.user_for_token(token)
        if user is None:
            # Counted per client address; over the limit the request answers 429 (on_auth_error).
            from .core.middleware import client_ip

            ip = getattr(request, "client_ip", None) or client_ip(request)
            request.token_throttled = services.token_failure_throttled(ip)
            return None
        request.user = user
        audit.set_actor(user)
        return user


class SessionAuth(APIKeyCookie):
    """The signed-in browser session; unsafe methods need the CSRF token (ninja checks it)."""

    param_name = "sessionid"

    def _get_key(self, request):
        # No signed-in session, nothing to protect: the caller is unauthenticated (401), not a
        # CSRF failure (403). A signed-in session still needs the CSRF token on unsafe methods.
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


class YingjiAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs):
        """An optional body (``payload: X | None = None``) is documented as "X or nothing", not as
        "X or JSON null": a JSON body must be an object (core.middleware refuses the rest)."""
        schema = super().get_openapi_schema(**kwargs)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    options = media.get("schema", {}).get("anyOf", [])
                    if len(options) == 2 and {"type": "null"} in options:
                        media["schema"] = next(o for o in options if o != {"type": "null"})
        return schema


api = YingjiAPI(
    title="yingji 应急管理平台 API",
    version="1",
    urls_namespace="api",
    auth=[BearerAuth(), SessionAuth()],
    docs_url="/docs",
    docs=SwaggerDocs(),
)


def _error(request, status: int, code: str, message: str, detail=None):
    return api.create_response(request, {"code": code, "message": message, "detail": detail or {}}, status=status)


@api.exception_handler(YingjiError)
def on_yingji_error(request, exc: YingjiError):
    return _error(request, exc.status, exc.code, exc.message, exc.detail)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    detail = {}
    for err in exc.errors:
        loc = ".".join(str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload"))
        detail[loc or "body"] = err.get("msg", "")
    return _error(request, 422, "invalid_input", "输入有误,请检查后重试", detail)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    if getattr(request, "token_throttled", False):
        return _error(request, 429, "throttled", "令牌验证失败次数过多,请稍后再试")
    response = _error(request, 401, "unauthenticated", "未登录或令牌无效")
    response["WWW-Authenticate"] = 'Bearer realm="yingji"'
    return response


@api.exception_handler(OverflowError)
def on_overflow(request, exc):
    # A number beyond what the database holds (an id over 64 bits on SQLite, a date past year
    # 9999): only input gives one, wherever it is first used; an input error, not a 500.
    return _error(request, 422, "invalid_input", "数值超出范围", {"input": "数值超出范围"})


@api.exception_handler(Http404)
def on_404(request, exc):
    return _error(request, 404, "not_found", "记录不存在或无权访问")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    messages = {400: "请求无效", 401: "未登录或令牌无效", 403: "无权执行此操作", 404: "记录不存在或无权访问",
                405: "不支持该请求方法", 413: "上传内容过大", 429: "请求过于频繁,请稍后再试"}
    return _error(request, exc.status_code, "http_%d" % exc.status_code,
                  messages.get(exc.status_code, str(exc.message)))


@api.exception_handler(HardDeleteForbidden)
def on_delete(request, exc):
    return _error(request, 403, "forbidden", "业务记录只能归档,不能删除")


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    log.exception("unexpected API error (request %s)", getattr(request, "request_id", ""))
    return _error(request, 500, "server_error", "系统繁忙,请稍后再试",
                  {"request_id": getattr(request, "request_id", "")})


from .core.api import router as core_router  # noqa: E402
from .core.api_attachments import router as attachments_router  # noqa: E402
from .core.api_jobs import router as jobs_router  # noqa: E402
from .core.api_exports import router as exports_router  # noqa: E402
from .core.api_notifications import router as notifications_router  # noqa: E402
from .registry.api import router as registry_router  # noqa: E402
from .registry.api_imports import router as registry_imports_router  # noqa: E402
from .registry.api_map import router as registry_map_router  # noqa: E402
from .risk.api import router as risk_router  # noqa: E402
from .hazards.api import router as hazards_router  # noqa: E402
from .checklists.api import router as checklists_router  # noqa: E402
from .inspections.api import router as inspections_router  # noqa: E402
from .supervision.api import router as supervision_router  # noqa: E402
from .stats.api import router as stats_router  # noqa: E402

api.add_router("/", core_router)
api.add_router("/attachments", attachments_router)
api.add_router("/jobs", jobs_router)
api.add_router("/exports", exports_router)
api.add_router("/notifications", notifications_router)
api.add_router("/sites", registry_router)
api.add_router("/site-imports", registry_imports_router)
api.add_router("/map", registry_map_router)
api.add_router("/risk", risk_router)
api.add_router("/hazards", hazards_router)
api.add_router("/checklists", checklists_router)
api.add_router("/inspections", inspections_router)
api.add_router("/supervision", supervision_router)
api.add_router("/stats", stats_router)
