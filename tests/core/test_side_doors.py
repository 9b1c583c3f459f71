"""What a side record reveals (issue 13, items 4, 5, 6, 8, 12).

One rule: a side record — a job, an audit entry, a count, a list of people, a phone on a
record — is shown only to whoever may see what it is about, the way it is shown where it lives.
Each test here failed on the code before the rule (the old behaviour is named in its docstring).
"""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from yingji.core import audit, jobs, services
from yingji.core.models import AuditEntry, Job

pytestmark = pytest.mark.django_db


def _site(world, area, sector, name, **fields):
    from yingji.registry import services as registry_services

    return registry_services.create_site(world.admin, kind=fields.pop("kind", "small_place"), area=area,
                                         sectors=[sector], name=name, **fields)


def _run_due_jobs():
    Job.objects.filter(status="queued").update(run_after=timezone.now() - datetime.timedelta(seconds=1))
    jobs.run_worker(worker_id="w", once=True)


def _ids(response):
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


# ---------------------------------------------------------------- 4. jobs


def test_a_risk_regrade_job_is_seen_by_who_sees_its_site_and_its_counts_by_none_else(world, client, api_client):
    """Old: every job of the county (a site's risk regrade with its hazard counts and colour)
    was listed to the construction officer, whatever the site's sector."""
    from yingji.hazards import services as hazard_services

    trade = _site(world, world.villages["a1"], world.sectors["industry_trade"], "大唐某袜厂")
    build = _site(world, world.villages["a1"], world.sectors["construction"], "大唐某工地")
    hazard_services.report_hazard(world.admin, site=trade, description="粉尘未清理", level="major")
    hazard_services.report_hazard(world.admin, site=build, description="脚手架未验收")
    _run_due_jobs()
    trade_job = Job.objects.get(kind="hazards.feed_risk", params={"site": trade.pk})
    build_job = Job.objects.get(kind="hazards.feed_risk", params={"site": build.pk})
    assert trade_job.status == build_job.status == "succeeded"
    assert trade_job.result["open_major_hazards"] == 1  # what the regrade found

    # The construction officer: the construction site's job (status only), never the other one.
    api_client.as_user(world.dept)
    assert _ids(api_client.get("/api/v1/jobs", limit=500)) == {build_job.pk}
    assert api_client.get(f"/api/v1/jobs/{trade_job.pk}").status_code == 404
    body = api_client.get(f"/api/v1/jobs/{build_job.pk}").json()
    assert body["status"] == "succeeded" and body["result"] == {} and body["error"] == ""
    client.force_login(world.dept)
    assert client.get(f"/jobs/{trade_job.pk}/").status_code == 404
    page = client.get("/jobs/").content.decode()
    assert f"/jobs/{build_job.pk}/" in page and f"/jobs/{trade_job.pk}/" not in page
    detail = client.get(f"/jobs/{build_job.pk}/").content.decode()
    assert "open_hazards" not in detail and "colour" not in detail

    # Town B sees neither (both sites are in town A); the industry inspector only the trade site's.
    assert _ids(api_client.as_user(world.town_b).get("/api/v1/jobs", limit=500)) == set()
    assert _ids(api_client.as_user(world.inspector).get("/api/v1/jobs", limit=500)) == {trade_job.pk}
    # The user administrators of the area read the result of the system's work.
    body = api_client.as_user(world.town_a).get(f"/api/v1/jobs/{trade_job.pk}").json()
    assert body["result"]["open_major_hazards"] == 1
    assert api_client.as_user(world.admin).get(f"/api/v1/jobs/{trade_job.pk}").json()["result"]["site"] == trade.pk
    assert (trade_job.subject_id, build_job.subject_id) == (trade.pk, build.pk)  # what each job is about


def test_a_persons_job_is_theirs_and_a_system_job_without_subject_is_the_administrators(world, api_client):
    """Old: a town officer's job (and its result) was listed to everyone viewing the town, and the
    county's system jobs to every county-level role."""
    mine = jobs.enqueue(world.town_a, "core.echo", area=world.area_a, params={"echo": "内部"})
    system = jobs.enqueue(None, "core.echo", area=world.county)
    for persona, seen in (("town_a", {mine.pk}), ("admin", {system.pk}), ("leader", set()), ("dept", set()),
                          ("grid", set()), ("town_b", set())):
        assert _ids(api_client.as_user(world.users[persona]).get("/api/v1/jobs", limit=500)) == seen, persona
    assert set(Job.objects.visible_to(world.leader)) == set()
    # Cancelling: one's own job; a system job by its area's user administrators only.
    assert set(Job.objects.editable_by(world.town_a)) == {mine}
    assert set(Job.objects.editable_by(world.admin)) == {system}


