"""Hazard transitions notify the people who must act next (in-app inbox + outbox)."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from yingji.core.models.notifications import Notification, OutboxMessage
from yingji.hazards import services

from .factories import photo

pytestmark = pytest.mark.django_db


def inbox(user) -> list[tuple[str, str]]:
    return list(Notification.objects.for_user(user).order_by("id").values_list("kind", "title"))


def test_assignment_submission_and_send_back_reach_the_right_people(world, site_a):
    grid, ent, town = world.grid, world.enterprise, world.town_a
    hazard = services.report_hazard(grid, site=site_a, level="general", category="fire",
                                    description="消防通道堆放纸箱", files=[photo("现场.png")])
    hazard = services.accept(town, hazard, responsible_unit="大唐某袜厂", responsible_person="王五",
                             responsible_phone="13800000000",
                             deadline=timezone.localdate() + datetime.timedelta(days=7))
    assert [k for k, _t in inbox(ent)] == ["assignment"]
    hazard = services.submit_rectification(ent, hazard, description="已清理", files=[photo("后.png")])
    assert ("assignment", f"待验收:{hazard.title or hazard.description[:30]}") in inbox(town)
    services.send_back(town, hazard, reason="请补拍全景")
    kinds = [k for k, _t in inbox(ent)]
    assert kinds == ["assignment", "send_back"]
    send_back = Notification.objects.for_user(ent).get(kind="send_back")
    assert send_back.body == "请补拍全景" and send_back.link == f"/hazards/{hazard.pk}/"
    # The reporter hears of the acceptance and of the send-back too; nobody else hears about it,
    # and every inbox row has its outbox row (log channel by default).
    assert [k for k, _t in inbox(grid)] == ["assignment", "send_back"]
    assert inbox(world.town_b) == []
    assert OutboxMessage.objects.count() == Notification.objects.count()


def test_escalation_notifies_the_town(world, site_a):
    hazard = services.report_hazard(world.grid, site=site_a, level="general", category="fire",
                                    description="配电箱无防护", files=[photo("现场.png")])
    services.accept(world.town_a, hazard, responsible_unit="大唐某袜厂", responsible_person="王五",
                    responsible_phone="13800000000", deadline=timezone.localdate() + datetime.timedelta(days=1))
    services.escalate_overdue(now=timezone.now() + datetime.timedelta(days=3))
    assert [k for k, _t in inbox(world.town_a)] == ["escalation"]
    assert inbox(world.town_b) == []
