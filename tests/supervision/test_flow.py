"""The major-hazard flow: list → notice → five-in-place plan → extension (too late / approved) →
acceptance (failed, then passed) → delisting → publication; with audit entries and notifications."""
from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType

from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import AuditEntry, Notification
from yingji.hazards import services as hazard_services
from yingji.supervision import services
from yingji.supervision.models import Decision, ExtensionRequest, Listing, ListingState
from yingji.supervision.workdays import add_working_days, add_years

from tests.hazards.factories import photo

from .factories import in_days, make_listing, make_major_hazard

pytestmark = pytest.mark.django_db

PLAN = {"measures": "更换泄爆片,加装隔爆阀", "funds": "120000", "responsible_people": "厂长、安全主管",
        "plan_deadline": None, "contingency": "粉尘爆炸专项应急预案"}


def audit_actions(obj) -> list[str]:
    ct = ContentType.objects.get_for_model(obj)
    return list(AuditEntry.objects.filter(content_type=ct, object_id=obj.pk).order_by("id")
                .values_list("action", flat=True))


def test_full_flow(world, site_a, monkeypatch):
    hazard = make_major_hazard(world, None, site=site_a)
    today = services.today()

    # 1. the town lists the hazard (town level)
    listing = services.list_hazard(world.town_a, hazard, level="town", listing_body_name="大唐街道安全生产委员会",
                                   notice_number="大安督〔2025〕1号", notice_text="限期整改,局部停产",
                                   deadline=in_days(120), shutdown="partial")
    assert listing.state == ListingState.LISTED and listing.listed_by == world.town_a
    assert listing.publish_due == add_working_days(today, 5)
    assert listing.deadline == listing.original_deadline == in_days(120)
    assert listing.public_title == hazard.title and listing.publishable
    assert Notification.objects.filter(recipient=world.enterprise, title__contains="挂牌督办").exists()

    # 2. the notice is published
    listing = services.publish_notice(world.town_a, listing)
    assert listing.published_at is not None and listing.published_by == world.town_a
    with pytest.raises(Conflict, match="督办通知已于"):
        services.publish_notice(world.town_a, listing)

    # 3. the site files its five-in-place plan; every missing part is named in Chinese
    with pytest.raises(InvalidInput) as exc:
        services.file_plan(world.enterprise, listing, measures="更换泄爆片")
    assert "缺少:整改资金、责任人员、完成时限、应急预案" in exc.value.message
    assert exc.value.detail == {"funds": "请填写整改资金(资金落实)", "responsible_people": "请填写责任人员(责任落实)",
                                "plan_deadline": "请填写完成时限(时限落实)", "contingency": "请填写应急预案(预案落实)"}
    with pytest.raises(InvalidInput, match="完成时限不能晚于督办整改期限"):
        services.file_plan(world.enterprise, listing, **{**PLAN, "plan_deadline": in_days(121)})
    with pytest.raises(InvalidInput, match="整改资金须大于0"):
        services.file_plan(world.enterprise, listing, **{**PLAN, "funds": "0", "plan_deadline": in_days(100)})
    listing = services.file_plan(world.enterprise, listing, **{**PLAN, "plan_deadline": in_days(100)})
    assert listing.state == ListingState.RECTIFYING and str(listing.funds) == "120000.00"
    assert listing.plan_filed_by == world.enterprise
    assert Notification.objects.filter(recipient=world.town_a, title__contains="已报送整改方案").exists()

    # 4a. an extension asked for too late: fewer than 20 working days before the deadline
    last = add_working_days(listing.deadline, -20)
    monkeypatch.setattr(services, "today", lambda: last + datetime.timedelta(days=1))
    with pytest.raises(InvalidInput) as exc:
        services.request_extension(world.enterprise, listing, new_deadline=in_days(200), reason="设备到货延迟")
    assert exc.value.message == (f"延期申请须在整改期限({listing.deadline.isoformat()})前至少20个工作日提出,"
                                 f"最迟应于{last.isoformat()}提出;现已超过申请期限,不能申请延期")
    assert exc.value.code == "extension_too_late"
    # … on the last day it is still in time
    monkeypatch.setattr(services, "today", lambda: last)
    with pytest.raises(InvalidInput, match="申请延至日期须晚于当前整改期限"):
        services.request_extension(world.enterprise, listing, new_deadline=listing.deadline, reason="x")
    monkeypatch.undo()

    # 4b. in time: the new deadline may not pass one year after listing
    with pytest.raises(InvalidInput, match="不能超过挂牌之日起一年"):
        services.request_extension(world.enterprise, listing, new_deadline=add_years(today, 1) + datetime.timedelta(days=1),
                                   reason="设备到货延迟")
    with pytest.raises(InvalidInput, match="请填写延期理由"):
        services.request_extension(world.enterprise, listing, new_deadline=in_days(200), reason="")
    ext = services.request_extension(world.enterprise, listing, new_deadline=in_days(200), reason="进口设备到货延迟")
    assert ext.decision == Decision.PENDING and ext.decide_due == add_working_days(today, 10)
    assert ext.current_deadline == in_days(120)
    with pytest.raises(Conflict, match="已有待审批的延期申请"):
        services.request_extension(world.enterprise, listing, new_deadline=in_days(210), reason="再次申请")
    assert Notification.objects.filter(recipient=world.town_a, title__contains="延期申请待审批").exists()

    # the site cannot decide its own request; the town decides; approval moves the deadline
    with pytest.raises(Forbidden):
        services.decide_extension(world.enterprise, ext, approve=True)
    ext = services.decide_extension(world.town_a, ext, approve=True, note="同意延期")
    listing.refresh_from_db()
    assert ext.decision == Decision.APPROVED and ext.decided_by == world.town_a and not ext.decided_late
    assert listing.deadline == in_days(200) and listing.original_deadline == in_days(120)
    with pytest.raises(Conflict, match="该延期申请已审批"):
        services.decide_extension(world.town_a, ext, approve=False, note="x")
    # a second request, rejected (a reason is required)
    ext2 = services.request_extension(world.enterprise, listing, new_deadline=in_days(250), reason="再延期")
    with pytest.raises(InvalidInput, match="请填写审批意见"):
        services.decide_extension(world.town_a, ext2, approve=False)
    ext2 = services.decide_extension(world.town_a, ext2, approve=False, note="理由不充分")
    listing.refresh_from_db()
    assert ext2.decision == Decision.REJECTED and listing.deadline == in_days(200)
    assert Notification.objects.filter(recipient=world.enterprise, title__contains="延期未获批准").exists()

    # shutdown changes are recorded
    listing = services.set_shutdown(world.town_a, listing, shutdown="full", note="扩大停产范围")
    assert listing.shutdown == "full"
    with pytest.raises(InvalidInput, match="停产情况没有变化"):
        services.set_shutdown(world.town_a, listing, shutdown="full")
    with pytest.raises(Forbidden):
        services.set_shutdown(world.enterprise, listing, shutdown="none")

    # 5. acceptance: only after the hazard's rectification is submitted
    with pytest.raises(Conflict, match="请先在隐患整改中提交整改材料后再申请验收"):
        services.request_acceptance(world.enterprise, listing)
    hazard_services.accept(world.admin, hazard, responsible_person="王厂长", deadline=in_days(100))
    hazard_services.submit_rectification(world.enterprise, hazard, description="泄爆片已更换", files=[photo()])
    listing = services.request_acceptance(world.enterprise, listing, note="已完成整改")
    assert listing.state == ListingState.ACCEPTANCE_REQUESTED and listing.acceptance_requested_by == world.enterprise
    with pytest.raises(Conflict, match="不能执行"):
        services.file_plan(world.enterprise, listing, **{**PLAN, "plan_deadline": in_days(100)})
    with pytest.raises(Forbidden):
        services.accept(world.enterprise, listing, passed=True)
    with pytest.raises(InvalidInput, match="请填写验收意见"):
        services.accept(world.town_a, listing, passed=False)
    listing = services.accept(world.town_a, listing, passed=False, note="隔爆阀未安装到位")
    assert listing.state == ListingState.RECTIFYING and listing.acceptance_result == "failed"
    listing = services.request_acceptance(world.enterprise, listing, note="已整改到位")
    listing = services.accept(world.town_a, listing, passed=True, note="符合要求")
    assert listing.state == ListingState.ACCEPTED and listing.acceptance_by == world.town_a

    # 6. delisting needs the hazard itself closed (验收销号)
    with pytest.raises(Conflict, match="隐患尚未验收销号"):
        services.delist(world.town_a, listing)
    hazard_services.verify(world.town_a, hazard, note="验收合格")
    listing = services.delist(world.town_a, listing, note="摘牌")
    assert listing.state == ListingState.DELISTED and listing.delisted_by == world.town_a
    assert listing.delist_publish_due == add_working_days(today, 5)

    # 7. the delisting is published
    listing = services.publish_delisting(world.town_a, listing)
    assert listing.delist_published_at is not None and listing.public_state == "已摘牌销号"
    with pytest.raises(Conflict, match="摘牌销号已公布"):
        services.publish_delisting(world.town_a, listing)

    assert audit_actions(listing) == [
        "supervision.list", "supervision.publish_notice", "supervision.file_plan", "supervision.request_extension",
        "supervision.decide_extension", "supervision.request_extension", "supervision.decide_extension",
        "supervision.shutdown", "supervision.request_acceptance", "supervision.acceptance",
        "supervision.request_acceptance", "supervision.acceptance", "supervision.delist",
        "supervision.publish_delisting"]
    assert audit_actions(ext) == ["supervision.extension_request", "supervision.extension_decide"]
    deadline_change = AuditEntry.objects.filter(action="supervision.decide_extension", object_id=listing.pk,
                                                 content_type__model="listing").order_by("id").first()
    assert deadline_change.changes == {"deadline": [in_days(120).isoformat(), in_days(200).isoformat()]}
    assert deadline_change.actor == world.town_a
    assert list(listing.events.values_list("action", flat=True)) == [
        "list", "publish_notice", "file_plan", "request_extension", "decide_extension", "request_extension",
        "decide_extension", "shutdown", "request_acceptance", "acceptance", "request_acceptance", "acceptance",
        "delist", "publish_delisting"]


