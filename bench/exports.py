#!/usr/bin/env python
"""Export benchmark: the site list to .xlsx at 17k and 170k rows, on SQLite and PostgreSQL
(run by hand; never part of ``make test``).

    .venv/bin/python bench/exports.py [--backends sqlite,postgres] [--scales 17000,170000] [--runs 1]
        [--pg postgres://postgres@127.0.0.1:5432] [--db yingji_exports_bench] [--reuse] [--keep]

For each backend it creates a fresh database (SQLite: a file under /tmp; PostgreSQL: ``--db``,
DROPPED and created), loads ``yingji demo`` (areas, users, ~3,000 sites), tops up with
``yingji seed --count`` to each scale's number of sites, then measures, each run in a child
process of its own (so its peak RSS is its own):

* ``export``: ``core.exports.write_xlsx`` of the ``sites`` list for the county admin with no
  filter — the very code of the inline export and of the ``core.export`` job: plain tuples from a
  server-side cursor (``values_list(...).iterator(chunk_size=2000)``), per-chunk lookups
  (sectors, traits, phones, hosts), xlsxwriter in ``constant_memory`` mode;
* ``floor``: xlsxwriter alone (same options) writing the same cells from a list already in
  memory (read before the clock starts): what writing the file costs with no database at all.

Reported per run: rows, wall seconds, CPU seconds of the Python process (user+system), CPU seconds
of the PostgreSQL backend (from /proc, server on this machine), peak RSS of the process and its
RSS before the export started (growth = peak - start), file size. The machine is shared: compare
CPU seconds, and the ratio export/floor, more than wall time.

Target (issue 14, item 16): 170k sites in < 25 s wall, memory flat as rows grow.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))
from benchlib import ADMIN, backend_cpu, bench_env, create_database, log, rss_mb  # noqa: E402

SQLITE_PATH = "/tmp/yingji_exports_bench.sqlite3"
TARGET_S = 25.0


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------- child: one measurement

def child(mode: str) -> None:
    import django

    os.environ.setdefault("YINGJI_MEDIA_ROOT", tempfile.mkdtemp(prefix="yingji-bench-media-"))
    django.setup()
    from yingji.core import exports
    from yingji.core.models import User
    from yingji.registry.exports import SITES

    user = User.objects.get(username=ADMIN)
    out = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
    out.close()
    try:
        if mode == "export":
            start_rss, pg0 = rss_mb() * 1024, backend_cpu()
            c0, t0 = cpu(), time.perf_counter()
            rows = exports.write_xlsx(SITES, user, {}, out.name)
            wall, used = time.perf_counter() - t0, cpu() - c0
        else:  # floor: the same cells, already in memory, written by xlsxwriter alone
            import xlsxwriter

            cells = list(SITES.iter_rows(user, {}))
            start_rss, pg0 = rss_mb() * 1024, backend_cpu()
            c0, t0 = cpu(), time.perf_counter()
            book = xlsxwriter.Workbook(out.name, exports.WORKBOOK_OPTIONS)
            sheet = book.add_worksheet("floor")
            for col, column in enumerate(SITES.columns):
                sheet.write_string(0, col, str(column.header))
            for r, row in enumerate(cells, start=1):
                exports.write_cells(sheet, r, row)
            book.close()
            rows = len(cells)
            wall, used = time.perf_counter() - t0, cpu() - c0
        pg1 = backend_cpu()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"mode": mode, "rows": rows, "wall_s": wall, "cpu_s": used,
                          "pg_cpu_s": (pg1 - pg0) if pg0 is not None and pg1 is not None else None,
                          "start_rss_mb": start_rss / 1024, "peak_rss_mb": peak / 1024,
                          "file_mb": os.path.getsize(out.name) / 1e6}))
    finally:
        os.unlink(out.name)


# ---------------------------------------------------------------- parent

def env_for(backend: str, args) -> dict:
    if backend == "postgres":
        env = bench_env(args.pg, args.db)
    else:
        env = bench_env(args.pg, args.db)
        env["DATABASE_URL"] = f"sqlite:///{SQLITE_PATH}"
    env["PYTHONPATH"] = str(ROOT / "src")   # this worktree's code, also in the child processes
    return dict(os.environ, **env)


def manage(env: dict, *argv: str) -> None:
    code = ("import sys, django; django.setup(); from django.core.management import call_command; "
            "call_command(*sys.argv[1:], verbosity=0)")
    subprocess.run([sys.executable, "-c", code, *argv], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def count_sites(env: dict) -> tuple[int, int]:
    code = ("import django; django.setup(); from yingji.registry.models import Site, SiteSource; "
            "print(Site.objects.count(), Site.objects.filter(source=SiteSource.SEED).count())")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    total, seeded = out.stdout.split()
    return int(total), int(seeded)


def prepare(backend: str, env: dict, args) -> None:
    if args.reuse:
        return
    if backend == "postgres":
        log(f"creating database {args.db}")
        create_database(args.pg, args.db)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(SQLITE_PATH + suffix).unlink(missing_ok=True)
    log(f"{backend}: migrate + demo")
    manage(env, "demo")


def grow_to(env: dict, target: int) -> int:
    total, seeded = count_sites(env)
    if total < target:
        log(f"seeding to {target:,} sites (now {total:,})")
        t0 = time.perf_counter()
        manage(env, "seed", "--count", str(seeded + target - total))
        log(f"  seeded in {time.perf_counter() - t0:.0f} s")
        if env["DATABASE_URL"].startswith("postgres"):
            code = "import django; django.setup(); from django.db import connection; connection.cursor().execute('ANALYZE')"
            subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT)
    return count_sites(env)[0]


def measure(env: dict, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode], env=env, check=True, cwd=ROOT,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(r: dict) -> str:
    pg = f"{r['pg_cpu_s']:.1f}" if r.get("pg_cpu_s") is not None else "-"
    return (f"{r['rows']:>8,} | {r['mode']:<6} | {r['wall_s']:7.1f} | {r['cpu_s']:7.1f} | {pg:>6} | "
            f"{r['start_rss_mb']:6.0f} | {r['peak_rss_mb']:6.0f} | {r['peak_rss_mb'] - r['start_rss_mb']:6.0f} | "
            f"{r['file_mb']:5.1f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--scales", default="17000,170000", help="total sites per step (seeded up to each)")
    p.add_argument("--runs", type=int, default=1, help="runs of each measurement per scale")
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--db", default="yingji_exports_bench")
    p.add_argument("--reuse", action="store_true", help="keep the existing, already seeded databases")
    p.add_argument("--keep", action="store_true", help="do not drop the databases afterwards")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child)
        return 0
    results = []
    for backend in args.backends.split(","):
        env = env_for(backend, args)
        prepare(backend, env, args)
        for target in (int(s) for s in args.scales.split(",")):
            total = grow_to(env, target)
            for run in range(args.runs):
                for mode in ("export", "floor"):
                    r = measure(env, mode)
                    r.update(backend=backend, sites=total)
                    results.append(r)
                    log(f"{backend} {fmt(r)}")
        if not args.keep:
            if backend == "postgres":
                import psycopg

                with psycopg.connect(args.pg.rstrip("/") + "/postgres", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            else:
                for suffix in ("", "-wal", "-shm"):
                    Path(SQLITE_PATH + suffix).unlink(missing_ok=True)
    print("\n| backend | rows | what | wall s | CPU s | PG CPU s | RSS start MB | RSS peak MB | growth MB | file MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['backend']} | " + " | ".join(c.strip() for c in fmt(r).split("|")) + " |")
    worst = max((r["wall_s"] for r in results if r["mode"] == "export" and r["rows"] >= 100_000), default=None)
    if worst is not None:
        print(f"\nslowest export of >= 100k rows: {worst:.1f} s wall (target < {TARGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
