"""Write services of risk grading.

* :func:`publish_ruleset` — an administrator (``manage_reference``) publishes a new rule-set
  version; audited with the diff against the previous version; queues the ``risk.recompute`` job.
* :func:`assess_site` — grade one site now under the active rule set. **The registry calls it
  after creating or updating a site** (inside its own service, so both commit together):
  ``from yingji.risk.services import assess_site; assess_site(actor, site)``. No signals.
* :func:`set_dynamic_factors` — the interface for the hazards, enforcement and accidents modules:
  ``set_dynamic_factors(site, open_hazards=3, open_major_hazards=1)`` stores the given counts
  (others unchanged) and regrades the site at once. System write, audited.

Each write runs in one transaction with its audit entry (``@audit.service``). A call that would
change nothing writes nothing (and so needs no audit entry).
"""
from __future__ import annotations

import time

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import audit, roles
from yingji.core.audit import service
from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.models import Area
from yingji.core.services import can

from . import engine
from .models import (COLOUR_RANK, DYNAMIC_FIELDS, Colour, Factor, Reason, Rule, RuleSet, SiteRiskAssessment,
                     SiteRiskFactor)

POINTS_MIN, POINTS_MAX = -1000, 1000
MAX_RULES = 500
RECOMPUTE_JOB = "risk.recompute"
RULE_FIELDS = ("factor", "match", "points", "per_unit", "cap", "floor_colour", "label")


# ---------------------------------------------------------------- reads used by services and pages

def active_ruleset() -> RuleSet | None:
    return RuleSet.objects.filter(is_active=True).first()


def root_area() -> Area | None:
    return Area.objects.filter(parent__isnull=True, archived_at__isnull=True).order_by("code").first()


def can_manage_rules(user) -> bool:
    root = root_area()
    return root is not None and can(user, roles.MANAGE_REFERENCE, root)


def latest_assessment(site) -> SiteRiskAssessment | None:
    """The site's latest assessment (no scope check: callers have checked the site)."""
    return SiteRiskAssessment.objects.filter(site_id=site.pk).order_by("-id").first()


def rule_dict(rule: Rule) -> dict:
    return {"factor": rule.factor, "match": rule.match, "points": rule.points, "per_unit": rule.per_unit,
            "cap": rule.cap, "floor_colour": rule.floor_colour, "label": rule.label}


# ---------------------------------------------------------------- validation

def _int_field(value, where: str, label: str, required: bool, lo=POINTS_MIN, hi=POINTS_MAX):
    if value in (None, ""):
        if required:
            raise InvalidInput(_("%(label)s不能为空") % {"label": label}, detail={where: _("不能为空")})
        return None
    if isinstance(value, bool):
        value = None
    try:
        n = int(value)
        if str(value).strip() not in (str(n), f"+{n}") and float(value) != n:
            raise ValueError
    except (TypeError, ValueError):
        raise InvalidInput(_("%(label)s须为整数") % {"label": label}, detail={where: _("须为整数")}) from None
    if n < lo or n > hi:
        message = _("%(label)s须在%(lo)d到%(hi)d之间") % {"label": label, "lo": lo, "hi": hi}
        raise InvalidInput(message, detail={where: message})
    return n


def _clean_thresholds(thresholds) -> dict:
    if not isinstance(thresholds, dict):
        raise InvalidInput(_("请填写红、橙、黄三级的分值下限"), detail={"thresholds": _("不能为空")})
    labels = {"red": _("红色(重大风险)分值下限"), "orange": _("橙色(较大风险)分值下限"),
              "yellow": _("黄色(一般风险)分值下限")}
    out = {k: _int_field(thresholds.get(k), f"thresholds.{k}", labels[k], True, 1, 100_000) for k in labels}
    if not out["red"] > out["orange"] > out["yellow"]:
        message = _("分值下限须满足:红色 > 橙色 > 黄色")
        raise InvalidInput(message, detail={"thresholds": message})
    return out


def _valid_matches(factor: str):
    from yingji.registry.models import Industry, IndustryLevel, RiskTrait, SiteKind, SiteScale

    if factor == Factor.INDUSTRY_SECTION:
        return set(Industry.objects.filter(level=IndustryLevel.SECTION).values_list("code", flat=True))
    if factor == Factor.INDUSTRY_DIVISION:
        return set(Industry.objects.filter(level=IndustryLevel.DIVISION).values_list("code", flat=True))
    if factor == Factor.TRAIT:
        return set(RiskTrait.objects.filter(archived_at__isnull=True).values_list("code", flat=True))
    if factor == Factor.SITE_KIND:
        return set(SiteKind.values)
    if factor == Factor.SCALE:
        return set(SiteScale.values)
    return None