# ---------------------------------------------------------------- 6. audit


def _login(user, ip):
    with audit.context(actor=user, ip=ip):
        services.record_login(user)


def test_account_events_are_read_by_the_user_administrators_of_the_persons_area_only(world, client, api_client):
    """Old: sign-ins (with client address) and account changes (phone numbers) of every person
    were listed to the construction officer and the read-only leader (county-wide auditors)."""
    _login(world.town_a, "10.1.2.3")
    _login(world.town_b, "10.9.9.9")
    services.update_user(world.admin, world.town_a, display_name="大唐干部", phone="13812341234")
    account_actions = {"auth.login", "user.update", "user.create", "user.grant_role"}
    for persona in ("dept", "leader", "inspector"):
        user = world.users[persona]
        seen = AuditEntry.objects.visible_to(user)
        assert not seen.filter(action__in=account_actions).exists(), persona
        items = api_client.as_user(user).get("/api/v1/audit", limit=500).json()["items"]
        assert not [e for e in items if e["action"] in account_actions], persona
        client.force_login(user)
        page = client.get("/audit/").content.decode()
        assert "10.1.2.3" not in page and "13812341234" not in page, persona
    # Town A's officer manages town A's people: their events, not town B's.
    logins = AuditEntry.objects.visible_to(world.town_a).filter(action="auth.login")
    assert {e.actor_id for e in logins} == {world.town_a.pk}
    # The county administrator reads them all, with the client address.
    items = api_client.as_user(world.admin).get("/api/v1/audit", action="auth.login").json()["items"]
    assert {e["ip"] for e in items} == {"10.1.2.3", "10.9.9.9"}


def test_the_client_address_is_shown_with_the_actors_account_only(world, client, api_client, settings, tmp_path):
    """Old: the IP column of every entry (here: town A's officer reporting a construction hazard)
    was shown to anyone reading the entry, e.g. the construction officer and the leader."""
    from yingji.hazards import services as hazard_services

    with audit.context(actor=world.town_a, ip="10.1.2.3"):
        hazard = hazard_services.report_hazard(world.town_a, area=world.area_a, sector=world.sectors["construction"],
                                               description="基坑无护栏")
    entry = AuditEntry.objects.filter(object_id=hazard.pk, ip="10.1.2.3").latest("id")
    for persona, ip in (("dept", None), ("leader", None), ("admin", "10.1.2.3"), ("town_a", "10.1.2.3")):
        user = world.users[persona]
        assert AuditEntry.objects.visible_to(user).filter(pk=entry.pk).exists(), persona
        items = api_client.as_user(user).get("/api/v1/audit", action=entry.action, limit=500).json()["items"]
        assert [e["ip"] for e in items if e["id"] == entry.pk] == [ip], persona
        client.force_login(user)
        page = client.get(f"/audit/?action={entry.action}").content.decode()
        assert ("10.1.2.3" in page) == bool(ip), persona
    # The export of the leader carries no address either.
    settings.MEDIA_ROOT = tmp_path
    client.force_login(world.leader)
    client.post("/jobs/export-audit/", {"action": entry.action})
    _run_due_jobs()
    job = Job.objects.get(kind="core.audit_export")
    r = client.get(f"/jobs/{job.pk}/download/")
    assert r.status_code == 200
    cells = [str(c) for row in _read_xlsx(b"".join(r.streaming_content)) for c in row]
    assert "10.1.2.3" not in cells and str(hazard.pk) in cells


def _read_xlsx(data: bytes) -> list[list]:
    import io

    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [row for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python()]


# ---------------------------------------------------------------- 5. counts and people


HAZARD_FIELDS = ("open_hazards", "open_major_hazards", "overdue_hazards")  # the dynamic factors counting hazards


