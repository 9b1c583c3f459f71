"""Audit entries as a person reads them: Chinese field names and values, local (Asia/Shanghai)
times, and the job machinery's own entries out of the way unless asked for."""
from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.urls import reverse

from yingji.core import audit, audit_display
from yingji.core.models import AuditEntry, Job

from ..conftest import login

UTC = datetime.timezone.utc
WHEN = datetime.datetime(2026, 11, 28, 1, 30, 5, tzinfo=UTC)  # 09:30:05 in Shanghai


def _entry(world, action="area.update", changes=None, obj=None, actor="admin"):
    with audit.context(actor=world.users[actor] if actor else None):
        with transaction.atomic():
            entry = audit.record(action, obj or world.area_a, changes or {})
    AuditEntry.objects.filter(pk=entry.pk).update(at=WHEN)
    return AuditEntry.objects.select_related("content_type").get(pk=entry.pk)


def _changes(world):
    return _entry(world, changes={
        "level": [2, 3], "is_demo": [False, True], "archived_at": [None, WHEN.isoformat()],
        "api_tokens": [2, 0], "zz_unknown": ["a", "b"],
    })


def test_changes_show_field_names_choices_booleans_and_local_times(world):
    rows = {r["field"]: r for r in audit_display.changes_display(_changes(world))}
    assert rows["level"] == {"field": "level", "label": "层级", "before": "镇街", "after": "村社"}
    assert (rows["is_demo"]["label"], rows["is_demo"]["before"], rows["is_demo"]["after"]) == ("演示数据", "否", "是")
    assert rows["archived_at"]["label"] == "归档时间"
    assert (rows["archived_at"]["before"], rows["archived_at"]["after"]) == ("—", "2026-11-28 09:30:05")
    assert rows["api_tokens"]["label"] == "API令牌"
    assert rows["zz_unknown"]["label"] == "zz_unknown"  # never hidden, only less pretty


def test_hazard_state_is_shown_by_its_label(world):
    from yingji.hazards.models import Hazard, State

    from django.contrib.contenttypes.models import ContentType

    entry = _entry(world)
    entry.content_type = ContentType.objects.get_for_model(Hazard)
    entry.changes = {"state": [State.REPORTED.value, State.RECTIFYING.value]}
    (row,) = audit_display.changes_display(entry)
    assert row["before"] == str(State.REPORTED.label) and row["after"] == str(State.RECTIFYING.label)
    assert row["before"] != "reported"


def test_audit_page_shows_chinese_names_and_shanghai_time(client, world):
    _changes(world)
    login(client, world.users["admin"])
    body = client.get(reverse("core:audit")).content.decode()
    assert "2026-11-28 09:30:05" in body and "2026-11-28 01:30:05" not in body
    assert "层级" in body and "村社" in body and "演示数据" in body
    assert "区域:修改" in body
    assert "level:" not in body


def test_site_timeline_shows_chinese_names(client, world):
    from yingji.registry import services as registry_services

    from ..registry.conftest import CODES

    site = registry_services.create_site(world.admin, kind="enterprise", name="甲厂", credit_code=CODES[0],
                                         area=world.area_a, sectors=[world.sectors["industry_trade"]])
    _entry(world, action="site.update", obj=site, changes={"risk_colour": [None, "red"]})
    login(client, world.admin)
    body = client.get(reverse("registry:detail", args=[site.pk])).content.decode()
    assert "风险等级" in body and "risk_colour:" not in body
    assert "2026-11-28 09:30" in body


def test_api_keeps_raw_changes_and_adds_readable_ones(api_client, world):
    _changes(world)
    data = api_client.as_user(world.users["admin"]).get("/api/v1/audit", action="area.update").json()
    item = data["items"][0]
    assert item["changes"]["level"] == [2, 3]
    assert {"field": "level", "label": "层级", "before": "镇街", "after": "村社"} in item["changes_display"]
    assert item["action_display"] == "区域:修改"


def _system_job_entry(world):
    job = Job.objects.create(kind="stats.refresh", area=world.county, params={}, run_after=WHEN)
    return _entry(world, action="job.start", obj=job, actor=None, changes={"status": ["queued", "running"]})


def test_system_job_entries_are_hidden_by_default_one_filter_away(client, api_client, world):
    system = _system_job_entry(world)
    person = _entry(world)
    login(client, world.users["admin"])
    body = client.get(reverse("core:audit")).content.decode()
    assert "显示系统任务记录" in body
    assert "后台任务:开始执行" not in body and "区域:修改" in body
    shown = client.get(reverse("core:audit"), {"include_system": "on"}).content.decode()
    assert "后台任务:开始执行" in shown
    api = api_client.as_user(world.users["admin"])
    ids = {i["id"] for i in api.get("/api/v1/audit").json()["items"]}
    assert person.pk in ids and system.pk not in ids
    ids = {i["id"] for i in api.get("/api/v1/audit", include_system="true").json()["items"]}
    assert system.pk in ids


def test_export_rows_read_like_the_page(world):
    entry = _changes(world)
    text = audit_display.changes_text(entry)
    assert "层级: 镇街 → 村社" in text and "归档时间: — → 2026-11-28 09:30:05" in text


def test_job_page_reads_in_chinese(client, world, settings, tmp_path):
    from yingji.core import jobs

    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.town_a)
    client.post("/jobs/export-audit/", {"action": "area.create"})
    job = Job.objects.get(kind="core.audit_export")
    jobs.run_worker(worker_id="w", once=True)
    body = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "已完成" in body  # the status in words
    assert "后台任务:提交" in body and "后台任务:完成" in body  # the job's history
    assert ">job.enqueue<" not in body and ">job.succeeded<" not in body
    assert "行数</span>: 7" in body and "文件名</span>:" in body  # the result's keys