def match_label(factor: str, match: str) -> str:
    """A readable name of a match value (行业门类 C → 制造业)."""
    from yingji.registry.models import Industry, RiskTrait, SiteKind, SiteScale

    if factor in (Factor.INDUSTRY_SECTION, Factor.INDUSTRY_DIVISION):
        ind = Industry.objects.filter(code=match).first()
        return f"{match} {ind.name}" if ind else match
    if factor == Factor.TRAIT:
        trait = RiskTrait.objects.filter(code=match).first()
        return trait.name if trait else match
    if factor == Factor.SITE_KIND and match in SiteKind.values:
        return str(SiteKind(match).label)
    if factor == Factor.SCALE and match in SiteScale.values:
        return str(SiteScale(match).label)
    return match


def _clean_rule(i: int, raw, choices_cache: dict) -> dict:
    where = f"rules.{i}"
    row = i + 1
    if not isinstance(raw, dict):
        raise InvalidInput(_("第%(n)d条规则格式不正确") % {"n": row}, detail={where: _("格式不正确")})
    unknown = set(raw) - set(RULE_FIELDS) - {"id", "sort"}
    if unknown:
        raise InvalidInput(_("第%(n)d条规则含未知字段:%(f)s") % {"n": row, "f": ", ".join(sorted(unknown))},
                           detail={where: _("未知字段")})
    factor = str(raw.get("factor") or "").strip()
    if factor not in Factor.values:
        message = _("第%(n)d条规则的因素无效:%(v)s") % {"n": row, "v": factor or "—"}
        raise InvalidInput(message, detail={f"{where}.factor": _("因素无效")})
    match = str(raw.get("match") if raw.get("match") is not None else "").strip()
    dynamic = factor in DYNAMIC_FIELDS
    if factor == Factor.EMPLOYEES_AT_LEAST or dynamic:
        if factor == Factor.EMPLOYEES_AT_LEAST and not match:
            message = _("第%(n)d条规则须填写从业人数下限") % {"n": row}
            raise InvalidInput(message, detail={f"{where}.match": message})
        if match:
            if not match.isdigit() or int(match) < 1 or int(match) > 1_000_000:
                message = _("第%(n)d条规则的匹配值须为正整数(人数或最少项数)") % {"n": row}
                raise InvalidInput(message, detail={f"{where}.match": message})
            match = str(int(match))
    else:
        if factor == Factor.INDUSTRY_SECTION:
            match = match.upper()
        elif factor == Factor.INDUSTRY_DIVISION and match.isdigit():
            match = match.zfill(2)
        if factor not in choices_cache:
            choices_cache[factor] = _valid_matches(factor)
        if match not in choices_cache[factor]:
            message = _("第%(n)d条规则的匹配值无效:%(factor)s没有“%(v)s”") % {
                "n": row, "factor": Factor(factor).label, "v": match or "—"}
            raise InvalidInput(message, detail={f"{where}.match": message})
    points = _int_field(raw.get("points"), f"{where}.points", _("第%(n)d条规则的分值") % {"n": row}, True)
    per_unit = _int_field(raw.get("per_unit"), f"{where}.per_unit", _("第%(n)d条规则的每项加分") % {"n": row},
                          False) or 0
    cap = _int_field(raw.get("cap"), f"{where}.cap", _("第%(n)d条规则的封顶分值") % {"n": row}, False)
    if not dynamic and (per_unit or cap is not None):
        message = _("第%(n)d条规则:只有计数类因素(隐患、执法、事故)可设每项加分和封顶") % {"n": row}
        raise InvalidInput(message, detail={f"{where}.per_unit": message})
    floor = str(raw.get("floor_colour") or "").strip()
    if floor and floor not in Colour.values:
        message = _("第%(n)d条规则的最低等级无效:%(v)s") % {"n": row, "v": floor}
        raise InvalidInput(message, detail={f"{where}.floor_colour": message})
    label = str(raw.get("label") or "").strip()
    if not label:
        label = f"{Factor(factor).label}:{match_label(factor, match)}" if match else str(Factor(factor).label)
    if len(label) > 64:
        message = _("第%(n)d条规则的说明不能超过64个字") % {"n": row}
        raise InvalidInput(message, detail={f"{where}.label": message})
    return {"factor": factor, "match": match, "points": points, "per_unit": per_unit, "cap": cap,
            "floor_colour": floor, "label": label[:64]}


