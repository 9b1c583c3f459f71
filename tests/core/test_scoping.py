"""The generic scoping test: every scoped model × every persona, through the ORM rule, the pages
and the API.

Records come from ``tests/scoping_factories.py`` (one factory per scoped model; a scoped model
without one fails ``test_every_scoped_model_has_a_factory``). The expectation is data, not
per-model asserts: ``expected()`` derives who may view/edit a record from the persona's role
assignments, ``roles.CAPABILITIES`` and the model's ``scope_capabilities``; the persona
invariants of the brief (``NEVER_SEES`` …) are checked against both the oracle and the rule.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.test import Client

from tests.scoping_factories import CAPABILITIES_FROM, DETAIL_URLS, EDIT_URLS, FACTORIES, LIST_URLS
from yingji.core import roles

PERSONAS = ("admin", "leader", "dept", "inspector", "town_a", "town_b", "grid", "enterprise")

# Where records are made: key -> area (county level, town A and parts of it, town B and part of it).
LOCATIONS = ("county", "town_a", "village_a1", "grid_a1g1", "village_a2", "town_b", "grid_b1g1")
TOWN_A = {"town_a", "village_a1", "grid_a1g1", "village_a2"}
TOWN_B = {"town_b", "grid_b1g1"}
SECTORS = ("construction", "industry_trade")

# Persona invariants (whatever the model): locations whose records a persona never sees …
NEVER_SEES = {
    "town_a": {"county"} | TOWN_B,
    "town_b": {"county"} | TOWN_A,
    "grid": set(LOCATIONS) - {"village_a1", "grid_a1g1"},
    "enterprise": set(LOCATIONS),  # site-bound, and bound to no site yet
}
# … personas that edit nothing …
EDITS_NOTHING = {"leader", "grid", "enterprise"}
# … sector-bound personas: on models with a sector dimension, only their own sector's records …
SECTOR_OF = {"dept": "construction", "inspector": "industry_trade"}
# … and the county-wide, sector-free roles: they see every record whose view capability their
# role holds (the administrator holds all; the leader view and view_audit).
SEES_EVERYWHERE = {"admin": "city_admin", "leader": "leader"}


def area_of(world, key):
    return {
        "county": world.county, "town_a": world.area_a, "village_a1": world.villages["a1"],
        "grid_a1g1": world.grids["a1g1"], "village_a2": world.villages["a2"], "town_b": world.area_b,
        "grid_b1g1": world.grids["b1g1"],
    }[key]


def has_sector_dimension(model) -> bool:
    return model.scope_sector is not None


@dataclass
class Record:
    obj: object
    location: str
    area: object
    sector: object | None

    def __str__(self):
        return f"{type(self.obj).__name__}#{self.obj.pk} in {self.location}" + (
            f"/{self.sector.code}" if self.sector else "")


def build_records(world, label) -> list[Record]:
    model = apps.get_model(label)
    sectors = [world.sectors[s] for s in SECTORS] if has_sector_dimension(model) else [None]
    records = []
    for key in LOCATIONS:
        for sector in sectors:
            area = area_of(world, key)
            obj = FACTORIES[label](world, area, sector)
            assert isinstance(obj, model), f"factory for {label} returned {type(obj).__name__}"
            records.append(Record(obj, key, area, sector))
    return records


def expected(user, label: str, action: str, record: Record) -> bool:
    """Whether ``user`` may ``action`` the record, from the role table alone: some active role
    carries the needed capability, its area contains the record's area, and — for models with a
    sector dimension — it is not narrowed to other sectors. Site-bound roles reach only their sites
    (none here)."""
    from yingji.core.models import RoleAssignment

    governing = apps.get_model(CAPABILITIES_FROM.get(label, label))
    capability = governing.scope_capabilities.get(action)
    if capability is None:
        return False
    assignments = (RoleAssignment.objects.filter(user=user, revoked_at__isnull=True, area__archived_at__isnull=True)
                   .select_related("area").prefetch_related("sectors"))
    for a in assignments:
        if capability not in roles.CAPABILITIES.get(a.role, frozenset()):
            continue
        if a.role in roles.SITE_BOUND_ROLES:
            continue
        if not record.area.code.startswith(a.area.code):
            continue
        granted_sectors = {s.pk for s in a.sectors.all()}
        if has_sector_dimension(governing) and granted_sectors and record.sector.pk not in granted_sectors:
            continue
        return True
    return False


def default_rule(model) -> bool:
    """Whether ``model`` keeps ``ScopedModel``'s rule (so ``model.reaches`` applies)."""
    from yingji.core.scoping import ScopedModel

    return (model.scope_q.__func__ is ScopedModel.scope_q.__func__
            and model.location_q.__func__ is ScopedModel.location_q.__func__)


