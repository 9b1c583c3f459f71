"""Rule sets: publishing (permissions, validation, audit, versions), the recompute job, and the
pages and API of rules and of a site's risk."""
from __future__ import annotations

import re

import pytest
from django.contrib.contenttypes.models import ContentType

from yingji.core import jobs
from yingji.core.errors import Forbidden, InvalidInput
from yingji.core.models import AuditEntry, Job, JobStatus
from yingji.risk import services
from yingji.risk.models import Reason, RuleSet, SiteRiskAssessment

from .conftest import SMALL_RULES, SMALL_THRESHOLDS
from .factories import make_site

NO_RIGHT = "只有具备基础数据管理权限的管理员才能修改风险分级规则"


def current_rules():
    return [services.rule_dict(r) for r in services.active_ruleset().rules.all()]


# ---------------------------------------------------------------- publishing

def test_publish_creates_a_new_version_keeps_the_old_and_audits_the_diff(world):
    v1 = services.active_ruleset()
    rules = current_rules()
    for r in rules:
        if r["match"] == "ammonia":
            r["points"] = 40
    rules = [r for r in rules if r["match"] != "warehouse"]
    rules.append({"factor": "industry_division", "match": "17", "points": 5, "label": "纺织业"})
    v2 = services.publish_ruleset(world.admin, rules, {"red": 90, "orange": 50, "yellow": 25}, note="调整涉氨分值")
    v1.refresh_from_db()
    assert (v2.version, v2.is_active, v1.is_active) == (2, True, False)
    assert RuleSet.objects.count() == 2 and v1.rules.count() == 38     # the old version is kept whole
    assert v2.published_by == world.admin
    [entry] = AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(RuleSet), object_id=v2.pk,
                                        action="risk.publish_ruleset")
    assert entry.actor == world.admin
    changes = entry.changes
    assert [r["match"] for r in changes["added"]] == ["17"]
    assert [r["match"] for r in changes["removed"]] == ["warehouse"]
    assert changes["changed"] == [{"rule": "涉氨制冷", "factor": "trait", "match": "ammonia",
                                   "fields": {"points": [25, 40]}}]
    assert changes["thresholds"] == {"red": [80, 90]}
    assert v2.changes == changes
    job = Job.objects.get(kind="risk.recompute")
    assert job.params == {"ruleset": v2.pk, "reason": "rule_change"} and job.created_by == world.admin


@pytest.mark.parametrize("persona", ["town_a", "leader", "dept", "inspector", "grid", "enterprise"])
def test_only_reference_managers_may_publish(world, persona):
    with pytest.raises(Forbidden, match=NO_RIGHT):
        services.publish_ruleset(world.users[persona], SMALL_RULES, SMALL_THRESHOLDS)
    assert RuleSet.objects.count() == 1


@pytest.mark.parametrize("rules,thresholds,message,key", [
    ([], SMALL_THRESHOLDS, "规则集至少要有一条规则", "rules"),
    ([{"factor": "colour_of_door", "points": 1}], SMALL_THRESHOLDS, "第1条规则的因素无效:colour_of_door",
     "rules.0.factor"),
    ([{"factor": "trait", "match": "unicorn", "points": 1}], SMALL_THRESHOLDS,
     "第1条规则的匹配值无效:风险特征没有“unicorn”", "rules.0.match"),
    ([{"factor": "industry_section", "match": "Z", "points": 1}], SMALL_THRESHOLDS,
     "第1条规则的匹配值无效:行业门类没有“Z”", "rules.0.match"),
    ([{"factor": "scale", "match": "large", "points": "很多"}], SMALL_THRESHOLDS, "第1条规则的分值须为整数",
     "rules.0.points"),
    ([{"factor": "scale", "match": "large"}], SMALL_THRESHOLDS, "第1条规则的分值不能为空", "rules.0.points"),
    ([{"factor": "scale", "match": "large", "points": 1, "per_unit": 2}], SMALL_THRESHOLDS,
     "只有计数类因素(隐患、执法、事故)可设每项加分和封顶", "rules.0.per_unit"),
    ([{"factor": "employees_at_least", "points": 1}], SMALL_THRESHOLDS, "第1条规则须填写从业人数下限",
     "rules.0.match"),
    ([{"factor": "open_hazards", "match": "-1", "points": 1}], SMALL_THRESHOLDS, "匹配值须为正整数",
     "rules.0.match"),
    ([{"factor": "trait", "match": "dust", "points": 1, "floor_colour": "purple"}], SMALL_THRESHOLDS,
     "第1条规则的最低等级无效:purple", "rules.0.floor_colour"),
    ([{"factor": "trait", "match": "dust", "points": 1}, {"factor": "trait", "match": "dust", "points": 2}],
     SMALL_THRESHOLDS, "第2条规则与第1条重复", "rules.1.match"),
    (SMALL_RULES, {"red": 20, "orange": 40, "yellow": 10}, "分值下限须满足:红色 > 橙色 > 黄色", "thresholds"),
    (SMALL_RULES, {"red": 60, "orange": 40}, "黄色(一般风险)分值下限不能为空", "thresholds.yellow"),
])
def test_bad_rules_are_refused_in_chinese(world, rules, thresholds, message, key):
    with pytest.raises(InvalidInput, match=re.escape(message)) as info:
        services.publish_ruleset(world.admin, rules, thresholds)
    assert key in info.value.detail
    assert RuleSet.objects.count() == 1 and not Job.objects.filter(kind="risk.recompute").exists()