def test_listing_rules(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a)
    base = dict(listing_body_name="诸暨市安委会", notice_number="诸安督1号", notice_text="限期整改")
    # a general hazard cannot be listed
    from tests.hazards.factories import make_hazard

    general = make_hazard(world, None, site=site_a)
    with pytest.raises(Conflict, match="只有重大隐患才能挂牌督办"):
        services.list_hazard(world.admin, general, level="county", deadline=in_days(30), **base)
    # deadline rules
    with pytest.raises(InvalidInput, match="整改期限须晚于挂牌日期"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(0), **base)
    with pytest.raises(InvalidInput, match="整改期限最长为挂牌之日起一年"):
        services.list_hazard(world.admin, hazard, level="county", deadline=add_years(services.today(), 1)
                             + datetime.timedelta(days=1), **base)
    with pytest.raises(InvalidInput, match="请填写整改期限"):
        services.list_hazard(world.admin, hazard, level="county", deadline=None, **base)
    with pytest.raises(InvalidInput, match="整改期限格式不正确"):
        services.list_hazard(world.admin, hazard, level="county", deadline="明天", **base)
    with pytest.raises(InvalidInput, match="请选择挂牌级别"):
        services.list_hazard(world.admin, hazard, level="", deadline=in_days(30), **base)
    with pytest.raises(InvalidInput, match="挂牌级别无效"):
        services.list_hazard(world.admin, hazard, level="nation", deadline=in_days(30), **base)
    with pytest.raises(InvalidInput, match="请填写督办通知书文号"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30),
                             **{**base, "notice_number": " "})
    with pytest.raises(InvalidInput, match="请选择或填写挂牌单位"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30),
                             **{**base, "listing_body_name": ""})
    with pytest.raises(InvalidInput, match="挂牌单位无效"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30), listing_body="x", **base)
    with pytest.raises(InvalidInput, match="挂牌单位无效"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30), listing_body=999999, **base)
    with pytest.raises(InvalidInput, match="督办要求不能超过4000个字"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30),
                             **{**base, "notice_text": "字" * 4001})
    # the public title may carry no phone number
    with pytest.raises(InvalidInput, match="公开标题不能包含电话号码"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30),
                             public_title="联系13900001111", **base)
    # a town officer lists at town level only; a county user at any level
    with pytest.raises(Forbidden, match="镇街只能挂牌镇街级督办"):
        services.list_hazard(world.town_a, hazard, level="county", deadline=in_days(30), **base)
    assert services.listing_levels_for(world.town_a, hazard) == ["town"]
    assert services.listing_levels_for(world.admin, hazard) == ["town", "county", "city", "province"]
    # an organisation as the listing body gives its name
    from yingji.core.models import Organisation

    org = Organisation.objects.get(code="yjj")
    listing = services.list_hazard(world.admin, hazard, level="city", deadline=in_days(30), listing_body=org.pk,
                                   notice_number="绍安督1号", notice_text="市级挂牌")
    assert listing.listing_body == org and listing.listing_body_name == "诸暨市应急管理局"
    # one listing per hazard
    with pytest.raises(Conflict, match="该隐患已挂牌督办"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30), **base)
    # a closed hazard cannot be listed
    other = make_major_hazard(world, None, site=site_a)
    hazard_services.archive(world.admin, other, reason="重复上报")
    with pytest.raises(Conflict, match="已销号或已归档"):
        services.list_hazard(world.admin, other, level="county", deadline=in_days(30), **base)
    with pytest.raises(InvalidInput, match="隐患编号无效"):
        services.list_hazard(world.admin, "abc", level="county", deadline=in_days(30), **base)


