"""The reconcile test: every figure read from the rollups equals a naive recomputation from the
Hazard / Inspection rows, per persona (each sees exactly the numbers of their scope)."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from yingji.core.errors import InvalidInput

from yingji.core.models import Area
from yingji.hazards.models import Hazard
from yingji.inspections.models import Inspection
from yingji.stats import figures, services

from .conftest import as_map, hazard_numbers, inspection_numbers, local_month, month_range, naive

pytestmark = pytest.mark.django_db

HAZARD_KEYS = ["found", "major", "general", "closed", "open", "overdue_open", "fixed_on_spot", "closed_on_time",
               "rectification_rate", "on_time_rate", "avg_close_days"]
ROW_KEYS = [k for k in HAZARD_KEYS if k != "general"]
INSPECTION_KEYS = ["inspections", "completed", "items_total", "items_failed", "hazards_found"]


def wide_period() -> dict:
    today = timezone.localdate()
    return {"from": (today - datetime.timedelta(days=400)).strftime("%Y-%m"), "to": today.strftime("%Y-%m")}


def persona_rule(world, data, name):
    """Who sees what, written out independently of the scoping code: (predicate, focus area)."""
    S = world.sectors
    rules = {
        "leader": (lambda r: True, world.county),
        "admin": (lambda r: True, world.county),
        "town_a": (lambda r: r.area.code.startswith(world.area_a.code), world.area_a),
        "town_b": (lambda r: r.area.code.startswith(world.area_b.code), world.area_b),
        "dept": (lambda r: r.sector_id == S["construction"].pk, world.county),
        "inspector": (lambda r: r.sector_id == S["industry_trade"].pk, world.county),
        "grid": (lambda r: r.area.code.startswith(world.villages["a1"].code), world.villages["a1"]),
        "enterprise": (lambda r: r.site_id == data.site_a.pk, None),
    }
    return rules[name]


def child_length(focus):
    """Area codes of a focus area's children: town 9, village 12, grid (full code)."""
    if focus is None:
        return None
    return {6: 9, 9: 12}.get(len(focus.code))


def area_key(length):
    return lambda r: r.area.code if length is None else r.area.code[:length]


def naive_hazards(world, data, persona, period, extra=lambda h: True):
    rule, focus = persona_rule(world, data, persona)
    months = month_range(period["from"], period["to"])
    rows = [h for h in Hazard.objects.select_related("area").order_by("id")
            if h.archived_at is None and h.state != "draft" and local_month(h.reported_at) in months
            and rule(h) and extra(h)]
    length = child_length(focus)
    return rows, naive(rows, numbers=hazard_numbers, months=months, dims={
        "state": lambda h: h.state, "level": lambda h: h.level, "source": lambda h: h.source,
        "sector": lambda h: h.sector_id, "campaign": lambda h: h.campaign_id,
        "month": lambda h: local_month(h.reported_at), "area": area_key(length)})


def naive_inspections(world, data, persona, period):
    rule, focus = persona_rule(world, data, persona)
    months = month_range(period["from"], period["to"])
    rows = [i for i in Inspection.objects.select_related("area").order_by("id")
            if i.archived_at is None and local_month(i.started_at) in months and rule(i)]
    length = child_length(focus)
    return rows, naive(rows, numbers=inspection_numbers, months=months, dims={
        "mode": lambda i: i.mode, "state": lambda i: i.state, "sector": lambda i: i.sector_id,
        "campaign": lambda i: i.campaign_id, "month": lambda i: local_month(i.started_at), "area": area_key(length)})


def assert_reconciles(fig, expected, keys, row_keys):
    assert {k: fig.totals[k] for k in keys} == expected["totals"]
    for name, groups in expected.items():
        if name == "totals":
            continue
        got = as_map(fig.breakdowns[name], row_keys)
        want = {k: {rk: v[rk] for rk in row_keys} for k, v in groups.items()}
        assert got == want, name


