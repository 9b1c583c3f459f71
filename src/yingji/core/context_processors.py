from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import roles
from .scoping import grants_for

# The whole navigation, in order: (label, url name, capability needed or None for everyone
# signed in). An entry is shown only to users holding its capability somewhere.
NAVIGATION: list[tuple[str, str, str | None]] = [
    (_("首页"), "core:home", None),
    (_("我的消息"), "notifications:inbox", None),
    (_("监管对象"), "registry:list", roles.VIEW),
    (_("隐患排查治理"), "hazards:list", roles.VIEW),
    (_("风险地图"), "registry_map:map", roles.VIEW),
    (_("风险分级规则"), "risk:rules", roles.VIEW),
    (_("行政区域"), "core:areas", roles.VIEW),
    (_("人员与角色"), "core:users", roles.MANAGE_USERS),
    (_("组织与行业"), "core:orgs", None),
    (_("后台任务"), "jobs:list", roles.VIEW),
    (_("审计日志"), "core:audit", roles.VIEW_AUDIT),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    grants = grants_for(user)
    caps = set()
    for g in grants:
        caps |= roles.CAPABILITIES.get(g.role, frozenset())
    items = []
    for label, name, cap in NAVIGATION:
        if cap is None or cap in caps:
            url = reverse(name)
            items.append({"label": label, "url": url,
                          "match": len(url) if request.path == url or (url != "/" and request.path.startswith(url))
                          else 0})
    best = max((i["match"] for i in items), default=0)
    for item in items:  # the longest matching entry is the active one (/sites/map/ is not /sites/)
        match = item.pop("match")
        item["active"] = bool(best) and match == best
    role_labels = sorted({str(roles.ROLE_LABELS.get(g.role, g.role)) for g in grants})
    return {"nav_items": items, "my_roles": role_labels, "my_caps": caps}
