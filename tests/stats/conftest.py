"""A mixed data set for the figures, built through the hazards and inspections services, and a
naive recomputation of every figure straight from the Hazard / Inspection rows (Python loops)
that the rollup figures must equal exactly."""
from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from tests.hazards.factories import make_hazard, photo
from tests.inspections.factories import answer_all, ensure_checklist, make_campaign, make_site, start


def in_days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@dataclass
class Data:
    hazards: dict = field(default_factory=dict)
    inspections: dict = field(default_factory=dict)
    campaign: object = None
    site_a: object = None
    site_b: object = None


def _result(inspection, code):
    return inspection.results.get(item__code=code)


def build_data(world) -> Data:
    from yingji.hazards import services as hz
    from yingji.hazards.models import Hazard
    from yingji.inspections import services as insp
    from yingji.registry import services as registry_services

    S = world.sectors
    admin, town_a, town_b, ent = world.admin, world.town_a, world.town_b, world.enterprise
    d = Data()
    ensure_checklist()
    d.site_a = make_site(world, world.villages["a1"], S["industry_trade"], name="大唐某袜厂")
    registry_services.bind_site_manager(admin, ent, d.site_a)
    d.site_b = make_site(world, world.villages["b1"], S["industry_trade"], name="店口某五金厂")
    d.campaign = make_campaign(world, world.county, name="消防安全专项整治")
    H = d.hazards

    # 1. reported, open (village a1, construction)
    H["open"] = make_hazard(world, world.villages["a1"], S["construction"])
    # 2. major, closed on time, took ~3 days (grid of village a2, construction)
    x = make_hazard(world, world.grids["a2g1"], S["construction"], level="major")
    hz.accept(town_a, x, responsible_person="张三", deadline=in_days(5))
    hz.submit_rectification(town_a, x, description="已加固", files=[photo()])
    hz.verify(admin, x, note="现场核实")
    Hazard.objects.filter(pk=x.pk).update(reported_at=x.reported_at - datetime.timedelta(days=3, hours=6))
    H["closed_major"] = x
    # 3. overdue, open, held at town level (industry & trade)
    x = make_hazard(world, world.area_a, S["industry_trade"])
    hz.accept(town_a, x, responsible_person="李四", deadline=in_days(1))
    Hazard.objects.filter(pk=x.pk).update(deadline=in_days(-2))  # time passes
    H["overdue"] = x
    # 4. fixed on the spot (village b1, hazardous chemicals)
    H["fixed"] = hz.report_hazard(admin, area=world.villages["b1"], sector=S["hazchem"], category="hazchem",
                                  description="危化品未分区存放", fixed_on_spot=True,
                                  rectification_description="已当场分区存放", rectification_files=[photo()])
    # 5. major, sent back (grid of village b2, construction)
    x = make_hazard(world, world.grids["b2g1"], S["construction"], level="major")
    hz.accept(town_b, x, responsible_person="王五", deadline=in_days(10))
    hz.submit_rectification(town_b, x, description="已整改", files=[photo()])
    hz.send_back(admin, x, reason="照片不清楚")
    H["sent_back"] = x
    # 6. submitted, no sector, a tip-off (village b1)
    x = make_hazard(world, world.villages["b1"], None, source="tip_off")
    hz.accept(town_b, x, responsible_person="赵六", deadline=in_days(10))
    hz.submit_rectification(town_b, x, description="已整改", files=[photo()])
    H["submitted"] = x
    # 7. the enterprise's own report at its site: overdue, then closed late
    x = hz.report_hazard(ent, site=d.site_a, description="车间插线板私拉乱接", category="electrical")
    hz.accept(ent, x, responsible_person="厂长", deadline=in_days(1))
    Hazard.objects.filter(pk=x.pk).update(deadline=in_days(-1))
    H["closed_late"] = x
    result = hz.escalate_overdue()
    assert result["newly_overdue"] == 2
    hz.submit_rectification(ent, x, description="已重新布线", files=[photo()])
    hz.verify(town_a, x, note="已核实")
    # 8. archived (a duplicate): never counted
    x = make_hazard(world, world.villages["a1"], S["construction"])
    H["archived"] = hz.archive(admin, x, reason="重复上报")
    # 9. reported last year (town B, construction)
    x = make_hazard(world, world.villages["b2"], S["construction"])
    Hazard.objects.filter(pk=x.pk).update(reported_at=x.reported_at - datetime.timedelta(days=366))
    H["last_year"] = x
    # 10. reported at 00:30 Beijing time on the 1st of this month (the day before in UTC)
    x = make_hazard(world, world.villages["a2"], S["hazchem"])
    first = timezone.localdate().replace(day=1)
    at = datetime.datetime.combine(first, datetime.time(0, 30), tzinfo=timezone.get_current_timezone())
    Hazard.objects.filter(pk=x.pk).update(reported_at=at)
    H["month_start"] = x

    # Inspections in the campaign: town B finds two hazards (one major) at site B; town A finds
    # none at site A; the enterprise's self-inspection is still in progress.
    i = start(world, d.site_b, "town", actor=town_b, campaign=d.campaign)
    insp.record_result(town_b, i, _result(i, "G-01"), "fail", note="责任制未上墙")
    insp.record_result(town_b, i, _result(i, "G-02"), "pass")
    insp.record_result(town_b, i, _result(i, "G-03"), "fail", note="未设泄爆装置")
    H["campaign"] = insp.confirm_hazard(town_b, _result(i, "G-01"), responsible_person="钱七")
    H["campaign_major"] = insp.confirm_hazard(town_b, _result(i, "G-03"), responsible_person="钱七")
    d.inspections["town_b"] = insp.complete_inspection(town_b, i, summary="发现两处隐患")
    i = start(world, d.site_a, "town", actor=town_a, campaign=d.campaign)
    answer_all(town_a, i)
    d.inspections["town_a"] = insp.complete_inspection(town_a, i, summary="未发现问题")
    d.inspections["self"] = start(world, d.site_a, "self", actor=ent)
    d.inspections["dept"] = start(world, d.site_b, "department", actor=world.inspector,
                                  sector=S["industry_trade"])
    return d


