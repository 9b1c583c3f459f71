"""The one access rule.

Every scoped model inherits :class:`ScopedModel` and is read only through
``Model.objects.visible_to(user)`` / ``editable_by(user)`` / ``restrict(user, capability)``.
Access is deny-by-default: a user without a matching role assignment sees nothing.

A role assignment becomes a :class:`Grant`: the role's capabilities, an area subtree (by the
prefix-nested area code), optionally a set of sectors and, for site-bound roles, a set of sites.
A model says how its rows map onto those dimensions with class attributes:

``scope_area``    path to the row's ``Area`` FK (``"self"`` for ``Area`` itself), or ``None``
``scope_sector``  path to a ``Sector`` FK or M2M, or ``None`` when sectors do not apply
``scope_site``    path to a site FK (``"pk"`` for the site model itself), or ``None``
``scope_capabilities``  which capability each action needs, e.g. ``{"view": "view", "edit": "edit"}``

A model whose rows are scoped through something else (attachments, audit entries) overrides
``scope_q(grant, action)``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.db import models
from django.db.models import Q

from . import roles


class HardDeleteForbidden(Exception):
    """Business records are archived, never deleted."""


@dataclass(frozen=True)
class Grant:
    role: str
    area_id: int
    area_code: str
    area_is_root: bool
    sector_ids: frozenset[int] = field(default_factory=frozenset)
    site_ids: frozenset[int] | None = None  # set only for site-bound roles
    user_id: int | None = None  # whose grant: side records a person owns (their own jobs)

    def allows(self, capability: str) -> bool:
        return roles.has_capability(self.role, capability)


def grants_for(user) -> list[Grant]:
    """The user's grants, loaded once per user object (i.e. once per request)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_yingji_grants", None)
    if cached is not None:
        return cached
    assignments: dict[int, list] = {}
    for pk, role, area_id, code, parent_id, sector_id in _assignment_rows(user.pk):
        entry = assignments.setdefault(pk, [role, area_id, code, parent_id, set()])
        if sector_id is not None:
            entry[4].add(sector_id)
    result: list[Grant] = []
    for pk, (role, area_id, code, parent_id, sectors) in assignments.items():
        site_ids = None
        if role in roles.SITE_BOUND_ROLES:
            site_ids = frozenset(site_binding_loader(pk))
        result.append(
            Grant(
                role=role,
                area_id=area_id,
                area_code=code,
                area_is_root=parent_id is None,
                sector_ids=frozenset(sectors),
                site_ids=site_ids,
                user_id=user.pk,
            )
        )
    user._yingji_grants = result
    return result


def _assignment_rows(user_id: int) -> list[tuple]:
    """Each live assignment of the user (not revoked, area not archived) with its area's code and
    parent and its sectors: one row per sector, one row with a NULL sector for an assignment
    without sectors, in assignment order. Every request reads this, so it is one plain SQL
    statement (built once from the models' tables and columns) rather than a compiled ORM query
    (equivalent to ``RoleAssignment.objects.filter(user=…, revoked_at__isnull=True,
    area__archived_at__isnull=True).values_list("pk", "role", "area_id", "area__code",
    "area__parent_id", "sectors__id")``; tests/core/test_scoping.py checks both agree)."""
    from . import hotsql

    with hotsql.cursor() as cursor:
        cursor.execute(_assignment_sql(), [user_id])
        return cursor.fetchall()


@functools.cache
def _assignment_sql() -> str:
    from django.apps import apps
    from django.db import connection

    # The models are looked up in Django's app registry: they import this module (ScopedModel),
    # so importing them back would make a circle.
    Area, RoleAssignment = apps.get_model("core", "Area"), apps.get_model("core", "RoleAssignment")
    q = connection.ops.quote_name
    ra, area = RoleAssignment._meta, Area._meta
    through = RoleAssignment.sectors.through._meta

    from .hotsql import column as col

    return (
        f"SELECT ra.{col(ra, 'id')}, ra.{col(ra, 'role')}, ra.{col(ra, 'area')}, a.{col(area, 'code')}, "
        f"a.{col(area, 'parent')}, s.{col(through, 'sector')} "
        f"FROM {q(ra.db_table)} ra "
        f"INNER JOIN {q(area.db_table)} a ON a.{col(area, 'id')} = ra.{col(ra, 'area')} "
        f"LEFT OUTER JOIN {q(through.db_table)} s ON s.{col(through, 'roleassignment')} = ra.{col(ra, 'id')} "
        f"WHERE ra.{col(ra, 'user')} = %s AND ra.{col(ra, 'revoked_at')} IS NULL "
        f"AND a.{col(area, 'archived_at')} IS NULL ORDER BY ra.{col(ra, 'id')}"
    )


def _no_sites(assignment_id: int) -> list[int]:
    return []


# The registry app replaces this with a loader of the sites bound to an assignment (by its id).
site_binding_loader = _no_sites


def set_site_binding_loader(loader) -> None:
    global site_binding_loader
    site_binding_loader = loader


def forget_grants(user) -> None:
    if user is not None and hasattr(user, "_yingji_grants"):
        del user._yingji_grants


def area_subtree_ids(code: str):
    from django.apps import apps

    return apps.get_model("core", "Area").objects.filter(code__startswith=code).values("pk")


