"""The demo tells a story: the grid worker's community holds a site of the enterprise account,
and a hazard she reported there waits for the town officer to accept it, then for the enterprise."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world():
    from yingji.core import demo as core_demo
    from yingji.registry import demo as registry_demo

    core_demo.build(villages_per_town=2, grids_per_village=1)
    registry_demo.build_sites(total=300)
    registry_demo._bind_demo_user()


def test_grid_workers_community_has_the_enterprises_site_and_a_hazard_for_it(demo_world, client):
    from yingji.core.attachments import attachments_for
    from yingji.core.models import User
    from yingji.core.worklist import worklist
    from yingji.hazards import demo
    from yingji.hazards.models import Hazard, State
    from yingji.registry.models import Site

    grid, ent = User.objects.get(username="grid_dt"), User.objects.get(username="ent_demo")
    village = grid.assignments.get().area
    ent_sites = Site.objects.visible_to(ent)
    shared = ent_sites.filter(area__code__startswith=village.code)
    assert shared.count() == 1 and ent_sites.count() == 3
    assert Site.objects.visible_to(grid).filter(pk=shared.get().pk).exists()

    assert demo.load_story() is True
    assert demo.load_story() is False                       # once only
    hazard = Hazard.objects.get(idempotency_key=demo.STORY_KEY)
    assert hazard.site == shared.get() and hazard.reported_by == grid and hazard.state == State.REPORTED
    assert [a.original_name for a in attachments_for(grid, hazard)] == ["现场照片.png"]
    # found by the grid worker (government side): the 大唐 town officer accepts it and sets the
    # deadline; the enterprise sees who will, and rectifies afterwards
    town = User.objects.get(username="town_dt")
    assert {item.label: item.count for item in worklist(town)}["待受理隐患"] >= 1
    assert {item.label: item.count for item in worklist(ent)}["待受理隐患"] == 0
    client.force_login(ent)
    html = client.get(f"/hazards/{hazard.pk}/").content.decode()
    assert 'data-testid="action-accept"' not in html and "待属地镇街或行业监管部门受理" in html
    client.force_login(town)
    assert 'data-testid="action-accept"' in client.get(f"/hazards/{hazard.pk}/").content.decode()
