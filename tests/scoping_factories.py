"""Record factories for the generic scoping test (``tests/core/test_scoping.py``).

Every scoped model (``yingji.core.scoping.scoped_models()``) must have a factory here; the suite
fails for a scoped model without one. A factory builds one record *located in* ``area`` (and in
``sector`` when the model has a sector dimension), through the services wherever a service exists:

    from tests.scoping_factories import factory, api_items, html_has

    @factory(
        "registry.Site",                                     # model._meta.label
        detail_urls=[lambda s: f"/sites/{s.pk}/",            # pages (session) and API (bearer token):
                     lambda s: f"/api/v1/sites/{s.pk}"],     #   200 in scope, 404 out of scope
        edit_urls=[lambda s: f"/sites/{s.pk}/edit/"],        # 200 editable, 403 visible only, 404 otherwise
        list_urls=[(lambda s: f"/api/v1/sites?q={s.name}", api_items),      # never lists out-of-scope rows
                   (lambda s: f"/sites/?q={s.name}", html_has("/sites/{obj.pk}/"))],
    )
    def make_site(world, area, sector=None):
        return registry_services.create_site(world.admin, area=area, sector=sector, name=unique("测试企业"))

Contract for ``make(world, area, sector=None)``: the record must sit inside ``area``'s subtree (a
record "in a grid" may sit in the grid's village) and be bound to ``sector`` when one is given, so
that the expected visibility can be derived from ``area``/``sector`` alone. Records that are scoped
through another record (attachments) name that record's model in ``capabilities_from``: its
``scope_capabilities`` then decide who may view/edit.
"""
from __future__ import annotations

import itertools
import uuid
from typing import Callable
from urllib.parse import quote

PASSWORD = "Test-pass-2026!"

# model label -> make(world, area, sector=None) -> instance
FACTORIES: dict[str, Callable] = {}
# model label -> URL builders of detail pages / API detail endpoints (GET): 200 in scope, 404 otherwise
DETAIL_URLS: dict[str, list[Callable]] = {}
# model label -> URL builders of edit pages (GET): 200 editable, 403 visible but not editable, 404 otherwise
EDIT_URLS: dict[str, list[Callable]] = {}
# model label -> [(URL builder, contains(response, obj) -> bool)]: listings that must show exactly what is visible
LIST_URLS: dict[str, list[tuple[Callable, Callable]]] = {}
# model label -> label of the model whose scope_capabilities govern it (records scoped through another record)
CAPABILITIES_FROM: dict[str, str] = {}

_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}"


def factory(label: str, *, detail_urls=(), edit_urls=(), list_urls=(), capabilities_from: str | None = None):
    """Register ``make`` as the factory of the scoped model ``label`` (``app_label.ModelName``)."""

    def register(make):
        FACTORIES[label] = make
        DETAIL_URLS[label] = list(detail_urls)
        EDIT_URLS[label] = list(edit_urls)
        LIST_URLS[label] = list(list_urls)
        if capabilities_from:
            CAPABILITIES_FROM[label] = capabilities_from
        return make

    return register


# ---------------------------------------------------------------- "contains" checks for listings

def api_items(response, obj) -> bool:
    """An API page ``{"items": [...]}`` lists ``obj``."""
    return obj.pk in {item["id"] for item in response.json()["items"]}


def html_has(template: str):
    """A page's HTML contains ``template`` formatted with ``obj`` (e.g. a link ``/areas/{obj.pk}/``)."""

    def contains(response, obj) -> bool:
        return template.format(obj=obj) in response.content.decode()

    return contains


# ---------------------------------------------------------------- core

def _area_record(world, area, name_prefix="范围测试区域"):
    from yingji.core import services
    from yingji.core.models import AreaLevel

    parent = area if area.level < AreaLevel.GRID else area.parent
    return services.create_area(world.admin, parent=parent, name=unique(name_prefix))


@factory(
    "core.Area",
    detail_urls=[lambda a: f"/areas/{a.pk}/", lambda a: f"/api/v1/areas/{a.pk}"],
    edit_urls=[lambda a: f"/areas/{a.pk}/edit/", lambda a: f"/areas/{a.pk}/move/"],
    list_urls=[
        (lambda a: f"/api/v1/areas?q={quote(a.name)}&limit=500", api_items),
        (lambda a: f"/areas/?q={quote(a.name)}", html_has('href="/areas/{obj.pk}/"')),
    ],
)
def make_area(world, area, sector=None):
    """A new child of ``area`` (of its village when ``area`` is a grid)."""
    return _area_record(world, area)


def _role_for(area) -> str:
    from yingji.core import roles
    from yingji.core.models import AreaLevel

    return {AreaLevel.COUNTY: roles.LEADER, AreaLevel.TOWN: roles.TOWN_OFFICER}.get(area.level, roles.GRID_WORKER)


@factory(
    "core.User",
    detail_urls=[lambda u: f"/users/{u.pk}/", lambda u: f"/api/v1/users/{u.pk}"],
    list_urls=[
        (lambda u: f"/api/v1/users?q={u.username}&limit=500", api_items),
        (lambda u: f"/users/?q={u.username}", html_has('href="/users/{obj.pk}/"')),
    ],
)
def make_user(world, area, sector=None):
    """A person whose only role is held in ``area``."""
    from yingji.core import services

    name = unique("scope_user_")
    return services.create_user(world.admin, username=name, password=PASSWORD, display_name=name,
                                role=_role_for(area), area=area, must_change_password=False)