def _path(obj, path: str):
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


def reaches(user, label: str, action: str, record: Record) -> bool:
    """``model.reaches`` on what the row carries: its area's code, its sectors, its site."""
    model = apps.get_model(label)
    obj = model.objects.get(pk=record.obj.pk)
    area = obj if model.scope_area == "self" else _path(obj, model.scope_area)
    if model.scope_sector is None:
        sectors = ()
    elif model.scope_sector_is_m2m:
        sectors = list(getattr(obj, model.scope_sector).values_list("pk", flat=True))
    else:
        sectors = [getattr(obj, f"{model.scope_sector}_id")]
    site = None if model.scope_site is None else _path(obj, model.scope_site)
    site = getattr(site, "pk", site)
    return model.reaches(user, action, area_code=area.code, sector_ids=sectors, site_id=site)


def actual(user, label: str, action: str, record: Record) -> bool:
    model = apps.get_model(label)
    manager = model.objects
    qs = manager.visible_to(user) if action == "view" else manager.editable_by(user)
    return qs.filter(pk=record.obj.pk).exists()


# ---------------------------------------------------------------- coverage

def test_every_scoped_model_has_a_factory():
    from yingji.core.scoping import scoped_models

    models = {m._meta.label for m in scoped_models()}
    missing = sorted(models - set(FACTORIES))
    stale = sorted(set(FACTORIES) - models)
    assert not missing, (
        f"scoped model(s) without a record factory: {missing}. Add one to tests/scoping_factories.py "
        "(see its docstring) so the generic scoping test covers them.")
    assert not stale, f"factories for models that are not scoped (any more): {stale}"


def test_persona_invariants_agree_with_the_oracle(world):
    """The oracle itself honours the brief's invariants (guards against a too-generous oracle)."""
    for label in sorted(FACTORIES):
        model = apps.get_model(label)
        for key in LOCATIONS:
            sector_choices = [world.sectors[s] for s in SECTORS] if has_sector_dimension(model) else [None]
            for sector in sector_choices:
                rec = Record(None, key, area_of(world, key), sector)
                for persona in PERSONAS:
                    user = world.users[persona]
                    if key in NEVER_SEES.get(persona, ()):
                        assert not expected(user, label, "view", rec), (persona, label, key)
                    if persona in EDITS_NOTHING:
                        assert not expected(user, label, "edit", rec), (persona, label, key)
                    if sector is not None and persona in SECTOR_OF and sector.code != SECTOR_OF[persona]:
                        assert not expected(user, label, "view", rec), (persona, label, key, sector.code)


# ---------------------------------------------------------------- the ORM rule

