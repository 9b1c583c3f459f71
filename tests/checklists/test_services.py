"""Checklist services: versioning, the editor operations, permissions, Chinese errors, assembly
for a site, and the seeded modules."""
from __future__ import annotations

import pytest

from yingji.checklists import queries, services
from yingji.checklists.models import (ChecklistItem, ChecklistModule, ChecklistSection, ChecklistVersion,
                                      MajorHazardCriterion, VersionStatus)
from yingji.core.errors import Conflict, Forbidden, InvalidInput
from yingji.core.models import AuditEntry

from .factories import make_published_module, make_site


def items(version):
    return list(version.items.order_by("section__order", "order").values_list("code", flat=True))


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


# ---------------------------------------------------------------- versioning

def test_editing_published_needs_a_new_draft_and_publishing_supersedes(world, module):
    admin = world.admin
    v1 = services.published_of(module)
    assert v1.number == 1 and v1.status == VersionStatus.PUBLISHED and v1.published_by == admin
    assert items(v1) == ["T-01", "T-02", "T-03"]
    before = list(v1.items.order_by("id").values("id", "code", "question", "basis", "hazard_level", "criterion_id",
                                                 "section_id", "order"))

    # The published version is frozen.
    item = v1.items.get(code="T-01")
    with pytest.raises(Conflict) as exc:
        services.update_item(admin, item, question="改过的问题")
    assert exc.value.message == "已发布的版本不能修改,请新建修订版本"
    with pytest.raises(Conflict):
        services.add_section(admin, v1, title="新分节")
    with pytest.raises(Conflict):
        services.remove_item(admin, item)
    with pytest.raises(Conflict):
        services.publish(admin, v1)

    # A revision copies the published content into draft v2; asking again returns the same draft.
    draft = services.start_revision(admin, module)
    assert (draft.number, draft.status, draft.created_by) == (2, VersionStatus.DRAFT, admin)
    assert items(draft) == items(v1)
    assert services.start_revision(admin, module).pk == draft.pk
    assert list(draft.sections.values_list("title", flat=True)) == ["基础管理", "现场检查"]
    copied = draft.items.get(code="T-03")
    assert copied.criterion.code == "GM10-11-3" and copied.hazard_level == "major" and copied.photo_required
    assert copied.section.version_id == draft.pk

    services.update_item(admin, draft.items.get(code="T-01"), question="建立并落实全员安全生产责任制")
    services.remove_item(admin, draft.items.get(code="T-02"))
    services.add_item(admin, draft.sections.get(title="现场检查"), code="T-04", question="安全出口畅通",
                      category="fire", photo_required="on")
    v2 = services.publish(admin, draft, note="修订责任制条款")

    v1, v2 = fresh(v1), fresh(v2)
    assert v1.status == VersionStatus.SUPERSEDED and v2.status == VersionStatus.PUBLISHED
    assert v2.note == "修订责任制条款" and v2.published_at is not None
    assert services.published_of(module).pk == v2.pk and services.draft_of(module) is None
    assert items(v2) == ["T-01", "T-03", "T-04"]
    # What old inspections used stays exactly as it was.
    assert list(v1.items.order_by("id").values("id", "code", "question", "basis", "hazard_level", "criterion_id",
                                               "section_id", "order")) == before
    # Superseded versions are frozen too.
    with pytest.raises(Conflict):
        services.update_item(admin, v1.items.get(code="T-02"), question="x")

    changes = queries.diff(v2)
    assert changes.base.pk == v1.pk
    assert changes.status == {"T-01": "changed", "T-04": "added"}
    assert changes.changes["T-01"] == ["question"]
    assert [i.code for i in changes.removed] == ["T-02"]
    assert changes.count == 3
    assert queries.diff(v1).base is None

    actions = set(AuditEntry.objects.filter(action__startswith="checklist.").values_list("action", flat=True))
    assert {"checklist.module_create", "checklist.revision_start", "checklist.revision_resume",
            "checklist.item_update", "checklist.item_remove", "checklist.item_add", "checklist.version_publish",
            "checklist.version_supersede"} <= actions


