"""The listed-supervision list's export and the supervision notice (.docx)."""
from __future__ import annotations

import io

import pytest
from docx import Document

from tests.hazards.factories import make_site
from tests.supervision.factories import in_days, make_listing
from tests.xlsx_export import body, read_export
from yingji.core.models import AuditEntry
from yingji.supervision import queries


def export(client, user, **params):
    client.force_login(user)
    resp = client.get("/exports/supervision/", params)
    assert resp.status_code == 200, resp.content[:300]
    return read_export(body(resp))


@pytest.fixture
def listings(world):
    w = world
    site = make_site(w, w.villages["a1"], w.sectors["industry_trade"], name="大唐粉尘车间")
    a = make_listing(w, site=site, notice_number="诸安督〔2026〕1号", deadline=in_days(30))
    b = make_listing(w, w.villages["b1"], w.sectors["industry_trade"], notice_number="诸安督〔2026〕2号")
    return {"a": a, "b": b, "site": site}


@pytest.mark.django_db
@pytest.mark.parametrize("persona, params, numbers", [
    ("admin", {}, {"诸安督〔2026〕1号", "诸安督〔2026〕2号"}),
    ("town_a", {}, {"诸安督〔2026〕1号"}),
    ("town_b", {"state": "active"}, {"诸安督〔2026〕2号"}),
    ("admin", {"q": "2号"}, {"诸安督〔2026〕2号"}),
])
def test_rows_are_the_list_in_scope(world, listings, client, persona, params, numbers):
    user = getattr(world, persona)
    out = export(client, user, **params)
    assert {r[out.columns.index("督办通知书文号")] for r in out.rows} == numbers
    assert len(out.rows) == out.total == queries.listing_search(user, **params).count()
    assert out.counts["按状态统计"] == {"已挂牌": len(numbers)}
    if params.get("state"):
        assert out.header["筛选条件"] == "状态=督办中(未验收)"
    assert AuditEntry.objects.filter(action="supervision.export", actor=user).exists()


@pytest.mark.django_db
def test_supervision_notice_is_filled_scoped_and_audited(world, listings, client):
    a = listings["a"]
    client.force_login(world.town_a)
    assert f"/supervision/{a.pk}/notice.docx" in client.get(f"/supervision/{a.pk}/").content.decode()
    resp = client.get(f"/supervision/{a.pk}/notice.docx")
    assert resp.status_code == 200
    doc = Document(io.BytesIO(resp.content))
    text = "\n".join([p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    d = a.deadline
    assert "大唐粉尘车间" in text and "诸安督〔2026〕1号" in text and f"第{a.hazard_id}号" in text
    assert f"{d.year}年{d.month}月{d.day}日前完成整改" in text and "{{" not in text
    assert AuditEntry.objects.filter(action="supervision.export_notice", object_id=a.pk).count() == 1
    client.force_login(world.town_b)
    assert client.get(f"/supervision/{a.pk}/notice.docx").status_code == 404