def clean_rules(rules) -> list[dict]:
    if not isinstance(rules, (list, tuple)) or not rules:
        raise InvalidInput(_("规则集至少要有一条规则"), detail={"rules": _("不能为空")})
    if len(rules) > MAX_RULES:
        raise InvalidInput(_("规则不能超过%(n)d条") % {"n": MAX_RULES}, detail={"rules": _("规则过多")})
    cache: dict = {}
    out, seen = [], {}
    for i, raw in enumerate(rules):
        rule = _clean_rule(i, raw, cache)
        key = (rule["factor"], rule["match"])
        if key in seen:
            message = _("第%(n)d条规则与第%(m)d条重复(因素和匹配值相同)") % {"n": i + 1, "m": seen[key] + 1}
            raise InvalidInput(message, detail={f"rules.{i}.match": message})
        seen[key] = i
        out.append(rule)
    return out


def rules_diff(old_rules: list[dict], new_rules: list[dict], old_thresholds: dict, new_thresholds: dict) -> dict:
    """``{"added": [...], "removed": [...], "changed": [{"rule", "fields": {f: [old, new]}}], "thresholds"}``."""
    old = {(r["factor"], r["match"]): r for r in old_rules}
    new = {(r["factor"], r["match"]): r for r in new_rules}
    changed = []
    for key in new:
        if key in old:
            fields = audit.diff({k: old[key][k] for k in RULE_FIELDS}, {k: new[key][k] for k in RULE_FIELDS})
            if fields:
                changed.append({"rule": new[key]["label"], "factor": key[0], "match": key[1], "fields": fields})
    return {
        "added": [new[k] for k in new if k not in old],
        "removed": [old[k] for k in old if k not in new],
        "changed": changed,
        "thresholds": audit.diff(old_thresholds or {}, new_thresholds),
    }


# ---------------------------------------------------------------- publishing