def test_new_module_starts_with_an_empty_draft_that_cannot_be_published_empty(world):
    admin = world.admin
    module = services.create_module(admin, code="warehouse_x", name="仓储物流", traits=["warehouse"],
                                    site_kinds=["park"], sectors=["construction"])
    draft = services.draft_of(module)
    assert draft.number == 1 and draft.status == VersionStatus.DRAFT
    assert list(module.traits.values_list("code", flat=True)) == ["warehouse"]
    assert list(module.sectors.all()) == [world.sectors["construction"]] and module.site_kinds == ["park"]
    with pytest.raises(InvalidInput) as exc:
        services.publish(admin, draft)
    assert exc.value.message == "草稿没有任何检查项,不能发布"
    section = services.add_section(admin, draft, title="仓库管理")
    with pytest.raises(InvalidInput) as exc:
        services.publish(admin, draft)
    assert exc.value.message == "草稿没有任何检查项,不能发布"
    services.add_item(admin, section, code="CC-01", question="货物堆放不超高,与灯具保持安全距离")
    empty = services.add_section(admin, draft, title="空分节")
    with pytest.raises(InvalidInput) as exc:
        services.publish(admin, draft)
    assert exc.value.message == "分节“空分节”没有检查项,请添加检查项或删除该分节"
    services.remove_section(admin, empty)
    version = services.publish(admin, draft)
    assert version.status == VersionStatus.PUBLISHED
    item = version.items.get()
    assert (item.category, item.hazard_level, item.photo_required) == ("other", "general", False)


def test_publish_rejects_duplicate_codes_left_in_a_draft(world, module):
    """The services refuse duplicates; a duplicate that got in anyway (e.g. by a race before the
    unique constraint existed) is still caught by the publish check."""
    draft = services.start_revision(world.admin, module)
    with pytest.raises(InvalidInput) as exc:
        services.add_item(world.admin, draft.sections.first(), code="T-01", question="重复编号")
    assert exc.value.message == "编号已存在:T-01" and exc.value.detail == {"code": "编号已存在:T-01"}
    with pytest.raises(InvalidInput) as exc:
        services.update_item(world.admin, draft.items.get(code="T-02"), code="T-03")
    assert exc.value.message == "编号已存在:T-03"
    with pytest.raises(InvalidInput) as exc:
        _validate_with_duplicates(draft)
    assert exc.value.message == "检查项编号重复:T-01"


def _validate_with_duplicates(draft):
    from unittest import mock

    real = draft.items.values_list("section_id", "code")
    rows = list(real) + [(draft.sections.first().pk, "T-01")]
    with mock.patch.object(ChecklistVersion, "items") as fake:
        fake.values_list.return_value = rows
        services._validate_for_publish(draft)


def test_discard_draft(world, module):
    admin = world.admin
    draft = services.start_revision(admin, module)
    draft_items = list(draft.items.values_list("pk", flat=True))
    assert services.discard_draft(admin, draft).pk == module.pk
    assert not ChecklistVersion.objects.filter(pk=draft.pk).exists()
    assert not ChecklistItem.objects.filter(pk__in=draft_items).exists()
    assert items(services.published_of(module)) == ["T-01", "T-02", "T-03"]
    with pytest.raises(Conflict):
        services.discard_draft(admin, services.published_of(module))
    entry = AuditEntry.objects.filter(action="checklist.draft_discard").get()
    assert entry.changes["draft"] == [2, None] and entry.changes["items"] == [3, None]
    # The next revision is number 2 again (the discarded draft never existed for anyone else).
    assert services.start_revision(admin, module).number == 2


