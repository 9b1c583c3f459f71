#!/usr/bin/env python
"""Site registry benchmark on PostgreSQL (run by hand; never part of ``make test``).

    .venv/bin/python bench/registry.py [--scales small,county,province] [--runs 20]
        [--pg postgres://postgres@127.0.0.1:5432] [--db yingji_bench] [--reuse] [--skip-io]

For each scale (small = 17k seeded sites, county = 170k, province = 2M) it seeds the database
(``yingji seed`` tops up, so each scale follows the previous one), ANALYZEs, then measures with a
warm cache (every path of one query interleaved run by run, so background load hits all alike):

* list and search pages through the real code path -- the Django test client hitting
  ``/sites/?…`` (session) and ``/api/v1/sites?…`` (bearer token) -- for the county admin and a
  town officer, each next to the raw SQL of the same query (the compiled SQL of the same
  queryset, run on the same connection), p50/p95 over N runs, and the ratio;
* the map endpoint for a town-sized and a county-sized bbox (and its clustering SQL);
* at county scale only: export of every site (time, peak traced memory) and import throughput
  for a 170k-row xlsx of new sites (the job handler run synchronously; the written rows are
  rolled back afterwards so the province run still sees 10x the county's data);
* finally the scaling ratio (bigger p50 / smaller p50) of every list/search query for each pair
  of consecutive scales: province/county is the issue's 10x step; county/small is also 10x and
  fits in a short run when 2M sites cannot be seeded in the time available.

Targets (issue): import of 170k rows < 60 s; list/search pages within 2x their raw SQL;
10x more data costs list/search at most 1.5x more time.

The database ``--db`` is DROPPED and created fresh unless ``--reuse`` is given.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
import resource
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from benchlib import TOWN_CODE, backend_cpu, log, measure_together, ms, open_database  # noqa: E402
sys.path.insert(0, str(ROOT / "src"))

# name -> (seed --scale, --count override): "small" is a tenth of a county, so small → county is a
# 10x step that fits in a short run; county → province is the 10x step.
SCALES = {"small": ("county", 17_000), "county": ("county", None), "province": ("province", None)}
TARGETS = {"import_s": 60.0, "page_ratio": 2.0, "scale_ratio": 1.5}


# ---------------------------------------------------------------- setup

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", default="county,province",
                   help="comma-separated, in growing order: small (17k), county (170k), province (2M)")
    p.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default 20)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"),
                   help="PostgreSQL server URL without database name")
    p.add_argument("--db", default="yingji_bench")
    p.add_argument("--reuse", action="store_true", help="keep the existing database (no drop/create/demo)")
    p.add_argument("--skip-io", action="store_true", help="skip the export/import measurements")
    p.add_argument("--skip-lists", action="store_true", help="skip the list/search/map measurements")
    p.add_argument("--skip-export", action="store_true", help="skip the export measurement (import still runs)")
    p.add_argument("--import-rows", type=int, default=170_000)
    p.add_argument("--rebuild-indexes", action="store_true",
                   help="seed every scale with `seed --rebuild-indexes` (the province always is)")
    args = p.parse_args()
    args.scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    for s in args.scales:
        if s not in SCALES:
            p.error(f"unknown scale {s!r}")
    if args.scales != sorted(args.scales, key=list(SCALES).index):
        p.error("scales must grow: small, county, province")
    return args


# ---------------------------------------------------------------- the queries

def cases(town):
    """(key, label, filters) of the list/search queries measured. Filters use the page's names."""
    from yingji.core.pagination import encode_cursor
    from yingji.registry.models import Site, SiteSource

    bounds = Site.objects.order_by("id").values_list("id", flat=True)
    lo, hi = bounds.first(), bounds.last()
    deep = encode_cursor([(lo + hi) // 2])
    sample = (Site.objects.filter(source=SiteSource.SEED, credit_code__isnull=False, area__code__startswith=TOWN_CODE)
              .order_by("id").values_list("credit_code", flat=True).first())
    return [
        ("first", "列表 首页", {}),
        ("deep", "列表 深页(键集)", {"cursor": deep}),
        ("zh2", "搜索 2字中文“袜业”", {"q": "袜业"}),
        ("pinyin", "搜索 拼音首字母 xtwy", {"q": "xtwy"}),
        ("code", "搜索 信用代码前缀(12位)", {"q": sample[:12]}),
        ("colour_area", "筛选 红色+大唐街道", {"colour": "red", "area": str(town.pk)}),
    ]


def page_queryset(user, filters: dict):
    """The main query of the list page/API for ``filters``: exactly what keyset_page runs."""
    from yingji.core.pagination import decode_cursor
    from yingji.registry import queries

    f = {k: v for k, v in filters.items() if k != "cursor"}
    qs = queries.site_search(user, **f).select_related("area", "industry")
    after = decode_cursor(filters.get("cursor"))
    if after:
        qs = qs.filter(id__lt=int(after[0]))
    return qs.order_by("-id")[:51]


def raw_runner(qs):
    from django.db import connection

    sql, params = qs.query.sql_with_params()

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()
    return run


def api_params(filters: dict) -> dict:
    out = dict(filters)
    if "area" in out:
        out["area_id"] = out.pop("area")
    return out


def bench_lists(users: dict, town, runs: int, warmup: int) -> list[dict]:
    from django.test import Client

    from yingji.core import services

    rows = []
    for ukey, user in users.items():
        page = Client()
        page.force_login(user)
        api = Client()
        _tok, secret = services.create_token(None, user, "bench")
        headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        for key, label, filters in cases(town):
            def get_page(f=filters):
                r = page.get("/sites/", f)
                assert r.status_code == 200, (r.status_code, f)

            def get_api(f=filters):
                r = api.get("/api/v1/sites", api_params(f), **headers)
                assert r.status_code == 200, (r.status_code, r.content[:300])

            m = measure_together({"raw": raw_runner(page_queryset(user, filters)), "page": get_page,
                                  "api": get_api}, runs, warmup)
            raw, pg, ap = m["raw"], m["page"], m["api"]
            n = len(list(page_queryset(user, filters)))
            rows.append({"user": ukey, "key": key, "label": label, "page": pg, "api": ap, "raw": raw, "rows": n})
            log(f"  {ukey:<5} {label:<22} page {ms(pg['p50'])}/{ms(pg['p95'])} ms  api {ms(ap['p50'])}/"
                f"{ms(ap['p95'])} ms  raw {ms(raw['p50'])}/{ms(raw['p95'])} ms  ({n} rows)")
    return rows


def bench_map(users: dict, town, runs: int, warmup: int) -> list[dict]:
    from django.test import Client

    from yingji.core import services
    from yingji.registry import maps

    clat, clng = float(town.latitude or 29.79), float(town.longitude or 120.22)
    boxes = [
        ("镇街视野 z13", f"{clng - .06:.6f},{clat - .04:.6f},{clng + .06:.6f},{clat + .04:.6f}", 13),
        ("全县视野 z10", "119.90,29.40,120.60,30.05", 10),
    ]
    rows = []
    for ukey, user in users.items():
        api = Client()
        _tok, secret = services.create_token(None, user, "bench")
        headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        for label, bbox, zoom in boxes:
            def get(b=bbox, z=zoom):
                r = api.get("/api/v1/map/sites", {"bbox": b, "zoom": str(z)}, **headers)
                assert r.status_code == 200, r.content[:300]
                return r.json()

            body = get()
            box = maps.parse_bbox(bbox)
            qs = maps.clusters(maps.in_bbox(maps.filtered_sites(user, {}), box), maps.cell_size(zoom, box))
            m = measure_together({"raw": raw_runner(qs), "api": get}, runs, warmup)
            raw, res = m["raw"], m["api"]
            rows.append({"user": ukey, "label": label, "api": res, "raw": raw, "total": body["total"],
                         "features": len(body["clusters"]) + len(body["points"])})
            log(f"  map {ukey:<5} {label}: api {ms(res['p50'])} ms, cluster SQL {ms(raw['p50'])} ms, "
                f"{body['total']} sites → {len(body['clusters']) + len(body['points'])} features")
    return rows


# ---------------------------------------------------------------- export / import

def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB). The growth of
    this peak across a step is a lower bound of the step's extra memory (tracemalloc would be
    exact but slows Python code 2-3x, which would falsify the timings)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_export(admin) -> dict:
    from yingji.registry import exports

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.xlsx"
        gc.collect()
        rss0 = peak_rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        n = exports.export_sites(admin, {}, str(out))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = out.stat().st_size
    return {"rows": n, "seconds": elapsed, "cpu_s": cpu, "peak_mb": peak_rss_mb() - rss0, "rss_mb": peak_rss_mb(),
            "file_mb": size / 2**20}