@factory(
    "core.RoleAssignment",
    # a role is shown on its holder's page; the holder's only roles are in ``area``
    list_urls=[(lambda ra: f"/api/v1/users/{ra.user_id}", lambda r, ra: ra.pk in {x["id"] for x in r.json()["roles"]})],
)
def make_role_assignment(world, area, sector=None):
    """A role granted (``services.grant_role``) in ``area`` to a person whose roles are all in ``area``."""
    from yingji.core import roles, services

    person = make_user(world, area)
    return services.grant_role(world.admin, person, role=roles.ENTERPRISE, area=area)


@factory(
    "core.AuditEntry",
    list_urls=[
        (lambda e: f"/api/v1/audit?model=core.area&object_id={e.object_id}&limit=500", api_items),
        (lambda e: f"/audit/?model=core.area&object_id={e.object_id}", html_has("{obj.request_id}")),
    ],
)
def make_audit_entry(world, area, sector=None):
    """The entry a service call writes about a record in ``area`` (here: creating an area)."""
    from django.contrib.contenttypes.models import ContentType

    from yingji.core import audit
    from yingji.core.models import Area, AuditEntry

    with audit.context(actor=world.admin, request_id=f"scope-{uuid.uuid4().hex[:12]}"):
        record = _area_record(world, area)
    return AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(Area),
                                     object_id=record.pk).latest("id")


@factory(
    "core.Attachment",
    capabilities_from="core.Area",
    detail_urls=[lambda a: f"/attachments/{a.pk}/", lambda a: f"/api/v1/attachments/{a.pk}"],
    list_urls=[(lambda a: f"/api/v1/attachments?model=core.area&object_id={a.object_id}&limit=500", api_items)],
)
def make_attachment(world, area, sector=None):
    """A small PNG attached (``attachments.add_attachment``) to a new area in ``area``."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from yingji.core import attachments

    owner = _area_record(world, area)
    upload = SimpleUploadedFile("现场照片.png", TINY_PNG, content_type="image/png")
    return attachments.add_attachment(world.admin, owner, upload)


@factory(
    "core.Job",
    detail_urls=[lambda j: f"/jobs/{j.pk}/", lambda j: f"/api/v1/jobs/{j.pk}"],
    list_urls=[(lambda j: "/api/v1/jobs?kind=core.echo&limit=500", api_items),
               (lambda j: "/jobs/", html_has('href="/jobs/{obj.pk}/"'))],
)
def make_job(world, area, sector=None):
    """A queued system job (``jobs.enqueue`` by no one) about a new area in ``area``: seen by who
    sees that area (its subject) and by the user administrators of ``area``, cancelled by the
    latter (``Job.scope_capabilities``). A person's own jobs: tests/core/test_side_doors.py."""
    from yingji.core import jobs

    about = _area_record(world, area)
    return jobs.enqueue(None, "core.echo", area=area, params={"about_area": about.pk})


# A 1x1 PNG.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b49444154789c"
    "6360000200000500017a5eab3f0000000049454e44ae426082"
)


# ---------------------------------------------------------------- registry

@factory(
    "registry.Site",
    detail_urls=[lambda s: f"/sites/{s.pk}/", lambda s: f"/api/v1/sites/{s.pk}"],
    edit_urls=[lambda s: f"/sites/{s.pk}/edit/"],
    list_urls=[
        (lambda s: f"/api/v1/sites?q={quote(s.name)}&limit=500", api_items),
        (lambda s: f"/sites/?q={quote(s.name)}", html_has('href="/sites/{obj.pk}/"')),
    ],
)
def make_site(world, area, sector=None):
    """An enterprise in ``area`` supervised by ``sector`` (``registry.services.create_site``)."""
    from tests.registry.factories import make_site as make

    return make(world, area, sector)


# ---------------------------------------------------------------- risk

@factory(
    "risk.SiteRiskAssessment",
    detail_urls=[lambda a: f"/risk/sites/{a.site_id}/", lambda a: f"/api/v1/risk/sites/{a.site_id}"],
    list_urls=[(lambda a: f"/api/v1/risk/sites/{a.site_id}/history", api_items)],
)
def make_site_risk_assessment(world, area, sector=None):
    """The first assessment of a new site in ``area`` (``risk.services.assess_site``)."""
    from tests.risk.factories import make_assessment

    return make_assessment(world, area, sector)


# ---------------------------------------------------------------- hazards

@factory(
    "hazards.Hazard",
    detail_urls=[lambda h: f"/hazards/{h.pk}/", lambda h: f"/api/v1/hazards/{h.pk}"],
    list_urls=[(lambda h: "/api/v1/hazards?limit=500", api_items)],
)
def make_hazard(world, area, sector=None):
    """A reported hazard in ``area`` (and ``sector``) (``hazards.services.report_hazard``)."""
    from tests.hazards.factories import make_hazard as make

    return make(world, area, sector)


@factory(
    "hazards.HazardEvent",
    # an event is shown with its hazard, and is visible exactly when the hazard is
    detail_urls=[lambda e: f"/api/v1/hazards/{e.hazard_id}"],
)
def make_hazard_event(world, area, sector=None):
    from tests.hazards.factories import make_event

    return make_event(world, area, sector)


@factory(
    "hazards.Rectification",
    detail_urls=[lambda r: f"/api/v1/hazards/{r.hazard_id}"],
)
def make_rectification(world, area, sector=None):
    from tests.hazards.factories import make_rectification as make

    return make(world, area, sector)


# Apps that keep their scoping factories beside their own tests register them on import.
from tests.inspections import scoping as _inspections_scoping  # noqa: E402,F401
from tests.supervision import scoping as _supervision_scoping  # noqa: E402,F401
