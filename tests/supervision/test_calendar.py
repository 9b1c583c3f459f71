"""The working-day calendar beyond the built-in years: `yingji load_calendar` loads a year's
official days off and worked weekends (audited), `calendar_covers` says whether a date's year is
known, and deadlines counted over a year not loaded are flagged — on the listing pages, in the API
and in the listing's events."""
from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command

from yingji.core.errors import InvalidInput
from yingji.core.models import AuditEntry
from yingji.supervision import services, workdays
from yingji.supervision.models import ListingEvent, WorkCalendar

from .factories import make_listing

D = datetime.date.fromisoformat
WARNING_2027 = "工作日历未载入2027年,期限按自然日/周末推算,请管理员载入"

# Test data shaped like a State Council notice (the days are illustrative, not the official 2027 ones).
TSV_2027 = """date\tkind\tname
# 元旦
2027-01-01\t休\t元旦
# 春节: 2月5日至11日放假, 2月14日(周日)上班
2027-02-05\t休\t春节
2027-02-06\t休\t春节
2027-02-07\t休\t春节
2027-02-08\t休\t春节
2027-02-09\t休\t春节
2027-02-10\t休\t春节
2027-02-11\t休\t春节
2027-02-14\t班\t春节调休
2027-10-01\t休\t国庆节
"""


@pytest.fixture(autouse=True)
def fresh_cache():
    workdays.reset_cache()
    yield
    workdays.reset_cache()


def test_built_in_years_are_covered_without_the_database():
    assert workdays.calendar_covers(D("2026-05-01")) and workdays.calendar_covers(D("2023-01-01"))
    assert workdays.uncovered_years(D("2024-03-01"), D("2026-12-31")) == []
    assert workdays.calendar_warning(D("2025-01-01"), D("2026-12-31")) is None


def test_load_a_year_then_its_days_count(db):
    assert not workdays.calendar_covers(D("2027-03-01"))
    assert workdays.uncovered_years(D("2026-12-28"), D("2027-01-05")) == [2027]
    assert workdays.calendar_warning(D("2026-12-28"), D("2027-01-05")) == WARNING_2027
    # Before: the Sunday worked is a day off, and strict counting refuses the year.
    assert not workdays.is_working_day(D("2027-02-14"))
    with pytest.raises(workdays.CalendarNotLoaded, match="2027"):
        workdays.add_working_days(D("2027-02-01"), 10, strict=True)

    row = workdays.load_calendar(None, year=2027, text=TSV_2027, source="2027.tsv")
    assert row.holidays[0] == "2027-01-01" and row.workdays == ["2027-02-14"]
    assert workdays.calendar_covers(D("2027-03-01"))
    assert workdays.calendar_warning(D("2026-12-28"), D("2027-01-05")) is None
    assert workdays.is_working_day(D("2027-02-14"))          # Sunday worked (调休上班)
    assert not workdays.is_working_day(D("2027-02-08"))      # Monday off (春节)
    assert not workdays.is_working_day(D("2027-02-13"))      # an ordinary Saturday
    assert workdays.is_working_day(D("2027-02-12"))          # an ordinary Friday
    # Friday 2027-02-04 + 1 working day skips the holiday week and lands on the Friday after it.
    assert workdays.add_working_days(D("2027-02-04"), 1) == D("2027-02-12")
    assert workdays.add_working_days(D("2027-02-04"), 2, strict=True) == D("2027-02-14")
    assert workdays.working_days_between(D("2027-02-04"), D("2027-02-15")) == 3

    entry = AuditEntry.objects.get(action="supervision.calendar_load")
    assert entry.object_id == row.pk and entry.changes["workdays"] == [None, ["2027-02-14"]]
    assert "放假9天" in entry.note and "调休上班1天" in entry.note

    # Loading the year again replaces it, in place and audited with what changed.
    workdays.load_calendar(None, year=2027, text=TSV_2027.replace("2027-10-01\t休\t国庆节\n", ""), source="v2")
    assert WorkCalendar.objects.count() == 1 and len(WorkCalendar.objects.get().holidays) == 8
    replaced = AuditEntry.objects.get(action="supervision.calendar_replace")
    assert "2027-10-01" in replaced.changes["holidays"][0] and "2027-10-01" not in replaced.changes["holidays"][1]
    assert workdays.is_working_day(D("2027-10-01"))  # a Friday no longer off


