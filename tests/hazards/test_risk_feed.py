"""The site's risk feed leaves the request: a report or transition queues one ``hazards.feed_risk``
job per site per slot (idempotency key), the worker regrades once (audited as the system); the
report path's scope check runs in Python on the grants and agrees with ``restrict``; the report
path stays within a statement budget."""
from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from yingji.core import jobs
from yingji.core.models import AuditEntry, Job
from yingji.hazards import services
from yingji.hazards.models import Hazard, State

from .factories import make_hazard, make_site

pytestmark = pytest.mark.django_db

FEED = "hazards.feed_risk"


@pytest.fixture
def clock(monkeypatch):
    """``clock.set(t)`` fixes ``timezone.now()`` (models, services and the worker read it)."""

    class Clock:
        def set(self, t):
            monkeypatch.setattr(timezone, "now", lambda: t)

    return Clock()


def _slot_middle(period: int) -> datetime.datetime:
    start = (int(datetime.datetime.now(datetime.timezone.utc).timestamp()) // period) * period
    return datetime.datetime.fromtimestamp(start + period // 2, tz=datetime.timezone.utc)


def test_many_reports_for_one_site_cause_one_regrade_after_the_slot(world, site_a, clock, settings):
    from yingji.risk.models import SiteRiskFactor

    settings.HAZARD_RISK_FEED_SECONDS, settings.HAZARD_RISK_FEED_GRACE_SECONDS = 10, 5
    other = make_site(world, world.villages["a2"], world.sectors["industry_trade"], name="大唐某五金厂")
    t = _slot_middle(10)
    clock.set(t)
    major = services.report_hazard(world.grid, site=site_a, description="粉尘未清理", level="major")
    services.report_hazard(world.grid, site=site_a, description="消防通道堆物")
    services.report_hazard(world.town_a, site=other, description="灭火器过期")
    services.report_hazard(world.town_a, area=world.area_a, description="无对象的隐患",
                           sector=world.sectors["hazchem"])  # no site: no feed
    queued = Job.objects.filter(kind=FEED).order_by("id")
    assert [j.params for j in queued] == [{"site": site_a.pk}, {"site": other.pk}]
    slot = int(t.timestamp()) // 10
    assert queued[0].idempotency_key == f"{FEED}:{site_a.pk}:{slot}"
    assert queued[0].run_after == datetime.datetime.fromtimestamp((slot + 1) * 10 + 5, tz=datetime.timezone.utc)
    assert queued[0].area_id == site_a.area_id and queued[0].created_by is None
    # the second report of site_a was coalesced into the queued job: one job, audited once (by
    # the system, when it was queued), nothing written for the repeat
    assert list(AuditEntry.objects.filter(object_id=queued[0].pk, content_type__model="job")
                .values_list("action", "actor")) == [("job.enqueue", None)]
    assert not SiteRiskFactor.objects.exists()

    assert jobs.run_worker(worker_id="w", once=True) == 0  # not due before the slot has ended
    clock.set(t + datetime.timedelta(seconds=11))
    assert jobs.run_worker(worker_id="w", once=True) == 2
    job = Job.objects.get(pk=queued[0].pk)
    assert job.status == "succeeded"
    assert job.result == {"site": site_a.pk, "open_hazards": 2, "open_major_hazards": 1, "overdue_hazards": 0,
                          "colour": "orange"}
    site_a.refresh_from_db()
    assert site_a.risk_colour == "orange"
    # the regrade is audited as the system, tied to its job
    for action in ("risk.dynamic_factors", "risk.assess"):
        entry = AuditEntry.objects.filter(action=action, object_id=site_a.pk).latest("id")
        assert entry.actor is None and entry.actor_name == "系统" and entry.request_id == f"job-{job.pk}"

    # a later change in a later slot queues the next regrade; closing the major hazard lowers the colour
    clock.set(t + datetime.timedelta(seconds=30))
    services.archive(world.town_a, major, reason="重复上报")
    assert Job.objects.filter(kind=FEED, status="queued").count() == 1
    clock.set(t + datetime.timedelta(seconds=60))
    assert jobs.run_worker(worker_id="w", once=True) == 1
    row = SiteRiskFactor.objects.get(site=site_a)
    assert (row.open_hazards, row.open_major_hazards) == (1, 0)
    site_a.refresh_from_db()
    assert site_a.risk_colour != "orange"
    # nothing changed since: running the feed again writes nothing
    before = AuditEntry.objects.filter(action__startswith="risk.").count()
    assert services.feed_risk(site_a.pk)["open_hazards"] == 1
    assert AuditEntry.objects.filter(action__startswith="risk.").count() == before


def test_a_slot_whose_regrade_already_ran_queues_the_next_slot(world, site_a, clock, settings):
    settings.HAZARD_RISK_FEED_SECONDS = 10
    t = _slot_middle(10)
    clock.set(t)
    make_hazard(world, None, site=site_a)
    Job.objects.filter(kind=FEED).update(run_after=t)  # e.g. a worker whose clock runs ahead
    assert jobs.run_worker(worker_id="w", once=True) == 1
    make_hazard(world, None, site=site_a)  # same slot, its job has run: the next slot's job
    slot = int(t.timestamp()) // 10
    assert list(Job.objects.filter(kind=FEED).order_by("id").values_list("idempotency_key", "status")) == [
        (f"{FEED}:{site_a.pk}:{slot}", "succeeded"), (f"{FEED}:{site_a.pk}:{slot + 1}", "queued")]


def test_feed_job_with_bad_params_fails_without_retry(world):
    job = jobs.enqueue(None, FEED, area=world.county, params={"site": "x"})
    assert jobs.run_worker(worker_id="w", once=True) == 1
    job.refresh_from_db()
    assert job.status == "failed" and job.error == "任务参数无效:监管对象不存在"


def test_python_scope_check_agrees_with_restrict(world, site_a):
    """``services.reaches`` (the report path's check on an unsaved row) and
    ``Hazard.objects.restrict`` (SQL) give the same answer for every persona, place and action."""
    other = make_site(world, world.villages["a2"], world.sectors["construction"], name="大唐某工地")
    hazards = [
        make_hazard(world, None, site=site_a),
        make_hazard(world, None, site=other),
        make_hazard(world, world.area_a, world.sectors["industry_trade"]),
        make_hazard(world, world.villages["a1"]),
        make_hazard(world, world.area_b, world.sectors["construction"]),
    ]
    draft = make_hazard(world, world.area_b, world.sectors["industry_trade"])
    Hazard.objects.filter(pk=draft.pk).update(state=State.DRAFT)
    hazards.append(draft)
    users = [world.admin, world.leader, world.dept, world.inspector, world.town_a, world.town_b, world.grid,
             world.enterprise]
    checked = 0
    for user in users:
        for action in ("report", "rectify", "manage", "view", "edit"):
            in_sql = set(Hazard.objects.restrict(user, action).filter(pk__in=[h.pk for h in hazards])
                         .values_list("pk", flat=True))
            for h in Hazard.objects.filter(pk__in=[h.pk for h in hazards]).select_related("area"):
                assert services.reaches(user, h, action) == (h.pk in in_sql), (user.username, action, h.pk)
                checked += 1
    assert checked == len(users) * 5 * len(hazards)
    assert not services.reaches(None, hazards[0], "view")


def test_report_path_statement_budget(world, site_a, api_client):
    """A report through the API: no regrade and no detail in the request."""
    api = api_client.as_user(world.grid)
    api.post("/api/v1/hazards", {"site_id": site_a.pk, "description": "预热"})  # token, content types
    with CaptureQueriesContext(connection) as q:
        r = api.post("/api/v1/hazards", {"site_id": site_a.pk, "description": "配电箱门未关"},
                     HTTP_IDEMPOTENCY_KEY="grid-budget-000001")
    assert r.status_code == 201, r.content
    sql = [x["sql"] for x in q.captured_queries]
    risk_tables = ('FROM "risk_', 'INTO "risk_', 'UPDATE "risk_')
    assert not [s for s in sql if any(t in s for t in risk_tables) or 'FROM "hazards_hazardevent"' in s
                or 'FROM "core_attachment"' in s]
    writes = [s for s in sql if s.startswith(("INSERT", "UPDATE"))]
    # hazard, event, the feed job (coalesced into the warm-up's: the same site and slot, unless
    # the slot ended in between), one INSERT of all the audit entries; the token's last use at most
    assert sum(s.startswith('INSERT INTO "core_auditentry"') for s in writes) == 1
    actions = AuditEntry.objects.filter(request_id=AuditEntry.objects.latest("id").request_id).values_list(
        "action", flat=True)
    assert sorted(actions) in (["hazard.create", "hazard.report"], ["hazard.create", "hazard.report", "job.enqueue"])
    assert len(writes) <= 5, writes
    assert len(sql) <= 16, "\n".join(sql)
    with CaptureQueriesContext(connection) as q:
        again = api.post("/api/v1/hazards", {"site_id": site_a.pk, "description": "配电箱门未关"},
                         HTTP_IDEMPOTENCY_KEY="grid-budget-000001")
    assert again.status_code == 200 and again.json() == r.json()
    assert len(q.captured_queries) <= 8