PERSONAS = ["leader", "admin", "town_a", "town_b", "dept", "inspector", "grid", "enterprise"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_figure_reconciles_with_the_records_per_persona(world, data, persona):
    services.refresh_rollups()
    user = getattr(world, persona)
    period = wide_period()
    filters = figures.parse_filters(user, period)

    rows, expected = naive_hazards(world, data, persona, period)
    # the written-out rule agrees with the one access rule
    visible = set(Hazard.objects.visible_to(user).filter(archived_at__isnull=True).values_list("pk", flat=True))
    assert {h.pk for h in rows} == visible  # the wide period holds every hazard
    fig = figures.hazard_figures(user, filters)
    assert fig.live is (persona == "enterprise")
    assert_reconciles(fig, expected, HAZARD_KEYS, ROW_KEYS)

    rows, expected = naive_inspections(world, data, persona, period)
    assert {i.pk for i in rows} == set(Inspection.objects.visible_to(user).values_list("pk", flat=True))
    fig = figures.inspection_figures(user, filters)
    assert_reconciles(fig, expected, INSPECTION_KEYS, INSPECTION_KEYS)


def test_known_numbers_for_the_whole_county_and_each_town(world, data):
    services.refresh_rollups()
    period = wide_period()
    leader = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, period)).totals
    # 11 hazards (the archived duplicate is not counted): 3 major, 3 closed (one on the spot, one late)
    assert leader["found"] == 11 and leader["major"] == 3 and leader["closed"] == 3 and leader["open"] == 8
    assert leader["fixed_on_spot"] == 1 and leader["overdue_open"] == 1 and leader["closed_on_time"] == 2
    assert leader["rectification_rate"] == 27.3 and leader["on_time_rate"] == 66.7
    a = figures.hazard_figures(world.town_a, figures.parse_filters(world.town_a, period)).totals
    b = figures.hazard_figures(world.town_b, figures.parse_filters(world.town_b, period)).totals
    assert a["found"] + b["found"] == leader["found"]
    assert (a["found"], a["closed"], a["overdue_open"]) == (5, 2, 1)
    assert (b["found"], b["closed"], b["fixed_on_spot"]) == (6, 1, 1)
    dept = figures.hazard_figures(world.dept, figures.parse_filters(world.dept, period)).totals
    assert dept["found"] == 4 and dept["major"] == 2  # construction only
    ent = figures.hazard_figures(world.enterprise, figures.parse_filters(world.enterprise, period)).totals
    assert (ent["found"], ent["closed"], ent["closed_on_time"]) == (1, 1, 0)  # its one hazard, closed late
    # the major hazard took 3.25 days to close, the other two seconds: 3.25 / 3 days on average
    assert leader["avg_close_days"] == 1.1


@pytest.mark.parametrize("persona", ["leader", "town_a", "dept"])
def test_filters_reconcile(world, data, persona):
    services.refresh_rollups()
    user = getattr(world, persona)
    period = wide_period()
    cases = [
        ({"level": "major"}, lambda h: h.level == "major"),
        ({"sector": world.sectors["construction"].pk}, lambda h: h.sector_id == world.sectors["construction"].pk),
        ({"campaign": data.campaign.pk}, lambda h: h.campaign_id == data.campaign.pk),
        ({"area": world.villages["a1"].pk}, lambda h: h.area.code.startswith(world.villages["a1"].code)),
    ]
    if persona == "dept":
        cases = cases[:3]
    for extra, predicate in cases:
        fig = figures.hazard_figures(user, figures.parse_filters(user, {**period, **extra}))
        rows, expected = naive_hazards(world, data, persona, period, extra=predicate)
        assert {k: fig.totals[k] for k in HAZARD_KEYS} == expected["totals"], extra
        for name in ("state", "level", "sector", "campaign", "source", "month"):
            got = as_map(fig.breakdowns[name], ROW_KEYS)
            assert got == {k: {rk: v[rk] for rk in ROW_KEYS} for k, v in expected[name].items()}, (extra, name)


def test_default_period_is_this_year_and_months_count_in_beijing_time(world, data):
    services.refresh_rollups()
    fig = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, {}))
    today = timezone.localdate()
    assert fig.filters.start == today.replace(month=1, day=1) and fig.filters.end == today.replace(day=1)
    assert len(fig.breakdowns["month"]) == today.month  # every month of the year so far, zeros included
    this_month = next(r for r in fig.breakdowns["month"] if r["key"] == today.strftime("%Y-%m"))
    # the hazard reported at 00:30 on the 1st (Beijing) counts in this month, on both databases
    month_start = data.hazards["month_start"]
    assert local_month(Hazard.objects.get(pk=month_start.pk).reported_at) == today.strftime("%Y-%m")
    naive_this = [h for h in Hazard.objects.filter(archived_at__isnull=True)
                  if local_month(h.reported_at) == today.strftime("%Y-%m")]
    assert this_month["found"] == len(naive_this)
    assert this_month["label"] == f"{today.year}年{today.month}月"
    last_year = fig.totals["found"]
    wide = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, wide_period())).totals["found"]
    assert wide == 11 and last_year == 11 - 1 - sum(
        1 for h in Hazard.objects.filter(archived_at__isnull=True).exclude(pk=data.hazards["last_year"].pk)
        if timezone.localtime(h.reported_at).year != today.year)


