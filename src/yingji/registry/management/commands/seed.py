"""``yingji seed --scale county|province [--seed N]``: deterministic large site datasets for
scale testing — 170,000 sites (a county) or 2,000,000 (a province) spread over the existing area
tree (run ``yingji demo`` first).

Site #i depends only on (seed, i), so the command tops up: running ``--scale county`` twice adds
nothing the second time, and ``--scale province`` after it adds the remaining 1.83M. Rows go in
with plain ``executemany`` in batches of 10,000, one transaction and one audit entry per batch.
"""
from __future__ import annotations

import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from yingji.core import audit
from yingji.core.models import Area, AreaLevel

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
        self.stdout.write(self.style.SUCCESS(
            f"已生成 {done - existing} 个监管对象,共 {done} 个压测对象,用时 {time.monotonic() - started:.1f} 秒"))
        # Generated colours are placeholders for load tests; the risk engine regrades every site in the
        # background (`yingji worker`), so the figures the platform shows come from its own rules.
        from yingji.risk.models import Reason
        from yingji.risk.services import queue_recompute

        with audit.context(request_id=f"seed-{seed}-grade"):
            queue_recompute(None, reason=Reason.SITE_CHANGE)
        self.stdout.write("已排队风险分级重算任务 (risk.recompute queued; run `yingji worker`)")
