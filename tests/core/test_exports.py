"""The export framework (core/exports.py): the audit trail and people lists, the generic API with
its OpenAPI documentation, big exports as jobs (file named for the retention clean-up), and who
may export what."""
from __future__ import annotations

import datetime
import os

import pytest
from django.utils import timezone

from tests.hazards.factories import make_hazard
from tests.xlsx_export import body, read_export
from yingji.core import audit, exports, jobs, queries
from yingji.core.models import AuditEntry, Job, JobStatus, User


def export(client, user, name, **params):
    client.force_login(user)
    resp = client.get(f"/exports/{name}/", params)
    assert resp.status_code == 200, resp.content[:300]
    return read_export(body(resp))


# ---------------------------------------------------------------- audit trail

@pytest.mark.django_db
def test_audit_export_is_the_audit_list_in_scope_with_totals_per_action(world, client):
    make_hazard(world, world.villages["a1"], title="甲")
    make_hazard(world, world.villages["b1"], title="乙")
    for user in (world.admin, world.town_a):
        expected = queries.audit_queryset(user, action="hazard.report").count()
        out = export(client, user, "audit", action="hazard.report")
        assert len(out.rows) == out.total == expected
        assert out.counts["按操作统计"] == {"隐患:上报": expected}
        assert out.header["筛选条件"] == "操作=hazard.report"
    assert expected == 1  # town A: its own hazard only
    today = timezone.localdate().isoformat()
    out = export(client, world.admin, "audit", since=today, model="hazards.hazard")
    assert out.header["筛选条件"] == f"对象类型=隐患；开始日期={today}"
    assert len(out.rows) == queries.audit_queryset(
        world.admin, since=timezone.localdate(), model="hazards.hazard").count() > 0


@pytest.mark.django_db
def test_audit_export_hides_client_addresses_like_the_page(world, client):
    with audit.context(actor=world.admin, ip="10.1.2.3"):
        make_hazard(world, world.villages["a1"], title="带地址")
    ips = lambda out: {r[out.columns.index("来源IP")] for r in out.rows if r[2] == "隐患:上报"}  # noqa: E731
    assert ips(export(client, world.admin, "audit", action="hazard.report")) == {"10.1.2.3"}
    # the town officer may read the hazard's trail but not open the county admin's account
    assert ips(export(client, world.town_a, "audit", action="hazard.report")) == {""}


@pytest.mark.django_db
def test_only_auditors_export_the_audit_trail(world, client):
    client.force_login(world.grid)
    assert client.get("/exports/audit/").status_code == 404
    assert b"/exports/audit/" not in client.get("/hazards/").content
    client.force_login(world.admin)
    assert b"/exports/audit/" in client.get("/audit/").content


# ---------------------------------------------------------------- people

@pytest.mark.django_db
def test_users_export_as_two_administrators(world, client):
    for user in (world.admin, world.town_a):
        expected = queries.user_search(user, None).count()
        out = export(client, user, "users")
        assert len(out.rows) == out.total == expected
        names = {r[1] for r in out.rows}
        assert names == set(queries.user_search(user, None).values_list("username", flat=True))
        counts = {}
        for r in out.rows:
            counts[r[5]] = counts.get(r[5], 0) + 1
        assert out.counts["按状态统计"] == counts
    assert "town_b" not in names  # town A's administrator sees town A's people
    out = export(client, world.admin, "users", q="town")
    assert {r[1] for r in out.rows} == {"town_a", "town_b"}
    assert out.header["筛选条件"] == "姓名/用户名/手机=town"
    client.force_login(world.leader)  # no manage_users: no such list
    assert client.get("/exports/users/").status_code == 404


# ---------------------------------------------------------------- who, the API, OpenAPI

@pytest.mark.django_db
def test_unknown_list_and_site_bound_users_get_404(world, client, api_client):
    client.force_login(world.admin)
    assert client.get("/exports/nothing/").status_code == 404
    client.force_login(world.enterprise)
    for name in exports.all_lists():
        assert client.get(f"/exports/{name}/").status_code == 404, name
    assert api_client.as_user(world.enterprise).get("/api/v1/exports/hazards").status_code == 404