@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("label", sorted(FACTORIES))
def test_orm_rule(world, label, persona):
    records = build_records(world, label)
    user = world.users[persona]
    mismatches = []
    python_rule = default_rule(apps.get_model(label))
    for rec in records:
        seen = actual(user, label, "view", rec)
        edits = actual(user, label, "edit", rec)
        if python_rule:  # the rule's Python twin (hot paths) agrees with the query
            assert reaches(user, label, "view", rec) == seen, f"{rec}: reaches(view) != restrict"
            assert reaches(user, label, "edit", rec) == edits, f"{rec}: reaches(edit) != restrict"
        for action, got in (("view", seen), ("edit", edits)):
            want = expected(user, label, action, rec)
            if got != want:
                mismatches.append(f"{rec}: {action} expected {want}, got {got}")
        # invariants, stated independently of the oracle
        if rec.location in NEVER_SEES.get(persona, ()):
            assert not seen, f"{persona} sees {rec}"
        if persona in EDITS_NOTHING:
            assert not edits, f"{persona} may edit {rec}"
        if rec.sector is not None and persona in SECTOR_OF and rec.sector.code != SECTOR_OF[persona]:
            assert not seen, f"{persona} sees {rec} of another sector"
        if persona in SEES_EVERYWHERE:
            held = roles.CAPABILITIES[SEES_EVERYWHERE[persona]]
            governing = apps.get_model(CAPABILITIES_FROM.get(label, label))
            if governing.scope_capabilities.get("view") in held:
                assert seen, f"{persona} does not see {rec}"
            if persona == "admin":
                assert edits == (governing.scope_capabilities.get("edit") is not None), rec
        assert seen or not edits, f"{persona} may edit {rec} without seeing it"
    assert not mismatches, f"{label} / {persona}:\n" + "\n".join(mismatches)


# ---------------------------------------------------------------- pages and API

class PersonaClient:
    """GETs as one user: with a bearer token for the API, with a signed-in session for pages.
    (One Django test client per persona: building a client's handler is slow.)"""

    def __init__(self, user):
        from yingji.core import services

        self.session = Client()
        self.session.force_login(user)
        self.api = Client()
        _t, self.key = services.create_token(None, user, "scoping")

    def get(self, url):
        if url.startswith("/api/"):
            return self.api.get(url, HTTP_AUTHORIZATION=f"Bearer {self.key}")
        return self.session.get(url)


HTTP_LABELS = sorted(label for label in FACTORIES if DETAIL_URLS.get(label) or EDIT_URLS.get(label)
                     or LIST_URLS.get(label))


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("label", HTTP_LABELS)
def test_pages_and_api(world, label, persona):
    records = build_records(world, label)
    user = world.users[persona]
    client = PersonaClient(user)
    problems = []
    for rec in records:
        view = expected(user, label, "view", rec)
        edit = expected(user, label, "edit", rec)
        for build in DETAIL_URLS.get(label, []):
            url = build(rec.obj)
            status = client.get(url).status_code
            if status != (200 if view else 404):
                problems.append(f"GET {url} ({rec}) → {status}, expected {200 if view else 404}")
        for build in EDIT_URLS.get(label, []):
            url = build(rec.obj)
            want = 200 if edit else (403 if view else 404)
            status = client.get(url).status_code
            if status != want:
                problems.append(f"GET {url} ({rec}) → {status}, expected {want}")
        for build, contains in LIST_URLS.get(label, []):
            url = build(rec.obj)
            response = client.get(url)
            if response.status_code == 404:
                listed = False  # the listing itself is out of the user's reach
            elif response.status_code == 200:
                listed = contains(response, rec.obj)
            else:
                problems.append(f"GET {url} ({rec}) → {response.status_code}")
                continue
            if listed != view:
                problems.append(f"GET {url}: {rec} {'listed' if listed else 'not listed'}, expected "
                                f"{'listed' if view else 'absent'}")
    assert not problems, f"{label} / {persona}:\n" + "\n".join(problems)


# ---------------------------------------------------------------- choice lists

def _option_values(html: str, name: str) -> set[str]:
    import re

    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no <select name={name}>"
    return set(re.findall(r'<option value="([^"]+)"', select.group(1)))


def test_user_create_form_offers_only_own_areas(world, client):
    from yingji.core.models import Area

    client.force_login(world.town_a)
    html = client.get("/users/new/").content.decode()
    offered = {int(v) for v in _option_values(html, "area")}
    assert offered, "no areas offered"
    b_areas = set(Area.objects.filter(code__startswith=world.area_b.code).values_list("pk", flat=True))
    assert not offered & b_areas
    assert world.county.pk not in offered
    assert world.area_a.pk in offered and world.villages["a1"].pk in offered


