"""The hazard closed loop through the services: the whole life with three people, evidence,
verifier ≠ rectifier, idempotent retries, overdue escalation, audit of every transition."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from yingji.core.errors import Conflict, Forbidden, InvalidInput
from yingji.core.models import AuditEntry
from yingji.hazards import services
from yingji.hazards.models import Hazard, HazardEvent, Outcome, Rectification

from .factories import audit_actions, in_days, make_hazard, photo

pytestmark = pytest.mark.django_db


def events(hazard) -> list[tuple]:
    return list(HazardEvent.objects.filter(hazard=hazard).order_by("id")
                .values_list("action", "from_state", "to_state", "actor__username"))


def test_whole_life_grid_reports_enterprise_rectifies_town_verifies_with_one_send_back(world, site_a):
    grid, ent, town = world.grid, world.enterprise, world.town_a

    hazard = services.report_hazard(grid, site=site_a, level="general", category="fire",
                                    description="仓库消防通道堆放纸箱", files=[photo("现场.png")],
                                    latitude="29.712", longitude="120.238")
    assert hazard.state == "reported" and hazard.source == "grid_patrol"
    assert hazard.area == site_a.area and hazard.sector == world.sectors["industry_trade"]
    assert hazard.version == 2  # draft → reported

    # found by the grid worker (government side): the town accepts and sets the deadline
    hazard = services.accept(town, hazard, responsible_unit="大唐某袜厂", responsible_person="王五",
                             responsible_phone="13800000000", deadline=in_days(7))
    assert hazard.state == "rectifying" and hazard.deadline == in_days(7)

    hazard = services.submit_rectification(ent, hazard, description="纸箱已清走", cost="200",
                                           files=[photo("整改后.png")])
    assert hazard.state == "submitted"

    hazard = services.send_back(town, hazard, reason="照片看不清通道全貌,请补拍")
    assert hazard.state == "rectifying"
    first = Rectification.objects.get(hazard=hazard)
    assert first.outcome == Outcome.SENT_BACK and first.reviewed_by == town

    hazard = services.submit_rectification(ent, hazard, description="已补拍通道全景", files=[photo("全景.png")])
    hazard = services.verify(town, hazard, note="现场核实已整改")
    assert hazard.state == "closed" and hazard.closed_by == town and hazard.closed_at is not None
    assert Rectification.objects.filter(hazard=hazard, outcome=Outcome.ACCEPTED).count() == 1

    assert events(hazard) == [
        ("report", "draft", "reported", "grid"),
        ("accept", "reported", "rectifying", "town_a"),
        ("submit_rectification", "rectifying", "submitted", "enterprise"),
        ("send_back", "submitted", "rectifying", "town_a"),
        ("submit_rectification", "rectifying", "submitted", "enterprise"),
        ("verify", "submitted", "closed", "town_a"),
    ]
    assert HazardEvent.objects.get(hazard=hazard, action="send_back").reason == "照片看不清通道全貌,请补拍"
    # every transition audited, by the person who made it
    actions = audit_actions(hazard)
    for action in ("hazard.create", "hazard.report", "hazard.accept", "hazard.submit_rectification",
                   "hazard.send_back", "hazard.verify"):
        assert action in actions
    assert actions.count("hazard.submit_rectification") == 2
    entry = AuditEntry.objects.filter(action="hazard.verify", object_id=hazard.pk).get()
    assert entry.actor == town and entry.changes["state"] == ["submitted", "closed"]


def test_no_submission_without_evidence(world, site_a):
    hazard = make_hazard(world, None, site=site_a, actor=world.grid)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(5))
    with pytest.raises(InvalidInput) as exc:
        services.submit_rectification(world.enterprise, hazard, description="已整改", files=[])
    assert "没有整改证据不能提交" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        services.submit_rectification(world.enterprise, hazard, description="  ", files=[photo()])
    assert exc.value.message == "整改情况不能为空"
    hazard.refresh_from_db()
    assert hazard.state == "rectifying"
    assert not Rectification.objects.filter(hazard=hazard).exists()  # rolled back, nothing half-written
    # and nothing can close it while nothing was submitted
    with pytest.raises(Conflict) as exc:
        services.verify(world.town_a, hazard)
    assert exc.value.message == "该隐患当前状态为“整改中”,不能执行“验收销号”"


def test_bad_file_rolls_back_the_whole_submission(world, site_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    hazard = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(5))
    bad = SimpleUploadedFile("说明.pdf", b"not really a pdf", content_type="application/pdf")
    with pytest.raises(InvalidInput):
        services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo(), bad])
    hazard.refresh_from_db()
    assert hazard.state == "rectifying"
    assert not Rectification.objects.filter(hazard=hazard).exists()


def test_verifier_must_not_be_the_rectifier(world, site_a):
    hazard = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, hazard, responsible_person="镇安监员", deadline=in_days(3))
    services.submit_rectification(world.town_a, hazard, description="督促企业整改完毕", files=[photo()])
    with pytest.raises(Forbidden) as exc:
        services.verify(world.town_a, hazard)
    assert exc.value.message == "整改人不能验收自己提交的整改,请由其他人员验收"
    hazard.refresh_from_db()
    assert hazard.state == "submitted"
    assert services.allowed_actions(world.town_a, hazard) == ["send_back", "archive"]
    services.verify(world.admin, hazard)
    hazard.refresh_from_db()
    assert hazard.state == "closed"


def test_submitted_evidence_is_frozen(world, site_a):
    from yingji.core import attachments

    hazard = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(3))
    services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])
    rect = Rectification.objects.get(hazard=hazard)
    for user in (world.enterprise, world.town_a, world.admin):
        assert not attachments.can_attach(user, rect)
        with pytest.raises((Forbidden, Exception)):
            attachments.add_attachment(user, rect, photo("补充.png"))
    assert attachments.attachments_for(world.admin, rect).count() == 1


def test_fixed_on_spot_is_found_and_closed_with_evidence(world, site_a):
    hazard = services.report_hazard(
        world.town_a, site=site_a, description="配电箱门未关", category="electrical", fixed_on_spot=True,
        rectification_description="当场关闭并上锁", rectification_files=[photo()], files=[photo("发现.png")])
    assert hazard.state == "closed" and hazard.fixed_on_spot and hazard.closed_by == world.town_a
    assert events(hazard) == [("fix_on_spot", "draft", "closed", "town_a")]
    assert Rectification.objects.get(hazard=hazard).outcome == Outcome.ACCEPTED
    # without evidence: refused
    with pytest.raises(InvalidInput) as exc:
        services.report_hazard(world.town_a, site=site_a, description="灭火器过期", fixed_on_spot=True,
                               rectification_description="已更换")
    assert exc.value.message == "当场整改须上传整改后的照片或材料"
    # a major hazard is never closed on the spot; a grid worker does not close anything
    with pytest.raises(InvalidInput):
        services.report_hazard(world.town_a, site=site_a, description="粉尘除尘系统失效", level="major",
                               fixed_on_spot=True, rectification_description="x", rectification_files=[photo()])
    with pytest.raises(Forbidden):
        services.report_hazard(world.grid, site=site_a, description="插线板串接", fixed_on_spot=True,
                               rectification_description="已拆除", rectification_files=[photo()])
    assert Hazard.objects.count() == 1


def test_idempotent_report_retry_returns_the_same_hazard(world, site_a):
    key = "phone-3f9c2a7e-0001"
    first = services.report_hazard(world.grid, site=site_a, description="电动车室内充电", files=[photo()],
                                   idempotency_key=key)
    again = services.report_hazard(world.grid, site=site_a, description="电动车室内充电", files=[photo()],
                                   idempotency_key=key)
    assert again.pk == first.pk
    assert Hazard.objects.count() == 1
    assert HazardEvent.objects.filter(hazard=first).count() == 1
    # someone else's key is not theirs to replay
    with pytest.raises(Conflict):
        services.report_hazard(world.town_a, site=site_a, description="x", idempotency_key=key)
    with pytest.raises(InvalidInput):
        services.report_hazard(world.grid, site=site_a, description="x", idempotency_key="bad key!")


def test_idempotent_transition_retry(world, site_a):
    hazard = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(3))
    services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()],
                                  idempotency_key="rect-key-0001")
    again = services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()],
                                          idempotency_key="rect-key-0001")
    assert again.state == "submitted"
    assert Rectification.objects.filter(hazard=hazard).count() == 1
    assert HazardEvent.objects.filter(hazard=hazard, action="submit_rectification").count() == 1
    services.verify(world.town_a, hazard, idempotency_key="verify-key-0001")
    services.verify(world.town_a, hazard, idempotency_key="verify-key-0001")  # the retry: no error
    assert HazardEvent.objects.filter(hazard=hazard, action="verify").count() == 1
    # without the key, a second verify is a state conflict
    with pytest.raises(Conflict):
        services.verify(world.town_a, hazard)


def test_compare_and_set_one_winner(world, site_a):
    """Two officers load the same submitted hazard; the second to act loses with a clear message."""
    hazard = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(3))
    services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])
    hazard.refresh_from_db()
    seen_by_both = hazard.version
    services.verify(world.town_a, hazard, version=seen_by_both)
    with pytest.raises(Conflict) as exc:
        services.send_back(world.admin, hazard, reason="不合格", version=seen_by_both)
    assert exc.value.message == "该隐患已被他人处理,请刷新后重试"
    # the lower-level compare-and-set, with a stale in-memory row (state check passed earlier)
    stale = Hazard.objects.get(pk=hazard.pk)
    stale.state, stale.version = "submitted", seen_by_both
    with pytest.raises(Conflict) as exc:
        services._transition(world.admin, stale, "send_back", reason="x")
    assert exc.value.message == "该隐患已被他人处理,请刷新后重试"
    hazard.refresh_from_db()
    assert hazard.state == "closed"
    assert HazardEvent.objects.filter(hazard=hazard, action__in=["verify", "send_back"]).count() == 1


def test_overdue_hazards_are_flagged_and_escalated_town_then_county(world, site_a, settings):
    settings.HAZARD_ESCALATION_DAYS = 7
    late = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, late, responsible_person="王五", deadline=in_days(1))
    on_time = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, on_time, responsible_person="王五", deadline=in_days(60))
    closed = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, closed, responsible_person="王五", deadline=in_days(1))
    services.submit_rectification(world.enterprise, closed, description="已整改", files=[photo()])
    services.verify(world.town_a, closed)

    assert services.escalate(on_time) is None  # not overdue: nothing happens
    now = timezone.now() + datetime.timedelta(days=3)
    result = services.escalate_overdue(now=now)
    assert result == {"candidates": 1, "escalated": 1, "newly_overdue": 1}
    late.refresh_from_db()
    assert late.is_overdue and late.escalation_level == 1 and late.escalated_to == world.area_a
    on_time.refresh_from_db()
    assert not on_time.is_overdue
    closed.refresh_from_db()
    assert not closed.is_overdue
    # running again soon after changes nothing
    assert services.escalate_overdue(now=now + datetime.timedelta(hours=1))["escalated"] == 0
    # a week later, still open: up to the county; and that is the top
    assert services.escalate_overdue(now=now + datetime.timedelta(days=8))["escalated"] == 1
    late.refresh_from_db()
    assert late.escalation_level == 2 and late.escalated_to == world.county
    assert services.escalate_overdue(now=now + datetime.timedelta(days=30)) == {
        "candidates": 0, "escalated": 0, "newly_overdue": 0}  # at the top: not even read again
    esc = list(HazardEvent.objects.filter(hazard=late, action="escalate").order_by("id"))
    assert [e.data["level"] for e in esc] == [1, 2] and esc[0].actor is None
    assert "升级至大唐街道" in esc[0].reason
    assert audit_actions(late).count("hazard.escalate") == 2


def test_overdue_candidates_are_exactly_the_hazards_due_for_a_next_level(world, settings):
    """The hourly run reads only what it may escalate: the candidates' SQL equals the Python rule
    (``_next_escalation``) for hazards held at every area level, week after week."""
    settings.HAZARD_ESCALATION_DAYS = 7
    areas = [world.county, world.area_a, world.villages["a1"], world.grids["a1g1"]]
    pks = []
    for area in areas:
        hazard = make_hazard(world, area)
        services.accept(world.admin, hazard, responsible_person="王五", deadline=in_days(1))
        pks.append(hazard.pk)
    start = timezone.now() + datetime.timedelta(days=3)
    for week in range(4):
        at = start + datetime.timedelta(days=8 * week)
        rule = {h.pk for h in Hazard.objects.filter(pk__in=pks).select_related("area")
                if services._next_escalation(h, at) is not None}
        assert set(services.overdue_candidates(at).values_list("pk", flat=True)) == rule
        assert services.escalate_overdue(now=at)["escalated"] == len(rule)
    assert [rule, week] == [set(), 3]
    held = dict(Hazard.objects.filter(pk__in=pks).values_list("area__level", "escalation_level"))
    assert held == {1: 1, 2: 1, 3: 2, 4: 2}  # county and town: to the county; village and grid: town, county


def test_escalation_job_and_command(world, site_a):
    from django.core.management import call_command

    from yingji.core import jobs
    from yingji.core.models import Job

    late = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, late, responsible_person="王五", deadline=in_days(0))
    Hazard.objects.filter(pk=late.pk).update(deadline=in_days(-1))  # time passes
    call_command("escalate_overdue", "--enqueue")
    call_command("escalate_overdue", "--enqueue")  # same hour: the same job
    assert Job.objects.filter(kind="hazards.escalate_overdue").count() == 1
    assert jobs.run_worker(once=True) == 1
    job = Job.objects.get(kind="hazards.escalate_overdue")
    assert job.status == "succeeded" and job.result["escalated"] == 1
    late.refresh_from_db()
    assert late.is_overdue and late.escalation_level == 1


def test_risk_factors_follow_the_hazards(world, site_a):
    """Open and major hazards feed the site's risk colour: the reports queue one regrade of the
    site (a ``hazards.feed_risk`` job, outside the request), which the worker runs."""
    from yingji.core import jobs
    from yingji.core.models import Job
    from yingji.risk.models import SiteRiskFactor

    def worker_runs_the_feed():  # the slot has ended: the queued regrade is due
        Job.objects.filter(kind="hazards.feed_risk", status="queued").update(run_after=timezone.now())
        return jobs.run_worker(worker_id="w-risk", once=True)

    h1 = services.report_hazard(world.grid, site=site_a, description="a", level="major")
    services.report_hazard(world.grid, site=site_a, description="b")
    assert not SiteRiskFactor.objects.filter(site=site_a).exists()  # nothing graded in the request
    assert worker_runs_the_feed() == 1  # both reports: one regrade
    row = SiteRiskFactor.objects.get(site=site_a)
    assert (row.open_hazards, row.open_major_hazards, row.overdue_hazards) == (2, 1, 0)
    site_a.refresh_from_db()
    assert site_a.risk_colour == "orange"  # an open major hazard: at least orange (default rules)
    services.archive(world.town_a, h1, reason="重复上报")
    assert worker_runs_the_feed() == 1
    row.refresh_from_db()
    assert (row.open_hazards, row.open_major_hazards) == (1, 0)
    site_a.refresh_from_db()
    assert site_a.risk_colour != "orange"