def test_area_breakdown_lists_children_and_records_held_at_the_area_itself(world, data):
    services.refresh_rollups()
    period = wide_period()
    fig = figures.hazard_figures(world.town_a, figures.parse_filters(world.town_a, period))
    rows = {r["key"]: r for r in fig.breakdowns["area"]}
    a1, a2 = world.villages["a1"], world.villages["a2"]
    assert set(rows) == {a1.code, a2.code, world.area_a.code}
    assert rows[a1.code]["label"] == a1.name and rows[a1.code]["area_id"] == a1.pk
    assert rows[world.area_a.code]["label"] == "大唐街道(本级)"  # the overdue hazard held at town level
    leader = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, period))
    assert [r["label"] for r in leader.breakdowns["area"]] == ["大唐街道", "店口镇"]
    # drilling into a village: its grids
    fig = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, {**period, "area": a2.pk}))
    assert {r["label"] for r in fig.breakdowns["area"]} == {a2.name + "(本级)", world.grids["a2g1"].name}
    assert fig.focus == a2


def test_chinese_labels(world, data):
    services.refresh_rollups()
    fig = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, wide_period()))
    labels = {r["key"]: r["label"] for r in fig.breakdowns["state"]}
    assert labels == {"reported": "已上报", "rectifying": "整改中", "submitted": "已提交整改", "closed": "已销号"}
    assert {r["label"] for r in fig.breakdowns["level"]} == {"一般隐患", "重大隐患"}
    assert "举报" in {r["label"] for r in fig.breakdowns["source"]}
    assert {r["label"] for r in fig.breakdowns["sector"]} >= {"建设施工", "工贸"}   # every hazard has a sector
    assert {r["label"] for r in fig.breakdowns["campaign"]} == {"消防安全专项整治", "未关联专项行动"}
    insp = figures.inspection_figures(world.leader, figures.parse_filters(world.leader, wide_period()))
    assert {r["label"] for r in insp.breakdowns["mode"]} == {"镇街检查", "企业自查", "部门检查"}
    assert {r["label"] for r in insp.breakdowns["state"]} == {"检查中", "已完成"}


def test_users_without_grants_see_nothing(world, data):
    from yingji.core import roles
    from yingji.core import services as core_services
    from yingji.core.models import User

    services.refresh_rollups()
    nobody = core_services.create_user(None, username="nobody", password="Test-pass-2026!", display_name="无角色",
                                       role=roles.TOWN_OFFICER, area=world.area_a, must_change_password=False)
    core_services.revoke_role(world.admin, nobody.assignments.get())
    nobody = User.objects.get(pk=nobody.pk)
    assert Area.objects.visible_to(nobody).count() == 0
    assert figures.rollup_scope(nobody).q is None
    fig = figures.hazard_figures(nobody, figures.parse_filters(nobody, wide_period()))
    assert fig.totals["found"] == 0 and fig.focus is None
    assert not any(r["found"] for rows in fig.breakdowns.values() for r in rows)
    assert figures.inspection_figures(nobody, figures.parse_filters(nobody, {})).totals["inspections"] == 0


def test_live_figures_apply_the_filters_too(world, data):
    from tests.hazards.factories import make_hazard
    from yingji.hazards import services as hz

    ent = world.enterprise
    other = hz.report_hazard(ent, site=data.site_a, sector=world.sectors["industry_trade"], level="major",
                             description="配电箱未上锁")
    assert other.sector == world.sectors["industry_trade"]
    make_hazard(world, world.villages["a1"], world.sectors["construction"])  # not the enterprise's
    period = wide_period()
    for extra, predicate in (
        ({"level": "major"}, lambda h: h.level == "major"),
        ({"sector": world.sectors["industry_trade"].pk}, lambda h: h.sector_id == world.sectors["industry_trade"].pk),
    ):
        fig = figures.hazard_figures(ent, figures.parse_filters(ent, {**period, **extra}))
        assert fig.live
        rows, expected = naive_hazards(world, data, "enterprise", period, extra=predicate)
        assert {k: fig.totals[k] for k in HAZARD_KEYS} == expected["totals"], extra
        for name in ("state", "level", "sector", "area", "month"):
            assert as_map(fig.breakdowns[name], ROW_KEYS) == {
                k: {rk: v[rk] for rk in ROW_KEYS} for k, v in expected[name].items()}, (extra, name)
    fig = figures.hazard_figures(ent, figures.parse_filters(ent, period))
    assert fig.totals["found"] == 2
    assert [r["label"] for r in fig.breakdowns["area"]] == [world.villages["a1"].name]
    # an enterprise sees no areas or campaigns as such: those filters are not theirs to use
    with pytest.raises(InvalidInput, match="区域不存在"):
        figures.parse_filters(ent, {"area": world.villages["a1"].pk})
    with pytest.raises(InvalidInput, match="专项行动不存在"):
        figures.parse_filters(ent, {"campaign": data.campaign.pk})
