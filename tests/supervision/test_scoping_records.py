"""This app's records for the generic scoping test: built in any area, visible along the hazard's
area, sector and site (town B never sees town A's; grid workers and leaders edit nothing)."""
from __future__ import annotations

import pytest

from tests.scoping_factories import FACTORIES
from yingji.supervision.models import ExtensionRequest, Listing, ListingEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label, model", [("supervision.Listing", Listing),
                                          ("supervision.ExtensionRequest", ExtensionRequest),
                                          ("supervision.ListingEvent", ListingEvent)])
def test_records_follow_the_hazard(world, label, model):
    make = FACTORIES[label]
    county = make(world, world.county, world.sectors["construction"])
    grid_a = make(world, world.grids["a1g1"], world.sectors["industry_trade"])

    def sees(persona, obj):
        return model.objects.visible_to(world.users[persona]).filter(pk=obj.pk).exists()

    def edits(persona, obj):
        return model.objects.editable_by(world.users[persona]).filter(pk=obj.pk).exists()

    assert sees("admin", county) and sees("leader", county) and sees("dept", county)
    assert not sees("inspector", county) and not sees("town_a", county) and not sees("grid", county)
    assert sees("town_a", grid_a) and sees("grid", grid_a) and sees("inspector", grid_a)
    assert not sees("town_b", grid_a) and not sees("dept", grid_a) and not sees("enterprise", grid_a)
    editable = model is not ListingEvent
    assert edits("admin", county) is editable and edits("town_a", grid_a) is editable
    for persona in ("leader", "grid", "enterprise", "town_b"):
        assert not edits(persona, grid_a) and not edits(persona, county)
