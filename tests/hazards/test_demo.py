"""Demo hazards: ``yingji.hazards.demo.load_demo_hazards`` builds every state through the services."""
from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime.datetime(2026, 6, 30, 15, 0))


@pytest.fixture
def demo_world():
    """A small version of ``yingji demo``: the Zhuji towns, the demo accounts and 300 demo sites."""
    from yingji.core import demo as core_demo
    from yingji.registry import demo as registry_demo

    core_demo.build(villages_per_town=2, grids_per_village=1)
    registry_demo.build_sites(total=300)
    registry_demo._bind_demo_user()


class _Undo(Exception):
    pass


def _fingerprint():
    from yingji.hazards.models import Hazard

    return list(Hazard.objects.filter(idempotency_key__startswith="demo-hz-").order_by("idempotency_key")
                .values_list("idempotency_key", "title", "state", "level", "reported_by__username", "site__name",
                             "reported_at", "deadline", "escalation_level"))


def test_demo_hazards_cover_the_closed_loop(demo_world):
    from django.db.models import Count

    from yingji.core.models import Attachment, AuditEntry
    from yingji.hazards import demo, synth
    from yingji.hazards.models import OPEN_STATES, Action, Hazard, HazardEvent, Rectification, State

    # deterministic: the same seed and "now" give the same hazards (first load rolled back)
    try:
        with transaction.atomic():
            assert demo.load_demo_hazards(total=70, now=NOW) == 70
            first = _fingerprint()
            raise _Undo
    except _Undo:
        pass
    assert demo.load_demo_hazards(total=70, now=NOW) == 70
    assert _fingerprint() == first
    assert demo.load_demo_hazards(total=70, now=NOW) == 0          # once only

    hazards = Hazard.objects.filter(idempotency_key__startswith="demo-hz-")
    states = set(hazards.values_list("state", flat=True))
    assert {State.REPORTED, State.RECTIFYING, State.SUBMITTED, State.CLOSED} <= states
    assert hazards.filter(fixed_on_spot=True).exists()
    assert hazards.filter(level="major").exists()
    overdue = hazards.filter(is_overdue=True, state__in=OPEN_STATES)
    assert overdue.exists() and not overdue.filter(deadline__gte=NOW.date()).exists()
    assert overdue.filter(escalation_level=2).exists()
    assert HazardEvent.objects.filter(hazard__in=hazards, action=Action.SEND_BACK).exists()
    assert hazards.filter(archived_at__isnull=False).count() <= 5
    reporters = set(hazards.values_list("reported_by__username", flat=True))
    assert {"grid_dt", "ent_demo", "town_dt", "town_dk", "inspector", "dept_zj", "admin"} <= reporters
    titles = {t for items in synth.CATALOGUE.values() for t, _d, _m in items}
    assert set(hazards.values_list("title", flat=True)) <= titles
    # histories lie in the past, in order
    for h in hazards.prefetch_related("events"):
        events = list(h.events.all())
        assert h.reported_at <= NOW and NOW - h.reported_at < datetime.timedelta(days=130)
        assert [e.at for e in events] == sorted(e.at for e in events) and events[-1].at <= NOW
        if h.state == State.CLOSED and not h.fixed_on_spot:
            verify = [e for e in events if e.action == Action.VERIFY][-1]
            submit = [e for e in events if e.action == Action.SUBMIT][-1]
            assert verify.actor_id != submit.actor_id       # nobody verifies their own fix
    # every step went through the services: audited, evidence attached
    assert AuditEntry.objects.filter(action="hazard.create").count() == hazards.count()
    assert AuditEntry.objects.filter(action="hazard.verify").count() == HazardEvent.objects.filter(
        hazard__in=hazards, action=Action.VERIFY).count()
    for rect in Rectification.objects.filter(hazard__in=hazards, submitted_at__isnull=False):
        assert Attachment.objects.filter(object_id=rect.pk, content_type__model="rectification").exists()
    # every demo hazard has a sector (no 未分行业), also at the sites of several sectors
    assert not hazards.filter(sector__isnull=True).exists()
    assert hazards.annotate(n=Count("site__sectors")).filter(n__gt=1).exists()
    # who accepted follows models.HANDLING: the enterprise its self-found hazards, officers the rest
    for e in HazardEvent.objects.filter(hazard__in=hazards, action=Action.ACCEPT).select_related("hazard", "actor"):
        assert (e.actor.username == "ent_demo") == (e.hazard.finder == "enterprise"), e.hazard_id
    # the enterprise rectified at its own sites, and sees only those
    ent = hazards.filter(reported_by__username="ent_demo")
    assert ent.exists() and set(ent.values_list("finder", flat=True)) == {"enterprise"}
    assert set(Hazard.objects.visible_to(ent.first().reported_by).values_list("pk", flat=True)) >= set(
        ent.values_list("pk", flat=True))


def test_demo_inspections_give_every_hazard_a_sector_and_a_found_title(demo_world):
    """The inspections demo registers failed items as hazards at sites of one or several sectors:
    each gets a sector (asked for where the inspection does not decide it) and a title saying what
    was found, never the requirement's text."""
    from django.contrib.auth import get_user_model

    from yingji.core import services as core_services
    from yingji.core import roles
    from yingji.core.models import Area
    from yingji.hazards.models import Hazard
    from yingji.inspections import demo as inspections_demo

    if not get_user_model().objects.filter(username="dept_zj").exists():
        core_services.create_user(None, username="dept_zj", password="Test-pass-2026!", role=roles.DEPT_OFFICER,
                                  area=Area.objects.get(code="330681"), must_change_password=False)
    inspections_demo.build()
    hazards = Hazard.objects.filter(inspection__isnull=False)
    assert hazards.count() > 10
    assert not hazards.filter(sector__isnull=True).exists()
    for title, question in hazards.values_list("title", "checklist_item__question"):
        assert title != question[:100] and (":" in title), title
