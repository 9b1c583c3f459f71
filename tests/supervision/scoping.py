"""Factories of this app's scoped models for the generic scoping test (see tests/scoping_factories.py)."""
from urllib.parse import quote

from tests.scoping_factories import api_items, factory, html_has

from .factories import make_event, make_extension, make_listing


@factory(
    "supervision.Listing",
    detail_urls=[lambda x: f"/supervision/{x.pk}/", lambda x: f"/api/v1/supervision/{x.pk}"],
    list_urls=[(lambda x: f"/api/v1/supervision?q={quote(x.notice_number)}&limit=500", api_items),
               (lambda x: f"/supervision/?q={quote(x.notice_number)}", html_has('href="/supervision/{obj.pk}/"'))],
)
def make_scoped_listing(world, area, sector=None):
    """A county-level listing of a new major hazard in ``area`` (``supervision.services.list_hazard``)."""
    return make_listing(world, area, sector)


@factory(
    "supervision.ExtensionRequest",
    # an extension request is shown with its listing, and is visible exactly when the listing is
    detail_urls=[lambda e: f"/api/v1/supervision/{e.listing_id}"],
)
def make_scoped_extension(world, area, sector=None):
    return make_extension(world, area, sector)


@factory(
    "supervision.ListingEvent",
    detail_urls=[lambda e: f"/api/v1/supervision/{e.listing_id}"],
)
def make_scoped_event(world, area, sector=None):
    return make_event(world, area, sector)
