"""Exports of the inspection list and the campaign list."""
from __future__ import annotations

import pytest

from tests.inspections.factories import completed_inspection, make_campaign, make_site, start
from tests.xlsx_export import body, read_export
from yingji.core.models import AuditEntry
from yingji.inspections import queries


def export(client, user, name, **params):
    client.force_login(user)
    resp = client.get(f"/exports/{name}/", params)
    assert resp.status_code == 200, resp.content[:300]
    return read_export(body(resp))


@pytest.fixture
def data(world):
    w = world
    campaign = make_campaign(w, w.area_a, name="大唐消防专项")
    done = completed_inspection(w, w.villages["a1"], w.sectors["industry_trade"], campaign=campaign)
    open_a = start(w, make_site(w, w.villages["a2"], w.sectors["industry_trade"], name="大唐二厂"), "town")
    open_b = start(w, make_site(w, w.villages["b1"], w.sectors["industry_trade"], name="店口一厂"), "town")
    make_campaign(w, w.area_b, name="店口燃气专项", activate=False)
    return {"campaign": campaign, "done": done, "open_a": open_a, "open_b": open_b}


@pytest.mark.django_db
@pytest.mark.parametrize("persona, params, n", [
    ("admin", {}, 3), ("town_a", {}, 2), ("town_b", {}, 1), ("admin", {"state": "completed"}, 1),
    ("admin", {"campaign": "x"}, 1),
])
def test_inspection_rows_are_the_list_in_scope(world, data, client, persona, params, n):
    user = getattr(world, persona)
    if params.get("campaign"):
        params = {"campaign": data["campaign"].pk}
    out = export(client, user, "inspections", **params)
    assert len(out.rows) == out.total == n == queries.inspection_search(user, **params).count()
    states = {}
    for r in out.rows:
        states[r[4]] = states.get(r[4], 0) + 1
    assert out.counts["按状态统计"] == states
    if "campaign" in params:
        assert out.header["筛选条件"] == "专项行动=大唐消防专项"
        assert out.rows[0][out.columns.index("专项行动")] == "大唐消防专项"


@pytest.mark.django_db
def test_inspection_header_names_dates_and_audit(world, data, client):
    out = export(client, world.town_a, "inspections", date_from="2020-01-01", mode="town")
    assert out.header["筛选条件"] == "检查方式=镇街检查；检查日期自=2020-01-01"
    assert len(out.rows) == 2
    assert AuditEntry.objects.filter(action="inspection.export", actor=world.town_a).exists()
    client.force_login(world.admin)
    resp = client.get("/exports/inspections/", {"date_from": "2020-13-01"}, follow=True)
    assert resp.redirect_chain and "/inspections/" in resp.redirect_chain[-1][0]


@pytest.mark.django_db
@pytest.mark.parametrize("persona, params, names", [
    ("admin", {}, {"大唐消防专项", "店口燃气专项"}),
    ("admin", {"status": "active"}, {"大唐消防专项"}),
    ("town_a", {}, {"大唐消防专项"}),
    ("town_b", {"q": "燃气"}, {"店口燃气专项"}),
])
def test_campaign_rows_are_the_list_in_scope(world, data, client, persona, params, names):
    user = getattr(world, persona)
    out = export(client, user, "campaigns", **params)
    assert {r[1] for r in out.rows} == names
    assert len(out.rows) == out.total == queries.campaign_search(user, **params).count()
    statuses = {}
    for r in out.rows:
        statuses[r[2]] = statuses.get(r[2], 0) + 1
    assert out.counts["按状态统计"] == statuses
    if "status" in params:
        assert out.header["筛选条件"] == "状态=进行中"
