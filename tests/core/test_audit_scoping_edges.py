"""Edges of the two cross-cutting rules: who has no grants at all, what can never be deleted,
and how the audit trail records values, refuses writes outside a transaction and polices services."""
from __future__ import annotations

import datetime
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from yingji.core import audit, roles, scoping
from yingji.core.models import Area, AuditEntry, User


def test_nobody_without_an_active_account_has_grants_or_capabilities(world):
    inactive = User.objects.get(pk=world.town_a.pk)
    inactive.is_active = False
    for who in (None, AnonymousUser(), inactive):
        assert scoping.grants_for(who) == []
        assert not Area.objects.visible_to(who).exists()
    assert not scoping.user_has_capability(None, roles.VIEW)
    assert not scoping.user_has_capability(AnonymousUser(), roles.VIEW)
    assert scoping.user_has_capability(world.town_a, roles.EDIT)
    assert scoping._no_sites(None) == []  # the loader used until the registry installs its own


def test_scoped_rows_are_never_deleted_not_even_in_bulk(world):
    with pytest.raises(scoping.HardDeleteForbidden):
        Area.objects.filter(pk=world.area_a.pk).delete()
    with pytest.raises(scoping.HardDeleteForbidden):
        world.area_a.delete()
    assert Area.objects.filter(pk=world.area_a.pk).exists()


def test_a_model_without_an_area_dimension_is_out_of_every_area_grant():
    class NoArea:
        scope_site = None
        scope_area = None
        scope_sector = None

    grant = scoping.Grant(role=roles.TOWN_OFFICER, area_id=1, area_code="330681005", area_is_root=False)
    assert scoping.ScopedModel.location_q.__func__(NoArea, grant) is None
    site_grant = scoping.Grant(role=roles.ENTERPRISE, area_id=1, area_code="330681", area_is_root=True,
                               site_ids=frozenset())
    assert scoping.ScopedModel.location_q.__func__(NoArea, site_grant) is None


def test_audit_values_are_plain_and_secrets_are_left_out(world):
    key = uuid.uuid4()
    when = datetime.datetime(2026, 11, 28, 9, 30, tzinfo=datetime.timezone.utc)
    plain = audit._plain({"area": world.area_a, "at": when, "day": when.date(), "ids": (1, key), "k": key})
    assert plain == {"area": world.area_a.pk, "at": when.isoformat(), "day": "2026-11-28", "ids": [1, str(key)],
                     "k": str(key)}
    snap = audit.snapshot(world.town_a)
    assert "password" not in snap and snap["username"] == "town_a"
    assert audit.snapshot(world.town_a, ["username"]) == {"username": "town_a"}


@pytest.mark.django_db(transaction=True)
def test_audit_refuses_to_write_outside_the_transaction_of_the_change():
    from tests.conftest import build_world

    world = build_world()
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record("area.update", world.area_a, {})
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record_many("area.update", [(world.area_a, {})])
    with transaction.atomic():
        entry = audit.record("area.update", world.area_a, {"name": ["a", "b"]}, actor=AnonymousUser())
    assert entry.actor is None  # an anonymous actor is recorded as the system


def test_strict_mode_fails_a_service_that_writes_no_audit_entry(world, monkeypatch):
    @audit.service("tests.silent")
    def silent():
        return "done"

    @audit.service("tests.audited")
    def audited():
        audit.record("area.update", world.area_a, {}, actor=world.admin)
        return "done"

    monkeypatch.setenv("YINGJI_STRICT_AUDIT", "1")
    with pytest.raises(audit.AuditMissing, match="tests.silent"):
        silent()
    assert audited() == "done"
    monkeypatch.setenv("YINGJI_STRICT_AUDIT", "0")
    assert silent() == "done"  # outside strict mode the call goes through
    stats = audit.SERVICE_REGISTRY
    assert stats["tests.audited"]["audited"] == 1 and stats["tests.silent"]["audited"] == 0
    assert AuditEntry.objects.filter(action="area.update", actor=world.admin).count() == 1
