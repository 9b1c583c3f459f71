"""Checklist pages: reading for every persona, the editor for the administrator only (403 for
the others), Chinese errors in forms, drafts hidden from non-editors."""
from __future__ import annotations

import pytest
from django.urls import reverse

from yingji.checklists import services
from yingji.checklists.models import ChecklistModule, ChecklistVersion, VersionStatus

from ..conftest import login

PERSONAS = ["admin", "leader", "dept", "inspector", "town_a", "town_b", "grid", "enterprise"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_reading_pages_render_for_every_persona(client, world, module, persona):
    login(client, getattr(world, persona))
    dust = ChecklistModule.objects.get(code="dust")
    response = client.get(reverse("checklists:list"))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("通用安全管理", "粉尘防爆", "涉氨制冷", "有限空间", "危险化学品", "小场所消防安全", "燃气使用"):
        assert name in html
    assert "所有监管对象" in html and "粉尘涉爆" in html
    assert ("新建模块" in html) == (persona == "admin")

    response = client.get(reverse("checklists:detail", args=[dust.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "FC-03" in html and "干式除尘系统采取了泄爆、惰化、抑爆等至少一种爆炸防控措施" in html
    assert "第十一条(三)" in html and "重大隐患" in html and "版本记录" in html
    assert ("修订(新建草稿版本)" in html) == (persona == "admin")

    version = dust.versions.get()
    response = client.get(reverse("checklists:version", args=[version.pk]))
    assert response.status_code == 200
    assert "首个版本" in response.content.decode()


def test_unauthenticated_users_are_sent_to_sign_in(client, world, module):
    response = client.get(reverse("checklists:list"))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("persona", ["leader", "dept", "inspector", "town_a", "grid", "enterprise"])
def test_editor_pages_answer_403_to_others(client, world, module, persona):
    login(client, getattr(world, persona))
    version = services.published_of(module)
    section, item = version.sections.first(), version.items.first()
    gets = [reverse("checklists:create"), reverse("checklists:edit", args=[module.pk]),
            reverse("checklists:section_edit", args=[section.pk]), reverse("checklists:item_add", args=[section.pk]),
            reverse("checklists:item_edit", args=[item.pk])]
    for url in gets:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "只有市级管理员可以维护检查清单" in response.content.decode()
    posts = [reverse("checklists:create"), reverse("checklists:revise", args=[module.pk]),
             reverse("checklists:archive", args=[module.pk]), reverse("checklists:publish", args=[version.pk]),
             reverse("checklists:discard", args=[version.pk]), reverse("checklists:section_add", args=[version.pk]),
             reverse("checklists:section_move", args=[section.pk, "up"]),
             reverse("checklists:section_remove", args=[section.pk]),
             reverse("checklists:item_move", args=[item.pk, "up"]), reverse("checklists:item_remove", args=[item.pk])]
    for url in posts:
        assert client.post(url, {"title": "x", "name": "x", "code": "xx"}).status_code == 403, url
    assert services.draft_of(module) is None and not ChecklistModule.objects.get(pk=module.pk).is_archived


def test_drafts_are_hidden_from_non_editors(client, world, module):
    draft = services.start_revision(world.admin, module)
    login(client, world.town_a)
    assert client.get(reverse("checklists:version", args=[draft.pk])).status_code == 404
    html = client.get(reverse("checklists:detail", args=[module.pk])).content.decode()
    assert "草稿" not in html
    login(client, world.admin)
    response = client.get(reverse("checklists:version", args=[draft.pk]))
    assert response.status_code == 200 and "正在编辑草稿" in response.content.decode()
    assert "有草稿" in client.get(reverse("checklists:list")).content.decode()


def test_archived_modules_are_hidden_from_non_editors(client, world, module):
    services.archive_module(world.admin, module)
    login(client, world.grid)
    assert "测试模块" not in client.get(reverse("checklists:list")).content.decode()
    assert client.get(reverse("checklists:detail", args=[module.pk])).status_code == 404
    login(client, world.admin)
    html = client.get(reverse("checklists:list")).content.decode()
    assert "测试模块" in html and "已归档" in html
    response = client.post(reverse("checklists:archive", args=[module.pk]))
    assert response.status_code == 302
    assert "该检查清单模块已归档" in client.get(response["Location"]).content.decode()


def test_administrator_edits_a_module_through_the_pages(client, world):
    login(client, world.admin)
    # Create a module: an empty draft v1 opens.
    response = client.post(reverse("checklists:create"), {
        "code": "lithium_x", "name": "锂电池", "description": "锂电池储存与充电", "traits": [],
        "site_kinds": ["small_place"]})
    assert response.status_code == 302
    module = ChecklistModule.objects.get(code="lithium_x")
    draft = services.draft_of(module)
    assert response["Location"] == reverse("checklists:version", args=[draft.pk])

    # Bad input comes back in Chinese on the form.
    response = client.post(reverse("checklists:create"), {"code": "lithium_x", "name": "重复"})
    assert response.status_code == 400 and "编码已存在:lithium_x" in response.content.decode()

    response = client.post(reverse("checklists:section_add", args=[draft.pk]), {"title": "充电管理"})
    assert response.status_code == 302
    section = draft.sections.get()
    response = client.post(reverse("checklists:section_add", args=[draft.pk]), {"title": ""})
    assert response.status_code == 400 and "这个字段是必填项" in response.content.decode()

    assert client.get(reverse("checklists:item_add", args=[section.pk])).status_code == 200
    response = client.post(reverse("checklists:item_add", args=[section.pk]), {
        "code": "LI-01", "question": "电动自行车不在室内充电", "basis": "《消防法》第二十八条", "hazard_level": "general",
        "category": "fire", "photo_required": "on"})
    assert response.status_code == 302
    response = client.post(reverse("checklists:item_add", args=[section.pk]), {
        "code": "LI-01", "question": "重复编号", "hazard_level": "general", "category": "fire"})
    assert response.status_code == 400 and "编号已存在:LI-01" in response.content.decode()
    response = client.post(reverse("checklists:item_add", args=[section.pk]), {
        "code": "LI-02", "question": "   ", "hazard_level": "general", "category": "fire"})
    assert response.status_code == 400 and "这个字段是必填项" in response.content.decode()
    client.post(reverse("checklists:item_add", args=[section.pk]), {
        "code": "LI-02", "question": "充电区域与疏散通道分隔", "hazard_level": "general", "category": "fire"})
    li2 = draft.items.get(code="LI-02")
    assert client.post(reverse("checklists:item_move", args=[li2.pk, "up"])).status_code == 302
    assert list(draft.items.order_by("order").values_list("code", flat=True)) == ["LI-02", "LI-01"]
    response = client.post(reverse("checklists:item_move", args=[li2.pk, "sideways"]))
    assert "移动方向须为上移(up)或下移(down)" in client.get(response["Location"]).content.decode()

    assert client.get(reverse("checklists:item_edit", args=[li2.pk])).status_code == 200
    response = client.post(reverse("checklists:item_edit", args=[li2.pk]), {
        "code": "LI-02", "question": "充电区域与疏散通道有效分隔", "hazard_level": "general", "category": "fire",
        "section": section.pk})
    assert response.status_code == 302
    assert draft.items.get(code="LI-02").question == "充电区域与疏散通道有效分隔"
    response = client.post(reverse("checklists:item_edit", args=[li2.pk]), {
        "code": "LI-01", "question": "改成重复编号", "hazard_level": "general", "category": "fire",
        "section": section.pk})
    assert response.status_code == 400 and "编号已存在:LI-01" in response.content.decode()

    client.post(reverse("checklists:section_add", args=[draft.pk]), {"title": "多余的分节"})
    extra = draft.sections.get(title="多余的分节")
    # Publishing with an empty section is refused with a Chinese message.
    response = client.post(reverse("checklists:publish", args=[draft.pk]), {"note": "首次发布"})
    assert "分节“多余的分节”没有检查项" in client.get(response["Location"]).content.decode()
    assert client.get(reverse("checklists:section_edit", args=[extra.pk])).status_code == 200
    client.post(reverse("checklists:section_edit", args=[extra.pk]), {"title": "仍然多余"})
    client.post(reverse("checklists:section_move", args=[extra.pk, "up"]))
    assert list(draft.sections.order_by("order").values_list("title", flat=True)) == ["仍然多余", "充电管理"]
    client.post(reverse("checklists:section_remove", args=[extra.pk]))
    client.post(reverse("checklists:item_remove", args=[draft.items.get(code="LI-01").pk]))

    response = client.post(reverse("checklists:publish", args=[draft.pk]), {"note": "首次发布"})
    assert response.status_code == 302 and response["Location"] == reverse("checklists:detail", args=[module.pk])
    draft.refresh_from_db()
    assert draft.status == VersionStatus.PUBLISHED and draft.note == "首次发布"

    # The published version is frozen: editing it through the pages says so.
    response = client.post(reverse("checklists:item_edit", args=[li2.pk]), {
        "code": "LI-02", "question": "再改", "hazard_level": "general", "category": "fire", "section": section.pk})
    assert "已发布的版本不能修改,请新建修订版本" in client.get(response["Location"]).content.decode()
    for url in (reverse("checklists:item_remove", args=[li2.pk]),
                reverse("checklists:section_remove", args=[section.pk]),
                reverse("checklists:section_add", args=[draft.pk]), reverse("checklists:discard", args=[draft.pk])):
        response = client.post(url, {"title": "x"})
        assert response.status_code == 302
        assert "已发布的版本不能修改,请新建修订版本" in client.get(response["Location"]).content.decode()
    response = client.post(reverse("checklists:item_add", args=[section.pk]), {
        "code": "LI-09", "question": "x", "hazard_level": "general", "category": "fire"})
    assert "已发布的版本不能修改" in client.get(response["Location"]).content.decode()
    response = client.post(reverse("checklists:section_edit", args=[section.pk]), {"title": "改"})
    assert "已发布的版本不能修改" in client.get(response["Location"]).content.decode()
    response = client.post(reverse("checklists:section_move", args=[section.pk, "up"]))
    assert "已发布的版本不能修改" in client.get(response["Location"]).content.decode()
    response = client.post(reverse("checklists:item_move", args=[li2.pk, "up"]))
    assert "已发布的版本不能修改" in client.get(response["Location"]).content.decode()
    assert draft.items.get(code="LI-02").question == "充电区域与疏散通道有效分隔"

    # Revise: a draft v2 copied from v1; change, publish; v1 superseded, v2 shows what changed.
    response = client.post(reverse("checklists:revise", args=[module.pk]))
    v2 = ChecklistVersion.objects.get(module=module, number=2)
    assert response["Location"] == reverse("checklists:version", args=[v2.pk])
    item = v2.items.get(code="LI-02")
    client.post(reverse("checklists:item_edit", args=[item.pk]), {
        "code": "LI-02", "question": "充电区域与疏散通道采用防火分隔", "hazard_level": "general", "category": "fire",
        "section": v2.sections.get().pk})
    client.post(reverse("checklists:item_add", args=[v2.sections.get().pk]), {
        "code": "LI-03", "question": "充电设施具备充满自停功能", "hazard_level": "general", "category": "electrical"})
    client.post(reverse("checklists:publish", args=[v2.pk]), {"note": "完善分隔要求"})
    v2.refresh_from_db()
    assert v2.status == VersionStatus.PUBLISHED
    assert ChecklistVersion.objects.get(module=module, number=1).status == VersionStatus.SUPERSEDED
    html = client.get(reverse("checklists:version", args=[v2.pk])).content.decode()
    assert "相对第1版有2处变化" in html and "新增" in html and "已修改" in html
    html = client.get(reverse("checklists:detail", args=[module.pk])).content.decode()
    assert "已被替代" in html and "完善分隔要求" in html

    # Module metadata, then a draft thrown away, then archiving.
    assert client.get(reverse("checklists:edit", args=[module.pk])).status_code == 200
    response = client.post(reverse("checklists:edit", args=[module.pk]), {
        "name": "锂电池(电动自行车)", "site_kinds": ["small_place", "rental_housing"]})
    assert response.status_code == 302
    module.refresh_from_db()
    assert module.name == "锂电池(电动自行车)" and module.site_kinds == ["small_place", "rental_housing"]
    response = client.post(reverse("checklists:edit", args=[module.pk]), {"name": "x", "sort": "-1"})
    assert response.status_code == 400
    client.post(reverse("checklists:revise", args=[module.pk]))
    v3 = services.draft_of(module)
    response = client.post(reverse("checklists:discard", args=[v3.pk]))
    assert response["Location"] == reverse("checklists:detail", args=[module.pk])
    assert services.draft_of(module) is None
    client.post(reverse("checklists:archive", args=[module.pk]))
    module.refresh_from_db()
    assert module.is_archived
    response = client.post(reverse("checklists:revise", args=[module.pk]))
    assert "该检查清单模块已归档,不能修改" in client.get(response["Location"]).content.decode()
    response = client.post(reverse("checklists:edit", args=[module.pk]), {"name": "归档后改名"})
    assert "该检查清单模块已归档,不能修改" in client.get(response["Location"]).content.decode()


def test_missing_records_answer_404(client, world):
    login(client, world.admin)
    for url in ("/checklists/999999/", "/checklists/versions/999999/", "/checklists/items/999999/edit/",
                "/checklists/sections/999999/edit/"):
        assert client.get(url).status_code == 404, url


def test_pages_in_english(client, world, module):
    login(client, world.admin)
    client.post(reverse("set_language"), {"language": "en"})
    assert client.get(reverse("checklists:list")).status_code == 200
    assert client.get(reverse("checklists:detail", args=[module.pk])).status_code == 200