def test_permissions_per_persona(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a)
    base = dict(level="town", listing_body_name="大唐街道安委会", notice_number="大安督2号", notice_text="限期整改",
                deadline=in_days(150))
    # grid worker and leader see the hazard but may not list it
    for persona in ("grid", "leader", "enterprise"):
        with pytest.raises(Forbidden):
            services.list_hazard(world.users[persona], hazard, **base)
    # another town's officer does not even see it
    with pytest.raises(NotFound):
        services.list_hazard(world.town_b, hazard, **base)
    with pytest.raises(Forbidden, match="请先登录"):
        services.list_hazard(None, hazard, **base)
    listing = services.list_hazard(world.town_a, hazard, **base)

    for persona in ("grid", "leader"):
        user = world.users[persona]
        assert Listing.objects.visible_to(user).filter(pk=listing.pk).exists()
        assert services.allowed_actions(user, listing) == []
        with pytest.raises(Forbidden, match="您无权对该挂牌督办执行"):
            services.publish_notice(user, listing)
        with pytest.raises(Forbidden):
            services.file_plan(user, listing, **{**PLAN, "plan_deadline": in_days(100)})
    with pytest.raises(NotFound):
        services.publish_notice(world.town_b, listing)
    with pytest.raises(NotFound):
        services.publish_notice(world.town_a, "x")
    assert not Listing.objects.visible_to(world.town_b).filter(pk=listing.pk).exists()
    # the enterprise may file the plan and ask, not publish or decide
    assert services.allowed_actions(world.enterprise, listing) == ["file_plan", "request_extension"]
    assert services.allowed_actions(world.town_a, listing) == [
        "publish_notice", "set_public", "file_plan", "shutdown", "request_extension", "archive"]
    with pytest.raises(Forbidden):
        services.publish_notice(world.enterprise, listing)
    # town B cannot decide town A's extension: it does not exist for them
    ext = services.request_extension(world.enterprise, listing, new_deadline=in_days(200), reason="资金未到位")
    with pytest.raises(NotFound):
        services.decide_extension(world.town_b, ext, approve=True)
    with pytest.raises(NotFound):
        services.decide_extension(world.town_a, "x", approve=True)
    with pytest.raises(Forbidden):
        services.decide_extension(world.grid, ext.pk, approve=True)
    assert not services.can_decide(world.grid, ext) and services.can_decide(world.town_a, ext)


