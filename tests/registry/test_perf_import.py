"""The import's fast paths: same results as the plain ones, bounded queries per chunk, and the
single write pass keeps the all-or-nothing guarantee."""
from __future__ import annotations

import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from yingji.core import audit
from yingji.core.models import AuditEntry, JobStatus
from yingji.registry import bulk, imports, importing, synth
from yingji.registry.models import Site
from yingji.registry.services import pinyin_initials

from .test_import_pipeline import clean_rows, do_import, live_count, report_rows, xlsx_bytes


def _synthetic_names(n: int) -> list[str]:
    rng = random.Random(7)
    villages = ["大唐街道1村", "长乐村", "重阳社区", "银河村", "朝阳社区", "行知村"]
    towns = ["大唐", "店口", "山下湖", "重庆", "长城", "银行"]
    out = []
    for _ in range(n):
        prof = rng.choice(list(synth.PROFILES.values()))
        template = rng.choice(prof.names)
        parts = {"p": rng.choice(synth.PREFIXES), "b": rng.choice(synth.BRAND) + rng.choice(synth.BRAND),
                 "s": rng.choice(synth.SURNAMES), "g": rng.choice(synth.GIVEN), "v": rng.choice(villages),
                 "t": rng.choice(towns)}
        out.append(template.format(**parts))
    return out


def test_fast_pinyin_initials_equals_the_helper_on_many_names():
    names = _synthetic_names(3000) + ["中国银行诸暨支行", "重庆火锅店", "长城汽修厂", "电动车行", "朝阳超市", "行长办公室"]
    assert [imports.fast_pinyin_initials(n) for n in names] == [pinyin_initials(n) for n in names]


def test_record_audit_many_writes_what_record_many_writes(reg):
    w = reg.world
    changes = {"name": [None, "诸暨市大唐袜业有限公司"], "latitude": [None, "29.787000"], "sectors": [None, [1, 2]],
               "traits": [None, ["dust"]], "employees": [17, 999]}
    with audit.context(actor=w.admin, request_id="perf-audit", ip="10.0.0.8"), transaction.atomic():
        slow = audit.record_many("perf.slow", [(reg.socks, changes), (reg.park, {})])
        n = bulk.record_audit_many(Site, "perf.fast", [(reg.socks.pk, reg.socks.name, changes),
                                                       (reg.park.pk, reg.park.name, {})])
    assert n == 2
    fields = ("actor_id", "actor_name", "content_type_id", "object_id", "object_repr", "changes", "note",
              "request_id", "ip")
    fast = AuditEntry.objects.filter(action="perf.fast").order_by("id")
    for a, b in zip(AuditEntry.objects.filter(pk__in=[e.pk for e in slow]).order_by("id"), fast):
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert fast[0].changes["employees"] == [17, 999] and fast[0].actor_id == w.admin.pk
    assert fast[0].ip == "10.0.0.8" and fast[0].request_id == "perf-audit"


def test_record_audit_many_refuses_to_run_outside_a_transaction(transactional_db):
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError):
        bulk.record_audit_many(Site, "perf.fast", [(1, "x", {})])


def test_all_or_nothing_with_a_bad_row_in_a_later_chunk_writes_nothing(world, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 100)
    rows = clean_rows(250)
    rows[230][8] = "不存在镇"  # town of row 232 of the sheet (header is row 1)
    before_sites, before_audit = live_count(), AuditEntry.objects.filter(action__startswith="site.import").count()
    job = do_import(world.admin, xlsx_bytes(rows), mode=imports.MODE_ALL)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["written"] is False and job.result["invalid"] == 1 and job.result["created"] == 0
    assert job.result["create"] == 249  # the valid rows were planned (and their writes rolled back)
    assert "未写入任何数据" in job.result["message"]
    assert live_count() == before_sites
    assert AuditEntry.objects.filter(action__startswith="site.import").count() == before_audit
    assert AuditEntry.objects.filter(action="registry.import", object_id=job.pk).count() == 0
    [(row, column, _value, reason)] = report_rows(job)
    assert int(row) == 232 and column == "镇街" and "不存在" in reason
    # the same file fixed goes in whole, with one audit entry per site
    rows[230][8] = "大唐街道"
    job = do_import(world.admin, xlsx_bytes(rows), mode=imports.MODE_ALL)
    assert job.result["written"] is True and job.result["created"] == 250
    assert live_count() == before_sites + 250
    assert AuditEntry.objects.filter(action="site.import_create").count() == 250


def test_planning_a_chunk_costs_the_same_queries_for_10_or_300_rows(world):
    """Matching is done per chunk with a fixed number of queries, never per row."""
    rows = clean_rows(300)
    do_import(world.admin, xlsx_bytes(rows))
    rows[5][6] = "77"
    rows[205][6] = "88"

    def plan(n):
        header, parsed, close = importing.open_rows(xlsx_bytes(rows[:n]), "x.xlsx")
        try:
            chunk = list(parsed)
        finally:
            close()
        resolver = imports.Resolver(world.admin, dict(header.recognised))
        with CaptureQueriesContext(connection) as ctx:
            plans = resolver.plan_chunk(chunk)
        return len(ctx.captured_queries), plans

    small, plans_small = plan(10)
    big, plans_big = plan(300)
    assert small == big
    assert [p.action for p in plans_big].count("update") == 2
    assert [p.action for p in plans_big].count("same") == 298
    assert plans_big[5].changes == {"employees": [15, 77]}
