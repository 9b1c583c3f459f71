"""Campaign figures have one definition each (``services.PROGRESS_DEFINITIONS``), computed by one
function (``services.campaign_progress``) that the page, the API and the export all show, and they
equal a recount from the records done here in Python, straight from the definitions:

* 范围内对象: non-archived visible sites in the campaign's scope
* 已检查对象: of those, sites with a completed, non-archived inspection linked to the campaign
* 覆盖率: 已检查 ÷ 范围内
* 检查次数: completed, non-archived campaign inspections of target sites (in progress apart, and
  completed ones of sites no longer in scope apart)
* 发现隐患: non-draft, non-archived campaign hazards
* 分区域: by the site's (hazard's) area under each child area; 分行业领域: by the site's sector
  membership — a site in two sectors counts in both; sites without a sector get their own row
"""
from __future__ import annotations

import datetime
import io

import pytest
from django.utils import timezone

from yingji.hazards.models import OPEN_STATES, Hazard, Level, State
from yingji.inspections import services
from yingji.inspections.models import Inspection, InspectionState, Result
from yingji.registry import services as registry_services
from yingji.registry.models import Site

from .factories import answer_all, make_campaign, start

TODAY = timezone.localdate()
PERSONAS = ("admin", "leader", "town_a", "town_b", "grid", "inspector", "dept", "enterprise")


def _site(world, area, sectors, name):
    return registry_services.create_site(world.admin, kind="small_place", area=area, sectors=sectors, name=name)


def _completed(world, site, campaign, actor=None, fail=False):
    actor = actor or world.admin
    insp = start(world, site, "town", actor=actor, campaign=campaign)
    if fail:
        row = insp.results.select_related("item").get(item__code="G-01")
        services.record_result(actor, insp, row, Result.FAIL)
        # a site of two sectors: the hazard's sector is chosen (no hazard without a sector)
        services.confirm_hazard(actor, row, deadline=TODAY - datetime.timedelta(days=2),
                                sector=site.sectors.order_by("pk").first())
    answer_all_pending(actor, insp)
    return services.complete_inspection(actor, insp)


def answer_all_pending(actor, insp):
    for r in insp.results.filter(result=Result.PENDING).order_by("id"):
        services.record_result(actor, insp, r, Result.PASS)


@pytest.fixture
def scene(world, checklist):
    """A county campaign; sites in two towns and two sectors (one in both, one in none);
    inspections completed, in progress, archived, outside the campaign, of a site archived later."""
    trade, cons = world.sectors["industry_trade"], world.sectors["construction"]
    campaign = make_campaign(world, world.county, name="口径测试行动")
    s = {
        "trade": _site(world, world.villages["a1"], [trade], "工贸小厂"),
        "both": _site(world, world.grids["a1g2"], [trade, cons], "工贸兼建设工地"),
        "cons": _site(world, world.villages["b1"], [cons], "建设工地"),
        "none": _site(world, world.villages["b2"], [], "无行业小店"),
        "never": _site(world, world.villages["a2"], [trade], "未检查工厂"),
        "gone": _site(world, world.villages["b1"], [trade], "后来注销的厂"),
    }
    _completed(world, s["trade"], campaign, actor=world.town_a)
    _completed(world, s["trade"], campaign, actor=world.town_a)          # same site twice: 1 site, 2 inspections
    _completed(world, s["both"], campaign, fail=True)                    # a hazard, overdue
    start(world, s["cons"], campaign=campaign, actor=world.town_b)        # in progress: counted apart
    _completed(world, s["none"], campaign, actor=world.town_b)
    _completed(world, s["gone"], campaign)
    registry_services.archive_site(world.admin, s["gone"], reason="已注销")  # its inspection: outside
    archived = _completed(world, s["never"], campaign)
    services.archive_inspection(world.admin, archived, reason="录入错误")   # archived: not counted
    _completed(world, s["never"], None)                                    # not in the campaign
    return campaign, s


