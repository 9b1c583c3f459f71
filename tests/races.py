"""Two officers acting on one record at once: helpers for the race tests of every module.

The portable simulation (SQLite and PostgreSQL, one connection): officer A's service call reads
the record through one of its module's functions (``read``); right after that read returns —
A has seen the record and passed its state checks — officer B's whole service call runs and
succeeds. A then carries on with its stale view and must fail with ``Conflict``, writing no audit
entry after B's call. Because B runs inside A's transaction, A's failure rolls B back too: assert
on what the helper returns (B's result, A's error), not on the rows afterwards.

    err, won = lost_race(monkeypatch, services, "_load",
                         winner=lambda: services.delist(world.admin, listing.pk),
                         loser=lambda: services.delist(world.town_a, listing.pk))
    assert err.message == "该督办记录已被他人处理,请刷新后重试"

``at_once`` runs calls at the same moment in threads (real concurrency: PostgreSQL with
``django_db(transaction=True)``; skip on SQLite, which serialises writers).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from django.db import connection

STALE = "该记录已被他人处理,请刷新后重试"


@dataclass
class _Race:
    read_calls: int = 0
    winner_done: bool = False
    winner_result: object = None
    audited_after: list = field(default_factory=list)


def lost_race(monkeypatch, target, read: str, *, winner, loser, message: str | None = None,
              code: str | None = None):
    """Run ``loser()`` (officer A) with ``winner()`` (officer B) slipped in right after A's first
    call of ``target.<read>`` returned. ``winner`` must succeed; ``loser`` must raise ``Conflict``
    (with ``message`` / ``code`` when given) and record no audit entry after B's call.
    Returns ``(conflict, winner_result)``."""
    from yingji.core import audit
    from yingji.core.errors import Conflict

    race = _Race()
    original = getattr(target, read)
    record, record_many = audit.record, audit.record_many

    def reading(*args, **kwargs):
        result = original(*args, **kwargs)
        race.read_calls += 1
        if race.read_calls == 1:  # officer A has read; now officer B acts (B's own reads pass through)
            race.winner_result = winner()
            race.winner_done = True
        return result

    def spy_record(action, *args, **kwargs):
        if race.winner_done:
            race.audited_after.append(action)
        return record(action, *args, **kwargs)

    def spy_record_many(action, *args, **kwargs):
        if race.winner_done:
            race.audited_after.append(action)
        return record_many(action, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(target, read, reading)
        patched.setattr(audit, "record", spy_record)
        patched.setattr(audit, "record_many", spy_record_many)
        with pytest.raises(Conflict) as exc:
            loser()
    assert race.winner_done, f"{read} was never reached: the losing call failed before its read ({exc.value})"
    assert race.audited_after == [], f"the losing call wrote audit entries: {race.audited_after}"
    if message is not None:
        assert exc.value.message == message
    if code is not None:
        assert exc.value.code == code
    return exc.value, race.winner_result


def at_once(*calls, timeout: float = 60):
    """Run the calls at the same moment in threads (each on its own connection); returns
    ``[result or exception]`` in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def work(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results


def second_admin(world, username: str = "admin2"):
    """Another county administrator: the second officer of a race over county-wide records."""
    from yingji.core import roles, services

    from tests.conftest import PASSWORD

    return services.create_user(world.admin, username=username, password=PASSWORD, display_name="管理员二",
                                role=roles.CITY_ADMIN, area=world.county, must_change_password=False)


def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL); SQLite serialises them")
