"""Reporters, the site's enterprise managers and the responsible officer hear what happens to
their hazards — accepted, sent back, due in 3 days, overdue, verified — each once, never the
person who acted, in the inbox and on the configured channel, and only if the change commits."""
from __future__ import annotations

import datetime

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from yingji.core.models.notifications import Notification, OutboxMessage
from yingji.hazards import services

from .factories import in_days, photo

pytestmark = pytest.mark.django_db


def inbox(user) -> list[str]:
    return list(Notification.objects.for_user(user).order_by("id").values_list("title", flat=True))


def heard(world, prefix: str) -> set[str]:
    """Who has a notification whose title starts with ``prefix``."""
    return set(Notification.objects.filter(title__startswith=prefix).values_list("recipient__username", flat=True))


@pytest.fixture
def accepted(world, site_a):
    """Found by the grid worker at the enterprise's site, accepted by the town (deadline in 7 days)."""
    hazard = services.report_hazard(world.grid, site=site_a, category="fire", description="消防通道堆放纸箱",
                                    files=[photo()])
    return services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(7))


def test_accepted_tells_the_reporter_and_the_enterprise(world, accepted):
    assert heard(world, "隐患已受理") == {"grid", "enterprise"}          # not town_a, who accepted
    n = Notification.objects.get(recipient=world.enterprise)
    assert n.kind == "assignment" and n.body == f"整改责任人:王五;整改期限:{in_days(7).isoformat()}"
    assert OutboxMessage.objects.filter(notification__title__startswith="隐患已受理").count() == 2


def test_sent_back_tells_reporter_rectifier_and_responsible_officer(world, accepted):
    services.submit_rectification(world.enterprise, accepted, description="已清理", files=[photo()])
    services.send_back(world.admin, accepted, reason="请补拍全景")
    assert heard(world, "整改被退回") == {"grid", "enterprise", "town_a"}
    assert {n.body for n in Notification.objects.filter(title__startswith="整改被退回")} == {"请补拍全景"}


def test_verified_tells_reporter_and_enterprise(world, accepted):
    services.submit_rectification(world.enterprise, accepted, description="已清理", files=[photo()])
    services.verify(world.town_a, accepted)
    assert heard(world, "隐患已验收销号") == {"grid", "enterprise"}
    assert len(inbox(world.enterprise)) == 2                # accepted, verified: each once


def test_overdue_tells_the_hazards_people_once_and_the_town_by_escalation(world, accepted):
    services.escalate_overdue(now=timezone.now() + datetime.timedelta(days=9))
    assert heard(world, "隐患已超过整改期限") == {"grid", "enterprise"}
    assert heard(world, "隐患超期升级") == {"town_a"}        # the town hears once, as the escalation
    services.escalate_overdue(now=timezone.now() + datetime.timedelta(days=9))
    assert Notification.objects.filter(title__startswith="隐患已超过整改期限").count() == 2


def test_due_in_three_days_reminds_once_per_hazard_per_day(world, accepted, site_a):
    later = services.report_hazard(world.grid, site=site_a, category="fire", description="灭火器过期",
                                   files=[photo()])
    services.accept(world.town_a, later, responsible_person="王五", deadline=in_days(30))
    today = timezone.localdate()
    assert services.remind_due(today)["reminded"] == 0               # 7 days ahead: not yet
    day = in_days(4)                                                  # the deadline is in 3 days
    assert services.remind_due(day) == {"candidates": 1, "reminded": 1, "notifications": 3}
    assert heard(world, "隐患整改期限临近") == {"grid", "enterprise", "town_a"}
    assert services.remind_due(day)["notifications"] == 0            # again the same day: nothing
    assert services.remind_due(day + datetime.timedelta(days=1))["notifications"] == 3   # the next day
    services.submit_rectification(world.enterprise, accepted, description="已清理", files=[photo()])
    assert services.remind_due(day + datetime.timedelta(days=2))["candidates"] == 0   # fixed: no reminder


def test_remind_due_is_a_daily_scheduled_job(world, accepted):
    from yingji.core import jobs

    assert ("hazards.remind_due", 86400) in django_settings.JOB_SCHEDULE
    jobs.autodiscover()
    assert "hazards.remind_due" in jobs.HANDLERS


def test_a_rolled_back_change_notifies_nobody(world, site_a):
    hazard = services.report_hazard(world.grid, site=site_a, category="fire", description="消防通道堆放纸箱",
                                    files=[photo()])

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(7))
        assert heard(world, "隐患已受理") == {"grid", "enterprise"}
        raise Undo
    assert not Notification.objects.exists() and not OutboxMessage.objects.exists()


def test_the_enterprises_own_acceptance_tells_nobody_but_its_colleagues(world, site_a):
    hazard = services.report_hazard(world.enterprise, site=site_a, category="fire", description="配电箱门损坏",
                                    files=[photo()])
    services.accept(world.enterprise, hazard, responsible_person="王五", deadline=in_days(7))
    assert not Notification.objects.exists()                         # reporter and manager acted