def test_publishing_the_same_rules_again_is_refused(world):
    v1 = services.active_ruleset()
    with pytest.raises(InvalidInput, match="规则和分值下限都没有变化"):
        services.publish_ruleset(world.admin, current_rules(), v1.thresholds)


def test_rule_change_job_recomputes_colours_with_progress_and_history_only_for_changed_sites(world):
    plain = make_site(world, world.villages["a1"], industry="52")
    ammonia = make_site(world, world.villages["b1"], industry="13", traits=["ammonia"])
    for s in (plain, ammonia):
        services.assess_site(None, s)
    ammonia.refresh_from_db()
    assert ammonia.risk_colour == "yellow"      # 10 + 25 = 35, and the floor
    rules = current_rules()
    for r in rules:
        if r["match"] == "ammonia":
            r["points"], r["floor_colour"] = 45, "orange"
    v2 = services.publish_ruleset(world.admin, rules, services.active_ruleset().thresholds)
    job = Job.objects.get(kind="risk.recompute")
    assert jobs.run_worker(worker_id="w-risk", once=True) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["sites"] == 2 and job.result["assessments"] == 1 and job.result["colour_changes"] == 1
    assert job.progress_done == job.progress_total == 2
    ammonia.refresh_from_db()
    plain.refresh_from_db()
    assert (ammonia.risk_colour, plain.risk_colour) == ("orange", "blue")   # 10 + 45 = 55 ≥ 50
    assert SiteRiskAssessment.objects.filter(site=plain).count() == 1
    latest = services.latest_assessment(ammonia)
    assert (latest.ruleset, latest.reason, latest.previous_colour) == (v2, Reason.RULE_CHANGE, "yellow")


def test_a_superseded_rule_set_job_does_nothing(world):
    services.publish_ruleset(world.admin, SMALL_RULES, SMALL_THRESHOLDS)
    rules = [dict(r) for r in SMALL_RULES]
    rules[0]["points"] = 11
    services.publish_ruleset(world.admin, rules, SMALL_THRESHOLDS)
    make_site(world, world.villages["a1"])
    assert jobs.run_worker(worker_id="w-risk", once=True) == 2
    first, second = Job.objects.filter(kind="risk.recompute").order_by("id")
    assert first.result["skipped"] is True
    assert second.result["sites"] == 1


def test_queue_recompute_after_a_bulk_change_regrades_with_its_reason(world):
    """What the registry does after a bulk import: one job, not one grading per row."""
    from yingji.registry.models import Industry, Site

    site = make_site(world, world.villages["a1"], industry="52")
    services.assess_site(None, site)
    Site.objects.filter(pk=site.pk).update(industry=Industry.objects.get(code="26"))   # as a bulk import would
    first = services.queue_recompute(world.admin, reason=Reason.SITE_CHANGE)
    second = services.queue_recompute(world.admin, reason=Reason.SITE_CHANGE)
    assert first.pk != second.pk
    assert jobs.run_worker(worker_id="w-risk", once=True) == 2
    latest = services.latest_assessment(site)
    assert (latest.score, latest.reason) == (30, Reason.SITE_CHANGE)
    assert SiteRiskAssessment.objects.filter(site=site).count() == 2   # the second job found nothing new
    with pytest.raises(InvalidInput, match="重算原因无效"):
        services.queue_recompute(world.admin, reason="whim")


# ---------------------------------------------------------------- pages