def test_move_sections_and_items(world, module):
    admin = world.admin
    draft = services.start_revision(admin, module)
    first, second = draft.sections.order_by("order")
    services.move_section(admin, second, "up")
    assert list(draft.sections.order_by("order").values_list("title", flat=True)) == ["现场检查", "基础管理"]
    # At the top already: nothing moves, the request is still audited.
    services.move_section(admin, fresh(second), "up")
    assert list(draft.sections.order_by("order").values_list("title", flat=True)) == ["现场检查", "基础管理"]
    assert AuditEntry.objects.filter(action="checklist.section_move").order_by("id").last().note == "已在最前或最后,未移动"
    services.move_section(admin, fresh(second), "down")
    assert list(draft.sections.order_by("order").values_list("title", flat=True)) == ["基础管理", "现场检查"]

    t2 = draft.items.get(code="T-02")
    services.move_item(admin, t2, "up")
    assert items(draft) == ["T-02", "T-01", "T-03"]
    services.move_item(admin, draft.items.get(code="T-01"), "down")  # last of its section: stays
    assert items(draft) == ["T-02", "T-01", "T-03"]
    with pytest.raises(InvalidInput) as exc:
        services.move_item(admin, t2, "left")
    assert exc.value.message == "移动方向须为上移(up)或下移(down)"

    # Moving an item to another section appends it there.
    services.update_item(admin, draft.items.get(code="T-02"), section=second.pk)
    assert items(draft) == ["T-01", "T-03", "T-02"]
    other = make_published_module(world)
    with pytest.raises(InvalidInput) as exc:
        services.update_item(admin, draft.items.get(code="T-02"), section=other.versions.get().sections.first())
    assert exc.value.message == "分节不存在"

    services.update_section(admin, first, title="  责任与制度 ")
    assert fresh(first).title == "责任与制度"
    removed = services.remove_section(admin, fresh(second))
    assert removed.pk == draft.pk and items(draft) == ["T-01"]
    # The published version is untouched by all of this.
    assert items(services.published_of(module)) == ["T-01", "T-02", "T-03"]


# ---------------------------------------------------------------- errors in Chinese

def test_item_validation_messages(world, module):
    admin = world.admin
    draft = services.start_revision(admin, module)
    section = draft.sections.first()
    cases = [
        ({"code": "X-1", "question": "   "}, "question", "检查内容不能为空"),
        ({"code": "", "question": "有问题"}, "code", "编号不能为空"),
        ({"code": "含 空格", "question": "有问题"}, "code", "编号只能包含字母、数字和 - _ .,如 FC-01"),
        ({"code": "X-1", "question": "问" * 501}, "question", "检查内容不能超过500个字"),
        ({"code": "X-1", "question": "有问题", "category": "weather"}, "category", "隐患类别无效:weather"),
        ({"code": "X-1", "question": "有问题", "hazard_level": "huge"}, "hazard_level", "隐患等级无效:huge"),
        ({"code": "X-1", "question": "有问题", "criterion": "NOPE"}, "criterion", "重大隐患判定条款不存在"),
        ({"code": "X-1", "question": "有问题", "criterion": "GM10-3-1", "hazard_level": "general"}, "hazard_level",
         "对应重大隐患判定条款的检查项,隐患等级须为重大隐患"),
    ]
    for fields, field, message in cases:
        with pytest.raises(InvalidInput) as exc:
            services.add_item(admin, section, **fields)
        assert exc.value.message == message and exc.value.detail == {field: message}, fields
    with pytest.raises(InvalidInput) as exc:
        services.update_item(admin, draft.items.get(code="T-01"), colour="red")
    assert exc.value.message == "未知字段:colour"
    with pytest.raises(InvalidInput) as exc:
        services.add_section(admin, draft, title="")
    assert exc.value.message == "分节标题不能为空"
    with pytest.raises(InvalidInput) as exc:
        services.update_section(admin, section, title="题" * 101)
    assert exc.value.message == "分节标题不能超过100个字"
    with pytest.raises(InvalidInput) as exc:
        services.publish(admin, draft, note="说" * 501)
    assert exc.value.message == "修订说明不能超过500个字"
    # A criterion given by id makes the item major by default.
    criterion = MajorHazardCriterion.objects.get(code="GM10-3-1")
    item = services.add_item(admin, section, code="X-2", question="承包单位统一协调管理", criterion=str(criterion.pk))
    assert item.hazard_level == "major" and item.criterion_id == criterion.pk
    item = services.update_item(admin, item, criterion=None, hazard_level="general", photo_required="false")
    assert item.criterion_id is None and item.hazard_level == "general" and item.photo_required is False


