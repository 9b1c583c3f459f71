"""Each chart of the figures page has its data as a table under it and as an .xlsx download, both
exactly the chart's numbers, for the same user and filters."""
from __future__ import annotations

import io
import json
import re
from html import unescape

import pytest
import python_calamine
from django.utils import timezone

from tests.conftest import login
from yingji.stats import services

pytestmark = pytest.mark.django_db


def _params():
    return {"from": f"{timezone.localdate().year - 1}-01"}


def _page(client, user):
    login(client, user)
    resp = client.get("/stats/", _params())
    assert resp.status_code == 200
    return resp


def _chart_data(body: str) -> dict:
    node = re.search(r'<script id="stats-chart-data" type="application/json">(.*?)</script>', body, re.S)
    return json.loads(node.group(1))


def _table(body: str, chart: str) -> list[list[str]]:
    html = re.search(rf'data-testid="chart-table-{chart}">(.*?)</table>', body, re.S).group(1)
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)])
    return rows


def _cell(v) -> str:
    return "—" if v is None else str(v)


def test_the_area_table_under_the_chart_is_the_chart_data(world, data, client):
    services.refresh_rollups()
    body = _page(client, world.leader).content.decode()
    d = _chart_data(body)
    assert len(d["areas"]) >= 2 and sum(d["area_found"]) > 0
    rows = _table(body, "area")
    assert rows[0] == ["区域", "排查发现", "已销号"]
    assert rows[1:] == [[a, str(f), str(c)] for a, f, c in zip(d["areas"], d["area_found"], d["area_closed"])]
    month = _table(body, "month")
    assert month[1:] == [[m, str(f), str(c), _cell(r)] for m, f, c, r in zip(d["months"], d["found"], d["closed"],
                                                                           d["rate"])]
    state = _table(body, "state")
    assert state[1:] == [[p["name"], str(p["value"])] for p in d["state"]]
    assert 'data-testid="chart-xlsx-area"' in body and 'data-chart-png="area"' in body


def _xlsx(resp) -> list[list]:
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in resp["Content-Disposition"]
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(resp.content))
    return book.get_sheet_by_index(0).to_python()


def _num(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


@pytest.mark.parametrize("persona", ["leader", "town_a"])
def test_xlsx_download_is_the_figures_in_the_users_scope(world, data, client, persona):
    services.refresh_rollups()
    user = getattr(world, persona)
    resp = _page(client, user)
    hz = resp.context["hz"]
    d = _chart_data(resp.content.decode())
    rows = _xlsx(client.get("/stats/charts/area.xlsx", _params()))
    assert rows[0] == ["区域", "排查发现", "已销号"]
    got = [[r[0], _num(r[1]), _num(r[2])] for r in rows[1:]]
    assert got == [[str(r["label"]), r["found"], r["closed"]] for r in hz.breakdowns["area"]]
    assert [r[0] for r in got] == d["areas"]
    sectors = _xlsx(client.get("/stats/charts/sector.xlsx", _params()))
    assert [[r[0], _num(r[1])] for r in sectors[1:]] == [[p["name"], p["value"]] for p in d["sector"]]
    insp = _xlsx(client.get("/stats/charts/insp_month.xlsx", _params()))
    assert [[r[0], _num(r[1]), _num(r[2])] for r in insp[1:]] == [
        list(r) for r in zip(d["insp_months"], d["insp_count"], d["insp_hazards"])]


def test_xlsx_download_refuses_bad_input(world, data, client):
    login(client, world.leader)
    assert client.get("/stats/charts/nope.xlsx").status_code == 404
    assert client.get("/stats/charts/area.xlsx", {"from": "2026-13"}).status_code in (400, 422)
    client.logout()
    assert client.get("/stats/charts/area.xlsx").status_code == 302  # to sign-in
