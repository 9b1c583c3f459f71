"""The figures page as .xlsx: the same numbers as the page, per scope, with the filters named."""
from __future__ import annotations

import io

import pytest
import python_calamine

from tests.hazards.factories import make_hazard
from tests.xlsx_export import body
from yingji.stats import figures, services


def tables(content: bytes) -> tuple[dict, dict]:
    grid = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    header = {r[0]: r[1] for r in grid[1:4]}
    out, current, columns = {}, None, None
    for r in grid[4:]:
        if r[0] and " · 按" in str(r[0]):
            current, columns = out.setdefault(r[0], {}), None
        elif current is not None and columns is None and r[0]:
            columns = [c for c in r[1:] if c != ""]
        elif current is not None and r[0]:
            current[r[0]] = dict(zip(columns, r[1:]))
        else:
            current = None
    return header, out


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["admin", "town_a"])
def test_figures_export_has_the_page_numbers(world, client, persona):
    make_hazard(world, world.villages["a1"], title="甲", level="major")
    make_hazard(world, world.villages["a2"], title="乙")
    make_hazard(world, world.villages["b1"], title="丙")
    services.refresh_rollups()
    user = getattr(world, persona)
    client.force_login(user)
    resp = client.get("/exports/stats/", {"level": "major"})
    assert resp.status_code == 200
    header, out = tables(body(resp))
    assert "隐患等级=重大隐患" in header["筛选条件"] and header["导出人"].endswith(f"({persona})")
    fig = figures.hazard_figures(user, figures.parse_filters(user, {"level": "major"}))
    by_level = out["隐患统计 · 按隐患等级"]
    assert by_level["合计"]["排查发现"] == fig.totals["found"] == 1
    by_state = out["隐患统计 · 按状态"]
    assert {k: v["排查发现"] for k, v in by_state.items() if k != "合计"} == {
        str(r["label"]): r["found"] for r in fig.breakdowns["state"]}
    resp = client.get("/exports/stats/", {"from": "2026-13"}, follow=True)
    assert resp.redirect_chain


@pytest.mark.django_db
def test_scope_changes_the_numbers(world, client):
    for area in ("a1", "a2", "b1"):
        make_hazard(world, world.villages[area], title=area)
    services.refresh_rollups()
    found = {}
    for persona in ("admin", "town_b"):
        client.force_login(getattr(world, persona))
        _h, out = tables(body(client.get("/exports/stats/")))
        found[persona] = out["隐患统计 · 按隐患等级"]["合计"]["排查发现"]
    assert found == {"admin": 3, "town_b": 1}
