"""``yingji seed_hazards --scale county|province [--hazards N] [--inspections N] [--seed N]``:
deterministic SEED DATA for scale tests — hazards with their events and rectifications, and
inspections, over the sites already in the database (run ``yingji demo`` and ``yingji seed``
first). It lives in the inspections app, above hazards, because it seeds both. county = 1,000,000 hazards and 300,000 inspections; province = 10,000,000 and 3,000,000.

Seeded rows are marked (``idempotency_key`` ``seed:<seed>:h…`` / ``seed:<seed>:i…``, one audit
entry per batch) and the command tops up: it counts what the same seed already made and adds
the rest. On PostgreSQL a big load drops the tables' secondary indexes first and rebuilds them
afterwards, skips the foreign-key triggers for its own session when it may (the ids come from
the database, so the references hold by construction), COPYs the rows and ANALYZEs at the end.
"""
from __future__ import annotations

import datetime
import random
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from yingji.core import audit
from yingji.core.models import Area, AreaLevel
from yingji.hazards import synth
from yingji.hazards.models import Hazard, HazardEvent, Rectification
from yingji.inspections.models import Inspection

SCALES = {"county": (1_000_000, 300_000), "province": (10_000_000, 3_000_000)}
BATCH = 10_000
DROP_INDEXES_ABOVE = 200_000   # new rows (hazards + inspections) that make rebuilding indexes worth it


class Command(BaseCommand):
    help = "Generate deterministic hazards and inspections for scale tests (county: 1M/300k, province: 10M/3M)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="county")
        parser.add_argument("--hazards", type=int, default=None, help="override the number of hazards")
        parser.add_argument("--inspections", type=int, default=None, help="override the number of inspections")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--anchor", default=None,
                            help="the 'now' the histories run up to (YYYY-MM-DD; default: today)")
        parser.add_argument("--keep-indexes", action="store_true", help="never drop indexes around the load")

    def handle(self, *args, **opts):
        hazards_target, insp_target = SCALES[opts["scale"]]
        if opts["hazards"] is not None:
            hazards_target = opts["hazards"]
        if opts["inspections"] is not None:
            insp_target = opts["inspections"]
        if not (0 <= hazards_target <= 50_000_000 and 0 <= insp_target <= 20_000_000):
            raise CommandError("--hazards must be 0..50000000 and --inspections 0..20000000")
        seed = opts["seed"]
        if opts["anchor"]:
            try:
                day = datetime.date.fromisoformat(opts["anchor"])
            except ValueError:
                raise CommandError("--anchor must be YYYY-MM-DD") from None
            anchor = timezone.make_aware(datetime.datetime.combine(day, datetime.time(18)))
        else:
            anchor = timezone.localtime().replace(microsecond=0)
        county = Area.objects.filter(level=AreaLevel.COUNTY).order_by("code").first()
        if county is None:
            raise CommandError("没有行政区域数据,请先运行 yingji demo (no areas: run `yingji demo` first)")
        ctx = synth.load_context()
        if not ctx.site_ids or not ctx.users:
            raise CommandError("没有监管对象或用户,请先运行 yingji demo / yingji seed (no sites or users)")
        have_insp = Inspection.objects.filter(idempotency_key__startswith=f"seed:{seed}:i").count()
        have_hz = Hazard.objects.filter(idempotency_key__startswith=f"seed:{seed}:h").count()
        new = max(0, insp_target - have_insp) + max(0, hazards_target - have_hz)
        self.stdout.write(f"sites {len(ctx.site_ids):,}; seeded inspections {have_insp:,} → {insp_target:,}; "
                          f"seeded hazards {have_hz:,} → {hazards_target:,}")
        if new == 0:
            self.stdout.write("无需新增 (nothing to add)")
            return
        pg = connection.vendor == "postgresql"
        started = time.monotonic()
        index_defs = []
        try:
            if pg:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                    if cursor.fetchone()[0]:
                        cursor.execute("SET session_replication_role = replica")
                    cursor.execute("SET synchronous_commit = off")
                if new >= DROP_INDEXES_ABOVE and not opts["keep_indexes"]:
                    index_defs = synth.drop_secondary_indexes()
                    self.stdout.write(f"dropped {len(index_defs)} secondary indexes for the load")
            self._inspections(ctx, seed, anchor, have_insp, insp_target, county, started)
            synth.load_inspections(ctx, seed)
            self._hazards(ctx, seed, anchor, have_hz, hazards_target, county, started)
        finally:
            if index_defs:
                t0 = time.monotonic()
                synth.create_indexes(index_defs)
                self.stdout.write(f"rebuilt {len(index_defs)} indexes in {time.monotonic() - t0:.1f}s")
            if pg:
                with connection.cursor() as cursor:
                    cursor.execute("SET session_replication_role = DEFAULT")
        with transaction.atomic():
            n = synth.update_inspection_tallies(seed)
        self.stdout.write(f"inspection tallies updated: {n:,}")
        if pg:
            with connection.cursor() as cursor:
                for table in synth.SEED_TABLES:
                    cursor.execute(f"ANALYZE {table}")
        self.stdout.write(self.style.SUCCESS(
            f"完成:压测隐患 {hazards_target:,} 条、检查记录 {insp_target:,} 条,用时 {time.monotonic() - started:.1f} 秒"))

    def _inspections(self, ctx, seed, anchor, have, target, county, started):
        if have >= target:
            return
        for batch_no in range(have // BATCH, (target + BATCH - 1) // BATCH):
            rng = random.Random(f"yingji-seed-inspections:{seed}:{batch_no}")
            first, last = batch_no * BATCH, min((batch_no + 1) * BATCH, target)
            rows = []
            for index in range(first, last):
                row = synth.make_inspection(rng, ctx, index, seed, anchor)
                if index >= have:
                    rows.append(row)
            for row, pk in zip(rows, synth.reserve_ids(Inspection._meta.db_table, len(rows))):
                row["id"] = pk
            with transaction.atomic(), audit.context(request_id=f"seed-hazards-{seed}-i{batch_no}"):
                synth.insert(Inspection, rows)
                audit.record("inspection.seed", county, {"inspections": [first, last]},
                             note=f"压测数据:检查记录第{batch_no + 1}批,种子{seed}")
            self.stdout.write(f"  inspections {last:>10,} / {target:,}  ({time.monotonic() - started:.1f}s)")

    def _hazards(self, ctx, seed, anchor, have, target, county, started):
        if have >= target:
            return
        gen = synth.HazardHistory(ctx, seed, anchor)
        for batch_no in range(have // BATCH, (target + BATCH - 1) // BATCH):
            rng = random.Random(f"yingji-seed-hazards:{seed}:{batch_no}")
            first, last = batch_no * BATCH, min((batch_no + 1) * BATCH, target)
            with transaction.atomic(), audit.context(request_id=f"seed-hazards-{seed}-h{batch_no}"):
                hazards, events, rects = synth.build_hazard_batch(gen, rng, range(first, last), have)
                synth.insert(Hazard, hazards)
                synth.insert(Rectification, rects)
                synth.insert(HazardEvent, events)
                audit.record("hazard.seed", county, {"hazards": [first, last], "events": [0, len(events)],
                                                     "rectifications": [0, len(rects)]},
                             note=f"压测数据:隐患第{batch_no + 1}批,种子{seed}")
            self.stdout.write(f"  hazards {last:>10,} / {target:,}  ({time.monotonic() - started:.1f}s)")
