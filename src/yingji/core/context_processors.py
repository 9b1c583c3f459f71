from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import roles
from .scoping import grants_for

# The whole navigation, in order: (label, url name, capability needed or None for everyone
# signed in, group). An entry is shown only to users holding its capability somewhere.
# Group None = always in the bar; other groups are drop-down menus (so a phone shows two rows at most).
WORK = _("业务")
SETTINGS = _("设置")
NAVIGATION: list[tuple[str, str, str | None, str | None]] = [
    (_("首页"), "core:home", None, None),
    (_("监管对象"), "registry:list", roles.VIEW, None),
    (_("检查"), "inspections:list", roles.VIEW, None),
    (_("隐患排查治理"), "hazards:list", roles.VIEW, None),
    (_("统计分析"), "stats:index", roles.VIEW, None),
    (_("专项行动"), "inspections:campaigns", roles.VIEW, WORK),
    (_("挂牌督办"), "supervision:list", roles.VIEW, WORK),
    (_("我的消息"), "notifications:inbox", None, WORK),
    (_("风险地图"), "registry_map:map", roles.VIEW, WORK),
    (_("检查清单"), "checklists:list", None, SETTINGS),
    (_("风险分级规则"), "risk:rules", roles.VIEW, SETTINGS),
    (_("行政区域"), "core:areas", roles.VIEW, SETTINGS),
    (_("人员与角色"), "core:users", roles.MANAGE_USERS, SETTINGS),
    (_("组织与行业"), "core:orgs", None, SETTINGS),
    (_("后台任务"), "jobs:list", roles.VIEW, SETTINGS),
    (_("审计日志"), "core:audit", roles.VIEW_AUDIT, SETTINGS),
]

# Menus of government work: not shown to users whose every grant is bound to sites (enterprise
# safety managers see their own sites, inspections, hazards and messages, not the county's tools).
GOVERNMENT_ONLY = frozenset({
    "stats:index", "inspections:campaigns", "supervision:list", "registry_map:map", "checklists:list",
    "risk:rules", "core:areas", "core:orgs", "jobs:list", "core:audit", "core:users",
})


def site_bound_only(grants) -> bool:
    return bool(grants) and all(g.site_ids is not None for g in grants)


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "nav_groups": []}
    grants = grants_for(user)
    caps = set()
    for g in grants:
        caps |= roles.CAPABILITIES.get(g.role, frozenset())
    enterprise = site_bound_only(grants)
    items = []
    for label, name, cap, group in NAVIGATION:
        if enterprise and name in GOVERNMENT_ONLY:
            continue
        if cap is None or cap in caps:
            url = reverse(name)
            items.append({"label": label, "url": url, "group": group,
                          "match": len(url) if request.path == url or (url != "/" and request.path.startswith(url))
                          else 0})
    best = max((i["match"] for i in items), default=0)
    for item in items:  # the longest matching entry is the active one (/sites/map/ is not /sites/)
        match = item.pop("match")
        item["active"] = bool(best) and match == best
    groups: list[dict] = []
    for item in items:
        if item["group"] is None:
            continue
        if not groups or groups[-1]["label"] != item["group"]:
            found = next((g for g in groups if g["label"] == item["group"]), None)
            if found is None:
                found = {"label": item["group"], "items": [], "active": False}
                groups.append(found)
        else:
            found = groups[-1]
        found["items"].append(item)
        found["active"] = found["active"] or item["active"]
    role_labels = sorted({str(roles.ROLE_LABELS.get(g.role, g.role)) for g in grants})
    return {"nav_items": [i for i in items if i["group"] is None], "nav_groups": groups,
            "my_roles": role_labels, "my_caps": caps}