@pytest.mark.parametrize("text, message", [
    ("2027-03-03\t班\n2027-01-01\t休\n", "第1行:调休上班日2027-03-03不是周末"),
    ("2027-01-01\t休\n2028-01-01\t休\n", "第2行:日期2028-01-01不在2027年"),
    ("2027-01-01\t休\n2027-01-01\t休\n", "第2行:日期2027-01-01重复"),
    ("2027-01-01\t放\n", "类型须为"),
    ("2027/01/01\t休\n", "日期须为YYYY-MM-DD格式"),
    ("2027-01-01\n", "每行须为"),
    ("# nothing\n", "没有放假日期"),
])
def test_bad_calendar_files_are_refused_with_the_line(db, text, message):
    with pytest.raises(InvalidInput, match=message):
        workdays.load_calendar(None, year=2027, text=text)
    assert not WorkCalendar.objects.exists()


def test_built_in_years_are_not_loaded(db):
    with pytest.raises(InvalidInput, match="2026年的工作日历已内置"):
        workdays.load_calendar(None, year=2026, text="2026-01-01\t休\n")
    with pytest.raises(InvalidInput, match="年份须在"):
        workdays.load_calendar(None, year=1999, text="1999-01-01\t休\n")


def test_load_calendar_command(db, tmp_path, capsys):
    path = tmp_path / "2027.tsv"
    path.write_text(TSV_2027, encoding="utf-8")
    call_command("load_calendar", "--year", "2027", "--file", str(path))
    assert "2027: 9 days off, 1 weekend days worked" in capsys.readouterr().out
    assert WorkCalendar.objects.get().source.startswith("2027.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("2027-03-03\t班\n", encoding="utf-8")
    with pytest.raises(CommandError, match="不是周末"):
        call_command("load_calendar", "--year", "2027", "--file", str(bad))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_calendar", "--year", "2027", "--file", str(tmp_path / "missing.tsv"))


def test_pages_and_api_warn_until_the_year_is_loaded(world, client, api_client, monkeypatch):
    monkeypatch.setattr(services, "today", lambda: D("2026-11-02"))
    # Deadline in 2027: the last day to ask for an extension is counted in 2027.
    listing = make_listing(world, world.area_a, deadline=D("2027-05-31"))
    # Listed at the very end of 2026: the notice's 5 working days run into 2027.
    late = make_listing(world, world.area_a, deadline=D("2027-03-31"))
    monkeypatch.setattr(services, "today", lambda: D("2026-12-29"))
    late_in_year = make_listing(world, world.area_a, deadline=D("2027-03-31"))
    event = ListingEvent.objects.get(listing=late_in_year, action="list")
    assert event.data["calendar_estimated"] == [2027]
    assert "calendar_estimated" not in ListingEvent.objects.get(listing=late, action="list").data

    client.force_login(world.admin)
    page = client.get(f"/supervision/{listing.pk}/").content.decode()
    assert WARNING_2027 in page
    # The listing form warns before the notice's due date is counted into 2027.
    from .factories import make_major_hazard

    hazard = make_major_hazard(world, world.area_a)
    assert WARNING_2027 in client.get(f"/supervision/new/?hazard={hazard.pk}").content.decode()
    api = api_client.as_user(world.admin).get(f"/api/v1/supervision/{listing.pk}").json()
    assert api["calendar_warning"] == WARNING_2027

    workdays.load_calendar(None, year=2027, text=TSV_2027)
    page = client.get(f"/supervision/{listing.pk}/").content.decode()
    assert "工作日历未载入" not in page
    assert api_client.get(f"/api/v1/supervision/{listing.pk}").json()["calendar_warning"] is None


def test_a_listing_within_the_built_in_years_shows_no_warning(world, client, monkeypatch):
    monkeypatch.setattr(services, "today", lambda: D("2026-03-02"))
    listing = make_listing(world, world.area_a, deadline=D("2026-11-30"))
    client.force_login(world.admin)
    assert "工作日历未载入" not in client.get(f"/supervision/{listing.pk}/").content.decode()
    assert services.calendar_warning(listing) is None