def test_module_validation_messages(world, module):
    admin = world.admin
    cases = [
        ({"code": "", "name": "x"}, "code", "编码不能为空"),
        ({"code": "Bad Code", "name": "x"}, "code", "编码须为2到32位小写字母、数字或下划线,以字母开头"),
        ({"code": module.code, "name": "x"}, "code", f"编码已存在:{module.code}"),
        ({"code": "fine", "name": " "}, "name", "名称不能为空"),
        ({"code": "fine", "name": "x", "site_kinds": ["castle"]}, "site_kinds", "对象类别无效:castle"),
        ({"code": "fine", "name": "x", "sectors": ["no_such_sector"]}, "sectors", "行业领域不存在"),
        ({"code": "fine", "name": "x", "traits": [999999]}, "traits", "风险特征不存在"),
        ({"code": "fine", "name": "x", "sort": "abc"}, "sort", "排序须为0到9999的整数"),
        ({"code": "fine", "name": "x", "sort": 10000}, "sort", "排序须为0到9999的整数"),
    ]
    for fields, field, message in cases:
        with pytest.raises(InvalidInput) as exc:
            services.create_module(admin, **fields)
        assert exc.value.message == message and exc.value.detail == {field: message}, fields
    with pytest.raises(InvalidInput) as exc:
        services.update_module(admin, module, owner="me")
    assert exc.value.message == "未知字段:owner"


def test_update_and_archive_module(world, module):
    admin = world.admin
    industry = world.sectors["industry_trade"]
    services.update_module(admin, module, name="工贸通用", description="说明", applies_to_all="yes",
                           sectors=[industry.pk], traits=["dust", "gas"], site_kinds=["enterprise", "enterprise"],
                           sort=5)
    module = fresh(module)
    assert (module.name, module.description, module.applies_to_all, module.sort) == ("工贸通用", "说明", True, 5)
    assert module.site_kinds == ["enterprise"]
    assert list(module.sectors.all()) == [industry]
    assert sorted(module.traits.values_list("code", flat=True)) == ["dust", "gas"]
    entry = AuditEntry.objects.filter(action="checklist.module_update").get()
    assert entry.changes["name"] == ["测试模块", "工贸通用"] and entry.changes["sectors"] == [[], [industry.pk]]

    services.archive_module(admin, module)
    module = fresh(module)
    assert module.is_archived and module.archived_by == admin
    with pytest.raises(Conflict) as exc:
        services.archive_module(admin, module)
    assert exc.value.message == "该检查清单模块已归档"
    with pytest.raises(Conflict) as exc:
        services.update_module(admin, module, name="再改")
    assert exc.value.message == "该检查清单模块已归档,不能修改"
    with pytest.raises(Conflict):
        services.start_revision(admin, module)
    # Its versions are kept.
    assert items(module.versions.get()) == ["T-01", "T-02", "T-03"]


# ---------------------------------------------------------------- permissions