def test_requester_cannot_accept_own_request(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a)
    listing = make_listing(world, hazard=hazard, actor=world.town_a, level="town")
    listing = services.file_plan(world.town_a, listing, **{**PLAN, "plan_deadline": in_days(100)})
    hazard_services.accept(world.town_a, hazard, responsible_person="王厂长", deadline=in_days(100))
    hazard_services.submit_rectification(world.town_a, hazard, description="已整改", files=[photo()])
    listing = services.request_acceptance(world.town_a, listing)
    assert "acceptance" not in services.allowed_actions(world.town_a, listing)
    with pytest.raises(Forbidden, match="申请验收人不能验收自己的申请"):
        services.accept(world.town_a, listing, passed=True)
    listing = services.accept(world.admin, listing, passed=True)
    assert listing.state == ListingState.ACCEPTED


def test_stale_version_and_archive(world, site_a):
    listing = make_listing(world, site=site_a)
    with pytest.raises(Conflict, match="已被他人处理"):
        services.publish_notice(world.admin, listing, version=listing.version + 1)
    with pytest.raises(InvalidInput, match="版本号无效"):
        services.publish_notice(world.admin, listing, version="v1")
    # a lost race: the row changed between loading and writing
    stale = Listing.objects.get(pk=listing.pk)
    services.set_shutdown(world.admin, listing, shutdown="partial")
    with pytest.raises(Conflict, match="已被他人处理"):
        services._change(world.admin, stale, "shutdown", fields={"shutdown": "full"})
    with pytest.raises(InvalidInput, match="请填写归档理由"):
        services.archive(world.admin, listing, reason="")
    listing = services.archive(world.admin, listing, reason="误挂牌")
    assert listing.is_archived and services.allowed_actions(world.admin, listing) == []
    with pytest.raises(Conflict, match="已归档"):
        services.publish_notice(world.admin, listing)