def write_import_file(path: Path, n: int) -> int:
    """``n`` NEW sites (credit codes beyond any seed index) in the import template's columns."""
    import xlsxwriter

    from yingji.core.models import Area, AreaLevel, Sector
    from yingji.registry.importing import TEMPLATE_COLUMNS
    from yingji.registry.models import Industry, RiskTrait, SiteKind, SiteScale, SiteSource, SiteStatus
    from yingji.registry.synth import SEED_CODE_BASE, Generator, load_context

    towns, places, industries = load_context(Industry, Area, AreaLevel.VILLAGE, AreaLevel.GRID, AreaLevel.TOWN)
    gen = Generator(towns, places, industries, SEED_CODE_BASE + 16 * 6_000_000, SiteSource.IMPORT)
    areas = {pk: (code, name, level) for pk, code, name, level in Area.objects.values_list("pk", "code", "name",
                                                                                          "level")}
    by_code = {code: name for code, name, _l in areas.values()}
    industry_code = {pk: code for code, pk in industries.items()}
    sector_names = dict(Sector.objects.values_list("code", "name"))
    trait_names = dict(RiskTrait.objects.values_list("code", "name"))
    kinds = {v: str(lbl) for v, lbl in SiteKind.choices}
    statuses = {v: str(lbl) for v, lbl in SiteStatus.choices}
    scales = {v: str(lbl) for v, lbl in SiteScale.choices}
    keys = [k for k, _h, _r, _help in TEMPLATE_COLUMNS]
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("监管对象")
    for col, (_k, header, required, _help) in enumerate(TEMPLATE_COLUMNS):
        sheet.write_string(0, col, ("*" + header) if required else header)
    rng = random.Random("bench-import")
    for i in range(n):
        values, sectors, traits = gen.make(rng, i)
        code, _name, level = areas[values["area_id"]]
        row = {
            "name": values["name"], "credit_code": values["credit_code"] or "", "kind": kinds[values["kind"]],
            "industry": industry_code.get(values["industry_id"], ""),
            "sectors": "、".join(sector_names[s] for s in dict.fromkeys(sectors) if s in sector_names),
            "traits": "、".join(trait_names[t] for t in traits if t in trait_names),
            "scale": scales.get(values["scale"], ""), "employees": values["employees"],
            "address": values["address"], "town": by_code.get(code[:9], ""),
            "village": by_code.get(code[:12], "") if len(code) >= 12 else "",
            "grid": areas[values["area_id"]][1] if level == AreaLevel.GRID else "",
            "longitude": float(values["longitude"]) if values["longitude"] is not None else None,
            "latitude": float(values["latitude"]) if values["latitude"] is not None else None,
            "legal_rep": values["legal_rep"], "legal_rep_phone": values["legal_rep_phone"],
            "safety_manager": values["safety_manager"], "safety_manager_phone": values["safety_manager_phone"],
            "status": statuses[values["status"]],
        }
        for col, key in enumerate(keys):
            v = row.get(key)
            if v is None or v == "":
                continue
            if isinstance(v, (int, float)):
                sheet.write_number(i + 1, col, v)
            else:
                sheet.write_string(i + 1, col, str(v))
    book.close()
    return n