def test_role_form_offers_only_areas_where_user_may_manage_users(world, client):
    """A town officer of A who is also grid worker in B (no manage_users there) is offered A only."""
    from yingji.core import services
    from yingji.core.models import Area

    services.grant_role(world.admin, world.town_a, role=roles.GRID_WORKER, area=world.villages["b1"])
    client.force_login(world.town_a)
    b_areas = set(Area.objects.filter(code__startswith=world.area_b.code).values_list("pk", flat=True))
    for url, field in (("/users/new/", "area"), (f"/users/{world.grid.pk}/", "role-area")):
        html = client.get(url).content.decode()
        offered = {int(v) for v in _option_values(html, field)}
        assert world.area_a.pk in offered, url
        assert not offered & b_areas, url


def test_area_move_form_offers_only_editable_targets(world, client):
    """A city administrator bound to town A may move a grid only between A's villages."""
    from yingji.core import services

    local_admin = services.create_user(world.admin, username="admin_a", password="Test-pass-2026!",
                                       role=roles.CITY_ADMIN, area=world.area_a, must_change_password=False)
    client.force_login(local_admin)
    html = client.get(f"/areas/{world.grids['a1g1'].pk}/move/").content.decode()
    offered = {int(v) for v in _option_values(html, "new_parent")}
    assert offered == {world.villages["a2"].pk}
    # posting a target outside the offered list is refused with a Chinese form error
    r = client.post(f"/areas/{world.grids['a1g1'].pk}/move/", {"new_parent": world.villages["b1"].pk})
    assert r.status_code == 400
    assert "选择" in r.content.decode()
    # the county administrator is offered every other village, in both towns
    client.force_login(world.admin)
    html = client.get(f"/areas/{world.grids['a1g1'].pk}/move/").content.decode()
    offered = {int(v) for v in _option_values(html, "new_parent")}
    assert offered == {world.villages[k].pk for k in ("a2", "b1", "b2")}


def test_area_detail_shows_only_visible_people_and_children(world, client):
    client.force_login(world.town_a)
    html = client.get(f"/areas/{world.area_a.pk}/").content.decode()
    assert world.villages["a1"].name in html
    assert "店口镇" not in html
    assert "诸暨市" not in html.split("<main>", 1)[1]  # the county (a parent) is not shown as a crumb


# ---------------------------------------------------------------- the sector dimension

def test_sector_narrowing_on_an_m2m_sector_dimension(world, monkeypatch):
    """The rule's sector branch (M2M), exercised on role assignments made sector-dimensioned for
    the test: a sector-bound grant sees only rows of its sectors; an unbound grant sees all."""
    from yingji.core import services
    from yingji.core.models import RoleAssignment
    from yingji.core.scoping import forget_grants

    monkeypatch.setattr(RoleAssignment, "scope_sector", "sectors")
    monkeypatch.setattr(RoleAssignment, "scope_sector_is_m2m", True)
    monkeypatch.setattr(RoleAssignment, "scope_capabilities", {"view": roles.VIEW, "edit": roles.EDIT})
    person = services.create_user(world.admin, username="sector_person", password="Test-pass-2026!",
                                  role=roles.INSPECTOR, area=world.area_a,
                                  sectors=[world.sectors["construction"]], must_change_password=False)
    construction = person.assignments.get()
    trade = services.grant_role(world.admin, person, role=roles.DEPT_OFFICER, area=world.area_b,
                                sectors=[world.sectors["industry_trade"]])
    for persona in PERSONAS:
        forget_grants(world.users[persona])
    ids = {construction.pk, trade.pk}

    def seen(persona):
        return set(RoleAssignment.objects.visible_to(world.users[persona]).filter(pk__in=ids)
                   .values_list("pk", flat=True))

    assert seen("dept") == {construction.pk}
    assert seen("inspector") == {trade.pk}
    assert seen("leader") == ids
    assert seen("town_a") == {construction.pk}
    assert seen("town_b") == {trade.pk}
    assert seen("enterprise") == set()


# ---------------------------------------------------------------- unfiltered listings