def _recount(campaign, user, today):
    """The figures from the records, one by one, in Python."""
    visible_sites = set(Site.objects.visible_to(user).values_list("pk", flat=True))
    visible_insp = set(Inspection.objects.visible_to(user).values_list("pk", flat=True))
    visible_h = set(Hazard.objects.visible_to(user).values_list("pk", flat=True))
    codes = [a.code for a in campaign.scope_areas.all()] or [campaign.area.code]
    scope_sectors = set(campaign.scope_sectors.values_list("pk", flat=True))
    sectors_of = {s.pk: set(s.sectors.values_list("pk", flat=True)) for s in Site.objects.all()}
    targets = [s for s in Site.objects.select_related("area")
               if s.pk in visible_sites and s.archived_at is None and any(s.area.code.startswith(c) for c in codes)
               and (not scope_sectors or scope_sectors & sectors_of[s.pk])]
    target_ids = {s.pk for s in targets}
    linked = [i for i in Inspection.objects.select_related("area") if i.pk in visible_insp
              and i.campaign_id == campaign.pk and i.archived_at is None]
    done = [i for i in linked if i.state == InspectionState.COMPLETED and i.site_id in target_ids]
    hazards = [h for h in Hazard.objects.select_related("area") if h.pk in visible_h
               and h.campaign_id == campaign.pk and h.archived_at is None and h.state != State.DRAFT]

    def figures(sites, insps, hz):
        inspected = {i.site_id for i in insps}
        return {"sites_in_scope": len(sites), "sites_inspected": len(inspected),
                "coverage": round(len(inspected) * 100.0 / len(sites), 1) if sites else None,
                "inspections": len(insps), "hazards_found": len(hz),
                "hazards_closed": sum(h.state == State.CLOSED for h in hz),
                "major_hazards": sum(h.level == Level.MAJOR for h in hz),
                "open_overdue": sum(h.state in OPEN_STATES and (h.is_overdue or bool(h.deadline and h.deadline < today))
                                    for h in hz)}

    want = {"overall": figures(targets, done, hazards), "by_area": {}, "by_sector": {}}
    want["overall"]["in_progress"] = sum(i.state == InspectionState.IN_PROGRESS and i.site_id in target_ids
                                         for i in linked)
    want["overall"]["inspections_outside"] = sum(i.state == InspectionState.COMPLETED and i.site_id not in target_ids
                                                 for i in linked)
    for child in campaign.area.children.all():
        want["by_area"][child.pk] = figures([s for s in targets if s.area.code.startswith(child.code)],
                                            [i for i in done if i.area.code.startswith(child.code)],
                                            [h for h in hazards if h.area.code.startswith(child.code)])
    row_sectors = scope_sectors or {x for s in targets for x in sectors_of[s.pk]}
    for sector_id in row_sectors:
        want["by_sector"][sector_id] = figures(
            [s for s in targets if sector_id in sectors_of[s.pk]],
            [i for i in done if sector_id in sectors_of[i.site_id]],
            [h for h in hazards if h.site_id and sector_id in sectors_of[h.site_id]])
    if not scope_sectors:
        want["by_sector"][None] = figures([s for s in targets if not sectors_of[s.pk]],
                                          [i for i in done if not sectors_of[i.site_id]],
                                          [h for h in hazards if not h.site_id or not sectors_of[h.site_id]])
    want["multi_sector_sites"] = sum(len(sectors_of[s.pk] & row_sectors) > 1 for s in targets)
    return want


def _strip(row):
    return {k: v for k, v in row.items() if k not in ("key", "label", "target_coverage", "in_progress",
                                                      "inspections_outside")}


def _check(campaign, user):
    got = services.campaign_progress(campaign, user, today=TODAY)
    want = _recount(campaign, user, TODAY)
    assert _strip(got["overall"]) == {k: v for k, v in want["overall"].items()
                                      if k not in ("in_progress", "inspections_outside")}, user.username
    assert got["overall"]["in_progress"] == want["overall"]["in_progress"]
    assert got["overall"]["inspections_outside"] == want["overall"]["inspections_outside"]
    by_area = {r["key"]: _strip(r) for r in got["by_area"]}
    assert by_area == {k: v for k, v in want["by_area"].items() if k in by_area}, user.username
    by_sector = {r["key"]: _strip(r) for r in got["by_sector"]}
    assert by_sector == {k: v for k, v in want["by_sector"].items() if k is not None or v["sites_in_scope"]
                         or v["inspections"] or v["hazards_found"]}, user.username
    assert got["multi_sector_sites"] == want["multi_sector_sites"], user.username
    return got


def test_figures_equal_a_recount_from_the_records_for_every_persona(world, scene):
    campaign, _s = scene
    for persona in PERSONAS:
        _check(campaign, world.users[persona])


