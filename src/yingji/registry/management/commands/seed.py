"""``yingji seed --scale county|province [--seed N]``: deterministic large site datasets for
scale testing — 170,000 sites (a county) or 2,000,000 (a province) spread over the existing area
tree (run ``yingji demo`` first).

Site #i depends only on (seed, i), so the command tops up: running ``--scale county`` twice adds
nothing the second time, and ``--scale province`` after it adds the remaining 1.83M. Rows go in
by COPY (PostgreSQL; ``executemany`` elsewhere) in batches of 10,000, one transaction and one
audit entry per batch.

``--rebuild-indexes`` (PostgreSQL, for big loads such as the province): the secondary indexes of
registry_site (three trigram GIN indexes and a dozen btrees) are dropped, every batch is loaded
and the indexes are built again once, then the table is ANALYZEd -- all in ONE transaction, so a
load that is killed halfway leaves neither rows nor missing indexes behind. Building an index
once over 2M rows is much cheaper than updating it 2M times. The transaction holds an exclusive
lock on registry_site until it commits: run it on a database nobody is using.
"""
from __future__ import annotations

import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from yingji.core import audit
from yingji.core.models import Area, AreaLevel

from ... import bulk
from ...models import Industry, Site, SiteSource
from ...synth import SEED_CODE_BASE, Generator, bulk_insert, load_context

SCALES = {"county": 170_000, "province": 2_000_000}
BATCH = 10_000


class Command(BaseCommand):
    help = "Generate a deterministic large set of supervised sites (county: 170k, province: 2M)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="county")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--count", type=int, default=None, help="override the number of sites")
        parser.add_argument("--rebuild-indexes", action="store_true",
                            help="PostgreSQL: drop registry_site's secondary indexes for the load and build them "
                                 "again afterwards, all in one transaction (for big loads; locks the table)")

    def handle(self, *args, **opts):
        target = opts["count"] if opts["count"] is not None else SCALES[opts["scale"]]
        if target < 0 or target > 5_000_000:
            raise CommandError("--count must be between 0 and 5000000")
        seed = opts["seed"]
        county = Area.objects.filter(level=AreaLevel.COUNTY).order_by("code").first()
        towns, places, industries = load_context(Industry, Area, AreaLevel.VILLAGE, AreaLevel.GRID,
                                                 AreaLevel.TOWN)
        if county is None or not towns:
            raise CommandError("没有行政区域数据,请先运行 yingji demo (no areas: run `yingji demo` first)")
        existing = Site.objects.filter(source=SiteSource.SEED).count()
        if existing >= target:
            self.stdout.write(f"已有 {existing} 个压测对象,无需新增 (already {existing} seeded sites)")
            return
        gen = Generator(towns, places, industries, SEED_CODE_BASE, SiteSource.SEED)
        if connection.vendor == "sqlite":
            # Random-order index inserts thrash SQLite's default 2 MB page cache; give it 256 MB.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size=-262144")
        started = time.monotonic()
        if opts["rebuild_indexes"] and connection.vendor == "postgresql":
            with transaction.atomic():
                indexes = bulk.drop_search_indexes()
                self.stdout.write(f"已删除 {len(indexes)} 个二级索引 (dropped {len(indexes)} secondary indexes)")
                done = self._load(gen, seed, county, existing, target, started)
                self.stdout.write("正在重建索引 (rebuilding indexes)")
                bulk.create_search_indexes(
                    indexes, log=lambda name: self.stdout.write(f"  {name}  ({time.monotonic() - started:.1f}s)"))
        else:
            done = self._load(gen, seed, county, existing, target, started)
        self.stdout.write(self.style.SUCCESS(
            f"已生成 {done - existing} 个监管对象,共 {done} 个压测对象,用时 {time.monotonic() - started:.1f} 秒"))
        # Generated colours are placeholders for load tests; the risk engine regrades every site in the
        # background (`yingji worker`), so the figures the platform shows come from its own rules.
        from ... import grading

        with audit.context(request_id=f"seed-{seed}-grade"):
            grading.regrade_all(None)
        self.stdout.write("已排队风险分级重算任务 (risk.recompute queued; run `yingji worker`)")

    def _load(self, gen, seed, county, existing, target, started) -> int:
        done = existing
        for batch_no in range(existing // BATCH, (target + BATCH - 1) // BATCH):
            rng = random.Random(f"yingji-seed:{seed}:{batch_no}")
            first, last = batch_no * BATCH, min((batch_no + 1) * BATCH, target)
            rows = []
            for index in range(first, last):
                row = gen.make(rng, index)  # always generated, so the stream stays deterministic
                if index >= existing:
                    rows.append(row)
            with transaction.atomic(), audit.context(request_id=f"seed-{seed}-{batch_no}"):
                bulk_insert(rows)
                audit.record("site.seed", county, {"sites": [done, done + len(rows)]},
                             note=f"压测数据:第{batch_no + 1}批,种子{seed}")
            done += len(rows)
            elapsed = time.monotonic() - started
            self.stdout.write(f"  {done:>9,} / {target:,}  ({elapsed:.1f}s)")
        return done