def _all_pages(client, url):
    ids, cursor = [], None
    while True:
        sep = "&" if "?" in url else "?"
        r = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""))
        if r.status_code == 404:
            return None
        assert r.status_code == 200, (url, r.status_code)
        ids += [item["id"] for item in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return ids


@pytest.mark.parametrize("persona", PERSONAS)
def test_listings_show_exactly_the_visible_rows(world, persona):
    """Every listing, paged to the end, shows exactly the rows the rule makes visible; and, stated
    independently of the rule, nothing of the other town."""
    import re

    from yingji.core.models import Area, AuditEntry, User

    for label in ("core.Area", "core.User", "core.AuditEntry"):
        for key in ("county", "village_a1", "town_b"):
            FACTORIES[label](world, area_of(world, key))
    user = world.users[persona]
    client = PersonaClient(user)
    listings = {
        "/api/v1/areas?limit=7": Area.objects.visible_to(user).filter(archived_at__isnull=True),
        "/api/v1/users?limit=7": User.objects.visible_to(user),
        "/api/v1/audit?limit=7": AuditEntry.objects.visible_to(user),
    }
    for url, qs in listings.items():
        ids = _all_pages(client, url)
        if ids is None:  # the listing is out of this role's reach altogether
            assert url != "/api/v1/areas?limit=7"
            continue
        assert len(ids) == len(set(ids)), f"{url}: duplicates across pages"
        assert set(ids) == set(qs.values_list("pk", flat=True)), url
    b_codes = world.area_b.code
    other_town = {"town_a": world.area_b.code, "town_b": world.area_a.code, "grid": world.area_b.code}.get(persona)
    if other_town:
        areas = Area.objects.filter(pk__in=_all_pages(client, "/api/v1/areas?limit=500"))
        assert not [a for a in areas if a.code.startswith(other_town) or len(a.code) < len(b_codes)]
        html = client.get("/users/").content.decode() if persona != "grid" else ""
        for pk in re.findall(r'href="/users/(\d+)/"', html):
            person = User.objects.get(pk=pk)
            assert person.assignments.filter(area__code__startswith=user.assignments.get().area.code).exists()


def test_grants_sql_agrees_with_the_orm(world):
    """``grants_for`` reads assignments with one plain SQL statement: it must return exactly what
    the ORM query it stands for returns — several sectors, none, a revoked assignment and one on
    an archived area included."""
    from yingji.core import services
    from yingji.core.models import RoleAssignment
    from yingji.core.scoping import _assignment_rows, forget_grants, grants_for

    admin = world.admin
    dept = world.dept
    services.grant_role(admin, dept, role=roles.DEPT_OFFICER, area=world.area_a,
                        sectors=[world.sectors["hazchem"], world.sectors["industry_trade"]])
    revoked = services.grant_role(admin, dept, role=roles.LEADER, area=world.area_b)
    services.revoke_role(admin, revoked)
    services.grant_role(admin, dept, role=roles.LEADER, area=world.grids["b2g2"])
    # an area archived under a live assignment (the service refuses to; older data may hold it)
    from django.utils import timezone

    from yingji.core.models import Area

    Area.objects.filter(pk=world.grids["b2g2"].pk).update(archived_at=timezone.now())
    for user in world.users.values():
        orm = list(RoleAssignment.objects.filter(user=user, revoked_at__isnull=True, area__archived_at__isnull=True)
                   .order_by("pk", "sectors__id")
                   .values_list("pk", "role", "area_id", "area__code", "area__parent_id", "sectors__id"))
        assert sorted(_assignment_rows(user.pk), key=lambda r: (r[0], r[5] or 0)) == \
            sorted(orm, key=lambda r: (r[0], r[5] or 0)), user.username
    forget_grants(dept)
    grants = grants_for(dept)
    assert [(g.role, g.area_code, sorted(g.sector_ids)) for g in grants] == [
        (roles.DEPT_OFFICER, world.county.code, [world.sectors["construction"].pk]),
        (roles.DEPT_OFFICER, world.area_a.code,
         sorted([world.sectors["hazchem"].pk, world.sectors["industry_trade"].pk])),
    ]


def test_reaches_with_sector_and_site_bindings(world):
    """``reaches`` on sites for the bindings the personas above lack: a sector-bound officer on
    sites of several sectors (one of them archived, which still counts, as in the query), and an
    enterprise user bound to one site."""
    from yingji.core import services
    from yingji.core.models import Sector
    from yingji.core.scoping import ScopedModel, forget_grants
    from yingji.registry import services as registry_services
    from yingji.registry.models import Site

    from tests.registry.factories import make_site

    admin = world.admin
    archived = world.sectors["hazchem"]  # archived below, once the officer and the site hold it
    sites = [make_site(world, world.villages["a1"]), make_site(world, world.villages["a1"]),
             make_site(world, world.area_b), make_site(world, world.area_a, archived)]
    sites[0].sectors.set([world.sectors["construction"], world.sectors["industry_trade"]])
    sites[1].sectors.set([world.sectors["industry_trade"]])
    officer = services.create_user(admin, username="sector_officer", password="Test-pass-2026!",
                                   role=roles.DEPT_OFFICER, area=world.area_a, sectors=[archived],
                                   must_change_password=False)
    Sector.objects.filter(pk=archived.pk).update(archived_at=world.county.created_at)
    bound = services.create_user(admin, username="bound_owner", password="Test-pass-2026!",
                                 role=roles.ENTERPRISE, area=world.villages["a1"], must_change_password=False)
    registry_services.bind_site_manager(admin, bound, sites[1])
    for user in (officer, bound, world.users["dept"], world.users["inspector"], world.users["enterprise"],
                 world.users["grid"], world.users["town_b"]):
        forget_grants(user)
        for site in sites:
            site = Site.objects.get(pk=site.pk)
            for action, qs in (("view", Site.objects.visible_to(user)), ("edit", Site.objects.editable_by(user))):
                want = qs.filter(pk=site.pk).exists()
                got = Site.reaches(user, action, area_code=site.area.code,
                                   sector_ids=list(site.sectors.values_list("pk", flat=True)), site_id=site.pk)
                assert got == want, (user.username, site.name, action)
    assert Site.reaches(bound, "view", area_code=sites[1].area.code, sector_ids=[], site_id=sites[1].pk)
    assert not Site.reaches(bound, "view", area_code=sites[0].area.code, sector_ids=[], site_id=sites[0].pk)
    assert Site.reaches(officer, "view", area_code=sites[3].area.code, sector_ids=[archived.pk], site_id=sites[3].pk)
    assert not Site.reaches(None, "view", area_code=world.county.code)
    assert not Site.reaches(world.admin, "no-such-action", area_code=world.county.code)
    assert ScopedModel.reaches.__func__ is Site.reaches.__func__


def test_reaches_refuses_models_with_their_own_rule(world):
    from yingji.hazards.models import Hazard

    with pytest.raises(TypeError):
        Hazard.reaches(world.admin, "view", area_code=world.county.code)


def test_reaches_without_an_area_dimension_follows_restrict(world, monkeypatch):
    """A model that declares no area path reaches nothing through area grants, as ``location_q``
    says (None); a site-bound grant still reaches its own rows."""
    from tests.registry.factories import make_site
    from yingji.core.scoping import forget_grants
    from yingji.registry import services as registry_services
    from yingji.registry.models import Site

    site = make_site(world, world.villages["a1"])
    owner = world.users["enterprise"]
    registry_services.bind_site_manager(world.admin, owner, site)
    monkeypatch.setattr(Site, "scope_area", None)
    for user in (world.admin, world.users["town_a"], owner):
        forget_grants(user)
        want = Site.objects.visible_to(user).filter(pk=site.pk).exists()
        assert Site.reaches(user, "view", area_code=site.area.code, sector_ids=[], site_id=site.pk) == want
    assert not Site.reaches(world.users["town_a"], "view", area_code=site.area.code, site_id=site.pk)
    assert Site.reaches(owner, "view", area_code=site.area.code, site_id=site.pk)
