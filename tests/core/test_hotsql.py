"""``core.hotsql``: hot statements prepared once per connection on PostgreSQL, the ORM's own
conversions for rows read that way, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from yingji.core import hotsql, services
from yingji.core.models import ApiToken, Area, User

pytestmark = pytest.mark.django_db


def _read(model, names, pk):
    sql = (f"SELECT {hotsql.columns(model, names, 'x')} FROM {connection.ops.quote_name(model._meta.db_table)} x "
           f"WHERE x.{connection.ops.quote_name(model._meta.pk.column)} = %s")
    return hotsql.fetch(sql, [pk])[0]


def test_instance_equals_the_orms_on_every_field(world):
    """Datetimes, booleans, foreign keys and text come back as the ORM gives them (SQLite returns
    datetimes as text to a raw cursor: the converters turn them into aware datetimes)."""
    user = world.users["town_a"]
    services.create_token(None, user, "hotsql")
    names = tuple(f.attname for f in User._meta.concrete_fields)
    got = hotsql.instance(User, tuple(reversed(names)), tuple(reversed(_read(User, names, user.pk))))
    want = User.objects.get(pk=user.pk)
    for f in User._meta.concrete_fields:
        assert getattr(got, f.attname) == getattr(want, f.attname), f.attname
    assert got.date_joined.tzinfo is not None and got.is_active is True
    assert not got._state.adding and got._state.db == "default"


def test_fields_not_read_are_deferred_and_load_on_use(world):
    area = world.villages["a1"]
    got = hotsql.instance(Area, ("id", "code"), _read(Area, ("id", "code"), area.pk))
    assert got.get_deferred_fields() >= {"name", "parent_id", "created_at"}
    with CaptureQueriesContext(connection) as q:
        assert got.name == area.name  # one query for the deferred field
    assert len(q.captured_queries) == 1


def test_convert_one_value(world):
    token, _secret = services.create_token(None, world.admin, "hotsql")
    services.user_for_token(_secret)
    raw = hotsql.fetch(f"SELECT last_used_at FROM {ApiToken._meta.db_table} WHERE id = %s", [token.pk])[0][0]
    assert hotsql.convert(ApiToken, "last_used_at", raw) == ApiToken.objects.get(pk=token.pk).last_used_at
    assert hotsql.convert(ApiToken, "last_used_at", None) is None


def test_statements_are_captured_and_errors_translated(world):
    with CaptureQueriesContext(connection) as q:
        hotsql.fetch("SELECT %s", [1])
        hotsql.fetch(f"SELECT id FROM {Area._meta.db_table} WHERE code = %s", ["330681"])
        hotsql.fetch("SELECT 2", [])
    assert [x["sql"] for x in q.captured_queries] == [
        "SELECT 1", f"SELECT id FROM {Area._meta.db_table} WHERE code = '330681'", "SELECT 2"]
    area = world.county
    with pytest.raises(IntegrityError), transaction.atomic():
        with hotsql.cursor() as cur:  # a second root area with the same code: unique violation
            cur.execute(f"UPDATE {Area._meta.db_table} SET code = %s WHERE id = %s",
                        [world.area_a.code, area.pk])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_postgresql_prepares_each_hot_statement_once(world):
    assert hotsql.enabled()
    sql = "SELECT id FROM core_area WHERE id = %s"
    for _ in range(3):
        assert hotsql.fetch(sql, [world.county.pk]) == [(world.county.pk,)]
    with connection.cursor() as cur:  # the default cursor: client-side binding, never prepared
        cur.execute("SELECT id FROM core_area WHERE code = %s", [world.county.code])
        cur.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [r[0] for r in cur.fetchall()]
    assert prepared.count("SELECT id FROM core_area WHERE id = $1") == 1
    assert not any("code = $1" in s for s in prepared)


def test_switched_off_it_is_the_default_cursor(world, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {**connection.settings_dict.get("OPTIONS", {}),
                                                               "prepare_threshold": None})
    assert not hotsql.enabled()
    with hotsql.cursor() as cur:
        assert type(cur.cursor) is type(connection.cursor().cursor)
        cur.execute("SELECT 1")
    assert hotsql.fetch("SELECT %s", [2]) == [(2,)]


@pytest.mark.parametrize("value,expected", [("false", "None"), ("true", "2147483647"), ("", "2147483647")])
def test_settings_switch(value, expected):
    """``YINGJI_PG_PREPARED`` decides whether PostgreSQL connections may prepare at all; a value
    that is not a boolean fails loudly."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "SECRET_KEY": "x", "DATABASE_URL": "postgres://u@127.0.0.1:5432/db",
           "YINGJI_PG_PREPARED": value}
    code = "import yingji.settings as s; print(s.DATABASES['default'].get('OPTIONS', {}).get('prepare_threshold'))"
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "src")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=src)
    assert proc.stdout.strip() == expected, proc.stderr
    env["YINGJI_PG_PREPARED"] = "sometimes"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=src)
    assert proc.returncode != 0 and "YINGJI_PG_PREPARED" in proc.stderr