def test_publication_rules_and_public_title(world, site_a, monkeypatch):
    hazard = make_major_hazard(world, None, site=site_a)
    hazard_services.accept(world.admin, hazard, responsible_person="李四", responsible_phone="13900001111",
                           deadline=in_days(100))
    listing = make_listing(world, hazard=hazard)
    # the notice is published late: the event says so
    monkeypatch.setattr(services, "today", lambda: listing.publish_due + datetime.timedelta(days=1))
    listing = services.publish_notice(world.admin, listing)
    event = listing.events.get(action="publish_notice")
    assert event.data["late"] is True and "超过应公布日期" in event.note
    monkeypatch.undo()
    # personal names are refused in the public title
    with pytest.raises(InvalidInput, match=r"公开标题不能包含个人姓名\(李四\)"):
        services.set_public(world.admin, listing, publishable=True, public_title="李四负责的除尘系统隐患")
    with pytest.raises(InvalidInput, match="请填写公开标题"):
        services.set_public(world.admin, listing, publishable=True, public_title="")
    with pytest.raises(InvalidInput, match="公开信息没有变化"):
        services.set_public(world.admin, listing, publishable=True, public_title=listing.public_title)
    listing = services.set_public(world.admin, listing, publishable=False, public_title="除尘系统泄爆装置缺失")
    assert not listing.publishable and listing.public_title == "除尘系统泄爆装置缺失"
    # delisting may not be published before the notice (other listing)
    other_hazard = make_major_hazard(world, None, site=site_a)
    other = make_listing(world, hazard=other_hazard)
    other = services.file_plan(world.enterprise, other, **{**PLAN, "plan_deadline": in_days(100)})
    hazard_services.accept(world.admin, other_hazard, responsible_person="王五", deadline=in_days(100))
    hazard_services.submit_rectification(world.enterprise, other_hazard, description="已整改", files=[photo()])
    hazard_services.verify(world.admin, other_hazard)
    other = services.request_acceptance(world.enterprise, other)   # the hazard is closed already: fine
    other = services.accept(world.admin, other, passed=True)
    other = services.delist(world.admin, other)
    assert "publish_delisting" not in services.allowed_actions(world.admin, other)
    with pytest.raises(Conflict, match="请先公布督办通知"):
        services.publish_delisting(world.admin, other)
    services.publish_notice(world.admin, other)
    monkeypatch.setattr(services, "today", lambda: other.delist_publish_due + datetime.timedelta(days=3))
    other = services.publish_delisting(world.admin, other)
    assert other.events.get(action="publish_delisting").data["late"] is True


def test_overdue_decision_is_flagged(world, site_a, monkeypatch):
    from django.utils import timezone

    listing = make_listing(world, site=site_a)
    ext = services.request_extension(world.enterprise, listing, new_deadline=in_days(250), reason="资金紧张")
    assert not ext.is_overdue
    # twelve working days later the request is overdue; deciding it then is recorded as late
    later = timezone.now() + datetime.timedelta(days=30)
    monkeypatch.setattr(timezone, "now", lambda: later)
    ext = ExtensionRequest.objects.get(pk=ext.pk)
    assert ext.is_overdue
    ext = services.decide_extension(world.admin, ext, approve=True)
    assert ext.decided_late
    event = listing.events.get(action="decide_extension")
    assert event.data["late"] is True
    assert "超过审批期限" in AuditEntry.objects.get(action="supervision.decide_extension").note