def path_q(path: str, lookup: str, value) -> Q:
    return Q(**{f"{path}__{lookup}": value})


class ScopedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view"):
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        condition = None
        for grant in grants_for(user):
            q = self.model.scope_q(grant, action)
            if q is None:
                continue
            if not q:  # empty Q: everything this model holds
                return self.all()
            condition = q if condition is None else condition | q
        if condition is None:
            return self.none()
        return self.filter(condition)

    def visible_to(self, user):
        return self.restrict(user, "view")

    def editable_by(self, user):
        return self.restrict(user, "edit")

    def delete(self):
        raise HardDeleteForbidden(f"{self.model.__name__} records are archived, never deleted")


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)


class ScopedModel(models.Model):
    scope_area: str | None = "area"
    scope_sector: str | None = None
    scope_sector_is_m2m: bool = False
    scope_site: str | None = None
    scope_capabilities: dict[str, str] = {"view": roles.VIEW, "edit": roles.EDIT}

    objects = ScopedManager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise HardDeleteForbidden(f"{type(self).__name__} records are archived, never deleted")

    @classmethod
    def capability_for(cls, action: str) -> str | None:
        return cls.scope_capabilities.get(action)

    @classmethod
    def scope_q(cls, grant: Grant, action: str) -> Q | None:
        """The rows ``grant`` reaches for ``action``: None = nothing, Q() = everything."""
        capability = cls.capability_for(action)
        if capability is None or not grant.allows(capability):
            return None
        return cls.location_q(grant)

    @classmethod
    def reaches(cls, user, action: str, *, area_code: str, sector_ids=(), site_id: int | None = None) -> bool:
        """Whether ``restrict(user, action)`` holds one row, decided in Python from what the row
        carries — its area's code, its sector ids (all of them, archived sectors too) and its
        site's id — for a row read without the ORM on a hot path. The same rule as ``scope_q`` and
        ``location_q`` of this class, which it refuses to guess for a model that overrides either
        (tests/core/test_scoping.py compares both for every persona)."""
        if cls.scope_q.__func__ is not ScopedModel.scope_q.__func__ or \
                cls.location_q.__func__ is not ScopedModel.location_q.__func__:
            raise TypeError(f"{cls.__name__} has its own scope rule: use restrict()")
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        capability = cls.capability_for(action)
        if capability is None:
            return False
        for grant in grants_for(user):
            if not grant.allows(capability):
                continue
            if grant.site_ids is not None:
                if cls.scope_site is not None and site_id in grant.site_ids:
                    return True
                continue
            if cls.scope_area is None:
                continue
            if not grant.area_is_root and not area_code.startswith(grant.area_code):
                continue
            if grant.sector_ids and cls.scope_sector is not None and grant.sector_ids.isdisjoint(sector_ids):
                continue
            return True
        return False

    @classmethod
    def location_q(cls, grant: Grant) -> Q | None:
        """The rows inside the grant's area/sector/site binding, whatever the capability."""
        q = Q()
        if grant.site_ids is not None:
            if cls.scope_site is None:
                return None
            return path_q(cls.scope_site, "in", list(grant.site_ids)) if grant.site_ids else None
        if cls.scope_area is None:
            return None
        if not grant.area_is_root:
            if cls.scope_area == "self":
                q &= Q(code__startswith=grant.area_code)
            else:
                q &= Q(**{f"{cls.scope_area}_id__in": area_subtree_ids(grant.area_code)})
        if grant.sector_ids and cls.scope_sector is not None:
            if cls.scope_sector_is_m2m:
                through = cls._meta.get_field(cls.scope_sector).remote_field.through
                src = next(f.name for f in through._meta.fields if f.related_model is cls and f.name != "id")
                q &= Q(pk__in=through.objects.filter(sector_id__in=list(grant.sector_ids)).values(f"{src}_id"))
            else:
                q &= Q(**{f"{cls.scope_sector}_id__in": list(grant.sector_ids)})
        return q


def scoped_models() -> list[type[ScopedModel]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, ScopedModel)]


def user_has_capability(user, capability: str) -> bool:
    """Whether any of the user's grants carries ``capability`` (for navigation and forms)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(g.allows(capability) for g in grants_for(user))


def subject_q(grant: Grant, action: str = "view", *, type_field: str = "content_type",
              id_field: str = "object_id", models=None, exclude=()) -> Q | None:
    """THE rule of side records (audit entries, jobs, attachments' kin): the rows of a side
    record pointing at a subject by (content type, object id) that ``grant`` reaches because it
    may ``action`` the subject itself — the subject model's own ``scope_q``, capability included
    (so an account event needs ``manage_users``, like the account). ``models``: the subject models
    to consider (default: every scoped model but ``exclude``). None = nothing, Q() = everything."""
    from django.contrib.contenttypes.models import ContentType

    q = None
    for model in models if models is not None else scoped_models():
        if model in exclude:
            continue
        inner = model.scope_q(grant, action)
        if inner is None:
            continue
        part = Q(**{f"{type_field}_id": ContentType.objects.get_for_model(model).pk})
        if inner:
            part &= Q(**{f"{id_field}__in": model.objects.filter(inner).values("pk")})
        q = part if q is None else q | part
    return q
