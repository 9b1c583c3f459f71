"""Scale seed data: ``yingji seed_hazards`` and ``yingji.hazards.synth``."""
from __future__ import annotations

import datetime
import io
import random

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from .factories import make_site

pytestmark = pytest.mark.django_db

ANCHOR = "2026-06-30"


@pytest.fixture
def sites(world):
    s = world.sectors
    return [
        make_site(world, world.villages["a1"], s["industry_trade"], name="大唐某袜业有限公司"),
        make_site(world, world.grids["a2g1"], s["hazchem"], name="大唐某化工有限公司"),
        make_site(world, world.villages["b1"], s["industry_trade"], name="店口某阀门有限公司"),
        make_site(world, world.grids["b2g2"], s["construction"], name="店口某安置房工程"),
        make_site(world, world.villages["b2"], None, name="店口某小吃店"),
    ]


def seed(**opts):
    out = io.StringIO()
    call_command("seed_hazards", anchor=ANCHOR, stdout=out, **opts)
    return out.getvalue()


def test_seed_builds_consistent_histories(world, sites):
    from yingji.core.models import AuditEntry
    from yingji.hazards.models import OPEN_STATES, Action, Hazard, HazardEvent, Outcome, Rectification, State
    from yingji.inspections.models import Inspection

    seed(hazards=400, inspections=80)
    hazards = Hazard.objects.all()
    assert hazards.count() == 400 and Inspection.objects.count() == 80
    assert not hazards.exclude(idempotency_key__startswith="seed:1:h").exists()
    assert not Inspection.objects.exclude(idempotency_key__startswith="seed:1:i").exists()
    states = dict(hazards.values_list("state").annotate(n=Count("id")))
    assert set(states) <= {State.REPORTED, State.RECTIFYING, State.SUBMITTED, State.CLOSED}
    assert states[State.CLOSED] > 200 and sum(states.get(s, 0) for s in OPEN_STATES) > 10
    assert hazards.filter(fixed_on_spot=True).exists() and hazards.filter(level="major").exists()
    assert hazards.filter(is_overdue=True, state__in=OPEN_STATES).exists()
    anchor = datetime.date.fromisoformat(ANCHOR)
    for h in hazards.prefetch_related("events", "rectifications"):
        events = list(h.events.all())
        assert events[0].action in (Action.REPORT, Action.FIX_ON_SPOT) and events[0].from_state == State.DRAFT
        changing = [e for e in events if e.action != Action.ESCALATE]
        assert h.version == 1 + len(changing)
        assert [e.at for e in events] == sorted(e.at for e in events)
        # each state change starts where the previous one ended; the last one is the hazard's state
        assert all(a.to_state == b.from_state for a, b in zip(events, events[1:]))
        assert events[-1].to_state == h.state
        rects = list(h.rectifications.all())
        if h.state == State.CLOSED:
            assert h.closed_at is not None and h.closed_by_id is not None
            assert any(r.outcome == Outcome.ACCEPTED for r in rects)
        if h.fixed_on_spot:
            assert [e.action for e in events][:1] == [Action.FIX_ON_SPOT] and h.level == "general"
        if h.is_overdue:  # flagged by the escalation job once past the deadline (kept after closing)
            assert h.deadline < anchor and h.escalation_level >= 1
            assert h.escalated_to_id in (world.area_a.pk, world.area_b.pk, world.county.pk)
            escalations = [e for e in events if e.action == Action.ESCALATE]
            assert len(escalations) == h.escalation_level
            assert all(timezone.localtime(e.at).date() > h.deadline for e in escalations)
        elif h.state in OPEN_STATES and h.deadline is not None:
            assert h.deadline >= anchor - datetime.timedelta(days=1)
        if h.inspection_id:
            assert h.source == "inspection"
        for e in events:
            if "rectification" in e.data:
                assert e.data["rectification"] in {r.pk for r in rects}
    sent_back = Rectification.objects.filter(outcome=Outcome.SENT_BACK)
    assert sent_back.exists()
    assert HazardEvent.objects.filter(action=Action.SEND_BACK).count() == sent_back.count()
    # the inspections' tallies count the hazards they found
    for insp in Inspection.objects.annotate(n=Count("hazards")):
        assert insp.hazards_found == insp.n and insp.items_failed >= insp.n
        assert insp.site.area_id == insp.area_id
    # batches are audited as seed data
    assert AuditEntry.objects.filter(action="hazard.seed").exists()
    assert AuditEntry.objects.filter(action="inspection.seed").exists()


def test_seed_tops_up_and_is_deterministic(world, sites):
    from yingji.hazards import synth
    from yingji.hazards.models import Hazard

    seed(hazards=150, inspections=30)
    first = list(Hazard.objects.order_by("idempotency_key").values_list("idempotency_key", "title", "state",
                                                                        "level", "site_id", "reported_at"))
    assert "无需新增" in seed(hazards=150, inspections=30)
    assert Hazard.objects.count() == 150
    seed(hazards=220, inspections=30)
    assert Hazard.objects.count() == 220
    again = list(Hazard.objects.filter(idempotency_key__lte=synth.hazard_key(1, 149)).order_by("idempotency_key")
                 .values_list("idempotency_key", "title", "state", "level", "site_id", "reported_at"))
    assert again == first
    # the generator alone: the same seed and index give the same hazard
    ctx = synth.load_context()
    synth.load_inspections(ctx, 1)
    anchor = synth.timezone.make_aware(datetime.datetime(2026, 6, 30, 18))
    gen = synth.HazardHistory(ctx, 1, anchor)
    a = [gen.make(random.Random("x"), i) for i in range(3)]
    b = [gen.make(random.Random("x"), i) for i in range(3)]
    assert a == b


def test_seeded_hazards_follow_the_access_rule(world, sites):
    from yingji.core.scoping import area_subtree_ids
    from yingji.hazards import queries
    from yingji.hazards.models import Hazard

    seed(hazards=120, inspections=20)
    in_a = Hazard.objects.filter(area_id__in=area_subtree_ids(world.area_a.code))
    assert 0 < in_a.count() < 120
    assert set(queries.hazard_search(world.town_a).values_list("pk", flat=True)) == set(
        in_a.filter(archived_at__isnull=True).values_list("pk", flat=True))
    assert not queries.hazard_search(world.enterprise).exists()


def test_seed_needs_sites_and_valid_numbers(world):
    with pytest.raises(CommandError):
        seed(hazards=10, inspections=0)
    with pytest.raises(CommandError):
        seed(hazards=-1, inspections=0)
