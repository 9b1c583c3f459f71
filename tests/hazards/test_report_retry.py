"""A report as the outermost transaction (as in a real request): the idempotency key's unique
index finds a retry — the insert aborts the first attempt's transaction and the retry is answered
with the first hazard — on SQLite and PostgreSQL alike."""
from __future__ import annotations

import pytest

from yingji.core.errors import Conflict
from yingji.core.models import AuditEntry, Job
from yingji.hazards import services
from yingji.hazards.models import Hazard, HazardEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_retry_with_the_same_key_answers_the_first_hazard(world, site_a):
    key = "retry-key-000000001"
    first = services.report_hazard(world.grid, site=site_a, description="配电箱未接地", idempotency_key=key)
    assert not getattr(first, "repeated", False)
    again = services.report_hazard(world.grid, site=site_a, description="配电箱未接地", idempotency_key=key)
    assert again.pk == first.pk and again.repeated is True
    assert Hazard.objects.filter(idempotency_key=key).count() == 1
    assert HazardEvent.objects.filter(hazard=first, action="report").count() == 1
    actions = list(AuditEntry.objects.filter(object_id=first.pk, content_type__model="hazard")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["hazard.create", "hazard.report", "hazard.report_repeat"]
    # the risk feed was queued once, by the system, and audited once
    job = Job.objects.get(kind="hazards.feed_risk")
    assert AuditEntry.objects.filter(object_id=job.pk, content_type__model="job").count() == 1


def test_someone_elses_key_is_refused(world, site_a):
    key = "retry-key-000000002"
    services.report_hazard(world.grid, site=site_a, description="灭火器过期", idempotency_key=key)
    with pytest.raises(Conflict) as exc:
        services.report_hazard(world.town_a, site=site_a, description="灭火器过期", idempotency_key=key)
    assert "幂等键" in str(exc.value.message)
    assert Hazard.objects.filter(idempotency_key=key).count() == 1
