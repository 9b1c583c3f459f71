"""The one translation of a user's grants into a filter on rollup rows, per persona: the rows it
lets through hold exactly the records ``visible_to(user)`` returns."""
from __future__ import annotations

import pytest
from django.db.models import Q, Sum
from django.utils import timezone

from yingji.core import roles
from yingji.core import services as core_services
from yingji.core.scoping import forget_grants
from yingji.hazards.models import Hazard
from yingji.inspections.models import Inspection
from yingji.stats import figures, services
from yingji.stats.figures import grain_for_code, rollup_scope
from yingji.stats.models import HazardRollup, InspectionRollup

pytestmark = pytest.mark.django_db


def test_scope_per_persona(world):
    S = world.sectors
    assert rollup_scope(world.leader) == figures.RollupScope(live=False, q=Q(), grain=1)
    assert rollup_scope(world.admin).q == Q()
    town_a = rollup_scope(world.town_a)
    assert town_a.q == Q(area_code__startswith=world.area_a.code) and town_a.grain == 2 and not town_a.live
    dept = rollup_scope(world.dept)
    assert dept.q == Q(sector_id__in=[S["construction"].pk]) and dept.grain == 1
    assert rollup_scope(world.inspector).q == Q(sector_id__in=[S["industry_trade"].pk])
    grid = rollup_scope(world.grid)
    assert grid.q == Q(area_code__startswith=world.villages["a1"].code) and grid.grain == 3
    assert rollup_scope(world.enterprise).live  # site-bound: live figures


def test_several_grants_are_ored_at_the_finest_grain_they_need(world):
    core_services.grant_role(world.admin, world.town_a, role=roles.GRID_WORKER, area=world.grids["b1g1"])
    forget_grants(world.town_a)
    scope = rollup_scope(world.town_a)
    assert scope.q == Q(area_code__startswith=world.area_a.code) | Q(area_code__startswith=world.grids["b1g1"].code)
    assert scope.grain == 4
    assert figures.home_area(world.town_a) == world.county  # their nearest common area


def test_grain_for_code():
    assert [grain_for_code(c) for c in ("330681", "330681005", "330681005001", "330681005001001")] == [1, 2, 3, 4]
    assert grain_for_code("33") == 1


@pytest.mark.parametrize("persona", ["leader", "town_a", "town_b", "dept", "inspector", "grid"])
def test_rollup_rows_let_through_hold_exactly_the_visible_records(world, data, persona):
    services.refresh_rollups()
    user = getattr(world, persona)
    scope = rollup_scope(user)
    visible = services.hazard_records(Hazard.objects.visible_to(user)).count()
    visible_insp = services.inspection_records(Inspection.objects.visible_to(user)).count()
    assert visible > 0
    for grain in range(scope.grain, 5):
        n = HazardRollup.objects.filter(grain=grain).filter(scope.q).aggregate(n=Sum("count"))["n"]
        assert n == visible, grain
        n = InspectionRollup.objects.filter(grain=grain).filter(scope.q).aggregate(n=Sum("count"))["n"] or 0
        assert n == visible_insp, grain


def test_a_grid_level_user_is_served_from_the_finest_grain(world, data):
    from tests.hazards.factories import make_hazard

    worker = core_services.create_user(None, username="gridder", password="Test-pass-2026!", display_name="网格员",
                                       role=roles.GRID_WORKER, area=world.grids["a2g1"], must_change_password=False)
    make_hazard(world, world.grids["a2g1"], world.sectors["hazchem"])
    services.refresh_rollups()
    fig = figures.hazard_figures(worker, figures.parse_filters(worker, {"from": f"{timezone.localdate().year - 1}-01"}))
    assert not fig.live and rollup_scope(worker).grain == 4
    expected = services.hazard_records(Hazard.objects.visible_to(worker))
    assert fig.totals["found"] == expected.count() == 2
    assert fig.totals["major"] == expected.filter(level="major").count() == 1
    assert [r["label"] for r in fig.breakdowns["area"]] == [world.grids["a2g1"].name]