@pytest.fixture
def data(world):
    return build_data(world)


# ---------------------------------------------------------------- the naive recomputation

def local_month(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m")


def month_range(start: str, end: str) -> list[str]:
    y, m = map(int, start.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def hazard_numbers(hs) -> dict:
    found = len(hs)
    major = sum(1 for h in hs if h.level == "major")
    closed = [h for h in hs if h.state == "closed"]
    timed = [h for h in closed if h.closed_at is not None]
    on_time = [h for h in timed if h.deadline is None or timezone.localdate(h.closed_at) <= h.deadline]
    seconds = sum((h.closed_at - h.reported_at).total_seconds() for h in timed)
    return {
        "found": found, "major": major, "general": found - major, "closed": len(closed), "open": found - len(closed),
        "overdue_open": sum(1 for h in hs if h.state != "closed" and h.is_overdue),
        "fixed_on_spot": sum(1 for h in hs if h.fixed_on_spot),
        "closed_on_time": len(on_time),
        "rectification_rate": round(100.0 * len(closed) / found, 1) if found else None,
        "on_time_rate": round(100.0 * len(on_time) / len(closed), 1) if closed else None,
        "avg_close_days": round(seconds / len(timed) / 86400, 1) if timed else None,
    }


def inspection_numbers(rows) -> dict:
    return {
        "inspections": len(rows),
        "completed": sum(1 for r in rows if r.state == "completed"),
        "items_total": sum(r.items_total for r in rows),
        "items_failed": sum(r.items_failed for r in rows),
        "hazards_found": sum(r.hazards_found for r in rows),
    }


def naive(records, *, numbers, dims: dict, months: list[str]) -> dict:
    """Totals and, per dimension, {key: numbers} over ``records`` (already filtered)."""
    out = {"totals": numbers(records)}
    for name, key in dims.items():
        groups = defaultdict(list)
        for r in records:
            groups[key(r)].append(r)
        out[name] = {k: numbers(v) for k, v in groups.items()}
    return out


def as_map(rows, numbers_keys) -> dict:
    """A breakdown from the figures as {key: numbers}, without all-zero rows (months)."""
    first = numbers_keys[0]
    return {r["key"]: {k: r[k] for k in numbers_keys} for r in rows if r[first]}
