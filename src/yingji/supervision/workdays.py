"""Working days (工作日) on the mainland Chinese calendar.

A day is a working day when it is Monday–Friday and not a statutory holiday, or when it is a
weekend day the State Council moved work to (调休上班, e.g. Saturday 2023-10-07).

Holidays come from the ``holidays`` package (``holidays.China``: statutory holidays, including
the weekday "days off" created by 调休). The package (0.105) has no ``workday`` category for the
adjusted working weekends, so they are kept here as data, ``ADJUSTED_WORKDAYS``, as published in
the State Council's yearly notices (国务院办公厅关于节假日安排的通知). A test checks the table
against the substitution data of the ``holidays`` package, so the two cannot silently diverge.

The notice for a year is published around November of the year before: a year that is not in
``ADJUSTED_WORKDAYS`` yet (2027 at the time of writing) counts weekends and the package's
holidays (which it marks as estimates) only. Add the year's adjusted workdays when the notice is
out.
"""
from __future__ import annotations

import datetime
from functools import lru_cache

import holidays

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


def is_working_day(d) -> bool:
    d = _as_date(d)
    if d in _ADJUSTED:
        return True
    if d.weekday() >= 5:
        return False
    return d not in _holidays_of(d.year)


def add_working_days(d, n: int) -> datetime.date:
    """The date ``n`` working days after ``d`` (before it when ``n`` is negative); ``d`` itself
    when ``n`` is 0. ``d`` need not be a working day: counting starts on the next day."""
    d = _as_date(d)
    if abs(n) > MAX_SPAN_DAYS:
        raise ValueError("too many working days")
    step = datetime.timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        d += step
        if is_working_day(d):
            remaining -= 1
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