class _Rollback(Exception):
    pass


def bench_import(admin, n: int) -> dict:
    """Queue an import job of ``n`` new sites (valid_rows mode, not a dry run) and run its handler
    synchronously; everything it writes is rolled back afterwards."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from yingji.core import audit
    from yingji.core.models import Job
    from yingji.registry import imports

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-import.xlsx"
        t0 = time.perf_counter()
        write_import_file(path, n)
        gen_s = time.perf_counter() - t0
        size = path.stat().st_size
        with audit.context(actor=admin, request_id="bench-import"):
            job = imports.start_import(admin, SimpleUploadedFile("bench-import.xlsx", path.read_bytes()),
                                       mode=imports.MODE_VALID, dry_run=False)
    job = Job.objects.get(pk=job.pk)
    result: dict = {}
    steps: list[float] = []

    def progress(done, total=None, message=""):
        steps.append(time.perf_counter())
        if len(steps) % 20 == 0:
            log(f"    import progress: {message}")

    gc.collect()
    rss0 = peak_rss_mb()
    pg0 = backend_cpu()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        with transaction.atomic(), audit.context(actor=admin, request_id="bench-import-run"):
            result = imports.run_import(job, progress)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            pg_cpu = backend_cpu() - pg0 if pg0 is not None else None
            raise _Rollback
    except _Rollback:
        pass
    peak = peak_rss_mb() - rss0
    return {"rows": result.get("rows"), "created": result.get("created"), "invalid": result.get("invalid"),
            "seconds": elapsed, "cpu_s": cpu, "pg_cpu_s": pg_cpu, "rows_per_s": (result.get("rows") or 0) / elapsed if elapsed else 0,
            "peak_mb": peak, "rss_mb": peak_rss_mb(), "file_mb": size / 2**20, "generate_s": gen_s}


# ---------------------------------------------------------------- report

def print_tables(results: dict, title: bool = True) -> None:
    print()
    if title:
        print("=" * 118)
        print("yingji registry benchmark — PostgreSQL, times in ms (p50/p95), ratio = p50 / raw SQL p50")
        print("=" * 118)
    for scale, r in results.items():
        print(f"\n## {scale}: {r['sites']:,} sites (seed {r['seed_s']:.0f} s)")
        print(f"{'user':<6}{'query':<26}{'rows':>5} {'page p50/p95':>15} {'api p50/p95':>15} {'raw p50/p95':>15}"
              f" {'page/raw':>9} {'api/raw':>8}")
        for row in r["lists"]:
            pg, ap, raw = row["page"], row["api"], row["raw"]
            print(f"{row['user']:<6}{row['label']:<24}{row['rows']:>5} "
                  f"{ms(pg['p50']):>7}/{ms(pg['p95']):<7} {ms(ap['p50']):>7}/{ms(ap['p95']):<7} "
                  f"{ms(raw['p50']):>7}/{ms(raw['p95']):<7} {pg['p50'] / raw['p50']:>8.1f}x {ap['p50'] / raw['p50']:>7.1f}x")
        print(f"{'user':<6}{'map bbox':<26}{'sites':>8} {'feat':>5} {'api p50/p95':>15} {'SQL p50/p95':>15}")
        for row in r["maps"]:
            print(f"{row['user']:<6}{row['label']:<24}{row['total']:>10,} {row['features']:>5} "
                  f"{ms(row['api']['p50']):>7}/{ms(row['api']['p95']):<7} "
                  f"{ms(row['raw']['p50']):>7}/{ms(row['raw']['p95']):<7}")
        if r.get("export"):
            e = r["export"]
            if "error" in e:
                print(f"export: not measured ({e['error']})")
            else:
                print(f"export: {e['rows']:,} rows in {e['seconds']:.1f} s wall, {e['cpu_s']:.1f} s CPU of this process "
                      f"({e['rows'] / e['seconds']:,.0f} rows/s wall), "
                      f"peak RSS +{e['peak_mb']:.0f} MB (process peak {e['rss_mb']:.0f} MB), file {e['file_mb']:.0f} MB")
        if r.get("import"):
            i = r["import"]
            if "error" in i:
                print(f"import: not measured ({i['error']})")
            else:
                ok = "OK" if i["seconds"] < TARGETS["import_s"] else "MISSED"
                pg = f", {i['pg_cpu_s']:.1f} s CPU of the PostgreSQL backend" if i.get("pg_cpu_s") is not None else ""
                print(f"import: {i['rows']:,} rows ({i['created']:,} created, {i['invalid']} invalid) in "
                      f"{i['seconds']:.1f} s wall ({i['cpu_s']:.1f} s CPU of this process{pg}) = "
                      f"{i['rows_per_s']:,.0f} rows/s, "
                      f"peak RSS +{i['peak_mb']:.0f} MB "
                      f"(process peak {i['rss_mb']:.0f} MB),"
                      f" file {i['file_mb']:.0f} MB  [target < {TARGETS['import_s']:.0f} s: {ok}]")
    names = list(results)
    for small, big in zip(names, names[1:]):
        c, p = results[small], results[big]
        print(f"\n## scaling: {big}/{small} p50 ({p['sites'] / c['sites']:.1f}x the sites; "
              f"target ≤ {TARGETS['scale_ratio']}x for 10x)")
        print(f"{'user':<6}{'query':<26}{'page':>7} {'api':>7} {'raw':>7}")
        index = {(row["user"], row["key"]): row for row in c["lists"]}
        for row in p["lists"]:
            base = index.get((row["user"], row["key"]))
            if not base:
                continue
            print(f"{row['user']:<6}{row['label']:<24}"
                  f"{row['page']['p50'] / base['page']['p50']:>6.2f}x {row['api']['p50'] / base['api']['p50']:>6.2f}x "
                  f"{row['raw']['p50'] / base['raw']['p50']:>6.2f}x")
        for row, base in zip(p["maps"], c["maps"]):
            print(f"{row['user']:<6}{'地图 ' + row['label']:<24}{'':>7} {row['api']['p50'] / base['api']['p50']:>6.2f}x "
                  f"{row['raw']['p50'] / base['raw']['p50']:>6.2f}x")
    print()


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    users = open_database(args)
    if users is None:
        return 2
    from django.core.management import call_command
    from django.db import connection

    from yingji.core.models import Area
    from yingji.registry.models import Site

    town = Area.objects.get(code=TOWN_CODE)
    results: dict = {}
    for scale in args.scales:
        seed_scale, count = SCALES[scale]
        log(f"seeding --scale {seed_scale}" + (f" --count {count}" if count else ""))
        t0 = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            # Big loads drop and rebuild registry_site's secondary indexes (one transaction).
            call_command("seed", scale=seed_scale, count=count, verbosity=0, stdout=devnull,
                         rebuild_indexes=scale == "province" or args.rebuild_indexes)
        seed_s = time.perf_counter() - t0
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE registry_site")
            cursor.execute("ANALYZE registry_site_sectors")
            cursor.execute("ANALYZE registry_site_traits")
            cursor.execute("ANALYZE core_area")
        sites = Site.objects.count()
        log(f"{scale}: {sites:,} sites (seeding took {seed_s:.0f} s)")
        r = {"sites": sites, "seed_s": seed_s}
        r["lists"], r["maps"] = [], []
        if not args.skip_lists:
            r["lists"] = bench_lists(users, town, args.runs, args.warmup)
            log("measuring the map endpoint")
            r["maps"] = bench_map(users, town, max(5, args.runs // 2), min(2, args.warmup))
        if scale == "county" and not args.skip_io:
            if not args.skip_export:
                log("measuring export")
                try:
                    r["export"] = bench_export(users["admin"])
                except Exception as exc:  # a module still being written must not sink the run
                    r["export"] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"export: {r['export']}")
            log(f"measuring import of {args.import_rows:,} new sites (rolled back afterwards)")
            try:
                r["import"] = bench_import(users["admin"], args.import_rows)
            except Exception as exc:
                r["import"] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"import: {r['import']}")
        results[scale] = r
        print_tables({scale: r}, title=False)
    print_tables(results)
    log(f"done in {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
