"""Two officers acting on one listing at once: every transition of listed supervision checks the
state it read (conditional UPDATE on state + version), so the one who read first and writes second
gets a Conflict and writes nothing (tests/races.py)."""
from __future__ import annotations

import pytest

from yingji.hazards import services as hazard_services
from yingji.supervision import services
from yingji.supervision.models import Listing, ListingState

from tests.hazards.factories import photo
from tests.races import lost_race

from .factories import in_days, make_listing, make_major_hazard

pytestmark = pytest.mark.django_db

STALE = "该督办记录已被他人处理,请刷新后重试"
HAZARD_STALE = "该隐患已被他人处理,请刷新后重试"
PLAN = {"measures": "更换泄爆片", "funds": "50000", "responsible_people": "厂长", "contingency": "专项预案"}


def town_listing(world, site, **fields):
    hazard = make_major_hazard(world, None, site=site)
    return make_listing(world, hazard=hazard, actor=world.town_a, level="town", deadline=in_days(150), **fields)


def rectifying(world, site) -> Listing:
    listing = town_listing(world, site)
    return services.file_plan(world.enterprise, listing, **PLAN, plan_deadline=in_days(100))


def submit_hazard(world, hazard) -> None:
    hazard_services.accept(world.admin, hazard, responsible_person="王厂长", deadline=in_days(100))
    hazard_services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])


def acceptance_requested(world, site) -> Listing:
    listing = rectifying(world, site)
    submit_hazard(world, listing.hazard)
    return services.request_acceptance(world.enterprise, listing, note="已整改")


def accepted(world, site) -> Listing:
    listing = acceptance_requested(world, site)
    listing = services.accept(world.admin, listing, passed=True, note="符合")
    hazard_services.verify(world.town_a, listing.hazard, note="合格")
    return listing


def list_kwargs(**extra):
    return dict(level="town", listing_body_name="大唐街道安委会", notice_number="大安督1号", notice_text="限期整改",
                deadline=in_days(100), **extra)


def test_list_twice_at_once(world, site_a, monkeypatch):
    hazard = make_major_hazard(world, None, site=site_a)
    _err, won = lost_race(monkeypatch, services, "check_listable",
                          winner=lambda: services.list_hazard(world.admin, hazard.pk, **list_kwargs()),
                          loser=lambda: services.list_hazard(world.town_a, hazard.pk, **list_kwargs()),
                          message="该隐患已挂牌督办", code="already_listed")
    assert won.state == ListingState.LISTED


def test_list_while_the_hazard_is_verified(world, site_a, monkeypatch):
    hazard = make_major_hazard(world, None, site=site_a)
    submit_hazard(world, hazard)
    lost_race(monkeypatch, services, "check_listable",
              winner=lambda: hazard_services.verify(world.admin, hazard.pk, note="合格"),
              loser=lambda: services.list_hazard(world.town_a, hazard.pk, **list_kwargs()),
              message=HAZARD_STALE, code="stale")


def test_publish_notice_twice(world, site_a, monkeypatch):
    listing = town_listing(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.publish_notice(world.admin, listing.pk),
              loser=lambda: services.publish_notice(world.town_a, listing.pk), message=STALE)


def test_set_public_while_another_changes_it(world, site_a, monkeypatch):
    listing = town_listing(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.set_public(world.admin, listing.pk, publishable=False, public_title="甲标题"),
              loser=lambda: services.set_public(world.town_a, listing.pk, publishable=True, public_title="乙标题"),
              message=STALE)


def test_file_plan_twice(world, site_a, monkeypatch):
    listing = town_listing(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.file_plan(world.enterprise, listing.pk, **PLAN, plan_deadline=in_days(90)),
              loser=lambda: services.file_plan(world.enterprise, listing.pk, **PLAN, plan_deadline=in_days(80)),
              message=STALE)


def test_shutdown_while_archived(world, site_a, monkeypatch):
    listing = town_listing(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.archive(world.admin, listing.pk, reason="误挂牌"),
              loser=lambda: services.set_shutdown(world.town_a, listing.pk, shutdown="full"), message=STALE)


def test_request_extension_twice(world, site_a, monkeypatch):
    listing = rectifying(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.request_extension(world.enterprise, listing.pk, new_deadline=in_days(200),
                                                        reason="设备到货延迟"),
              loser=lambda: services.request_extension(world.enterprise, listing.pk, new_deadline=in_days(210),
                                                       reason="再次申请"),
              code="pending_extension")


def test_approve_and_reject_extension_at_once(world, site_a, monkeypatch):
    listing = rectifying(world, site_a)
    ext = services.request_extension(world.enterprise, listing, new_deadline=in_days(200), reason="设备到货延迟")
    _err, won = lost_race(monkeypatch, services, "_load",
                          winner=lambda: services.decide_extension(world.admin, ext.pk, approve=False, note="不同意"),
                          loser=lambda: services.decide_extension(world.town_a, ext.pk, approve=True, note="同意"),
                          message=STALE)
    assert won.decision == "rejected"


def test_request_acceptance_twice(world, site_a, monkeypatch):
    listing = rectifying(world, site_a)
    submit_hazard(world, listing.hazard)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.request_acceptance(world.enterprise, listing.pk, note="甲"),
              loser=lambda: services.request_acceptance(world.enterprise, listing.pk, note="乙"), message=STALE)


def test_request_acceptance_while_the_hazard_is_sent_back(world, site_a, monkeypatch):
    listing = rectifying(world, site_a)
    submit_hazard(world, listing.hazard)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: hazard_services.send_back(world.admin, listing.hazard_id, reason="证据不足"),
              loser=lambda: services.request_acceptance(world.enterprise, listing.pk, note="已整改"),
              message=HAZARD_STALE)


def test_pass_and_fail_acceptance_at_once(world, site_a, monkeypatch):
    listing = acceptance_requested(world, site_a)
    _err, won = lost_race(monkeypatch, services, "_load",
                          winner=lambda: services.accept(world.admin, listing.pk, passed=False, note="不合格"),
                          loser=lambda: services.accept(world.town_a, listing.pk, passed=True, note="合格"),
                          message=STALE)
    assert won.state == ListingState.RECTIFYING


def test_delist_twice(world, site_a, monkeypatch):
    listing = accepted(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.delist(world.admin, listing.pk, note="摘牌"),
              loser=lambda: services.delist(world.town_a, listing.pk, note="摘牌"), message=STALE)


def test_delist_while_the_hazard_is_archived(world, site_a, monkeypatch):
    listing = accepted(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: hazard_services.archive(world.admin, listing.hazard_id, reason="重复登记"),
              loser=lambda: services.delist(world.town_a, listing.pk, note="摘牌"), message=HAZARD_STALE)


def test_publish_delisting_twice(world, site_a, monkeypatch):
    listing = accepted(world, site_a)
    services.publish_notice(world.admin, listing)
    services.delist(world.admin, listing, note="摘牌")
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.publish_delisting(world.admin, listing.pk),
              loser=lambda: services.publish_delisting(world.town_a, listing.pk), message=STALE)


def test_archive_twice(world, site_a, monkeypatch):
    listing = town_listing(world, site_a)
    lost_race(monkeypatch, services, "_load",
              winner=lambda: services.archive(world.admin, listing.pk, reason="误挂牌"),
              loser=lambda: services.archive(world.town_a, listing.pk, reason="误挂牌"), message=STALE)
