"""Edge cases: who may list at which level, races, odd input, overdue flags, the read helpers."""
from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from yingji.core import roles
from yingji.core import services as core_services
from yingji.core.errors import Conflict, Forbidden, InvalidInput
from yingji.core.models import Notification
from yingji.supervision import queries, services
from yingji.supervision.models import Decision, ExtensionRequest, Listing, ListingEvent

from .factories import in_days, make_listing, make_major_hazard

pytestmark = pytest.mark.django_db

BASE = dict(listing_body_name="安委会", notice_number="督1号", notice_text="限期整改")


def test_listing_levels_by_grant(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a, sector=world.sectors["industry_trade"])
    assert services.listing_levels_for(world.grid, hazard) == []          # no EDIT
    assert services.listing_levels_for(world.enterprise, hazard) == []    # site-bound
    assert services.listing_levels_for(world.dept, hazard) == []          # another sector
    assert services.listing_levels_for(world.inspector, hazard) == ["town", "county", "city", "province"]
    # an officer whose EDIT grant is held at village level may not list at all
    village_officer = core_services.create_user(world.admin, username="village_officer", password="Test-pass-2026!",
                                                display_name="村干部", role=roles.TOWN_OFFICER,
                                                area=world.villages["a1"], must_change_password=False)
    assert services.listing_levels_for(village_officer, hazard) == []
    with pytest.raises(Forbidden, match="只有镇街或县级监管人员可以挂牌督办"):
        services.list_hazard(village_officer, hazard, level="town", deadline=in_days(30), **BASE)


def test_county_hazard_listing_notifies_county_admins(world):
    hazard = make_major_hazard(world, world.county, actor=world.inspector, sector=world.sectors["industry_trade"])
    listing = services.list_hazard(world.inspector, hazard, level="county",
                                   deadline=datetime.datetime.combine(in_days(60), datetime.time(9)), **BASE)
    assert listing.deadline == in_days(60)   # a datetime is taken as its date
    assert services._town_of(listing) is None
    services.file_plan(world.inspector, listing, measures="整改", funds="1,000", responsible_people="张工",
                       plan_deadline=in_days(50), contingency="预案")
    assert Notification.objects.filter(recipient=world.admin, title__contains="已报送整改方案").exists()
    assert not Notification.objects.filter(recipient=world.inspector).exists()   # not the actor


def test_plan_input_errors(world, site_a):
    listing = make_listing(world, site=site_a)
    plan = dict(measures="整改", funds="1000", responsible_people="张工", plan_deadline=in_days(50), contingency="预案")
    with pytest.raises(InvalidInput, match="整改资金须为数字"):
        services.file_plan(world.enterprise, listing, **{**plan, "funds": "一万"})
    with pytest.raises(InvalidInput, match="完成时限不能早于挂牌日期"):
        services.file_plan(world.enterprise, listing, **{**plan, "plan_deadline": in_days(-1)})
    with pytest.raises(InvalidInput, match="完成时限格式不正确"):
        services.file_plan(world.enterprise, listing, **{**plan, "plan_deadline": "下个月"})
    listing = services.file_plan(world.enterprise, listing, **plan)
    listing = services.file_plan(world.enterprise, listing, **{**plan, "funds": "2000"})   # a revision
    event = listing.events.filter(action="file_plan").last()
    assert event.data["revision"] is True and event.note == "修订整改方案" and str(listing.funds) == "2000.00"


def test_string_flags(world, site_a):
    listing = make_listing(world, site=site_a)
    listing = services.set_public(world.admin, listing, publishable="0", public_title="某厂粉尘隐患")
    assert listing.publishable is False
    listing = services.set_public(world.admin, listing, publishable="on", public_title="某厂粉尘隐患")
    assert listing.publishable is True


def test_races(world, site_a, monkeypatch):
    hazard = make_major_hazard(world, None, site=site_a)
    listing = make_listing(world, hazard=hazard)
    # two people listing the same hazard at once: the one-to-one decides
    monkeypatch.setattr(services, "check_listable", lambda actor, h: hazard)
    with pytest.raises(Conflict, match="该隐患已挂牌督办"):
        services.list_hazard(world.admin, hazard, level="county", deadline=in_days(30), **BASE)
    monkeypatch.undo()
    # two extension requests at once: the partial unique index decides
    services.request_extension(world.enterprise, listing, new_deadline=in_days(250), reason="采购")
    with pytest.raises(Conflict, match="已有待审批的延期申请"):
        services.request_extension(world.admin, listing, new_deadline=in_days(260), reason="采购")
    assert ExtensionRequest.objects.filter(listing=listing).count() == 1
    # two decisions at once: the second finds it decided while loading the listing
    ext = ExtensionRequest.objects.get(listing=listing)
    original = services._load

    def decided_meanwhile(*args, **kwargs):
        ExtensionRequest.objects.filter(pk=ext.pk).update(decision=Decision.REJECTED)
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "_load", decided_meanwhile)
    with pytest.raises(Conflict, match="已被他人处理"):
        services.decide_extension(world.admin, ext, approve=True)


def test_decision_on_a_finished_listing_is_refused(world, site_a):
    listing = make_listing(world, site=site_a)
    ext = services.request_extension(world.enterprise, listing, new_deadline=in_days(250), reason="采购")
    services.archive(world.admin, listing, reason="误挂牌")
    with pytest.raises(Conflict, match="已归档"):
        services.decide_extension(world.admin, ext, approve=True)


def test_overdue_flags(world, site_a, monkeypatch):
    listing = make_listing(world, site=site_a)
    assert not listing.is_overdue and not listing.publish_overdue and not listing.delist_publish_overdue
    later = timezone.now() + datetime.timedelta(days=250)
    monkeypatch.setattr(timezone, "now", lambda: later)
    listing = Listing.objects.get(pk=listing.pk)
    assert listing.is_overdue and listing.publish_overdue
    html = _page(world.admin, f"/supervision/{listing.pk}/")
    assert "超期" in html and "逾期未公布" in html


def _page(user, url) -> str:
    c = Client()
    c.force_login(user)
    return c.get(url).content.decode()


def test_queries_and_labels(world, site_a):
    listing = make_listing(world, site=site_a)
    qs = queries.listing_search(world.admin, overdue="no", q=str(listing.pk))
    assert list(qs) == [listing]
    assert list(queries.listing_search(world.admin, overdue="yes")) == []
    for kwargs, message in (({"overdue": "maybe"}, "取值无效"), ({"q": "字" * 101}, "查询内容过长"),
                            ({"state": "bogus"}, "状态无效"), ({"level": "bogus"}, "挂牌级别无效")):
        with pytest.raises(InvalidInput, match=message):
            queries.listing_search(world.admin, **kwargs)
    assert list(queries.listing_search(world.admin, state="listed", include_archived="1")) == [listing]
    assert not Listing.objects.restrict(world.admin, "bogus").exists()
    event = ListingEvent.objects.get(listing=listing)
    assert str(event) == f"挂牌督办 #{listing.pk}" and str(listing).startswith(listing.public_title)
    assert services.state_label("listed") == "已挂牌" and services.state_label("x") == "x"
    assert services.action_label("delist") == "摘牌销号" and services.action_label("x") == "x"
    assert str(ExtensionRequest(pk=5)) == "延期申请 #5"


def test_page_refuses_an_action_not_allowed_with_bad_input(world, site_a):
    listing = make_listing(world, site=site_a)
    c = Client()
    c.force_login(world.grid)
    r = c.post(f"/supervision/{listing.pk}/acceptance/", {"passed": "maybe"}, follow=True)
    assert "无权执行此操作" in r.content.decode()