def test_the_risk_page_counts_only_the_hazards_the_reader_sees(world, client, api_client):
    """Old: the dynamic panel and the factors' values counted every open hazard of the site —
    the construction officer learnt of the industry-and-trade hazards of a mixed site."""
    from yingji.hazards import services as hazard_services
    from yingji.registry import services as registry_services

    site = registry_services.create_site(world.admin, kind="small_place", area=world.villages["a1"],
                                         sectors=[world.sectors["construction"], world.sectors["industry_trade"]],
                                         name="大唐混合场所")
    hazard_services.report_hazard(world.admin, site=site, sector=world.sectors["construction"], description="基坑")
    for text in ("粉尘", "油污", "堆物"):
        hazard_services.report_hazard(world.admin, site=site, sector=world.sectors["industry_trade"],
                                      description=text, level="major")
    _run_due_jobs()  # the regrade stores the site-wide counts (4 open, 3 major)

    body = api_client.as_user(world.dept).get(f"/api/v1/risk/sites/{site.pk}").json()
    assert body["dynamic"] | {"open_hazards": 1, "open_major_hazards": 0, "overdue_hazards": 0} == body["dynamic"]
    counted = [f for f in body["assessment"]["factors"] if f["factor"] in HAZARD_FIELDS]
    assert counted and all(f["value"] is None for f in counted)  # the grade stays, its counts do not
    history = api_client.get(f"/api/v1/risk/sites/{site.pk}/history").json()["items"]
    assert all(f["value"] is None for a in history for f in a["factors"] if f["factor"] in HAZARD_FIELDS)
    client.force_login(world.dept)
    page = client.get(f"/risk/sites/{site.pk}/").content.decode()
    assert "4项" not in page and "3项" not in page

    # Who sees every hazard of the site reads the whole figure, and the factor values.
    body = api_client.as_user(world.town_a).get(f"/api/v1/risk/sites/{site.pk}").json()
    assert body["dynamic"] | {"open_hazards": 4, "open_major_hazards": 3, "overdue_hazards": 0} == body["dynamic"]
    values = {f["factor"]: f["value"] for f in body["assessment"]["factors"] if f["factor"] in HAZARD_FIELDS}
    assert values and set(values.values()) <= {4, 3}


def test_inspection_answers_name_only_people_the_reader_may_see(world, api_client, client):
    """Old: ``inspectors`` listed every inspector by id and name — the grid worker of village a1
    read the name of town A's officer and of the county inspector."""
    from tests.inspections.factories import make_site, start

    site = make_site(world, world.villages["a1"], world.sectors["industry_trade"])
    inspection = start(world, site, inspectors=[world.town_a.pk, world.grid.pk, world.inspector.pk])
    expected = {"grid": {world.grid.pk}, "town_a": {world.grid.pk, world.town_a.pk},
                "admin": {world.grid.pk, world.town_a.pk, world.inspector.pk}}
    for persona, ids in expected.items():
        api_client.as_user(world.users[persona])
        detail = api_client.get(f"/api/v1/inspections/{inspection.pk}").json()
        assert {p["id"] for p in detail["inspectors"]} == ids, persona
        listed = [i for i in api_client.get("/api/v1/inspections", site_id=site.pk).json()["items"]]
        assert {p["id"] for p in listed[0]["inspectors"]} == ids, persona
    client.force_login(world.grid)
    page = client.get(f"/inspections/{inspection.pk}/").content.decode()
    assert "town_a" not in page and "inspector" not in page.split("检查人员", 1)[1].split("</dd>", 1)[0]
    from yingji.core import privacy

    assert privacy.people_visible_to(world.grid).filter(pk=world.town_a.pk).count() == 0


# ---------------------------------------------------------------- 8. what is published, phones


def _published_listing(world, site):
    from tests.supervision.factories import make_listing
    from yingji.supervision import services as supervision_services

    listing = make_listing(world, site=site)
    supervision_services.publish_notice(world.admin, listing)
    return listing


def test_the_public_list_names_units_and_masks_private_persons(world):
    """Old: a self-built house was published under its landlord's full name (and a household's
    shop under the owner's); the place went no finer than the town."""
    from django.test import Client

    from yingji.registry import services as registry_services
    from yingji.registry.creditcode import generate_credit_code

    house = registry_services.create_site(world.admin, kind="self_built", area=world.villages["a1"],
                                          sectors=[world.sectors["construction"]], name="王小明自建房",
                                          address="大唐街道某路88号", legal_rep="王小明",
                                          legal_rep_phone="13812341234")
    shop = _site(world, world.villages["b1"], world.sectors["industry_trade"], "李大牛小吃店")
    unit = registry_services.create_site(world.admin, kind="enterprise", area=world.villages["b2"],
                                         sectors=[world.sectors["industry_trade"]], name="诸暨某袜业有限公司",
                                         credit_code=generate_credit_code(3, seed=99))
    for site in (house, shop, unit):
        _published_listing(world, site)
    html = Client().get("/public/major-hazards/").content.decode()
    assert "王**户" in html and "李**" in html and "诸暨某袜业有限公司" in html
    for secret in ("王小明", "李大牛", "88号", "13812341234", "某路"):
        assert secret not in html, secret
    assert "大唐街道1村" in html  # the place: down to the village, no finer
    items = Client().get("/api/v1/supervision/public").json()["items"]
    assert {i["site_name"] for i in items} == {"王**户", "李**", "诸暨某袜业有限公司"}
    assert {i["village"] for i in items} == {"大唐街道1村", "店口镇1村", "店口镇2村"}


