"""Input validators shared by every app's services (they raise InvalidInput in Chinese)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from .errors import InvalidInput

_MICRO = Decimal("0.000001")


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, detail={field: message})


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