@pytest.mark.parametrize("persona", ["leader", "dept", "inspector", "town_a", "grid", "enterprise"])
def test_only_the_city_administrator_edits(world, module, persona):
    user = getattr(world, persona)
    assert not services.can_manage(user)
    version = services.published_of(module)
    section, item = version.sections.first(), version.items.first()
    calls = [
        lambda: services.create_module(user, code="mine", name="我的"),
        lambda: services.update_module(user, module, name="改名"),
        lambda: services.archive_module(user, module),
        lambda: services.start_revision(user, module),
        lambda: services.publish(user, version),
        lambda: services.discard_draft(user, version),
        lambda: services.add_section(user, version, title="x"),
        lambda: services.update_section(user, section, title="x"),
        lambda: services.move_section(user, section, "up"),
        lambda: services.remove_section(user, section),
        lambda: services.add_item(user, section, code="Z-1", question="x"),
        lambda: services.update_item(user, item, question="x"),
        lambda: services.move_item(user, item, "up"),
        lambda: services.remove_item(user, item),
        lambda: services.load_seed(user),
    ]
    for call in calls:
        with pytest.raises(Forbidden) as exc:
            call()
        assert exc.value.message == "只有市级管理员可以维护检查清单"
    assert fresh(module).name == "测试模块" and services.draft_of(module) is None


def test_anonymous_and_town_level_administrators_cannot_edit(world):
    from django.contrib.auth.models import AnonymousUser

    from yingji.core import roles
    from yingji.core import services as core_services

    with pytest.raises(Forbidden) as exc:
        services.create_module(AnonymousUser(), code="x1", name="x")
    assert exc.value.message == "请先登录"
    with pytest.raises(Forbidden):
        services.create_module(None, code="x1", name="x")
    # A city-admin role granted below the county does not make one an editor of county-wide data.
    local = core_services.create_user(world.admin, username="local_admin", password="Test-pass-2026!",
                                      role=roles.CITY_ADMIN, area=world.area_a, must_change_password=False)
    assert not services.can_manage(local)
    assert services.can_manage(world.admin)


# ---------------------------------------------------------------- assembly for a site

def _codes(versions):
    return [v.module.code for v in versions]


def test_assemble_for_site_by_traits_sectors_and_kinds(world):
    general_only = make_site(world, kind="enterprise")
    assert _codes(services.assemble_for_site(general_only)) == ["general"]

    dusty = make_site(world, kind="enterprise", traits=["dust", "confined", "hot_work"])
    assert _codes(services.assemble_for_site(dusty)) == ["general", "dust", "confined", "hot_work"]

    shop = make_site(world, kind="small_place")
    assert _codes(services.assemble_for_site(shop)) == ["general", "fire_small"]
    rental = make_site(world, kind="rental_housing", traits=["gas"])
    assert _codes(services.assemble_for_site(rental)) == ["general", "fire_small", "gas"]

    # By sector: a module of our own bound to the 工贸 sector.
    industry = world.sectors["industry_trade"]
    own = make_published_module(world, code="industry_own", sectors=[industry])
    ChecklistModule.objects.filter(pk=own.pk).update(sort=15)
    in_sector = make_site(world, kind="enterprise", sectors=[industry], traits=["ammonia"])
    assert _codes(services.assemble_for_site(in_sector)) == ["general", "industry_own", "ammonia"]
    assert _codes(services.assemble_for_site(general_only)) == ["general"]

    # Every assembled version is the published one; items come in version, section, item order.
    versions = services.assemble_for_site(in_sector)
    assert all(v.status == VersionStatus.PUBLISHED for v in versions)
    listed = services.items_of(versions)
    assert [i.code for i in listed][:3] == ["TY-01", "TY-02", "TY-03"]
    own_codes = [i.code for i in listed if i.version.module.code == "industry_own"]
    assert own_codes == ["T-01", "T-02", "T-03"]
    assert listed[-1].version.module.code == "ammonia" and listed[-1].code == "AJ-07"
    assert len(listed) == 12 + 3 + 7
    assert all(i.section.version_id == i.version_id for i in listed)

    # A revision in progress does not change what sites get; publishing it does.
    draft = services.start_revision(world.admin, own)
    services.add_item(world.admin, draft.sections.first(), code="T-09", question="新增检查项")
    assert "T-09" not in [i.code for i in services.items_of(services.assemble_for_site(in_sector))]
    services.publish(world.admin, draft)
    assert "T-09" in [i.code for i in services.items_of(services.assemble_for_site(in_sector))]

    # Archived modules are no longer assembled.
    services.archive_module(world.admin, own)
    assert _codes(services.assemble_for_site(in_sector)) == ["general", "ammonia"]
    # A module applying to site kinds ignores archived state of others and unrelated kinds.
    assert _codes(services.assemble_for_site(make_site(world, kind="construction"))) == ["general"]


