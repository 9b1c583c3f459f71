"""The grading engine: factor arithmetic, thresholds, floors, dynamic factors, bulk recompute."""
from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from yingji.core.errors import InvalidInput
from yingji.core.models import AuditEntry
from yingji.registry.models import Site
from yingji.risk import engine, services
from yingji.risk.engine import CompiledRule, CompiledRuleSet, SiteFacts
from yingji.risk.models import Reason, RuleSet, SiteRiskAssessment, SiteRiskFactor

from .factories import make_site


def rs(*rules, red=60, orange=40, yellow=20):
    return CompiledRuleSet(id=None, version=None, red_at=red, orange_at=orange, yellow_at=yellow, rules=[
        CompiledRule(r[0], r[1], r[2], r[3] if len(r) > 3 else 0, r[4] if len(r) > 4 else None,
                     r[5] if len(r) > 5 else "", r[6] if len(r) > 6 else f"{r[0]}:{r[1]}") for r in rules])


CHEM = SiteFacts(kind="enterprise", scale="medium", employees=150, industry_code="26", industry_section="C",
                 traits=frozenset({"dust", "hot_work"}))


# ---------------------------------------------------------------- pure arithmetic

def test_inherent_factors_add_up_and_only_matching_rules_fire():
    rules = rs(("industry_section", "C", 10), ("industry_section", "B", 30), ("industry_division", "26", 20),
               ("industry_division", "17", 7), ("trait", "dust", 15), ("trait", "ammonia", 25),
               ("site_kind", "enterprise", 1), ("site_kind", "construction", 9), ("scale", "medium", 3),
               ("scale", "large", 8), ("employees_at_least", "100", 5), ("employees_at_least", "300", 5))
    score, colour, factors = engine.assess(CHEM, rules, {})
    assert score == 10 + 20 + 15 + 1 + 3 + 5 == 54
    assert colour == "orange"
    assert [(f["factor"], f["value"], f["points"]) for f in factors] == [
        ("industry_section", "C", 10), ("industry_division", "26", 20), ("trait", "dust", 15),
        ("site_kind", "enterprise", 1), ("scale", "medium", 3), ("employees_at_least", 150, 5)]


@pytest.mark.parametrize("points,colour", [(19, "blue"), (20, "yellow"), (39, "yellow"), (40, "orange"),
                                           (59, "orange"), (60, "red"), (500, "red"), (-5, "blue")])
def test_thresholds_are_lower_bounds(points, colour):
    rules = rs(("site_kind", "enterprise", points))
    assert engine.assess(CHEM, rules, {})[:2] == (points, colour)


def test_counting_factors_use_points_per_unit_cap_and_minimum_count():
    rules = rs(("open_hazards", "", 0, 4, 12), ("open_major_hazards", "", 20, 5, 40),
               ("accidents_12m", "2", 10, 0, None), yellow=1000, orange=2000, red=3000)
    assert engine.assess(CHEM, rules, {})[0] == 0
    score, _c, factors = engine.assess(CHEM, rules, {"open_hazards": 2})
    assert score == 8 and factors[0]["value"] == 2
    assert engine.assess(CHEM, rules, {"open_hazards": 10})[0] == 12          # capped
    assert engine.assess(CHEM, rules, {"open_major_hazards": 1})[0] == 25     # 20 + 5 × 1
    assert engine.assess(CHEM, rules, {"open_major_hazards": 9})[0] == 40     # capped
    assert engine.assess(CHEM, rules, {"accidents_12m": 1})[0] == 0           # needs at least 2
    assert engine.assess(CHEM, rules, {"accidents_12m": 2})[0] == 10


def test_floor_colour_lifts_but_never_lowers():
    rules = rs(("trait", "ammonia", 5, 0, None, "yellow"), ("open_major_hazards", "", 1, 0, None, "orange"),
               ("trait", "dust", 100))
    ammonia = SiteFacts(traits=frozenset({"ammonia"}))
    assert engine.assess(ammonia, rules, {})[:2] == (5, "yellow")
    assert engine.assess(ammonia, rules, {"open_major_hazards": 1})[:2] == (6, "orange")   # highest floor wins
    both = SiteFacts(traits=frozenset({"ammonia", "dust"}))
    assert engine.assess(both, rules, {})[:2] == (105, "red")                             # floor below score


def test_site_without_industry_or_head_count_matches_no_such_rules():
    rules = rs(("industry_section", "C", 10), ("industry_division", "26", 20), ("employees_at_least", "1", 5),
               ("scale", "large", 5))
    assert engine.assess(SiteFacts(), rules, {}) == (0, "blue", [])


# ---------------------------------------------------------------- with the database

def test_default_rule_set_is_seeded_and_active(world):
    active = services.active_ruleset()
    assert active is not None and active.version == 1
    assert active.rules.filter(factor="open_major_hazards", floor_colour="orange").exists()
    assert active.rules.filter(factor="trait", match="ammonia", floor_colour="yellow").exists()


def test_assess_site_grades_from_the_site_and_writes_history_only_on_change(world, small_rules):
    site = make_site(world, world.villages["a1"], industry="26", traits=["dust"], employees=120)
    first = services.assess_site(world.admin, site)
    assert (first.score, first.colour, first.reason) == (10 + 20 + 15 + 5, "orange", Reason.INITIAL)
    assert first.ruleset == small_rules
    site.refresh_from_db()
    assert site.risk_colour == "orange"
    again = services.assess_site(world.admin, site)
    assert again.pk == first.pk
    assert SiteRiskAssessment.objects.filter(site=site).count() == 1
    from yingji.registry.services import update_site

    update_site(world.admin, site, traits=[])
    second = services.assess_site(world.admin, site)
    assert (second.score, second.colour, second.previous_colour, second.reason) == (35, "yellow", "orange",
                                                                                    Reason.SITE_CHANGE)
    ct = ContentType.objects.get_for_model(Site)
    entries = AuditEntry.objects.filter(content_type=ct, object_id=site.pk, action="risk.assess").order_by("id")
    assert [e.changes["risk_colour"] for e in entries] == [[None, "orange"], ["orange", "yellow"]]


