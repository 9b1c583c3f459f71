"""Working days (工作日) on the mainland Chinese calendar.

A day is a working day when it is Monday–Friday and not a statutory holiday, or when it is a
weekend day the State Council moved work to (调休上班, e.g. Saturday 2023-10-07).

Holidays come from the ``holidays`` package (``holidays.China``: statutory holidays, including
the weekday "days off" created by 调休). The package (0.105) has no ``workday`` category for the
adjusted working weekends, so they are kept here as data, ``ADJUSTED_WORKDAYS``, as published in
the State Council's yearly notices (国务院办公厅关于节假日安排的通知). A test checks the table
against the substitution data of the ``holidays`` package, so the two cannot silently diverge.

The notice for a year is published around November of the year before. A later year is loaded
as data with ``yingji load_calendar --year 2027 --file 2027.tsv`` (:func:`load_calendar`, audited;
stored in ``supervision.WorkCalendar``): its days off and its worked weekends then replace the
package's estimates for that year. A year neither built in nor loaded counts weekends and the
package's holidays only: :func:`calendar_covers` says whether a date's year is known, and
:func:`calendar_warning` gives the message pages show next to a deadline computed beyond it
("工作日历未载入2027年,期限按自然日/周末推算,请管理员载入").
"""
from __future__ import annotations

import datetime
import threading
import time
from functools import lru_cache

import holidays
from django.db import transaction

from yingji.core.audit import service

# Weekend days that are working days (调休上班), by year, from the State Council notices.
ADJUSTED_WORKDAYS: dict[int, tuple[str, ...]] = {
    2023: ("2023-01-28", "2023-01-29", "2023-04-23", "2023-05-06", "2023-06-25", "2023-10-07", "2023-10-08"),
    2024: ("2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14", "2024-09-29",
           "2024-10-12"),
    2025: ("2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"),
    2026: ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"),
}

_ADJUSTED: frozenset[datetime.date] = frozenset(
    datetime.date.fromisoformat(d) for days in ADJUSTED_WORKDAYS.values() for d in days)

# A deadline far beyond this is a typo; the loops below stay bounded.
MAX_SPAN_DAYS = 366 * 20


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[datetime.date]:
    return frozenset(holidays.China(years=year).keys())


def _as_date(d) -> datetime.date:
    if isinstance(d, datetime.datetime):
        return d.date()
    if isinstance(d, datetime.date):
        return d
    raise TypeError(f"expected a date, got {type(d).__name__}")


BUILTIN_YEARS: frozenset[int] = frozenset(ADJUSTED_WORKDAYS)
LOADED_CACHE_SECONDS = 60  # another process's `load_calendar` is seen within this time

_loaded_lock = threading.Lock()
_loaded_cache: tuple[float, dict[int, tuple[frozenset, frozenset]]] | None = None


def reset_cache() -> None:
    global _loaded_cache
    with _loaded_lock:
        _loaded_cache = None


def _loaded() -> dict[int, tuple[frozenset[datetime.date], frozenset[datetime.date]]]:
    """Loaded years → (days off, worked weekends); read once a minute per process, and only for a
    year that is not built in (so the built-in years never touch the database)."""
    global _loaded_cache
    now = time.monotonic()
    cached = _loaded_cache
    if cached is not None and now - cached[0] < LOADED_CACHE_SECONDS:
        return cached[1]
    from .models import WorkCalendar

    data = {}
    for year, off, worked in WorkCalendar.objects.values_list("year", "holidays", "workdays"):
        data[year] = (frozenset(map(datetime.date.fromisoformat, off)),
                      frozenset(map(datetime.date.fromisoformat, worked)))
    with _loaded_lock:
        _loaded_cache = (now, data)
    return data


def calendar_covers(d) -> bool:
    """Whether the official calendar of ``d``'s year is known (built in or loaded)."""
    year = _as_date(d).year
    return year in BUILTIN_YEARS or year in _loaded()


def uncovered_years(*dates) -> list[int]:
    """The years from the earliest to the latest of ``dates`` whose calendar is not known."""
    days = [_as_date(d) for d in dates if d is not None]
    if not days:
        return []
    years = range(min(days).year, max(days).year + 1)
    missing = [y for y in years if y not in BUILTIN_YEARS]
    if missing:
        loaded = _loaded()
        missing = [y for y in missing if y not in loaded]
    return missing


def calendar_warning(*dates) -> str | None:
    """The warning to show next to working-day deadlines computed over ``dates`` (the start and the
    result of each computation), or None when the calendar covers them."""
    from django.utils.translation import gettext as _

    missing = uncovered_years(*dates)
    if not missing:
        return None
    return _("工作日历未载入%(years)s年,期限按自然日/周末推算,请管理员载入") % {
        "years": "、".join(str(y) for y in missing)}


class CalendarNotLoaded(ValueError):
    """A strict working-day computation reached a year whose calendar is not loaded."""


def is_working_day(d) -> bool:
    d = _as_date(d)
    if d.year not in BUILTIN_YEARS:
        loaded = _loaded().get(d.year)
        if loaded is not None:
            off, worked = loaded
            return d in worked or (d.weekday() < 5 and d not in off)
    if d in _ADJUSTED:
        return True
    if d.weekday() >= 5:
        return False
    return d not in _holidays_of(d.year)