# ---------------------------------------------------------------- seeded data

SEEDED = {"general": 12, "dust": 14, "ammonia": 7, "confined": 9, "hazchem": 10, "fire_small": 11, "gas": 9,
          "hot_work": 8, "industry_trade": 2, "metal_smelting": 2}


def test_seeded_modules_are_published_after_migrate(db):
    modules = {m.code: m for m in ChecklistModule.objects.all()}
    assert set(SEEDED) <= set(modules)
    names = {m.name for m in modules.values()}
    assert {"通用安全管理", "粉尘防爆", "涉氨制冷", "有限空间", "危险化学品", "小场所消防安全", "燃气使用",
            "动火作业/电气焊"} <= names
    for code, count in SEEDED.items():
        version = modules[code].versions.get()
        assert (version.number, version.status, version.created_by_id) == (1, VersionStatus.PUBLISHED, None)
        assert version.items.count() == count, code
        assert 2 <= version.sections.count() <= 4, code
        for item in version.items.all():
            assert item.question and item.basis, item.code
            assert item.code.split("-")[0] in {"TY", "FC", "AJ", "YK", "WH", "XF", "RQ", "DH", "GT", "JS"}
            assert item.criterion_id is None or item.hazard_level == "major"
    assert modules["general"].applies_to_all
    assert list(modules["dust"].traits.values_list("code", flat=True)) == ["dust"]
    assert list(modules["ammonia"].traits.values_list("code", flat=True)) == ["ammonia"]
    assert list(modules["confined"].traits.values_list("code", flat=True)) == ["confined"]
    assert list(modules["gas"].traits.values_list("code", flat=True)) == ["gas"]
    assert list(modules["hot_work"].traits.values_list("code", flat=True)) == ["hot_work"]
    assert set(modules["fire_small"].site_kinds) == {"small_place", "crowded_place", "rental_housing", "self_built"}

    # The criteria of the 2023 industry & trade standard, linked from the items that implement them.
    criteria = {c.code: c for c in MajorHazardCriterion.objects.all()}
    assert {f"GM10-3-{n}" for n in (1, 2, 3)} <= set(criteria)
    assert {f"GM10-11-{n}" for n in range(1, 11)} <= set(criteria)
    assert {"GM10-12-1", "GM10-12-2", "GM10-13-1", "GM10-13-2"} <= set(criteria)
    assert criteria["GM10-3-1"].clause == "第三条(一)" and "承包单位" in criteria["GM10-3-1"].text
    assert "应急管理部令第10号" in criteria["GM10-11-3"].standard
    dust_items = modules["dust"].versions.get().items
    assert set(dust_items.filter(hazard_level="major").values_list("criterion__code", flat=True)) == {
        f"GM10-11-{n}" for n in range(1, 11)}
    fc10 = dust_items.get(code="FC-10")
    assert fc10.photo_required and fc10.category == "dust" and "第十一条(十)" in fc10.basis
    confined = modules["confined"].versions.get().items
    assert set(confined.exclude(criterion=None).values_list("criterion__code", flat=True)) == {"GM10-13-1",
                                                                                              "GM10-13-2"}
    ammonia = modules["ammonia"].versions.get().items
    assert set(ammonia.exclude(criterion=None).values_list("criterion__code", flat=True)) == {"GM10-12-1",
                                                                                             "GM10-12-2"}
    # 第三条 concerns industry & trade enterprises (and (三) metal smelters): not the general module
    general = modules["general"].versions.get().items
    assert not general.exclude(criterion=None).exists()
    trade = modules["industry_trade"].versions.get().items
    assert set(trade.exclude(criterion=None).values_list("criterion__code", flat=True)) == {"GM10-3-1", "GM10-3-2"}
    smelting = modules["metal_smelting"].versions.get().items
    assert set(smelting.exclude(criterion=None).values_list("criterion__code", flat=True)) == {"GM10-3-3"}
    assert list(modules["metal_smelting"].traits.values_list("code", flat=True)) == ["molten_metal"]
    # Every item's category is a hazard category.
    from yingji.hazards.models import Category

    assert set(ChecklistItem.objects.values_list("category", flat=True)) <= set(Category.values)