def test_one_open_major_hazard_makes_a_low_risk_site_orange(world):
    """Under the default rules: a small shop is blue; one open major hazard lifts it to orange."""
    site = make_site(world, world.grids["b1g1"], kind="small_place", credit_code="", industry="52")
    assert services.assess_site(None, site).colour == "blue"
    after = services.set_dynamic_factors(site, open_major_hazards=1)
    assert after.colour == "orange" and after.reason == Reason.DYNAMIC_UPDATE
    assert {"factor": "open_major_hazards", "value": 1, "points": 40}.items() <= {
        k: v for f in after.factors if f["factor"] == "open_major_hazards" for k, v in f.items()}.items()
    site.refresh_from_db()
    assert site.risk_colour == "orange"
    closed = services.set_dynamic_factors(site, open_major_hazards=0)
    assert closed.colour == "blue" and closed.previous_colour == "orange"


def test_set_dynamic_factors_keeps_other_counts_validates_and_audits(world, small_rules):
    site = make_site(world, world.villages["a2"])
    services.set_dynamic_factors(site, open_hazards=2, open_major_hazards=1)
    services.set_dynamic_factors(site, open_hazards=5)
    row = SiteRiskFactor.objects.get(site=site)
    assert (row.open_hazards, row.open_major_hazards) == (5, 1)
    latest = services.latest_assessment(site)
    assert latest.score == 12 + 25 and latest.colour == "orange"   # capped hazards + major hazard, floor orange
    ct = ContentType.objects.get_for_model(Site)
    audits = AuditEntry.objects.filter(content_type=ct, object_id=site.pk, action="risk.dynamic_factors")
    assert audits.count() == 2
    assert audits.order_by("id").last().changes == {"open_hazards": [2, 5]}
    # the same totals again: nothing written
    count = SiteRiskAssessment.objects.filter(site=site).count()
    services.set_dynamic_factors(site, open_hazards=5)
    assert audits.count() == 2 and SiteRiskAssessment.objects.filter(site=site).count() == count
    with pytest.raises(InvalidInput, match="未知的动态风险因素:hazards"):
        services.set_dynamic_factors(site, hazards=1)
    with pytest.raises(InvalidInput, match="未整改隐患数须在0到1000000之间"):
        services.set_dynamic_factors(site, open_hazards=-1)
    with pytest.raises(InvalidInput, match="须为整数"):
        services.set_dynamic_factors(site, accidents_12m="两起")
    assert SiteRiskFactor.objects.get(site=site).open_hazards == 5


def test_assess_site_checks_the_actor_can_see_the_site(world):
    from yingji.core.errors import NotFound

    site = make_site(world, world.villages["a1"])
    with pytest.raises(NotFound):
        services.assess_site(world.town_b, site)


def test_recompute_all_updates_colours_and_writes_history_only_for_changed_sites(world):
    low = make_site(world, world.villages["a1"], industry="52")
    chem = make_site(world, world.villages["a1"], industry="26", traits=["hazchem"])
    archived = make_site(world, world.villages["a2"], industry="26")
    from yingji.registry.services import archive_site

    archive_site(world.admin, archived)
    v1 = services.active_ruleset()
    # Sites are graded when they are registered (registry services call assess_site).
    low.refresh_from_db()
    chem.refresh_from_db()
    assert (low.risk_colour, chem.risk_colour) == ("blue", "orange")   # chem: 10 + 20 + 25 = 55
    graded_before_archiving = SiteRiskAssessment.objects.filter(site=archived).count()
    # Nothing changed since: a recompute visits the live sites only and writes nothing new.
    result = services.recompute_all(v1, batch=1)
    assert result["sites"] == 2 and result["assessments"] == 0   # archived sites are not graded
    assert SiteRiskAssessment.objects.filter(site=archived).count() == graded_before_archiving
    # A rule change that only concerns hazardous chemicals touches only the chemical plant.
    rules = [services.rule_dict(r) for r in v1.rules.all()]
    for r in rules:
        if r["factor"] == "trait" and r["match"] == "hazchem":
            r["points"] = 60
    v2 = services.publish_ruleset(world.admin, rules, v1.thresholds, recompute=False)
    result = services.recompute_all(v2, batch=1000)
    assert (result["sites"], result["assessments"], result["colour_changes"]) == (2, 1, 1)
    chem.refresh_from_db()
    assert chem.risk_colour == "red"
    latest = services.latest_assessment(chem)
    assert (latest.ruleset, latest.reason, latest.previous_colour) == (v2, Reason.RULE_CHANGE, "orange")
    assert SiteRiskAssessment.objects.filter(site=low).count() == 1
    # one audit entry per chunk on the rule set
    ct = ContentType.objects.get_for_model(RuleSet)
    assert AuditEntry.objects.filter(content_type=ct, object_id=v2.pk, action="risk.recompute").count() == 1


def test_assessments_are_never_deleted(world):
    from yingji.core.scoping import HardDeleteForbidden

    site = make_site(world, world.villages["a1"])
    a = services.assess_site(None, site)
    with pytest.raises(HardDeleteForbidden):
        a.delete()
    with pytest.raises(HardDeleteForbidden):
        SiteRiskAssessment.objects.filter(pk=a.pk).delete()
    with pytest.raises(HardDeleteForbidden):
        services.active_ruleset().delete()
