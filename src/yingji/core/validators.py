"""Input validators shared by every app's services (they raise InvalidInput in Chinese)."""
from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from .errors import InvalidInput

_MICRO = Decimal("0.000001")


def field_error(field: str, message: str) -> InvalidInput:
    """The error of one input field: the message, and the same message under the field's name."""
    return InvalidInput(message, detail={field: message})


_bad = field_error


def clean_text(field: str, value, max_length: int, label: str, required: bool = False, empty_message=None) -> str:
    """Stripped text of at most ``max_length`` characters; ``required`` refuses empty text."""
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise field_error(field, (empty_message or _("%(label)s不能为空")) % {"label": label})
    if len(value) > max_length:
        raise field_error(field, _("%(label)s不能超过%(n)d个字") % {"label": label, "n": max_length})
    return value


def clean_date(field: str, value, label: str, required: bool = True) -> datetime.date | None:
    """A date from a date, a datetime or ``YYYY-MM-DD`` text; empty is None unless ``required``."""
    if value in (None, ""):
        if required:
            raise field_error(field, _("请填写%(label)s") % {"label": label})
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise field_error(field, _("%(label)s格式不正确,应为年-月-日") % {"label": label}) from None


def clean_choice(field: str, value, choices, label: str, default=None) -> str:
    """One of ``choices`` (a TextChoices class); empty gives ``default`` or an error."""
    if value in (None, ""):
        if default is not None:
            return default
        raise field_error(field, _("请选择%(label)s") % {"label": label})
    if str(value) not in choices.values:
        raise field_error(field, _("%(label)s无效:%(v)s") % {"label": label, "v": value})
    return str(value)


def clean_coordinates(latitude, longitude, *, within_china: bool = False) -> tuple[Decimal | None, Decimal | None]:
    """WGS-84 latitude/longitude as 6-decimal ``Decimal`` s, or ``(None, None)`` when both are empty.

    Both or neither; numbers only (NaN/Infinity refused); within range; with ``within_china`` also inside
    a rough bounding box of China, which catches swapped or shifted coordinates.
    """
    if latitude in (None, "") and longitude in (None, ""):
        return None, None
    if latitude in (None, "") or longitude in (None, ""):
        raise _bad("latitude", _("经度和纬度须同时填写"))
    try:
        lat, lng = Decimal(str(latitude).strip()), Decimal(str(longitude).strip())
    except (InvalidOperation, ValueError):
        raise _bad("latitude", _("经纬度格式不正确")) from None
    if not lat.is_finite() or not lng.is_finite():
        raise _bad("latitude", _("经纬度格式不正确"))
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise _bad("latitude", _("经纬度超出范围(纬度-90~90,经度-180~180),请检查是否填反"))
    if within_china and not (3 <= lat <= 54 and 73 <= lng <= 136):
        raise _bad("latitude", _("坐标不在中国境内,请检查是否填反了经度和纬度(应为WGS-84坐标)"))
    return lat.quantize(_MICRO), lng.quantize(_MICRO)
