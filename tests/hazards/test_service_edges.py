"""Edges of the hazard services: races on idempotency keys (simulated on one connection), stored
files cleaned up when a report fails, archived areas, sector-bound reporters, missing evidence,
retries of accept / send-back, and escalation that finds nothing to do."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils import timezone

from tests.conftest import PASSWORD
from yingji.core import attachments, roles
from yingji.core import services as core_services
from yingji.core.errors import Conflict, Forbidden, InvalidInput
from yingji.core.models import Attachment, AuditEntry
from yingji.hazards import services
from yingji.hazards.models import Hazard, HazardEvent, Outcome, Rectification

from .factories import audit_actions, in_days, make_hazard, photo

pytestmark = pytest.mark.django_db

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def stored_files(settings) -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def submitted(world, site, rectifier=None):
    hazard = make_hazard(world, None, site=site)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(5))
    services.submit_rectification(rectifier or world.enterprise, hazard, description="已整改", files=[photo()])
    hazard.refresh_from_db()
    return hazard


# ---------------------------------------------------------------- risk feed

def test_feed_risk_of_a_site_that_no_longer_exists_is_skipped(world):
    before = AuditEntry.objects.count()
    assert services.feed_risk(987654) == {"site": 987654, "skipped": True}
    assert AuditEntry.objects.count() == before


# ---------------------------------------------------------------- precheck

def test_precheck_refuses_the_rectifier_as_verifier(world, site_a):
    hazard = submitted(world, site_a, rectifier=world.town_a)
    with pytest.raises(Forbidden) as exc:
        services.precheck(world.town_a, hazard, services.Action.VERIFY)
    assert exc.value.message == "整改人不能验收自己提交的整改,请由其他人员验收"
    assert exc.value.code == "self_verify"
    assert services.precheck(world.admin, hazard, services.Action.VERIFY).pk == hazard.pk
    hazard.refresh_from_db()
    assert hazard.state == "submitted"


# ---------------------------------------------------------------- idempotency races in _transition

def _race_before_check(monkeypatch, other_call):
    """Run ``other_call`` (the concurrent request) once, right after this call has passed its
    idempotency look-up and loaded the hazard, before it checks and changes it."""
    original = services._check
    state = {"done": False}

    def check(hazard, action, version):
        if not state["done"]:
            state["done"] = True
            other_call()
        return original(hazard, action, version)

    monkeypatch.setattr(services, "_check", check)


def test_same_key_racing_on_the_same_hazard_returns_the_winners_result(world, site_a, monkeypatch):
    hazard = make_hazard(world, None, site=site_a)
    key = "accept-race-0001"
    _race_before_check(monkeypatch, lambda: services.accept(world.town_a, hazard.pk, responsible_person="王五",
                                                            deadline=in_days(5), idempotency_key=key))
    result = services.accept(world.town_a, hazard, responsible_person="李四", deadline=in_days(9),
                             idempotency_key=key)
    monkeypatch.undo()
    assert result.pk == hazard.pk and result.state == "rectifying"
    hazard.refresh_from_db()
    assert hazard.responsible_person == "王五" and hazard.deadline == in_days(5)  # the winner's values
    assert HazardEvent.objects.filter(hazard=hazard, action="accept").count() == 1
    assert audit_actions(hazard)[-2:] == ["hazard.accept", "hazard.accept_repeat"]


def test_same_key_used_concurrently_for_another_hazard_is_refused(world, site_a, monkeypatch):
    first = make_hazard(world, None, site=site_a)
    second = make_hazard(world, None, site=site_a)
    key = "accept-race-0002"
    _race_before_check(monkeypatch, lambda: services.accept(world.town_a, second.pk, responsible_person="王五",
                                                            deadline=in_days(5), idempotency_key=key))
    with pytest.raises(Conflict) as exc:
        services.accept(world.town_a, first, responsible_person="李四", deadline=in_days(9),
                        idempotency_key=key)
    monkeypatch.undo()
    assert exc.value.message == "该幂等键已被其他操作使用"
    assert exc.value.code == "idempotency_conflict"
    assert exc.value.detail == {"idempotency_key": "幂等键已被使用"}
    first.refresh_from_db()
    assert first.state == "reported" and first.responsible_person == ""
    assert not HazardEvent.objects.filter(hazard=first, action="accept").exists()
    assert "hazard.accept" not in audit_actions(first)


# ---------------------------------------------------------------- stored files of a failed report

def test_failed_report_removes_every_file_it_stored(world, settings):
    pdf = SimpleUploadedFile("检查记录.pdf", PDF_BYTES, content_type="application/pdf")
    bad = SimpleUploadedFile("说明.pdf", b"not really a pdf", content_type="application/pdf")
    with pytest.raises(InvalidInput):
        services.report_hazard(world.admin, area=world.villages["a1"], description="配电箱无防护",
                               files=[pdf, photo("现场.png"), bad])
    assert not Hazard.objects.exists() and not Attachment.objects.exists()
    assert stored_files(settings) == []  # the PDF, the photo and the photo's thumbnail


def test_failed_report_tolerates_files_that_are_already_gone(world, settings, monkeypatch):
    original = attachments.add_attachment
    stored = []

    def add(actor, obj, f, *args, **kwargs):
        if f.name == "说明.pdf":
            for att in stored:  # cleaned up by someone else meanwhile
                attachments.storage_path(att.storage_name).unlink()
        att = original(actor, obj, f, *args, **kwargs)
        stored.append(att)
        return att

    monkeypatch.setattr(attachments, "add_attachment", add)
    bad = SimpleUploadedFile("说明.pdf", b"not really a pdf", content_type="application/pdf")
    with pytest.raises(InvalidInput) as exc:  # the real error, not a FileNotFoundError
        services.report_hazard(world.admin, area=world.villages["a1"], description="配电箱无防护",
                               sector=world.sectors["hazchem"], files=[photo("现场.png"), bad])
    assert "说明.pdf" in exc.value.message
    assert stored_files(settings) == []
    assert not Hazard.objects.exists()


# ---------------------------------------------------------------- report refusals

def test_report_in_an_archived_area_is_refused(world):
    grid = world.grids["b2g2"]
    core_services.archive_area(world.admin, grid)
    with pytest.raises(InvalidInput) as exc:
        services.report_hazard(world.admin, area=grid.pk, description="河道护栏缺失")
    assert exc.value.message == "该区域已归档"
    assert exc.value.detail == {"area": "该区域已归档"}
    assert not Hazard.objects.exists()


def test_reporter_of_several_sectors_must_name_one_when_reporting_without_a_site(world):
    it, hazchem = world.sectors["industry_trade"], world.sectors["hazchem"]
    officer = core_services.create_user(world.admin, username="two_sectors", password=PASSWORD,
                                        role=roles.INSPECTOR, area=world.county, sectors=[it, hazchem],
                                        must_change_password=False)
    with pytest.raises(InvalidInput) as exc:
        services.report_hazard(officer, area=world.villages["b1"], description="燃气软管老化")
    assert exc.value.message == "请选择您负责的行业领域"
    assert exc.value.detail == {"sector": "请选择您负责的行业领域"}
    assert not Hazard.objects.exists()
    hazard = services.report_hazard(officer, area=world.villages["b1"], sector=hazchem, description="燃气软管老化")
    assert hazard.sector == hazchem and hazard.state == "reported"
    # A sector that is not theirs is refused as a matter of permission.
    with pytest.raises(Forbidden) as exc:
        services.report_hazard(officer, area=world.villages["b1"], sector=world.sectors["construction"],
                               description="脚手架未设防护网")
    assert exc.value.message == "您无权在该区域上报隐患"
    assert Hazard.objects.count() == 1


def test_report_key_race_inside_a_transaction_returns_the_first_report(world, site_a, monkeypatch):
    key = "phone-race-00000001"
    first = services.report_hazard(world.grid, site=site_a, description="电动车室内充电", idempotency_key=key)
    original = Hazard.objects.filter
    calls = {"n": 0}

    def stale_first_lookup(*args, **kwargs):
        # The look-up before writing runs "before the other request committed": it finds nothing.
        if kwargs.get("idempotency_key") == key:
            calls["n"] += 1
            if calls["n"] == 1:
                return Hazard.objects.none()
        return original(*args, **kwargs)

    monkeypatch.setattr(Hazard.objects, "filter", stale_first_lookup)
    again = services.report_hazard(world.grid, site=site_a, description="电动车室内充电", idempotency_key=key)
    monkeypatch.undo()
    assert again.pk == first.pk and again.repeated is True
    assert Hazard.objects.filter(idempotency_key=key).count() == 1
    assert audit_actions(first).count("hazard.report_repeat") == 1
    assert HazardEvent.objects.filter(hazard=first).count() == 1


def test_integrity_error_that_is_not_a_key_race_surfaces_and_leaves_nothing(world, site_a, monkeypatch, settings):
    from yingji.core import sqlinsert

    real_insert = sqlinsert.insert

    def failing_insert(objs, **kwargs):
        if isinstance(objs[0], Hazard):
            raise IntegrityError("another constraint")
        return real_insert(objs, **kwargs)

    monkeypatch.setattr(sqlinsert, "insert", failing_insert)
    with pytest.raises(IntegrityError, match="another constraint"):
        services.report_hazard(world.grid, site=site_a, description="电动车室内充电",
                               idempotency_key="phone-race-00000002")
    with pytest.raises(IntegrityError, match="another constraint"):
        services.report_hazard(world.grid, site=site_a, description="电动车室内充电")
    monkeypatch.undo()
    assert not Hazard.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="hazard.").exists()
    assert stored_files(settings) == []


# ---------------------------------------------------------------- retries of accept and send-back

def test_accept_retry_with_the_same_key_returns_the_first_result(world, site_a):
    hazard = make_hazard(world, None, site=site_a)
    key = "accept-key-0001"
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(5), idempotency_key=key)
    again = services.accept(world.town_a, hazard, responsible_person="李四", deadline=in_days(30),
                            idempotency_key=key)
    assert again.pk == hazard.pk and again.responsible_person == "王五" and again.deadline == in_days(5)
    assert HazardEvent.objects.filter(hazard=hazard, action="accept").count() == 1
    assert audit_actions(hazard)[-1] == "hazard.accept_repeat"
    # Another person replaying the key is refused.
    with pytest.raises(Conflict) as exc:
        services.accept(world.admin, hazard, responsible_person="李四", deadline=in_days(5), idempotency_key=key)
    assert exc.value.message == "该幂等键已被其他操作使用"


def test_send_back_retry_with_the_same_key_sends_back_once(world, site_a):
    hazard = submitted(world, site_a)
    key = "sendback-key-0001"
    services.send_back(world.town_a, hazard, reason="照片不清", idempotency_key=key)
    again = services.send_back(world.town_a, hazard, reason="照片不清", idempotency_key=key)
    assert again.pk == hazard.pk and again.state == "rectifying"
    assert HazardEvent.objects.filter(hazard=hazard, action="send_back").count() == 1
    assert Rectification.objects.get(hazard=hazard).outcome == Outcome.SENT_BACK
    assert audit_actions(hazard)[-1] == "hazard.send_back_repeat"


# ---------------------------------------------------------------- verify / send back without evidence

@pytest.mark.parametrize("damage", ["reviewed", "missing"])
def test_no_verify_or_send_back_without_a_pending_rectification(world, site_a, damage):
    hazard = submitted(world, site_a)
    rect = Rectification.objects.get(hazard=hazard)
    if damage == "reviewed":  # e.g. reviewed by a data repair while the hazard still waits
        Rectification.objects.filter(pk=rect.pk).update(outcome=Outcome.ACCEPTED)
    else:
        Rectification.objects.filter(pk=rect.pk).update(submitted_at=None)
    for call in (lambda: services.verify(world.town_a, hazard),
                 lambda: services.send_back(world.town_a, hazard, reason="不合格")):
        with pytest.raises(Conflict) as exc:
            call()
        assert exc.value.message == "该隐患没有待验收的整改记录"
        assert exc.value.code == "no_evidence"
    hazard.refresh_from_db()
    assert hazard.state == "submitted" and hazard.closed_at is None
    assert not HazardEvent.objects.filter(hazard=hazard, action__in=["verify", "send_back"]).exists()


def test_no_verify_when_the_evidence_was_archived(world, site_a):
    hazard = submitted(world, site_a)
    rect = Rectification.objects.get(hazard=hazard)
    Attachment.objects.filter(content_type=ContentType.objects.get_for_model(Rectification),
                              object_id=rect.pk).update(archived_at=timezone.now())
    with pytest.raises(Conflict) as exc:
        services.verify(world.town_a, hazard)
    assert exc.value.message == "该整改记录没有证据材料,不能销号"
    assert exc.value.code == "no_evidence"
    hazard.refresh_from_db()
    assert hazard.state == "submitted"
    assert Rectification.objects.get(pk=rect.pk).outcome == Outcome.PENDING


# ---------------------------------------------------------------- escalation with nothing to do

def test_escalation_waits_the_interval_before_the_next_level(world, site_a, settings):
    settings.HAZARD_ESCALATION_DAYS = 7
    hazard = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(1))
    now = timezone.now() + datetime.timedelta(days=3)
    assert services.escalate(hazard, now=now).escalation_level == 1
    assert services.escalate(hazard, now=now + datetime.timedelta(days=6)) is None  # not yet
    hazard.refresh_from_db()
    assert hazard.escalation_level == 1 and hazard.escalated_to == world.area_a
    assert services.escalate(hazard.pk, now=now + datetime.timedelta(days=7)).escalated_to == world.county
    assert audit_actions(hazard).count("hazard.escalate") == 2


def test_escalation_that_loses_to_a_concurrent_close_does_nothing(world, site_a, monkeypatch):
    hazard = make_hazard(world, None, site=site_a)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(1))
    original = services.escalation_targets
    calls = {"n": 0}

    def closed_meanwhile(area):
        calls["n"] += 1
        if calls["n"] == 2:  # after the due check, before the conditional update
            Hazard.objects.filter(pk=hazard.pk).update(state="closed")
        return original(area)

    monkeypatch.setattr(services, "escalation_targets", closed_meanwhile)
    assert services.escalate(hazard, now=timezone.now() + datetime.timedelta(days=3)) is None
    monkeypatch.undo()
    hazard.refresh_from_db()
    assert not hazard.is_overdue and hazard.escalation_level == 0 and hazard.escalated_to is None
    assert not HazardEvent.objects.filter(hazard=hazard, action="escalate").exists()
    assert "hazard.escalate" not in audit_actions(hazard)


def test_rectification_of_a_county_level_hazard_is_submitted_without_a_town_to_notify(world):
    from yingji.core.models.notifications import Notification

    hazard = services.report_hazard(world.admin, area=world.county, description="市级仓库消防设施缺失",
                                    sector=world.sectors["hazchem"])
    services.accept(world.admin, hazard, responsible_person="王五", deadline=in_days(5))
    hazard = services.submit_rectification(world.admin, hazard, description="已补齐", files=[photo()])
    assert hazard.state == "submitted"
    assert not Notification.objects.filter(title__startswith="待验收").exists()  # no town above the county
    assert audit_actions(hazard)[-1] == "hazard.submit_rectification"


def test_an_archived_sector_is_never_the_default_sector(world):
    """A sector-bound reporter whose only sector was archived: the report is not filed under the
    archived sector — it asks for a sector the reporter is responsible for, and naming the
    archived one is refused."""
    from yingji.core.models import Sector

    Sector.objects.filter(code="industry_trade").update(archived_at=timezone.now())
    with pytest.raises(InvalidInput) as exc:
        services.report_hazard(world.inspector, area=world.villages["a1"], description="配电箱未接地")
    assert exc.value.message == "请选择您负责的行业领域"
    with pytest.raises(InvalidInput) as exc:
        services.report_hazard(world.inspector, area=world.villages["a1"], description="配电箱未接地",
                               sector=world.sectors["industry_trade"])
    assert exc.value.message == "行业领域无效"
    assert not Hazard.objects.exists()


@pytest.mark.parametrize("late", ["verify", "send_back"])
def test_a_rectification_decided_meanwhile_is_a_lost_race_not_missing_evidence(world, site_a, monkeypatch, late):
    """Two officers act on one submitted rectification: the one whose read of the hazard came
    before the other's commit gets the clear "someone else acted" message (found by the
    PostgreSQL race test, where the loser read the decided rectification)."""
    hazard = make_hazard(world, None, site=site_a, actor=world.grid)
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(3))
    services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])
    stale = Hazard.objects.get(pk=hazard.pk)   # read before the other officer's decision
    if late == "verify":
        services.send_back(world.admin, hazard.pk, reason="不合格")
    else:
        services.verify(world.town_a, hazard.pk)
    monkeypatch.setattr(services, "_load", lambda actor, pk, action: stale)
    with pytest.raises(Conflict) as exc:
        if late == "verify":
            services.verify(world.town_a, hazard.pk)
        else:
            services.send_back(world.admin, hazard.pk, reason="不合格")
    assert exc.value.message == "该隐患已被他人处理,请刷新后重试" and exc.value.code == "stale"
    assert HazardEvent.objects.filter(hazard=hazard, action__in=["verify", "send_back"]).count() == 1
