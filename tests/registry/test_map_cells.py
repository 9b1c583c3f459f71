"""The map's pre-aggregated cells: a wide view adds up the cells of the newest run instead of
reading every site, and answers exactly what the live path answers (same clusters, colours and
points) for users scoped by area with area / colour / status filters; everything else is live."""
from __future__ import annotations

import pytest

from yingji.core import audit, jobs
from yingji.core.models import Job
from yingji.registry import maps, services
from yingji.registry.models import MapCell, MapCellRun, Site

from .test_map import EVERYWHERE, TOWN_A_ONLY, mw, run  # noqa: F401 - mw is a fixture


def live(monkeypatch, user, bbox=EVERYWHERE, zoom=10, **filters):
    with monkeypatch.context() as m:
        m.setattr(maps, "_from_cells", lambda *a, **k: None)
        return run(user, bbox, zoom, **filters)


def shape(result) -> tuple:
    return (result["total"], result["unlocated"],
            sorted((c["count"], c["colour"], c["lat"], c["lng"], tuple(sorted(c["colours"].items())))
                   for c in result["clusters"]),
            sorted((p["id"], p["colour"]) for p in result["points"]))


@pytest.mark.parametrize("zoom", [3, 8, 10, 12, 14])
@pytest.mark.parametrize("persona", ["admin", "leader", "town_a", "town_b", "grid"])
def test_cells_answer_what_the_live_path_answers(mw, monkeypatch, persona, zoom):
    user = getattr(mw.world, persona)
    cell_run = maps.refresh_cells()
    assert cell_run.sites == Site.objects.filter(archived_at__isnull=True, latitude__isnull=False).count() == 8
    for filters in ({}, {"colour": "red"}, {"status": "operating"}, {"area": str(mw.world.area_a.pk)},
                    {"area": str(mw.world.villages["b1"].pk), "colour": "blue"}):
        result = run(user, EVERYWHERE, zoom, **filters)
        assert result["as_of"] == cell_run.as_of.isoformat(), (persona, zoom, filters)   # from the cells
        assert shape(result) == shape(live(monkeypatch, user, EVERYWHERE, zoom, **filters)), (persona, zoom, filters)


def test_what_the_cells_cannot_answer_is_read_live(mw, monkeypatch):
    maps.refresh_cells()
    admin, dept = mw.world.admin, mw.world.dept
    run_as_of = MapCellRun.objects.get().as_of.isoformat()
    cases = [
        (admin, 16, {}),                                   # close zoom: points
        (admin, 15, {"bbox": TOWN_A_ONLY}),                # cells smaller than the base cell
        (admin, 10, {"q": "袜业"}),                          # text
        (admin, 10, {"sector": "industry_trade"}),         # sector filter
        (dept, 10, {}),                                    # a sector-bound officer
        (mw.world.enterprise, 10, {}),                     # a site-bound user
    ]
    for user, zoom, filters in cases:
        bbox = filters.pop("bbox", EVERYWHERE)
        result = run(user, bbox, zoom, **filters)
        assert result["as_of"] != run_as_of, (user.username, zoom, filters)
        assert shape(result) == shape(live(monkeypatch, user, bbox, zoom, **filters))
    archived = maps.site_map(admin, maps.parse_bbox(EVERYWHERE), 10, {}, include_archived=True)
    assert archived["as_of"] != run_as_of and archived["total"] == 9


def test_no_run_yet_reads_live_and_bad_filters_keep_the_lists_errors(mw, monkeypatch):
    from yingji.core.errors import InvalidInput

    admin = mw.world.admin
    assert shape(run(admin)) == shape(live(monkeypatch, admin))
    maps.refresh_cells()
    with pytest.raises(InvalidInput, match="风险等级无效"):
        run(admin, colour="purple")
    with pytest.raises(InvalidInput, match="区域不存在"):
        run(admin, area="999999")


def test_a_town_view_adds_up_only_cells_inside_the_bbox(mw):
    maps.refresh_cells()
    town_view = run(mw.world.admin, TOWN_A_ONLY, 12)
    assert town_view["total"] == 5          # 大唐's five located live sites; 店口 lies outside
    assert town_view["as_of"] == MapCellRun.objects.get().as_of.isoformat()


def test_changes_after_a_run_show_at_the_next_run(mw):
    admin = mw.world.admin
    maps.refresh_cells()
    with audit.context(actor=admin):
        services.archive_site(admin, mw.b["n"], reason="已注销")
    stale = run(admin)
    assert stale["total"] == 8                               # counted as of the run …
    assert mw.b["n"].pk not in {p["id"] for p in stale["points"]}  # … but points are read live
    maps.refresh_cells()
    assert run(admin)["total"] == 7


def test_refresh_job_keeps_the_last_two_runs(mw):
    for _ in range(3):
        jobs.enqueue(None, "registry.refresh_map", area=mw.world.county)
        assert jobs.run_worker(worker_id="w", once=True) == 1
    assert Job.objects.filter(kind="registry.refresh_map", status="succeeded").count() == 3
    runs = list(MapCellRun.objects.order_by("id"))
    assert len(runs) == 2 and set(MapCell.objects.values_list("run_id", flat=True)) == {r.pk for r in runs}
    assert runs[-1].sites == 8 and runs[-1].cells == MapCell.objects.filter(run=runs[-1]).count()
