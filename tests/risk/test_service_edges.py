"""Edges of the risk services: malformed rules and thresholds, limits on names and notes, a
publishing race, grading without an active rule set or of an archived site, the compiled-rule cache."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType

from yingji.core.errors import Conflict, Forbidden, InvalidInput
from yingji.core.models import AuditEntry, Job
from yingji.registry import services as registry_services
from yingji.registry.models import Site
from yingji.risk import services
from yingji.risk.models import RuleSet, SiteRiskAssessment, SiteRiskFactor

from .conftest import SMALL_RULES, SMALL_THRESHOLDS
from .factories import make_site


def nothing_published(v1) -> None:
    v1.refresh_from_db()
    assert v1.is_active and RuleSet.objects.count() == 1
    assert not AuditEntry.objects.filter(action="risk.publish_ruleset").exists()
    assert not Job.objects.filter(kind="risk.recompute").exists()


@pytest.mark.parametrize("actor", [None, AnonymousUser()])
def test_publishing_needs_a_logged_in_actor(world, actor):
    v1 = services.active_ruleset()
    with pytest.raises(Forbidden) as exc:
        services.publish_ruleset(actor, SMALL_RULES, SMALL_THRESHOLDS)
    assert exc.value.message == "请先登录"
    nothing_published(v1)


@pytest.mark.parametrize("rules, thresholds, message, key", [
    ([{"factor": "scale", "match": "large", "points": True}], SMALL_THRESHOLDS, "第1条规则的分值须为整数",
     "rules.0.points"),
    ([{"factor": "scale", "match": "large", "points": 1.5}], SMALL_THRESHOLDS, "第1条规则的分值须为整数",
     "rules.0.points"),
    ([{"factor": "scale", "match": "large", "points": 1001}], SMALL_THRESHOLDS,
     "第1条规则的分值须在-1000到1000之间", "rules.0.points"),
    ([{"factor": "open_hazards", "points": 1, "cap": -1001}], SMALL_THRESHOLDS,
     "第1条规则的封顶分值须在-1000到1000之间", "rules.0.cap"),
    (SMALL_RULES, [60, 40, 20], "请填写红、橙、黄三级的分值下限", "thresholds"),
    (SMALL_RULES, None, "请填写红、橙、黄三级的分值下限", "thresholds"),
    (SMALL_RULES, {"red": 60, "orange": 40, "yellow": 0}, "黄色(一般风险)分值下限须在1到100000之间",
     "thresholds.yellow"),
    (["trait=dust"], SMALL_THRESHOLDS, "第1条规则格式不正确", "rules.0"),
    ([{"factor": "trait", "match": "dust", "points": 1}, {"factor": "trait", "match": "hot_work", "points": 1,
                                                        "weight": 2, "colour": "red"}],
     SMALL_THRESHOLDS, "第2条规则含未知字段:colour, weight", "rules.1"),
    ([{"factor": "trait", "match": "dust", "points": 1, "label": "粉" * 65}], SMALL_THRESHOLDS,
     "第1条规则的说明不能超过64个字", "rules.0.label"),
    ([{"factor": "trait", "match": "dust", "points": i} for i in range(501)], SMALL_THRESHOLDS,
     "规则不能超过500条", "rules"),
    ("trait=dust", SMALL_THRESHOLDS, "规则集至少要有一条规则", "rules"),
])
def test_malformed_rules_and_thresholds_are_refused_in_chinese(world, rules, thresholds, message, key):
    v1 = services.active_ruleset()
    with pytest.raises(InvalidInput) as exc:
        services.publish_ruleset(world.admin, rules, thresholds)
    assert exc.value.message == message or re.search(re.escape(message), exc.value.message)
    assert key in exc.value.detail
    nothing_published(v1)


def test_whole_number_points_given_as_text_or_float_are_accepted(world):
    rules = [{"factor": "trait", "match": "dust", "points": "+15"},
             {"factor": "trait", "match": "hot_work", "points": 10.0},
             {"factor": "open_hazards", "points": " 7 ", "per_unit": "2", "cap": "20"}]
    ruleset = services.publish_ruleset(world.admin, rules, {"red": "60", "orange": 40.0, "yellow": 20},
                                       recompute=False)
    assert [(r.match, r.points) for r in ruleset.rules.order_by("sort")] == [("dust", 15), ("hot_work", 10),
                                                                              ("", 7)]
    assert ruleset.thresholds == {"red": 60, "orange": 40, "yellow": 20}


@pytest.mark.parametrize("kwargs, message, key", [
    ({"name": "规" * 65}, "名称不能超过64个字", "name"),
    ({"note": "改" * 501}, "修订说明不能超过500个字", "note"),
])
def test_name_and_note_are_limited(world, kwargs, message, key):
    v1 = services.active_ruleset()
    with pytest.raises(InvalidInput) as exc:
        services.publish_ruleset(world.admin, SMALL_RULES, SMALL_THRESHOLDS, **kwargs)
    assert exc.value.message == message
    assert exc.value.detail == {key: message}
    nothing_published(v1)


def test_publishing_race_on_the_version_number_is_a_conflict(world, monkeypatch):
    v1 = services.active_ruleset()

    class StaleAggregate:
        """The version count read "before the other administrator's version committed"."""

        def __init__(self, manager):
            self.manager = manager

        def __getattr__(self, name):
            return getattr(self.manager, name)

        def aggregate(self, **kwargs):
            return {"m": 0}

    monkeypatch.setattr(RuleSet, "objects", StaleAggregate(RuleSet.objects))
    with pytest.raises(Conflict) as exc:
        services.publish_ruleset(world.admin, SMALL_RULES, SMALL_THRESHOLDS)
    monkeypatch.undo()
    assert exc.value.message == "规则已被他人同时修改,请刷新后重试"
    nothing_published(v1)
    assert v1.rules.count() > 0 and RuleSet.objects.get(pk=v1.pk).is_active


# ---------------------------------------------------------------- grading without rules / archived sites

def test_without_an_active_rule_set_nothing_is_graded_or_queued(world):
    RuleSet.objects.update(is_active=False)
    assert services.queue_recompute(world.admin) is None
    assert not Job.objects.exists()
    site = make_site(world, world.villages["a1"])  # the registry's own regrade does nothing
    assert Site.objects.get(pk=site.pk).risk_colour in ("", None)
    assert services.assess_site(world.admin, site) is None
    assert not SiteRiskAssessment.objects.filter(site=site).exists()
    assert services.set_dynamic_factors(site, open_hazards=2) is None
    assert SiteRiskFactor.objects.get(site=site).open_hazards == 2  # the count is kept for later


def test_queue_recompute_without_an_area_tree_does_nothing(db):
    assert services.root_area() is None
    assert services.queue_recompute(None, services.active_ruleset()) is None
    assert not Job.objects.exists()


def test_an_archived_site_is_not_regraded(world):
    site = make_site(world, world.villages["a1"], traits=["dust"])
    before = SiteRiskAssessment.objects.filter(site=site).count()
    assert before == 1
    registry_services.archive_site(world.admin, site, reason="已注销")
    assert services.assess_site(world.admin, site) is None
    assert services.set_dynamic_factors(site, open_major_hazards=3) is None
    assert SiteRiskAssessment.objects.filter(site=site).count() == before
    ct = ContentType.objects.get_for_model(Site)
    assert AuditEntry.objects.filter(content_type=ct, object_id=site.pk, action="risk.assess").count() == 1


def test_compiled_rules_cache_stays_small(world, monkeypatch):
    stale = {(-i, 1): object() for i in range(17)}
    monkeypatch.setattr(services, "_COMPILED", stale)
    site = make_site(world, world.villages["a1"])
    assert services.assess_site(world.admin, site) is not None
    ruleset = services.active_ruleset()
    assert list(services._COMPILED) == [(ruleset.pk, ruleset.version)]  # the old entries were dropped