@service("risk.publish_ruleset")
def publish_ruleset(actor, rules, thresholds, *, name: str = "", note: str = "", recompute: bool = True) -> RuleSet:
    """Publish ``rules`` (list of dicts with ``factor, match, points, per_unit, cap, floor_colour,
    label``) and ``thresholds`` (``{"red", "orange", "yellow"}`` score lower bounds) as the next
    rule-set version; the previous version is kept, inactive. Queues the recompute job."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_("请先登录"))
    if not can_manage_rules(actor):
        raise Forbidden(_("只有具备基础数据管理权限的管理员才能修改风险分级规则"))
    cleaned = clean_rules(rules)
    limits = _clean_thresholds(thresholds)
    name = (name or "").strip()
    note = (note or "").strip()
    if len(name) > 64:
        raise InvalidInput(_("名称不能超过64个字"), detail={"name": _("名称不能超过64个字")})
    if len(note) > 500:
        raise InvalidInput(_("修订说明不能超过500个字"), detail={"note": _("修订说明不能超过500个字")})
    previous = RuleSet.objects.select_for_update().filter(is_active=True).first()
    old_rules = [rule_dict(r) for r in previous.rules.order_by("sort", "id")] if previous else []
    changes = rules_diff(old_rules, cleaned, previous.thresholds if previous else {}, limits)
    if previous is not None and not any(changes.values()):
        raise InvalidInput(_("规则和分值下限都没有变化,无需发布新版本"))
    version = (RuleSet.objects.aggregate(m=Max("version"))["m"] or 0) + 1
    try:
        with transaction.atomic():
            if previous is not None:
                RuleSet.objects.filter(pk=previous.pk).update(is_active=False)
            ruleset = RuleSet.objects.create(
                name=name or (previous.name if previous else _("风险分级规则")), version=version, is_active=True,
                red_at=limits["red"], orange_at=limits["orange"], yellow_at=limits["yellow"], note=note,
                changes=changes, published_at=timezone.now(), published_by=actor)
            Rule.objects.bulk_create([Rule(ruleset=ruleset, sort=i, **r) for i, r in enumerate(cleaned)])
    except IntegrityError:
        raise Conflict(_("规则已被他人同时修改,请刷新后重试")) from None
    audit.record("risk.publish_ruleset", ruleset, changes,
                 note=_("发布第%(v)d版%(prev)s") % {
                     "v": version, "prev": _(",取代第%(p)d版") % {"p": previous.version} if previous else ""},
                 actor=actor)
    if recompute:
        queue_recompute(actor, ruleset, idempotency_key=f"{RECOMPUTE_JOB}:{ruleset.pk}")
    return ruleset


def queue_recompute(actor, ruleset: RuleSet | None = None, *, reason: str = Reason.RULE_CHANGE,
                    idempotency_key: str | None = None):
    """Queue the ``risk.recompute`` job (regrade every live site under ``ruleset``, default the
    active one). Publishing queues one per version; the registry should call it after a bulk
    import (``queue_recompute(actor, reason=Reason.SITE_CHANGE)``) instead of grading row by row."""
    from yingji.core import jobs

    ruleset = ruleset or active_ruleset()
    root = root_area()
    if root is None or ruleset is None:
        return None
    if reason not in Reason.values:
        raise InvalidInput(_("重算原因无效"))
    return jobs.enqueue(actor, RECOMPUTE_JOB, area=root, params={"ruleset": ruleset.pk, "reason": reason},
                        idempotency_key=idempotency_key)


@service("risk.recompute")
def record_recompute_chunk(ruleset: RuleSet, compiled, rows, reason: str, actor=None, id_range=None) -> dict:
    """Grade one chunk of sites (see :func:`engine.recompute_all`) and audit it: one entry per
    chunk on the rule set, with the counts (each changed site also gets its assessment row)."""
    counts = engine.grade_chunk(compiled, rows, reason, actor, id_range)
    audit.record("risk.recompute", ruleset, {"sites": [None, counts["sites"]],
                                             "assessments": [None, counts["assessments"]],
                                             "colour_changes": [None, counts["colour_changes"]]},
                 note=_("按第%(v)d版规则重算:%(first)d–%(last)d号对象") % {
                     "v": ruleset.version, "first": rows[0][0], "last": rows[-1][0]}, actor=actor)
    return counts


def recompute_all(ruleset: RuleSet, batch: int = 5000, progress=None, reason: str = Reason.RULE_CHANGE,
                  actor=None) -> dict:
    """Grade every live site under ``ruleset``; returns counts and the elapsed seconds.

    ``progress(done, total, message)`` is called after each chunk (a job's progress reporter)."""
    from yingji.registry.models import Site

    rs = engine.compile_ruleset(ruleset)
    live = Site.objects.filter(archived_at__isnull=True)
    total = live.count() if progress is not None else 0
    started = time.monotonic()
    totals = {"sites": 0, "assessments": 0, "colour_changes": 0}
    last_id = 0
    while True:
        rows = list(live.filter(id__gt=last_id).order_by("id").values_list(*engine.SITE_VALUES)[:batch])
        if not rows:
            break
        id_range = (last_id, rows[-1][0])
        last_id = rows[-1][0]
        counts = record_recompute_chunk(ruleset, rs, rows, reason, actor, id_range)
        for k in totals:
            totals[k] += counts[k]
        if progress is not None:
            progress(totals["sites"], max(total, totals["sites"]),
                     _("已评定%(n)d个对象,其中%(c)d个等级变化") % {
                         "n": totals["sites"], "c": totals["colour_changes"]})
    totals["seconds"] = round(time.monotonic() - started, 2)
    totals["ruleset"] = ruleset.pk
    totals["version"] = ruleset.version
    return totals


# ---------------------------------------------------------------- one site

def _dynamic_of(site) -> dict:
    row = SiteRiskFactor.objects.filter(site_id=site.pk).first()
    return row.counts() if row else {}


_COMPILED: dict = {}


def _compiled(ruleset: RuleSet):
    """The compiled rules of ``ruleset``, kept per process: a published version's rules never
    change (a change is a new version), so the cache needs no invalidation."""
    key = (ruleset.pk, ruleset.version)
    compiled = _COMPILED.get(key)
    if compiled is None:
        if len(_COMPILED) > 16:
            _COMPILED.clear()
        compiled = _COMPILED[key] = engine.compile_ruleset(ruleset)
    return compiled


def assess_site(actor, site, reason: str = Reason.SITE_CHANGE) -> SiteRiskAssessment | None:
    """Grade ``site`` under the active rule set; store a new assessment and the site's colour when
    the result changed. Returns the latest assessment (None: no active rule set or site archived).

    Call it after every create/update of a site (``actor`` = the user who changed it, ``None`` =
    the system); it joins the caller's transaction."""
    from yingji.registry.models import Site

    if actor is not None and not Site.objects.visible_to(actor).filter(pk=site.pk).exists():
        raise NotFound()
    site = Site.objects.select_related("industry").filter(pk=site.pk).first()
    return _grade(actor, site, reason, _dynamic_of(site) if site is not None else {})


def _grade(actor, site, reason: str, dynamic: dict, old_colour=None) -> SiteRiskAssessment | None:
    """Grade ``site`` (loaded with its industry) with ``dynamic`` counts; ``old_colour``: the
    colour stored on the site row when the caller holds its lock (None: read it)."""
    ruleset = active_ruleset()
    if ruleset is None or site is None or site.archived_at is not None:
        return None
    score, colour, factors = engine.assess(site, _compiled(ruleset), dynamic)
    last = latest_assessment(site)
    if last is not None and site.risk_colour == colour and last.digest == engine.digest(score, colour, factors):
        return last
    return _record_assessment(actor, site, ruleset, score, colour, factors, reason, last, old_colour=old_colour)


@service("risk.assess_site")
def _record_assessment(actor, site, ruleset, score, colour, factors, reason, last,
                       old_colour=None) -> SiteRiskAssessment:
    from yingji.registry.models import Site

    if old_colour is None:
        old_colour = Site.objects.filter(pk=site.pk).values_list("risk_colour", flat=True).first()
    assessment = last
    fingerprint = engine.digest(score, colour, factors)
    if last is None or last.digest != fingerprint:
        assessment = SiteRiskAssessment.objects.create(
            site=site, ruleset=ruleset, score=score, colour=colour, digest=fingerprint,
            previous_colour=old_colour or "",
            factors=factors, reason=reason if last is not None else Reason.INITIAL, computed_at=timezone.now(),
            computed_by=actor if getattr(actor, "is_authenticated", False) else None)
    if old_colour != colour:
        Site.objects.filter(pk=site.pk).update(risk_colour=colour)
        site.risk_colour = colour
    audit.record("risk.assess", site, {"risk_colour": [old_colour, colour],
                                       "risk_score": [last.score if last else None, score]},
                 note=str(Reason(assessment.reason).label), actor=actor)
    return assessment


def _clean_counts(counts: dict) -> dict:
    unknown = sorted(set(counts) - set(DYNAMIC_FIELDS))
    if unknown:
        raise InvalidInput(_("未知的动态风险因素:%(f)s") % {"f": ", ".join(unknown)},
                           detail={k: _("未知的动态风险因素") for k in unknown})
    out = {}
    for name, value in counts.items():
        label = str(Factor(name).label)
        n = _int_field(value, name, label, True, 0, 1_000_000)
        out[name] = n
    return out


def set_dynamic_factors(site, *, reason: str = Reason.DYNAMIC_UPDATE, **counts) -> SiteRiskAssessment | None:
    """Store a site's dynamic counts and regrade it. For the hazards, enforcement and accidents
    modules (system writes; call it in the same transaction as the change that moved the count).

    ``counts``: any of ``open_hazards``, ``open_major_hazards``, ``overdue_hazards``,
    ``enforcement_cases_12m``, ``accidents_12m`` — non-negative integers, the site's *current
    totals* (not increments). Counts not given keep their stored value. Unknown names or bad
    values raise ``InvalidInput``. Returns the site's latest assessment (None without an active
    rule set). A call that changes nothing writes nothing."""
    cleaned = _clean_counts(counts)
    row = SiteRiskFactor.objects.filter(site_id=site.pk).first()
    current = row.counts() if row else {f: 0 for f in DYNAMIC_FIELDS}
    if row is not None and all(current[k] == v for k, v in cleaned.items()):
        return latest_assessment(site)
    return _store_dynamic_factors(site, cleaned, reason)


@service("risk.set_dynamic_factors")
def _store_dynamic_factors(site, cleaned: dict, reason: str) -> SiteRiskAssessment | None:
    from yingji.registry.models import Site

    # One writer per site: the site row stays locked until commit, so the factor row below is
    # created or updated by this transaction alone and the colour read here stays current.
    site = Site.objects.select_for_update(of=("self",)).select_related("industry").get(pk=site.pk)
    row = SiteRiskFactor.objects.filter(site_id=site.pk).first()
    before = row.counts() if row is not None else {f: 0 for f in DYNAMIC_FIELDS}
    if row is None:
        row = SiteRiskFactor(site=site, **cleaned)
        row.save(force_insert=True)
    else:
        for name, value in cleaned.items():
            setattr(row, name, value)
        row.save()
    audit.record("risk.dynamic_factors", site, audit.diff(before, row.counts()), actor=None)
    return _grade(None, site, reason, row.counts(), old_colour=site.risk_colour)


__all__ = ["publish_ruleset", "assess_site", "set_dynamic_factors", "queue_recompute", "active_ruleset",
           "COLOUR_RANK"]
