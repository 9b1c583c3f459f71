"""The in-app user guide (/help/): the numbered journeys of each role, from the templates under
``core/templates/core/guide/`` (the one source; docs/guide/ links to them and holds the screenshots).
Shows the signed-in user's roles by default; ``?role=<code>`` shows another role's guide."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import roles
from .scoping import grants_for

GUIDE_ORDER = [roles.CITY_ADMIN, roles.LEADER, roles.DEPT_OFFICER, roles.INSPECTOR, roles.TOWN_OFFICER,
               roles.GRID_WORKER, roles.ENTERPRISE]


@login_required
def help_page(request):
    wanted = request.GET.get("role")
    if wanted in GUIDE_ORDER:
        chosen = {wanted}
    else:
        chosen = {g.role for g in grants_for(request.user)}
    all_roles = [{"code": code, "label": roles.ROLE_LABELS[code], "shown": code in chosen,
                  "template": f"core/guide/_{code}.html"} for code in GUIDE_ORDER]
    return render(request, "core/guide/index.html",
                  {"all_roles": all_roles, "shown": [r for r in all_roles if r["shown"]]})
