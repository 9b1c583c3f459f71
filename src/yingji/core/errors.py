"""Errors raised by services. Views render them in Chinese; the API returns
``{"code", "message", "detail"}`` with the matching HTTP status."""
from django.utils.translation import gettext_lazy as _


class YingjiError(Exception):
    status = 400
    code = "invalid"
    default_message = _("请求无效")

    def __init__(self, message=None, *, detail=None, code: str | None = None):
        self.message = str(message or self.default_message)
        self.detail = detail or {}
        if code:
            self.code = code
        super().__init__(self.message)

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class InvalidInput(YingjiError):
    status = 422
    code = "invalid_input"
    default_message = _("输入有误,请检查后重试")


class NotFound(YingjiError):
    """Also raised for records outside the user's scope: out of scope looks like absent."""

    status = 404
    code = "not_found"
    default_message = _("记录不存在或无权访问")


class Forbidden(YingjiError):
    status = 403
    code = "forbidden"
    default_message = _("无权执行此操作")


class Conflict(YingjiError):
    status = 409
    code = "conflict"
    default_message = _("记录已被他人修改,请刷新后重试")


class Throttled(YingjiError):
    status = 429
    code = "throttled"
    default_message = _("尝试次数过多,请稍后再试")
