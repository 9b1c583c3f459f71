"""Working days on the Chinese calendar: statutory holidays, 调休 working weekends."""
from __future__ import annotations

import datetime

import holidays
import pytest

from yingji.supervision import workdays
from yingji.supervision.workdays import add_working_days, add_years, is_working_day, working_days_between

D = datetime.date.fromisoformat


@pytest.mark.parametrize("day, working", [
    ("2023-10-07", True),    # Saturday, worked for the National Day holiday
    ("2023-10-08", True),    # Sunday, worked
    ("2023-10-02", False),   # National Day holiday (Monday)
    ("2023-10-06", False),   # substituted day off (Friday)
    ("2023-10-09", True),    # ordinary Monday
    ("2023-10-14", False),   # ordinary Saturday
    ("2024-02-04", True),    # Sunday before the Spring Festival, worked
    ("2024-02-18", True),    # Sunday after, worked
    ("2024-02-15", False),   # Spring Festival day off (Thursday)
    ("2024-09-29", True),    # Sunday, worked for National Day
    ("2024-10-12", True),    # Saturday, worked
    ("2025-01-26", True),    # Sunday, worked for the Spring Festival
    ("2025-02-08", True),    # Saturday, worked
    ("2025-01-28", False),   # New Year's Eve (Tuesday), holiday since 2025
    ("2025-05-05", False),   # Labour Day substituted day off (Monday)
    ("2025-10-08", False),   # National Day / Mid-Autumn substituted day off (Wednesday)
    ("2025-10-11", True),    # Saturday, worked
    ("2026-01-04", True),    # Sunday, worked
    ("2026-01-02", False),   # substituted day off (Friday)
    ("2025-07-15", True),    # ordinary Tuesday
])
def test_is_working_day(day, working):
    assert is_working_day(D(day)) is working


def test_national_day_2024_is_seven_days_off():
    assert not any(is_working_day(D(f"2024-10-0{i}")) for i in range(1, 8))
    assert is_working_day(D("2024-09-30")) and is_working_day(D("2024-10-08"))


def test_add_working_days_over_holidays():
    # Friday 2024-09-27 + 1 → Sunday 2024-09-29 (a working day); + 2 → Monday 30th; + 3 → Tuesday 8 October
    assert add_working_days(D("2024-09-27"), 1) == D("2024-09-29")
    assert add_working_days(D("2024-09-27"), 2) == D("2024-09-30")
    assert add_working_days(D("2024-09-27"), 3) == D("2024-10-08")
    # 5 working days after listing on Thursday 2023-09-28: 10-07, 10-08, 10-09, 10-10, 10-11
    assert add_working_days(D("2023-09-28"), 5) == D("2023-10-11")
    # Spring Festival 2025: Friday 24 January + 1 → Sunday 26th (worked) + 1 → Monday 27th, then Feb 5
    assert add_working_days(D("2025-01-24"), 1) == D("2025-01-26")
    assert add_working_days(D("2025-01-24"), 3) == D("2025-02-05")
    # backwards
    assert add_working_days(D("2024-10-08"), -1) == D("2024-09-30")
    assert add_working_days(D("2024-10-08"), -2) == D("2024-09-29")
    assert add_working_days(D("2024-10-08"), 0) == D("2024-10-08")
    # a datetime is taken as its date
    assert add_working_days(datetime.datetime(2024, 9, 27, 15, 0), 1) == D("2024-09-29")


def test_working_days_between():
    assert working_days_between(D("2024-09-27"), D("2024-10-08")) == 3
    assert working_days_between(D("2024-10-08"), D("2024-09-27")) == -3
    assert working_days_between(D("2024-10-01"), D("2024-10-07")) == 0
    assert working_days_between(D("2025-03-03"), D("2025-03-03")) == 0
    # an ordinary fortnight: 10 working days
    assert working_days_between(D("2025-03-02"), D("2025-03-16")) == 10
    for start in ("2023-09-20", "2024-02-01", "2025-01-20", "2025-09-25"):
        for n in (-25, -5, 1, 5, 10, 20, 40):
            assert working_days_between(D(start), add_working_days(D(start), n)) == n


def test_bad_input():
    with pytest.raises(TypeError):
        is_working_day("2024-10-01")
    with pytest.raises(ValueError):
        add_working_days(D("2024-01-01"), 10 ** 6)
    with pytest.raises(ValueError):
        working_days_between(D("2000-01-01"), D("2100-01-01"))


def test_add_years():
    assert add_years(D("2025-03-31")) == D("2026-03-31")
    assert add_years(D("2024-02-29")) == D("2025-02-28")


def test_adjusted_workdays_table_matches_the_holidays_package():
    """The table of 调休 working weekends agrees with the substitutions the package records."""
    from holidays.countries.china import ChinaStaticHolidays

    for year, days in workdays.ADJUSTED_WORKDAYS.items():
        from_package = set()
        for entry in ChinaStaticHolidays.special_public_holidays.get(year, ()):
            if len(entry) >= 4 and isinstance(entry[2], int):   # (month, day, from_month, from_day[, from_year])
                from_year = entry[4] if len(entry) == 5 else year
                from_package.add(datetime.date(from_year, entry[2], entry[3]))
        table = {D(d) for d in days}
        assert table == from_package, year
        assert all(d.weekday() >= 5 for d in table), year
        assert not table & set(holidays.China(years=year)), year