def add_working_days(d, n: int, *, strict: bool = False) -> datetime.date:
    """The date ``n`` working days after ``d`` (before it when ``n`` is negative); ``d`` itself
    when ``n`` is 0. ``d`` need not be a working day: counting starts on the next day.

    ``strict``: raise :class:`CalendarNotLoaded` when the count runs through a year whose calendar
    is not known (else such a year counts weekends and the package's estimated holidays)."""
    start = d = _as_date(d)
    if abs(n) > MAX_SPAN_DAYS:
        raise ValueError("too many working days")
    step = datetime.timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        d += step
        if is_working_day(d):
            remaining -= 1
    if strict and uncovered_years(start, d):
        raise CalendarNotLoaded(calendar_warning(start, d))
    return d


def working_days_between(a, b) -> int:
    """Working days in ``(a, b]`` — negative when ``b`` is before ``a`` (then in ``(b, a]``).

    ``working_days_between(d, add_working_days(d, n)) == n`` for every ``d`` and ``n``.
    """
    a, b = _as_date(a), _as_date(b)
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    if (b - a).days > MAX_SPAN_DAYS:
        raise ValueError("span too long")
    count = 0
    d = a
    one = datetime.timedelta(days=1)
    while d < b:
        d += one
        if is_working_day(d):
            count += 1
    return sign * count


def add_years(d, years: int = 1) -> datetime.date:
    """The same calendar day ``years`` later (29 February → 28 February)."""
    d = _as_date(d)
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


# ---------------------------------------------------------------- loading a year (yingji load_calendar)

_KINDS = {"休": "holiday", "假": "holiday", "holiday": "holiday", "off": "holiday",
          "班": "workday", "workday": "workday", "work": "workday"}


def parse_calendar(text: str, year: int) -> tuple[list[datetime.date], list[datetime.date], dict[str, str]]:
    """Rows ``date<TAB>kind[<TAB>name]`` (kind 休 / holiday = a day off, 班 / workday = a weekend day
    worked; ``#`` starts a comment; a header row ``date…`` is skipped) → (days off, worked
    weekends, names). Raises ``InvalidInput`` naming the line of the first problem."""
    from django.utils.translation import gettext as _

    from yingji.core.errors import InvalidInput

    def bad(lineno, message):
        msg = _("第%(n)d行:%(m)s") % {"n": lineno, "m": message}
        return InvalidInput(msg, detail={"file": msg})

    off: dict[datetime.date, str] = {}
    worked: dict[datetime.date, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.replace(",", "\t").split("\t")]
        if lineno == 1 and cells[0].lower() in ("date", "日期"):
            continue
        if len(cells) < 2:
            raise bad(lineno, _("每行须为“日期<Tab>类型[<Tab>名称]”"))
        try:
            day = datetime.date.fromisoformat(cells[0])
        except ValueError:
            raise bad(lineno, _("日期须为YYYY-MM-DD格式:%(v)s") % {"v": cells[0][:20]}) from None
        kind = _KINDS.get(cells[1].lower())
        if kind is None:
            raise bad(lineno, _("类型须为“休”(放假)或“班”(调休上班):%(v)s") % {"v": cells[1][:20]})
        if day.year != year:
            raise bad(lineno, _("日期%(d)s不在%(y)d年") % {"d": day.isoformat(), "y": year})
        if day in off or day in worked:
            raise bad(lineno, _("日期%(d)s重复") % {"d": day.isoformat()})
        if kind == "workday" and day.weekday() < 5:
            raise bad(lineno, _("调休上班日%(d)s不是周末") % {"d": day.isoformat()})
        (off if kind == "holiday" else worked)[day] = cells[2][:40] if len(cells) > 2 else ""
    if not off:
        raise InvalidInput(_("文件中没有放假日期,请检查文件"), detail={"file": _("没有放假日期")})
    names = {d.isoformat(): n for d, n in {**off, **worked}.items() if n}
    return sorted(off), sorted(worked), names


@service("supervision.load_calendar")
def load_calendar(actor, *, year, text: str, source: str = ""):
    """Load (or replace) ``year``'s official calendar from ``text`` (see :func:`parse_calendar`)."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from yingji.core import audit
    from yingji.core.errors import InvalidInput

    from .models import WorkCalendar

    try:
        year = int(year)
    except (TypeError, ValueError):
        raise InvalidInput(_("年份无效"), detail={"year": _("年份无效")}) from None
    if not 2000 <= year <= 2100:
        raise InvalidInput(_("年份须在2000到2100之间"), detail={"year": _("年份无效")})
    if year in BUILTIN_YEARS:
        raise InvalidInput(_("%(y)d年的工作日历已内置,无需载入") % {"y": year}, detail={"year": _("已内置")})
    off, worked, names = parse_calendar(text, year)
    values = {"holidays": [d.isoformat() for d in off], "workdays": [d.isoformat() for d in worked],
              "names": names, "source": (source or "")[:200], "loaded_at": timezone.now(),
              "loaded_by": actor if getattr(actor, "is_authenticated", False) else None}
    row = WorkCalendar.objects.select_for_update().filter(year=year).first()
    if row is None:
        row = WorkCalendar.objects.create(year=year, **values)
        changes = {"year": [None, year], "holidays": [None, values["holidays"]],
                   "workdays": [None, values["workdays"]], "source": [None, values["source"]]}
        action = "supervision.calendar_load"
    else:
        before = {"holidays": row.holidays, "workdays": row.workdays, "source": row.source}
        for k, v in values.items():
            setattr(row, k, v)
        row.save()
        changes = audit.diff(before, {k: values[k] for k in before})
        action = "supervision.calendar_replace"
    audit.record(action, row, changes, actor=actor,
                 note=_("%(y)d年:放假%(o)d天,调休上班%(w)d天") % {"y": year, "o": len(off), "w": len(worked)})
    reset_cache()  # this process sees the year at once; others within LOADED_CACHE_SECONDS
    transaction.on_commit(reset_cache)
    return row