def test_rules_page_is_readable_by_every_signed_in_user_and_only_admins_see_the_editor(world, client):
    client.force_login(world.grid)
    page = client.get("/risk/rules/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "涉氨制冷" in html and "未整改重大隐患" in html and "≥ 80" in html
    assert 'data-testid="edit-rules"' not in html
    assert client.get("/risk/rules/edit/").status_code == 403
    client.force_login(world.admin)
    assert 'data-testid="edit-rules"' in client.get("/risk/rules/").content.decode()
    client.logout()
    assert client.get("/risk/rules/").status_code == 302


def _formset_post(rules, thresholds, extra_blank=1, note=""):
    data = {"rules-TOTAL_FORMS": str(len(rules) + extra_blank), "rules-INITIAL_FORMS": str(len(rules)),
            "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "500",
            "head-name": "风险分级规则", "head-red": thresholds["red"], "head-orange": thresholds["orange"],
            "head-yellow": thresholds["yellow"], "head-note": note}
    for i, r in enumerate(rules):
        for k in ("factor", "match", "points", "per_unit", "cap", "floor_colour", "label"):
            value = r.get(k)
            data[f"rules-{i}-{k}"] = "" if value is None else value
        if r.get("DELETE"):
            data[f"rules-{i}-DELETE"] = "on"
    return data


def test_admin_edits_rules_through_the_form(world, client):
    client.force_login(world.admin)
    form = client.get("/risk/rules/edit/")
    assert form.status_code == 200 and 'value="ammonia"' in form.content.decode()
    rules = current_rules()
    rules[0]["points"] = 31
    rules[1]["DELETE"] = True
    response = client.post("/risk/rules/edit/", _formset_post(rules, {"red": 80, "orange": 50, "yellow": 25},
                                                               note="表单修改"))
    assert response.status_code == 302
    v2 = services.active_ruleset()
    assert v2.version == 2 and v2.note == "表单修改"
    assert v2.rules.count() == 37 and v2.rules.get(match="B").points == 31
    assert not v2.rules.filter(factor="industry_section", match="C").exists()
    history = client.get("/risk/rules/history/").content.decode()
    assert "第2版" in history and "表单修改" in history and "删除:制造业" in history
    assert "修改:采矿业,分值 30 → 31" in history
    assert client.get(f"/risk/rules/v{1}/").status_code == 200
    assert client.get("/risk/rules/v99/").status_code == 404


def test_rule_form_shows_service_errors_in_chinese(world, client):
    client.force_login(world.admin)
    rules = current_rules()
    rules[2]["match"] = "ZZ"
    response = client.post("/risk/rules/edit/", _formset_post(rules, {"red": 80, "orange": 50, "yellow": 25}))
    assert response.status_code == 200
    assert "第3条规则的匹配值无效" in response.content.decode()
    response = client.post("/risk/rules/edit/", _formset_post(current_rules(), {"red": 10, "orange": 50,
                                                                                "yellow": 25}))
    assert "分值下限须满足:红色 &gt; 橙色 &gt; 黄色" in response.content.decode()
    assert services.active_ruleset().version == 1
    client.force_login(world.town_a)
    response = client.post("/risk/rules/edit/", _formset_post(current_rules(), {"red": 81, "orange": 50,
                                                                                "yellow": 25}))
    assert response.status_code == 403 and NO_RIGHT in response.content.decode()


def test_site_risk_page_explains_each_factor_and_shows_history(world, client):
    site = make_site(world, world.villages["a1"], industry="26", traits=["ammonia", "dust"], employees=150)
    services.assess_site(None, site)
    services.set_dynamic_factors(site, open_major_hazards=1, open_hazards=2)
    client.force_login(world.town_a)
    html = client.get(f"/risk/sites/{site.pk}/").content.decode()
    latest = services.latest_assessment(site)
    # 制造业 10 + 化学原料 20 + 涉氨 25 + 粉尘 25 + 100人以上 5 + 一般隐患 6 + 重大隐患 40 = 131
    assert latest.score == 131 and latest.colour == "red"
    why = html[html.index('data-testid="why"'):html.index('data-testid="dynamic"')]
    for label, value, points in [("制造业", "C 制造业", 10), ("化学原料和化学制品制造业", "26 化学原料和化学制品制造业", 20),
                                 ("涉氨制冷", "涉氨制冷", 25), ("粉尘涉爆", "粉尘涉爆", 25),
                                 ("从业人员100人以上", "150人", 5), ("未整改一般隐患(每项3分,最多15分)", "2项", 6),
                                 ("未整改重大隐患(30分,每项加10分,最多60分)", "1项", 40)]:
        assert re.search(rf"<td>{re.escape(label)}</td><td>{re.escape(value)}</td><td>{points}</td>", why), label
    assert "131" in why and "红 ≥ 80" in why
    history = html[html.index('data-testid="history"'):]
    assert "动态因素变化" in history and "首次评定" in history


def test_site_profile_panel_shows_colour_top_factors_and_link(world, rf):
    from django.template import Context, Template

    site = make_site(world, world.villages["a1"], industry="26", traits=["hazchem"])
    services.assess_site(None, site)
    request = rf.get("/")
    request.user = world.town_a
    html = Template("{% load risk_tags %}{% site_risk_panel site %}").render(Context({"site": site,
                                                                                     "request": request}))
    assert 'class="tag orange"' in html and "涉危险化学品 25分" in html and f'href="/risk/sites/{site.pk}/"' in html
    request.user = world.town_b
    html = Template("{% load risk_tags %}{% site_risk_panel site %}").render(Context({"site": site,
                                                                                     "request": request}))
    assert "风险未评定" in html and "涉危险化学品" not in html


def test_editor_can_reassess_a_site_from_its_page(world, client):
    site = make_site(world, world.villages["a1"], industry="26")
    client.force_login(world.town_a)
    response = client.post(f"/risk/sites/{site.pk}/assess/", follow=True)
    assert "重新评定完成" in response.content.decode()
    assert services.latest_assessment(site).score == 30
    client.force_login(world.leader)
    assert client.post(f"/risk/sites/{site.pk}/assess/").status_code == 403
    client.force_login(world.town_b)
    assert client.post(f"/risk/sites/{site.pk}/assess/").status_code == 404


# ---------------------------------------------------------------- API

def test_api_rules_and_publish(world, api_client):
    body = api_client.as_user(world.grid).get("/api/v1/risk/rules").json()
    assert body["version"] == 1 and body["thresholds"] == {"red": 80, "orange": 50, "yellow": 25}
    assert {"factor": "trait", "match": "ammonia", "points": 25, "per_unit": 0, "cap": None,
            "floor_colour": "yellow", "label": "涉氨制冷"} in body["rules"]
    payload = {"thresholds": SMALL_THRESHOLDS, "rules": SMALL_RULES, "note": "接口发布"}
    denied = api_client.as_user(world.town_a).post("/api/v1/risk/rules", payload)
    assert denied.status_code == 403 and denied.json()["message"] == NO_RIGHT
    created = api_client.as_user(world.admin).post("/api/v1/risk/rules", payload)
    assert created.status_code == 201, created.content
    out = created.json()
    assert out["version"] == 2 and out["note"] == "接口发布" and out["recompute_job_id"]
    assert len(out["rules"]) == len(SMALL_RULES)


@pytest.mark.parametrize("payload,message,key", [
    ({"thresholds": SMALL_THRESHOLDS, "rules": [{"factor": "trait", "match": "unicorn", "points": 1}]},
     "第1条规则的匹配值无效:风险特征没有“unicorn”", "rules.0.match"),
    ({"thresholds": {"red": 1, "orange": 2, "yellow": 3}, "rules": SMALL_RULES},
     "分值下限须满足:红色 > 橙色 > 黄色", "thresholds"),
    ({"thresholds": SMALL_THRESHOLDS, "rules": [{"factor": "trait", "match": "dust", "points": "十"}]},
     "第1条规则的分值须为整数", "rules.0.points"),
    ({"rules": SMALL_RULES}, "输入有误,请检查后重试", "thresholds"),
])
def test_api_bad_rules_answer_422_in_chinese(world, api_client, payload, message, key):
    response = api_client.as_user(world.admin).post("/api/v1/risk/rules", payload)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input" and body["message"] == message and key in body["detail"]


def test_api_site_risk_and_history(world, api_client):
    site = make_site(world, world.villages["a1"], industry="13", traits=["ammonia"])
    services.assess_site(None, site)
    services.set_dynamic_factors(site, accidents_12m=1)
    body = api_client.as_user(world.town_a).get(f"/api/v1/risk/sites/{site.pk}").json()
    assert body["colour"] == "orange" and body["score"] == 10 + 25 + 40
    assert body["thresholds"] == {"red": 80, "orange": 50, "yellow": 25}
    assert [(f["label"], f["points"]) for f in body["assessment"]["factors"]] == [
        ("制造业", 10), ("涉氨制冷", 25), ("近12个月发生生产安全事故(30分,每起加10分,最多50分)", 40)]
    assert body["dynamic"]["accidents_12m"] == 1
    history = api_client.get(f"/api/v1/risk/sites/{site.pk}/history", limit=1).json()
    assert [i["reason"] for i in history["items"]] == ["dynamic_update"] and history["next_cursor"]
    rest = api_client.get(f"/api/v1/risk/sites/{site.pk}/history", cursor=history["next_cursor"]).json()
    assert [(i["reason"], i["colour"]) for i in rest["items"]] == [("initial", "yellow")]
    assert rest["next_cursor"] is None