def test_phones_in_full_for_who_edits_the_record_masked_for_readers(world, client, api_client):
    """Old: the read-only leader (and grid workers) read every legal representative's and every
    responsible person's mobile number in lists, details and exports."""
    from yingji.hazards import services as hazard_services
    from yingji.registry import services as registry_services

    site = registry_services.create_site(world.admin, kind="small_place", area=world.villages["a1"],
                                         sectors=[world.sectors["industry_trade"]], name="大唐某商店",
                                         legal_rep="赵六", legal_rep_phone="13812341234",
                                         safety_manager="钱七", safety_manager_phone="0575-87654321")
    hazard = hazard_services.report_hazard(world.admin, site=site, description="灭火器过期")
    hazard = hazard_services.accept(world.town_a, hazard, responsible_person="赵六",
                                    responsible_phone="13912345678",
                                    deadline=timezone.localdate() + datetime.timedelta(days=30))
    for persona, full in (("town_a", True), ("admin", True), ("leader", False), ("grid", False)):
        api_client.as_user(world.users[persona])
        listed = [s for s in api_client.get("/api/v1/sites", q="大唐某商店").json()["items"]]
        detail = api_client.get(f"/api/v1/sites/{site.pk}").json()
        for row in (listed[0], detail):
            assert (row["legal_rep_phone"], row["safety_manager_phone"]) == (
                ("13812341234", "0575-87654321") if full else ("138****1234", "0575-****4321")), persona
        hazards = api_client.get("/api/v1/hazards", site_id=site.pk).json()["items"]
        assert hazards[0]["responsible_phone"] == ("13912345678" if full else "139****5678"), persona
        assert api_client.get(f"/api/v1/hazards/{hazard.pk}").json()["responsible_phone"] == hazards[0][
            "responsible_phone"]
        client.force_login(world.users[persona])
        pages = client.get(f"/sites/{site.pk}/").content.decode() + client.get(f"/hazards/{hazard.pk}/").content.decode()
        if persona != "grid":  # the audit trail (the site's timeline, /audit/) masks them the same way
            pages += client.get("/audit/", {"model": "registry.site", "object_id": site.pk}).content.decode()
        for number in ("13812341234", "13912345678"):
            assert (number in pages) == full, (persona, number)
    from yingji.core import privacy

    assert privacy.mask_phone("13812341234") == "138****1234" and privacy.mask_name("王小明", "户") == "王**户"


# ---------------------------------------------------------------- 12. exports are audited


def test_every_export_of_personal_data_is_audited_with_its_filters_and_rows(world, client, api_client):
    """Old: a small site export (≤ 5,000 rows, written at once) left no trace in the audit trail."""
    from yingji.registry import services as registry_services

    for n in range(3):
        registry_services.create_site(world.admin, kind="small_place", area=world.villages["a1"],
                                      sectors=[world.sectors["industry_trade"]], name=f"导出测试商店{n}",
                                      legal_rep_phone="13812341234")
    client.force_login(world.leader)
    r = client.get("/sites/export/", {"q": "导出测试"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    entry = AuditEntry.objects.filter(action="site.export").latest("id")
    assert entry.actor == world.leader and entry.object_id == world.leader.pk
    assert entry.changes == {"filters": [None, {"q": "导出测试"}], "rows": [None, 3]}
    r = api_client.as_user(world.town_a).get("/api/v1/site-imports/export", q="导出测试")
    assert r.status_code == 200
    entry = AuditEntry.objects.filter(action="site.export").latest("id")
    assert entry.actor == world.town_a and entry.changes["rows"] == [None, 3]
    # The service itself (the page and the API call it): audited even when nothing matched.
    import io

    from yingji.registry import exports

    assert exports.export_direct(world.admin, {"q": "没有这个"}, io.BytesIO()) == 0
    assert AuditEntry.objects.filter(action="site.export").latest("id").changes["rows"] == [None, 0]
    # An export is the exporter's account activity: read by user administrators, not by every auditor.
    assert AuditEntry.objects.visible_to(world.admin).filter(pk=entry.pk).exists()
    assert not AuditEntry.objects.visible_to(world.dept).filter(pk=entry.pk).exists()
