"""The hazard list's export and the rectification notice (.docx)."""
from __future__ import annotations

import io

import pytest
from docx import Document

from tests.hazards.factories import in_days, make_hazard, make_site
from tests.xlsx_export import body, read_export
from yingji.core.models import AuditEntry
from yingji.hazards import queries
from yingji.hazards import services as hazard_services


@pytest.fixture
def hazards(world):
    w = world
    site = make_site(w, w.villages["a1"], w.sectors["industry_trade"], name="大唐某袜厂")
    h1 = make_hazard(w, w.villages["a1"], w.sectors["industry_trade"], site=site, title="消防通道堵塞")
    hazard_services.accept(w.admin, h1, responsible_person="张三", responsible_phone="13812345678",
                           deadline=in_days(10))
    h2 = make_hazard(w, w.villages["a2"], w.sectors["construction"], title="脚手架未设防护栏", level="major")
    h3 = make_hazard(w, w.villages["b1"], w.sectors["industry_trade"], title="配电箱未上锁")
    return {"site": site, "h1": h1, "h2": h2, "h3": h3}


def export(client, user, **params):
    client.force_login(user)
    resp = client.get("/exports/hazards/", params)
    assert resp.status_code == 200, resp.content[:300]
    return read_export(body(resp))


@pytest.mark.django_db
@pytest.mark.parametrize("persona, params, expected", [
    ("admin", {}, {"消防通道堵塞", "脚手架未设防护栏", "配电箱未上锁"}),
    ("admin", {"level": "major"}, {"脚手架未设防护栏"}),
    ("town_a", {}, {"消防通道堵塞", "脚手架未设防护栏"}),
    ("town_a", {"state": "open", "sector": "industry_trade"}, {"消防通道堵塞"}),  # sector: its id
    ("dept", {}, {"脚手架未设防护栏"}),
    ("town_b", {"q": "配电箱"}, {"配电箱未上锁"}),
])
def test_rows_are_the_list_in_scope(world, hazards, client, persona, params, expected):
    user = getattr(world, persona)
    if "sector" in params:
        params = dict(params, sector=world.sectors[params["sector"]].pk)
    out = export(client, user, **params)
    titles = [r[out.columns.index("隐患")] for r in out.rows]
    assert set(titles) == expected and len(titles) == len(expected)
    assert len(out.rows) == queries.hazard_search(user, **params).count() == out.total
    states = {}
    for r in out.rows:
        states[r[out.columns.index("状态")]] = states.get(r[out.columns.index("状态")], 0) + 1
    assert out.counts["按状态统计"] == states
    assert out.header["导出人"].endswith(f"({user.username})")
    assert "Asia/Shanghai" in out.header["导出时间"]


@pytest.mark.django_db
def test_header_names_the_filters_and_the_export_is_audited(world, hazards, client):
    out = export(client, world.town_a, level="major", state="open", overdue="false")
    assert out.header["筛选条件"] == "状态=未销号；等级=重大隐患"
    out = export(client, world.admin, area=world.area_a.pk, site=hazards["site"].pk)
    assert out.header["筛选条件"] == f"区域=大唐街道；监管对象=大唐某袜厂(#{hazards['site'].pk})"
    assert [r[1] for r in out.rows] == ["消防通道堵塞"]
    entry = AuditEntry.objects.filter(action="hazard.export").latest("id")
    assert entry.actor_id == world.admin.pk
    assert entry.changes["rows"] == [None, 1]
    assert entry.changes["filters"][1] == {"area": str(world.area_a.pk), "site": str(hazards["site"].pk)}


@pytest.mark.django_db
def test_phones_masked_where_the_list_masks_them(world, hazards, client):
    phone = lambda out: [r[out.columns.index("责任人电话")] for r in out.rows if r[1] == "消防通道堵塞"][0]  # noqa: E731
    assert phone(export(client, world.admin)) == "13812345678"
    assert phone(export(client, world.leader)) == "138****5678"  # read-only: masked


@pytest.mark.django_db
def test_bad_filter_goes_back_with_a_chinese_error(world, hazards, client):
    client.force_login(world.admin)
    resp = client.get("/exports/hazards/", {"level": "huge"}, follow=True)
    assert "等级无效" in resp.content.decode()
    assert not AuditEntry.objects.filter(action="hazard.export").exists()


# ---------------------------------------------------------------- the rectification notice

def docx_text(content: bytes) -> str:
    doc = Document(io.BytesIO(content))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


@pytest.mark.django_db
def test_rectification_notice_is_filled_scoped_and_audited(world, hazards, client):
    h1 = hazards["h1"]
    h1.refresh_from_db()
    client.force_login(world.town_a)
    detail = client.get(f"/hazards/{h1.pk}/")
    assert f"/hazards/{h1.pk}/notice.docx" in detail.content.decode()
    resp = client.get(f"/hazards/{h1.pk}/notice.docx")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    text = docx_text(resp.content)
    d = h1.deadline
    assert "大唐某袜厂" in text and f"第{h1.pk}号" in text and "消防通道堵塞" in text
    assert f"{d.year}年{d.month}月{d.day}日前整改完毕" in text
    assert "{{" not in text and "张三" in text
    assert AuditEntry.objects.filter(action="hazard.export_notice", object_id=h1.pk, actor=world.town_a).exists()
    client.force_login(world.town_b)  # out of scope: 404, nothing audited
    assert client.get(f"/hazards/{h1.pk}/notice.docx").status_code == 404
    assert not AuditEntry.objects.filter(action="hazard.export_notice", actor=world.town_b).exists()
    client.force_login(world.leader)
    assert "138****5678" in docx_text(client.get(f"/hazards/{h1.pk}/notice.docx").content)