def test_load_seed_links_sectors_created_later_and_is_idempotent(world):
    from yingji.core.models import Organisation, Sector

    gas_module = ChecklistModule.objects.get(code="gas")
    hazchem_module = ChecklistModule.objects.get(code="hazchem")
    # No sector existed at migrate time (the test world's sectors, like the demo's, come later).
    assert not gas_module.sectors.exists() and not hazchem_module.sectors.exists()
    dept = Organisation.objects.get(code="zj")
    urban_gas = Sector.objects.create(code="urban_gas", name="城镇燃气", department=dept)
    counts = services.load_seed(world.admin)
    assert counts == {"criteria": 0, "modules": 0, "items": 0, "links": 3}
    assert list(gas_module.sectors.all()) == [urban_gas]
    assert list(ChecklistModule.objects.get(code="industry_trade").sectors.all()) == [world.sectors["industry_trade"]]
    assert list(hazchem_module.sectors.all()) == [world.sectors["hazchem"]]
    assert services.load_seed(None) == {"criteria": 0, "modules": 0, "items": 0, "links": 0}
    assert AuditEntry.objects.filter(action="checklist.seed_load").count() == 2
    # Existing modules are neither duplicated nor changed.
    assert ChecklistModule.objects.filter(code="gas").count() == 1
    section_count = ChecklistSection.objects.count()
    assert services.load_seed(None)["modules"] == 0 and ChecklistSection.objects.count() == section_count


def test_load_checklists_command(world):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("load_checklists", stdout=out)
    assert "新增模块 0 个" in out.getvalue()
    assert AuditEntry.objects.filter(action="checklist.seed_load", request_id="checklists-load-cli").exists()


def test_races_on_codes_end_in_the_same_chinese_error(world, module):
    """Two editors adding the same code at once: the unique constraint decides and the loser gets
    the same message as the pre-check gives (simulated by changing the code after the check)."""
    from unittest import mock

    admin = world.admin
    real_item, real_module = services._apply_item, services._apply_module

    def late_duplicate_item(item, version, fields):
        real_item(item, version, fields)
        item.code = "T-01"

    def late_duplicate_module(obj, fields):
        result = real_module(obj, fields)
        obj.code = module.code
        return result

    draft = services.start_revision(admin, module)
    with mock.patch.object(services, "_apply_item", late_duplicate_item):
        with pytest.raises(InvalidInput) as exc:
            services.add_item(admin, draft.sections.first(), code="T-77", question="并发添加")
        assert exc.value.message == "编号已存在:T-01"
        with pytest.raises(InvalidInput) as exc:
            services.update_item(admin, draft.items.get(code="T-02"), question="并发修改")
        assert exc.value.message == "编号已存在:T-01"
    with mock.patch.object(services, "_apply_module", late_duplicate_module):
        with pytest.raises(InvalidInput) as exc:
            services.create_module(admin, code="race_x", name="并发新建")
        assert exc.value.message == f"编码已存在:{module.code}"
    assert items(draft) == ["T-01", "T-02", "T-03"]
    assert not services.can_manage(None)