@pytest.mark.django_db
def test_api_export_takes_the_list_filters_and_errors_in_the_api_shape(world, api_client):
    make_hazard(world, world.villages["a1"], title="甲", level="major")
    make_hazard(world, world.villages["b1"], title="乙")
    resp = api_client.as_user(world.admin).get("/api/v1/exports/hazards", level="major")
    assert resp.status_code == 200 and resp["Content-Type"] == exports.XLSX_CONTENT_TYPE
    out = read_export(body(resp))
    assert [r[1] for r in out.rows] == ["甲"] and out.header["筛选条件"] == "等级=重大隐患"
    resp = api_client.as_user(world.town_b).get("/api/v1/exports/hazards")
    assert [r[1] for r in read_export(body(resp)).rows] == ["乙"]
    resp = api_client.as_user(world.admin).get("/api/v1/exports/hazards", level="huge")
    assert resp.status_code == 422 and resp.json()["message"] == "隐患等级无效"


@pytest.mark.django_db
def test_openapi_documents_one_export_per_list_with_its_filters(world, client):
    spec = client.get("/api/v1/openapi.json").json()
    for name, lst in exports.all_lists().items():
        op = spec["paths"][f"/api/v1/exports/{name}"]["get"]
        assert {p["name"] for p in op["parameters"]} == set(lst.api_params), name
        assert "202" in op["responses"]
    assert set(exports.all_lists()) == {"sites", "hazards", "inspections", "campaigns", "supervision", "audit",
                                         "users", "stats"}


# ---------------------------------------------------------------- big exports: jobs

@pytest.mark.django_db
def test_big_export_is_a_job_whose_file_the_cleanup_expects(world, client, monkeypatch, settings):
    monkeypatch.setattr(exports, "DIRECT_LIMIT", 1)
    for i in range(3):
        make_hazard(world, world.villages["a1"], title=f"隐患{i}")
    client.force_login(world.town_a)
    resp = client.get("/exports/hazards/", {"state": "open"})
    job = Job.objects.get(kind=exports.JOB_KIND)
    assert resp.status_code == 302 and resp["Location"] == f"/jobs/{job.pk}/"
    assert job.params == {"list": "hazards", "filters": {"state": "open"}} and job.area == world.area_a
    jobs.run_worker(worker_id="t", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["rows"] == 3 and job.result["file"].startswith(f"hazards-{job.pk}-")
    assert jobs._EXPORT_NAME_RE.match(job.result["file"])
    download = client.get(f"/jobs/{job.pk}/download/")
    out = read_export(body(download))
    assert len(out.rows) == out.total == 3 and out.header["筛选条件"] == "状态=未销号"
    entry = AuditEntry.objects.filter(action="hazard.export").latest("id")
    assert entry.changes["rows"] == [None, 3] and str(job.pk) in entry.note
    # past the retention, core.cleanup removes the file
    path = jobs.export_dir() / job.result["file"]
    old = (timezone.now() - datetime.timedelta(days=settings.EXPORT_RETENTION_DAYS + 1)).timestamp()
    os.utime(path, (old, old))
    assert jobs.purge_expired(None)["export_files"] == 1 and not path.exists()
    client.force_login(world.admin)  # another person's export file: not theirs to download
    assert client.get(f"/jobs/{job.pk}/download/").status_code == 404


@pytest.mark.django_db
def test_job_of_a_user_who_lost_the_right_fails(world, client, monkeypatch):
    monkeypatch.setattr(exports, "DIRECT_LIMIT", 0)
    make_hazard(world, world.villages["a1"], title="甲")
    client.force_login(world.town_a)
    client.get("/exports/users/")
    job = Job.objects.get(kind=exports.JOB_KIND)
    User.objects.filter(pk=world.town_a.pk).update(is_active=False)
    jobs.run_worker(worker_id="t", once=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
