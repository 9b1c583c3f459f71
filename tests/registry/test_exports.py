"""The site list's export through the framework: header block, totals on their own sheet (the
data sheet stays importable), phones masked for the read-only leader, two personas."""
from __future__ import annotations

import pytest

from tests.xlsx_export import body, read_export
from yingji.core.models import AuditEntry
from yingji.registry import queries


@pytest.mark.django_db
@pytest.mark.parametrize("persona, params", [
    ("admin", {}), ("admin", {"status": "operating"}), ("town_a", {}), ("inspector", {}), ("dept", {"q": "工程"}),
])
def test_sites_export_rows_header_and_totals(reg, client, persona, params):
    user = getattr(reg.world, persona)
    client.force_login(user)
    resp = client.get("/exports/sites/", params)
    out = read_export(body(resp))
    assert out.sheets == ["监管对象", "汇总"]
    assert len(out.rows) == out.total == queries.site_search(user, **params).count()
    statuses = {}
    for r in out.rows:
        statuses[r[out.columns.index("状态")]] = statuses.get(r[out.columns.index("状态")], 0) + 1
    assert out.counts["按状态统计"] == statuses
    if params.get("status"):
        assert out.header["筛选条件"] == "经营状态=在营"
    assert AuditEntry.objects.filter(action="site.export", actor=user).latest("id").changes["rows"] == [
        None, len(out.rows)]


@pytest.mark.django_db
def test_sites_phones_masked_for_the_leader(reg, client):
    col = lambda out: {r[0]: r[out.columns.index("法定代表人电话")] for r in out.rows}  # noqa: E731
    client.force_login(reg.world.admin)
    assert col(read_export(body(client.get("/exports/sites/"))))["诸暨市大唐袜业有限公司"] == "13805751234"
    client.force_login(reg.world.leader)
    assert col(read_export(body(client.get("/exports/sites/"))))["诸暨市大唐袜业有限公司"] == "138****1234"
