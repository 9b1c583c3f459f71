"""Risk grading pages: the rules (readable table; editor for administrators), the rule history,
and a site's risk page (current colour, why, history). Views stay thin: forms parse, services
write, reads start from ``visible_to(user)``; a site out of scope answers 404."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from yingji.core.errors import Forbidden, InvalidInput, NotFound
from yingji.core.pagination import keyset_page
from yingji.core.services import require_editable

from . import queries, services
from .forms import RuleFormSet, ThresholdForm
from .models import Reason, RuleSet


@login_required
def rules(request):
    ruleset = services.active_ruleset()
    return render(request, "risk/rules.html", {
        "ruleset": ruleset, "rules": queries.rules_of(ruleset) if ruleset else [],
        "can_manage": services.can_manage_rules(request.user), "is_current": True,
    })


@login_required
def ruleset_detail(request, version):
    ruleset = RuleSet.objects.filter(version=version).first()
    if ruleset is None:
        raise NotFound()
    return render(request, "risk/rules.html", {
        "ruleset": ruleset, "rules": queries.rules_of(ruleset), "can_manage": False,
        "is_current": ruleset.is_active,
    })


FIELD_LABELS = {"factor": _lazy("因素"), "match": _lazy("匹配值"), "points": _lazy("分值"),
                "per_unit": _lazy("每项加分"), "cap": _lazy("封顶"), "floor_colour": _lazy("最低等级"),
                "label": _lazy("说明"), "red": _lazy("红色下限"), "orange": _lazy("橙色下限"),
                "yellow": _lazy("黄色下限")}


def _dash(value) -> str:
    return "—" if value in (None, "") else str(value)


def change_lines(changes: dict) -> list[str]:
    """A version's diff against the previous one, as readable Chinese lines."""
    lines = []
    for r in (changes or {}).get("added", []):
        lines.append(_("新增:%(label)s(%(points)s分)") % {"label": r.get("label"), "points": r.get("points")})
    for r in (changes or {}).get("removed", []):
        lines.append(_("删除:%(label)s") % {"label": r.get("label")})
    for c in (changes or {}).get("changed", []):
        parts = ["%s %s → %s" % (FIELD_LABELS.get(k, k), _dash(v[0]), _dash(v[1])) for k, v in c["fields"].items()]
        lines.append(_("修改:%(label)s,%(parts)s") % {"label": c.get("rule"), "parts": ",".join(parts)})
    for k, v in (changes or {}).get("thresholds", {}).items():
        lines.append(_("分值下限:%(name)s %(old)s → %(new)s") % {
            "name": FIELD_LABELS.get(k, k), "old": _dash(v[0]), "new": _dash(v[1])})
    return lines


@login_required
def rules_history(request):
    page, next_cursor = keyset_page(RuleSet.objects.select_related("published_by"), request.GET.get("cursor"), 50,
                                    key="version")
    rows = [{"v": v, "lines": change_lines(v.changes)} for v in page]
    return render(request, "risk/rules_history.html", {"rows": rows, "next_cursor": next_cursor})


def _initial(ruleset):
    if ruleset is None:
        return [], {}
    rows = [{k: r[k] for k in services.RULE_FIELDS} for r in map(services.rule_dict, ruleset.rules.order_by("sort", "id"))]
    return rows, {"name": ruleset.name, "red": ruleset.red_at, "orange": ruleset.orange_at,
                  "yellow": ruleset.yellow_at}


def _place_error(formset, head, positions, exc: InvalidInput) -> None:
    """Attach a service error (detail keys like ``rules.3.match``) to the form it concerns."""
    placed = False
    for key, message in (exc.detail or {}).items():
        parts = key.split(".")
        if parts[0] == "rules" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(positions):
            form = formset.forms[positions[int(parts[1])]]
            field = parts[2] if len(parts) > 2 and parts[2] in form.fields else None
            form.add_error(field, exc.message)
            placed = True
        elif parts[0] == "thresholds":
            field = parts[1] if len(parts) > 1 and parts[1] in head.fields else None
            head.add_error(field, exc.message)
            placed = True
        elif parts[0] in head.fields:
            head.add_error(parts[0], exc.message)
            placed = True
    if not placed:
        head.add_error(None, exc.message)


@login_required
def rules_edit(request):
    if not services.can_manage_rules(request.user):
        raise Forbidden(_("只有具备基础数据管理权限的管理员才能修改风险分级规则"))
    current = services.active_ruleset()
    initial_rules, initial_head = _initial(current)
    if request.method == "POST":
        formset = RuleFormSet(request.POST, prefix="rules")
        head = ThresholdForm(request.POST, prefix="head")
        if formset.is_valid() and head.is_valid():
            rules_in, positions = [], []
            for i, form in enumerate(formset.forms):
                if not form.cleaned_data or form.cleaned_data.get("DELETE") or form.is_blank():
                    continue
                rules_in.append({k: form.cleaned_data.get(k) for k in services.RULE_FIELDS})
                positions.append(i)
            data = head.cleaned_data
            try:
                ruleset = services.publish_ruleset(
                    request.user, rules_in, {"red": data["red"], "orange": data["orange"], "yellow": data["yellow"]},
                    name=data.get("name") or "", note=data.get("note") or "")
            except InvalidInput as exc:
                _place_error(formset, head, positions, exc)
            else:
                messages.success(request, _("已发布第%(v)d版风险分级规则,正在后台重新评定所有监管对象") % {
                    "v": ruleset.version})
                return redirect("risk:rules")
    else:
        formset = RuleFormSet(initial=initial_rules, prefix="rules")
        head = ThresholdForm(initial=initial_head, prefix="head")
    return render(request, "risk/rules_edit.html", {"formset": formset, "head": head, "ruleset": current})


@login_required
def site_risk(request, site_id):
    site = queries.visible_site(request.user, site_id)
    history, next_cursor = keyset_page(queries.assessments_of(request.user, site).select_related("ruleset"),
                                       request.GET.get("cursor"), 50)
    current = queries.current_assessment(request.user, site)
    from yingji.registry.models import Site

    visible = queries.visible_open_counts(request.user, site)
    hide = current is not None and not queries.sees_all_hazards(request.user, site, visible)
    return render(request, "risk/site_risk.html", {
        "site": site, "current": current,
        "factors": queries.explain(current.factors, hide_counts=hide) if current else [],
        "ruleset": current.ruleset if current else None, "active": services.active_ruleset(),
        "history": history, "next_cursor": next_cursor, "dynamic": queries.dynamic_counts(request.user, site, visible),
        "can_assess": Site.objects.editable_by(request.user).filter(pk=site.pk).exists(),
    })


@login_required
@require_POST
def site_assess(request, site_id):
    site = queries.visible_site(request.user, site_id)
    require_editable(site, request.user)
    if site.is_archived:
        raise InvalidInput(_("该监管对象已归档,不再评定风险等级"))
    before = services.latest_assessment(site)
    after = services.assess_site(request.user, site, reason=Reason.SITE_CHANGE)
    if after is None:
        messages.error(request, _("没有现行的风险分级规则"))
    elif before is not None and after.pk == before.pk:
        messages.info(request, _("重新评定完成,风险等级和分值没有变化"))
    else:
        messages.success(request, _("重新评定完成:%(c)s,%(s)d分") % {"c": after.colour_label, "s": after.score})
    return redirect("risk:site", site_id=site.pk)
