"""Two people acting on one hazard at once: exactly one wins (PostgreSQL, real threads and
transactions). SQLite serialises writers; the compare-and-set itself is covered there by
``test_lifecycle.test_compare_and_set_one_winner``."""
from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from yingji.core.errors import Conflict
from yingji.hazards import services
from yingji.hazards.models import Hazard, HazardEvent

from tests.races import at_once as _race

from .factories import make_hazard, photo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL); SQLite is covered by the compare-and-set test")


@pytest.mark.parametrize("round_", range(3))
def test_verify_and_send_back_at_once_one_winner(world, site_a, round_):
    hazard = make_hazard(world, None, site=site_a, actor=world.grid)
    services.accept(world.town_a, hazard, responsible_person="王五",
                    deadline=timezone.localdate() + datetime.timedelta(days=3))
    services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])
    hazard.refresh_from_db()
    v = hazard.version
    results = _race(lambda: services.verify(world.town_a, hazard.pk, version=v),
                    lambda: services.send_back(world.admin, hazard.pk, reason="不合格", version=v))
    winners = [r for r in results if isinstance(r, Hazard)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0].message == "该隐患已被他人处理,请刷新后重试"
    hazard.refresh_from_db()
    assert hazard.state == winners[0].state and hazard.version == v + 1
    assert HazardEvent.objects.filter(hazard=hazard, action__in=["verify", "send_back"]).count() == 1


def test_two_accepts_at_once_one_winner(world, site_a):
    hazard = make_hazard(world, None, site=site_a, actor=world.grid)
    due = timezone.localdate() + datetime.timedelta(days=3)
    results = _race(lambda: services.accept(world.town_a, hazard.pk, responsible_person="甲", deadline=due),
                    # a grid worker found it: the government side accepts (hazards.models.HANDLING)
                    lambda: services.accept(world.admin, hazard.pk, responsible_person="乙", deadline=due))
    assert sum(isinstance(r, Hazard) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    assert HazardEvent.objects.filter(hazard=hazard, action="accept").count() == 1


def test_duplicate_report_retries_racing_make_one_hazard(world, site_a):
    key = "race-key-000000001"
    results = _race(*[lambda: services.report_hazard(world.grid, site=site_a, description="同时重试",
                                                     idempotency_key=key) for _ in range(4)])
    assert all(isinstance(r, Hazard) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Hazard.objects.filter(idempotency_key=key).count() == 1
    assert HazardEvent.objects.filter(action="report").count() == 1