def test_figures_agree_with_each_other(world, scene):
    campaign, s = scene
    got = _check(campaign, world.admin)
    o = got["overall"]
    # 5 live target sites (the archived one is out); 4 inspected: trade, both, none (+ cons in progress)
    assert (o["sites_in_scope"], o["sites_inspected"], o["coverage"]) == (5, 3, 60.0)
    assert o["inspections"] == 4 and o["in_progress"] == 1 and o["inspections_outside"] == 1
    assert o["hazards_found"] == 1 and o["open_overdue"] == 1
    # area rows add up to the total
    for field in ("sites_in_scope", "sites_inspected", "inspections", "hazards_found"):
        assert sum(r[field] for r in got["by_area"]) == o[field], field
    # sector rows: by membership; the one two-sector site is counted twice, the sectorless one has a row
    rows = {r["label"]: r for r in got["by_sector"]}
    assert set(rows) == {"工贸", "建设施工", "未设行业领域"}
    assert (rows["工贸"]["sites_in_scope"], rows["工贸"]["sites_inspected"], rows["工贸"]["inspections"]) == (3, 2, 3)
    assert (rows["建设施工"]["sites_in_scope"], rows["建设施工"]["sites_inspected"],
            rows["建设施工"]["inspections"], rows["建设施工"]["hazards_found"]) == (2, 1, 1, 1)
    assert (rows["未设行业领域"]["sites_in_scope"], rows["未设行业领域"]["inspections"]) == (1, 1)
    assert got["multi_sector_sites"] == 1
    for field in ("sites_in_scope", "sites_inspected", "inspections"):
        assert sum(r[field] for r in got["by_sector"]) >= o[field]
    assert sum(r["sites_in_scope"] for r in got["by_sector"]) - got["multi_sector_sites"] == o["sites_in_scope"]
    assert set(got["definitions"]) == {"coverage", "inspections", "hazards", "by_area", "by_sector", "visibility"}


def test_campaign_scoped_to_a_sector_lists_only_that_sector(world, checklist):
    trade, cons = world.sectors["industry_trade"], world.sectors["construction"]
    campaign = make_campaign(world, world.county, scope_sectors=[cons])
    both = _site(world, world.villages["a1"], [trade, cons], "双行业工地")
    _site(world, world.villages["a1"], [trade], "纯工贸厂")  # not in scope
    _completed(world, both, campaign)
    got = _check(campaign, world.admin)
    assert [(r["label"], r["sites_in_scope"], r["inspections"]) for r in got["by_sector"]] == [("建设施工", 1, 1)]


def test_page_api_and_export_show_the_same_figures_with_their_definitions(world, scene, client):
    import python_calamine

    campaign, _s = scene
    progress = services.campaign_progress(campaign, world.admin)
    o = progress["overall"]
    client.force_login(world.admin)
    html = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    for testid in ("def-coverage", "def-inspections", "def-hazards", "def-by-area", "def-by-sector"):
        assert f'data-testid="{testid}"' in html, testid
    assert progress["definitions"]["coverage"] in html and progress["definitions"]["by_sector"] in html
    assert f'data-testid="coverage">{o["coverage"]}%<' in html
    assert f'data-testid="inspections">{o["inspections"]}<' in html
    assert "另有检查中 1 次(未计入)" in html and "另有 1 次已完成检查的对象已不在范围内(未计入)" in html
    assert "本行动范围内有 1 家对象同属多个行业领域" in html

    api = client.get(f"/api/v1/inspections/campaigns/{campaign.pk}/progress").json()
    assert {k: api["overall"][k] for k in ("sites_in_scope", "sites_inspected", "coverage", "inspections",
                                           "in_progress", "inspections_outside")} == \
        {k: o[k] for k in ("sites_in_scope", "sites_inspected", "coverage", "inspections", "in_progress",
                           "inspections_outside")}
    assert [(r["label"], r["inspections"]) for r in api["by_sector"]] == \
        [(r["label"], r["inspections"]) for r in progress["by_sector"]]
    assert api["definitions"] == progress["definitions"] and api["multi_sector_sites"] == 1

    r = client.get(f"/campaigns/{campaign.pk}/progress.xlsx")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).to_python()

    def numbers(values):
        return tuple(None if v in ("", None) else float(v) for v in values)

    table = {(row[0], row[1]): numbers(row[2:10]) for row in sheet[4:] if len(row) > 2 and row[1]}
    assert table[("合计", "合计")] == numbers([o["sites_in_scope"], o["sites_inspected"], o["coverage"],
                                             o["inspections"], o["hazards_found"], o["hazards_closed"],
                                             o["major_hazards"], o["open_overdue"]])
    for row in progress["by_sector"]:
        assert table[("分行业领域", row["label"])][3] == row["inspections"]
    texts = [c for row in sheet for c in row if isinstance(c, str)]
    assert progress["definitions"]["by_sector"] in texts


def test_export_and_page_are_scoped(world, scene, client):
    campaign, _s = scene
    client.force_login(world.enterprise)
    assert client.get(f"/campaigns/{campaign.pk}/progress.xlsx").status_code == 404
