#!/usr/bin/env python
"""Hazards benchmark on PostgreSQL (run by hand; never part of ``make test``).

    .venv/bin/python bench/hazards.py [--scales county,province] [--runs 20]
        [--pg postgres://postgres@127.0.0.1:5432] [--db yingji_bench_hz] [--reuse]
        [--hazards N --inspections N] [--submit-seconds 30 --workers 2 --clients 8]

Per scale (county = 170k sites, 1M hazards, 300k inspections; province = 2M sites, 10M
hazards, 3M inspections) it seeds (``yingji seed`` for the sites, ``yingji seed_hazards`` for
hazards with their events/rectifications and inspections; both top up), ANALYZEs, then measures
with a warm cache:

* the hazard list page ``/hazards/?…`` (session) and ``/api/v1/hazards?…`` (bearer token) for
  the county admin and a town officer — first page, a deep keyset page, open, overdue, major in
  a town, a sector, grid-patrol reports, a site's hazards, a text search — each next to the raw
  SQL of the same query (the page's two list statements compiled once — the page's keys, then
  those rows with their joins — run with ``cursor.execute`` on the same connection),
  interleaved run by run; p50/p95 and page/raw, api/raw;
* the figures page ``/stats/`` and ``GET /api/v1/stats/hazards`` (pre-aggregated by
  ``yingji refresh_figures``; their "as of" time is checked) — skipped with a message while the
  stats module is not there;
* sustained hazard submissions: the app under gunicorn (``--workers`` processes, gthread) on a
  free loopback port against the same database, ``--clients`` keep-alive client threads POSTing
  ``/api/v1/hazards`` with a unique ``Idempotency-Key`` each, plus deliberate retries of a key
  already answered (``--retry-fraction``) and racing pairs of the same key on two connections at
  once (``--race-fraction``); successes, errors and duplicates are counted from the answers and
  from the database (rows per key, report events per hazard, rows = unique keys);
* a cProfile of ``services.report_hazard`` and of the whole API call in process, with SQL
  counts: the per-submission cost breakdown.

Targets (issue): pages within 2x raw SQL; figures under 300 ms at province scale; at least 300
submissions/s on 2 cores with zero errors and zero duplicates.

The database ``--db`` is DROPPED and created fresh unless ``--reuse`` is given.
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from benchlib import TOWN_CODE, bench_env, log, measure_together, ms, open_database, pct  # noqa: E402
sys.path.insert(0, str(ROOT / "src"))

# name -> (site seed --scale, hazards, inspections)
SCALES = {"county": ("county", 1_000_000, 300_000), "province": ("province", 10_000_000, 3_000_000)}
GUNICORN_LOG = Path(tempfile.gettempdir()) / "bench-hz-gunicorn.log"
SERVER = "gunicorn"   # set from --server
CATEGORIES = ("equipment", "environment", "management", "fire", "electrical", "hazchem", "dust", "confined_space",
              "ammonia", "gas", "hot_work", "other")
TARGETS = {"page_ratio": 2.0, "figures_ms": 300.0, "submissions_per_s": 300.0}


# ---------------------------------------------------------------- setup

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", default="county", help="comma-separated, growing: county, province")
    p.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default 20)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    p.add_argument("--db", default="yingji_bench_hz")
    p.add_argument("--reuse", action="store_true", help="keep the existing database (no drop/create/demo)")
    p.add_argument("--hazards", type=int, default=None, help="override the hazards of every scale")
    p.add_argument("--inspections", type=int, default=None, help="override the inspections of every scale")
    p.add_argument("--sites", type=int, default=None, help="override the seeded sites (yingji seed --count)")
    p.add_argument("--skip-lists", action="store_true")
    p.add_argument("--skip-figures", action="store_true")
    p.add_argument("--skip-submit", action="store_true")
    p.add_argument("--skip-profile", action="store_true")
    p.add_argument("--submit-seconds", type=float, default=30.0, help="length of the sustained submission run")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2 = cores)")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    p.add_argument("--clients", type=int, default=8, help="concurrent client connections")
    p.add_argument("--retry-fraction", type=float, default=0.10)
    p.add_argument("--race-fraction", type=float, default=0.02)
    p.add_argument("--profile-calls", type=int, default=200)
    p.add_argument("--feed-seconds", type=float, default=60.0,
                   help="after the submission run, run the queued risk-feed jobs in process for at most S s")
    p.add_argument("--server", choices=["gunicorn", "granian"], default="gunicorn",
                   help="WSGI server of the submission run (granian: --workers processes x --threads blocking threads)")
    p.add_argument("--wsgi", default="yingji.wsgi:application",
                   help="WSGI app for gunicorn (an experiment may wrap the real one; PYTHONPATH is passed on)")
    args = p.parse_args()
    args.scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    for s in args.scales:
        if s not in SCALES:
            p.error(f"unknown scale {s!r}")
    if not args.db.startswith("yingji_bench_hz"):
        p.error("--db must start with yingji_bench_hz (this benchmark drops it)")
    return args


# ---------------------------------------------------------------- list / filter

def cases(town, user):
    """(key, label, filters) with the page's filter names."""
    from yingji.core.models import Sector
    from yingji.core.pagination import encode_cursor
    from yingji.hazards.models import Hazard

    visible = Hazard.objects.visible_to(user)
    ids = visible.order_by("id").values_list("id", flat=True)
    lo, hi = ids.first(), ids.last()
    sector = Sector.objects.get(code="industry_trade")
    site = (visible.filter(site__isnull=False, idempotency_key__startswith="seed:").order_by("-id")
            .values_list("site_id", flat=True).first())
    return [
        ("first", "列表 首页", {}),
        ("deep", "列表 深页(键集)", {"cursor": encode_cursor([(lo + hi) // 2])}),
        ("open", "未销号", {"state": "open"}),
        ("overdue", "仅看超期", {"overdue": "on"}),
        ("major_town", "重大隐患+大唐街道", {"level": "major", "area": str(town.pk)}),
        ("sector", "行业领域 工贸", {"sector": str(sector.pk)}),
        ("grid", "网格巡查+已上报", {"source": "grid_patrol", "state": "reported"}),
        ("site", "一个监管对象的隐患", {"site": str(site)}),
        ("text", "关键词“消防通道”", {"q": "消防通道"}),
    ]


def page_queryset(user, filters: dict):
    """What the list page pages: hazard_search + keyset, ordered (unsliced)."""
    from yingji.core.pagination import decode_cursor
    from yingji.hazards import queries

    f = {k: v for k, v in filters.items() if k != "cursor"}
    if "overdue" in f:
        f["overdue"] = True
    qs = queries.hazard_search(user, **f)
    after = decode_cursor(filters.get("cursor"))
    if after:
        qs = qs.filter(id__lt=int(after[0]))
    return qs.order_by("-id")


def raw_runner(qs):
    """The page's list statements, raw: the page's keys (``keyset_page(keys_first=True)``: the ids
    of ``qs`` ordered, LIMIT 51), then those rows with their joins (``values(*LIST_FIELDS)``);
    each compiled once, run with ``cursor.execute`` on the same connection."""
    from django.db import connection

    from yingji.hazards.views import LIST_FIELDS

    keys_qs = qs.values_list("id", flat=True)[:51]
    keys_sql, keys_params = keys_qs.query.sql_with_params()
    keys = list(keys_qs)
    rows_sql, rows_params = (qs.filter(id__in=keys).values(*LIST_FIELDS).query.sql_with_params() if keys
                             else (None, None))

    def run():
        with connection.cursor() as cursor:
            cursor.execute(keys_sql, keys_params)
            cursor.fetchall()
            if rows_sql is not None:
                cursor.execute(rows_sql, rows_params)
                cursor.fetchall()
    return run


def api_params(filters: dict) -> dict:
    out = dict(filters)
    if "area" in out:
        out["area_id"] = out.pop("area")
    if "site" in out:
        out["site_id"] = out.pop("site")
    if "overdue" in out:
        out["overdue"] = "true"
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
        for key, label, filters in cases(town, user):
            def get_page(f=filters):
                r = page.get("/hazards/", f)
                assert r.status_code == 200, (r.status_code, f)

            def get_api(f=filters):
                r = api.get("/api/v1/hazards", api_params(f), **headers)
                assert r.status_code == 200, (r.status_code, r.content[:300])

            m = measure_together({"raw": raw_runner(page_queryset(user, filters)), "page": get_page,
                                  "api": get_api}, runs, warmup)
            n = len(list(page_queryset(user, filters)[:51]))
            rows.append({"user": ukey, "key": key, "label": label, "rows": n, **m})
            log(f"  {ukey:<5} {label:<18} page {ms(m['page']['p50'])}/{ms(m['page']['p95'])} ms  api "
                f"{ms(m['api']['p50'])}/{ms(m['api']['p95'])} ms  raw {ms(m['raw']['p50'])}/"
                f"{ms(m['raw']['p95'])} ms  ({n} rows)")
    return rows


# ---------------------------------------------------------------- figures

def figures_available() -> str | None:
    """None when the stats module offers what is measured, else why not."""
    from django.core.management import get_commands
    from django.urls import NoReverseMatch, Resolver404, resolve

    if "refresh_figures" not in get_commands():
        return "no `refresh_figures` command (yingji.stats not built yet)"
    for path in ("/stats/", "/api/v1/stats/hazards"):
        try:
            resolve(path)
        except (Resolver404, NoReverseMatch):
            return f"{path} is not routed (yingji.stats not built yet)"
    return None


def _as_of(body) -> str | None:
    if isinstance(body, dict):
        for k, v in body.items():
            if k in ("as_of", "asof", "as_of_time", "refreshed_at", "computed_at") and v:
                return str(v)
            found = _as_of(v)
            if found:
                return found
    return None


def bench_figures(users: dict, runs: int, warmup: int) -> dict:
    from django.core.management import call_command
    from django.test import Client

    from yingji.core import services

    why = figures_available()
    if why:
        return {"skipped": why}
    t0 = time.perf_counter()
    with open(os.devnull, "w") as devnull:
        call_command("refresh_figures", stdout=devnull)
    refresh_s = time.perf_counter() - t0
    rows = []
    for ukey, user in users.items():
        page = Client()
        page.force_login(user)
        api = Client()
        _tok, secret = services.create_token(None, user, "bench-figures")
        headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        first = api.get("/api/v1/stats/hazards", **headers)
        html = page.get("/stats/")
        as_of = _as_of(first.json()) if first.status_code == 200 else None

        def get_page():
            r = page.get("/stats/")
            assert r.status_code == 200, r.status_code

        def get_api():
            r = api.get("/api/v1/stats/hazards", **headers)
            assert r.status_code == 200, (r.status_code, r.content[:300])

        m = measure_together({"page": get_page, "api": get_api}, runs, warmup)
        rows.append({"user": ukey, **m, "as_of": as_of, "api_status": first.status_code,
                     "page_status": html.status_code,
                     "page_shows_as_of": ("截至" in html.content.decode()) or ("as of" in html.content.decode())})
        log(f"  figures {ukey:<5} page {ms(m['page']['p50'])}/{ms(m['page']['p95'])} ms  api "
            f"{ms(m['api']['p50'])}/{ms(m['api']['p95'])} ms  as of {as_of}")
    return {"refresh_s": refresh_s, "rows": rows}


# ---------------------------------------------------------------- submissions through the API

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, workers: int, threads: int, wsgi: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    if not gunicorn.exists():
        raise RuntimeError("gunicorn is not installed: .venv/bin/pip install -c constraints.txt -e '.[bench]'")
    cmd = [str(gunicorn), wsgi, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--worker-class", "gthread", "--threads", str(threads), "--keep-alive", "30", "--timeout", "60",
           "--log-level", "warning", "--chdir", str(ROOT / "src")]
    if SERVER == "granian":
        granian = ROOT / ".venv" / "bin" / "granian"
        if not granian.exists():
            raise RuntimeError("granian is not installed: .venv/bin/pip install -c constraints.txt -e '.[bench]'")
        cmd = [str(granian), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "--workers",
               str(workers), "--blocking-threads", str(threads), "--http", "1", "--log-level", "warning",
               "--working-dir", str(ROOT / "src"), wsgi]
    full_env = dict(os.environ, **env)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    with open(GUNICORN_LOG, "w") as errors:
        proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/hazards", headers={"Host": "127.0.0.1"})
            conn.getresponse().read()
            conn.close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {GUNICORN_LOG}")
            time.sleep(0.3)
    stop_gunicorn(proc)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def server_pids(proc: subprocess.Popen, db: str) -> dict:
    """The gunicorn processes (master and workers) and the PostgreSQL backends serving ``db``."""
    from django.db import connection

    pids = {"app": [proc.pid], "db": []}
    try:
        for task in Path(f"/proc/{proc.pid}/task").iterdir():
            pids["app"] += [int(x) for x in (task / "children").read_text().split()]
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                       "AND backend_type = 'client backend'", [db])
        pids["db"] = [r[0] for r in cursor.fetchall()]
    return pids


def server_cpu(pids: dict) -> dict:
    return {k: {pid: _cpu_seconds(pid) for pid in v} for k, v in pids.items()}


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.status: dict = {}
        self.errors: list = []
        self.latencies: list = []
        self.ids: dict = {}          # key -> hazard id first answered
        self.mismatch = 0            # a retry or race answered with another hazard
        self.requests = 0
        self.retries = 0
        self.races = 0

    def record(self, key, status, body, elapsed, exc=None):
        with self.lock:
            self.requests += 1
            self.latencies.append(elapsed)
            self.status[status] = self.status.get(status, 0) + 1
            if exc is not None or status not in (200, 201):
                if len(self.errors) < 20:
                    self.errors.append((status, exc or body[:300]))
                return
            hid = json.loads(body)["id"]
            known = self.ids.setdefault(key, hid)
            if known != hid:
                self.mismatch += 1


def _post(conn_box: list, port: int, token: str, key: str, payload: bytes, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key,
               "Host": "127.0.0.1"}
    t0 = time.perf_counter()
    for attempt in (1, 2):
        try:
            conn = conn_box[0]
            conn.request("POST", "/api/v1/hazards", body=payload, headers=headers)
            r = conn.getresponse()
            body = r.read()
            tally.record(key, r.status, body, time.perf_counter() - t0)
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            return
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            # a keep-alive connection the server closed meanwhile: reconnect and send again
            # (same key, so it cannot duplicate); a second failure counts as an error
            conn_box[0].close()
            conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if attempt == 2:
                tally.record(key, 0, b"", time.perf_counter() - t0, exc=repr(exc))
        except Exception as exc:  # noqa: BLE001 - every failure is counted
            tally.record(key, 0, b"", time.perf_counter() - t0, exc=repr(exc))
            conn_box[0].close()
            conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            return


def client_loop(n: int, port: int, clients: list, run_id: str, stop_at: float, tally: Tally,
                retry_fraction: float, race_fraction: float, min_requests: int = 0) -> None:
    """One client: new keys, deliberate retries of answered keys and racing pairs."""
    rng = random.Random(f"bench-client:{run_id}:{n}")
    token, sites, desc = clients[n % len(clients)]
    main = [http.client.HTTPConnection("127.0.0.1", port, timeout=60)]
    second = [http.client.HTTPConnection("127.0.0.1", port, timeout=60)]
    answered: list = []
    seq = 0
    while time.perf_counter() < stop_at or seq < min_requests:
        roll = rng.random()
        if answered and roll < retry_fraction:
            key, payload = answered[rng.randrange(len(answered))]
            with tally.lock:
                tally.retries += 1
            _post(main, port, token, key, payload, tally)
            continue
        seq += 1
        key = f"bench-{run_id}-{n}-{seq}"
        # About the seed document's mix (2,383 major of 74,966) over every category, so that the
        # newest hazards do not all share one level and category (which skews the list plans).
        payload = json.dumps({
            "site_id": sites[rng.randrange(len(sites))], "level": "major" if rng.random() < 0.03 else "general",
            "category": CATEGORIES[rng.randrange(len(CATEGORIES))],
            "title": "消防通道堆放杂物", "description": f"{desc}(压测提交 {seq})", "location": "一号车间",
        }, ensure_ascii=False).encode()
        if roll > 1 - race_fraction:
            with tally.lock:
                tally.races += 1
            other = threading.Thread(target=_post, args=(second, port, token, key, payload, tally))
            other.start()
            _post(main, port, token, key, payload, tally)
            other.join()
        else:
            _post(main, port, token, key, payload, tally)
        answered.append((key, payload))
    for box in (main, second):
        box[0].close()


def bench_submissions(env: dict, users: dict, town, args) -> dict:
    from django.db import connection

    from yingji.core import services
    from yingji.core.scoping import area_subtree_ids
    from yingji.registry.models import Site

    admin_sites = list(Site.objects.filter(archived_at__isnull=True).order_by("?").values_list("pk", flat=True)[:5000])
    town_sites = list(Site.objects.filter(archived_at__isnull=True, area_id__in=area_subtree_ids(town.code))
                      .order_by("?").values_list("pk", flat=True)[:5000])
    clients = []
    for ukey, user in users.items():
        _tok, secret = services.create_token(None, user, "bench-submit")
        clients.append((secret, admin_sites if ukey == "admin" else town_sites, "消防通道被货物占用"))
    run_id = uuid.uuid4().hex[:10]
    global SERVER
    SERVER = args.server
    proc, port = start_gunicorn(env, args.workers, args.threads, args.wsgi)
    tally = Tally()
    try:
        # warm every worker (imports, connections) outside the measured window
        warm = Tally()
        threads = [threading.Thread(target=client_loop, args=(i, port, clients, f"w{run_id}",
                                                               time.perf_counter() + 3, warm, 0, 0, 6))
                   for i in range(args.clients)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        log(f"  warm-up: {warm.requests} requests, statuses {warm.status}")
        cpu0 = os.times()
        before = server_cpu(server_pids(proc, connection.settings_dict["NAME"]))
        t0 = time.perf_counter()
        stop_at = t0 + args.submit_seconds
        threads = [threading.Thread(target=client_loop, args=(i, port, clients, run_id, stop_at, tally,
                                                               args.retry_fraction, args.race_fraction))
                   for i in range(args.clients)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        wall = time.perf_counter() - t0
        cpu1 = os.times()
        after = server_cpu(server_pids(proc, connection.settings_dict["NAME"]))
    finally:
        stop_gunicorn(proc)
    keys = len(tally.ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM hazards_hazard "
                       "WHERE idempotency_key LIKE %s", [f"bench-{run_id}-%"])
        rows, distinct = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM (SELECT e.hazard_id FROM hazards_hazardevent e JOIN hazards_hazard h "
                       "ON h.id = e.hazard_id WHERE h.idempotency_key LIKE %s AND e.action = %s "
                       "GROUP BY e.hazard_id HAVING COUNT(*) > 1) d", [f"bench-{run_id}-%", "report"])
        double_events = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM core_auditentry WHERE action = 'hazard.create' AND object_id IN "
                       "(SELECT id FROM hazards_hazard WHERE idempotency_key LIKE %s)", [f"bench-{run_id}-%"])
        audited = cursor.fetchone()[0]
    used = {k: sum(v - before[k].get(pid, 0.0) for pid, v in after[k].items()) for k in after}
    errors = sum(v for k, v in tally.status.items() if k not in (200, 201))
    created = tally.status.get(201, 0)
    res = {
        "wall_s": wall, "requests": tally.requests, "unique_keys": keys, "rows": rows, "distinct_keys": distinct,
        "created_201": created, "repeat_200": tally.status.get(200, 0), "errors": errors,
        "error_samples": tally.errors[:5], "retries": tally.retries, "races": tally.races,
        "mismatched_answers": tally.mismatch, "double_report_events": double_events, "audited": audited,
        "duplicates": (rows - keys) + tally.mismatch + double_events,
        "repeats_answered_201": max(0, created - keys),
        "submissions_per_s": keys / wall, "requests_per_s": tally.requests / wall,
        "p50": statistics.median(tally.latencies) if tally.latencies else None,
        "p95": pct(tally.latencies, 95) if tally.latencies else None,
        "client_cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
        "workers": args.workers, "threads": args.threads, "clients": args.clients, "wsgi": args.wsgi, "server": args.server,
        "db_backends": (len(before["db"]), len(after["db"]), len(set(after["db"]) - set(before["db"]))),
        "app_cpu_ms": used["app"] * 1000 / max(1, tally.requests),
        "db_cpu_ms": used["db"] * 1000 / max(1, tally.requests),
    }
    res["capacity_2_cores"] = 2000 / max(0.001, res["app_cpu_ms"] + res["db_cpu_ms"])
    log(f"  submissions: {res['submissions_per_s']:.0f}/s new hazards ({res['requests_per_s']:.0f} req/s), "
        f"errors {errors}, duplicates {res['duplicates']}, p50 {ms(res['p50'])} ms p95 {ms(res['p95'])} ms")
    res["feed"] = bench_feed(run_id, keys, args.feed_seconds)
    return res


def bench_feed(run_id: str, new_hazards: int, seconds: float) -> dict:
    """The regrades the reports queued (``hazards.feed_risk``, one job per site per slot): how
    many, and how fast one in-process worker runs them (app CPU of this process + PostgreSQL CPU
    of its backend per job)."""
    import threading as _threading

    from django.db import connection
    from django.utils import timezone

    from yingji.core import jobs
    from yingji.core.models import Job

    queued = Job.objects.filter(kind="hazards.feed_risk", status="queued")
    out = {"queued": queued.count(), "new_hazards": new_hazards}
    last = queued.order_by("-run_after").values_list("run_after", flat=True).first()
    if last is not None:  # the last slot's jobs are due once that slot has ended (plus the grace period)
        time.sleep(min(30.0, max(0.0, (last - timezone.now()).total_seconds())))
    def backend_pid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    jobs.autodiscover()
    # Other due jobs (the sites seed queues a full risk.recompute: minutes at the province) run
    # first, untimed: the drain below is to measure the regrades alone.
    others = (Job.objects.filter(status="queued", run_after__lte=timezone.now())
              .exclude(kind="hazards.feed_risk").values_list("pk", flat=True))
    for pk in list(others):
        job = jobs.try_claim(pk, f"bench-other-{run_id}")
        if job is not None:
            log(f"  running the queued {job.kind} job first (untimed)")
            jobs.run_job(job)
    connection.close()  # a fresh connection (CONN_MAX_AGE 60 s): one backend for the whole drain
    backend = backend_pid()
    stop = _threading.Event()
    timer = _threading.Timer(seconds, stop.set)
    cpu0, db0, t0 = time.process_time(), _cpu_seconds(backend), time.perf_counter()
    timer.start()
    try:
        ran = jobs.run_worker(worker_id=f"bench-feed-{run_id}", once=True, stop_event=stop)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    db_s = _cpu_seconds(backend) - db0
    same_backend = backend_pid() == backend  # else the worker reconnected: its PostgreSQL CPU is unknown
    out.update(ran=ran, wall_s=wall, per_s=ran / wall if wall else 0.0,
               app_cpu_ms=(time.process_time() - cpu0) * 1000 / max(1, ran),
               db_cpu_ms=db_s * 1000 / max(1, ran) if same_backend else float("nan"),
               left=Job.objects.filter(kind="hazards.feed_risk", status="queued").count(),
               failed=Job.objects.filter(kind="hazards.feed_risk", status="failed").count())
    log(f"  risk feed: {out['queued']:,} jobs queued for {new_hazards:,} new hazards; one worker ran {ran:,} in "
        f"{wall:.0f} s ({out['per_s']:.0f}/s, app {out['app_cpu_ms']:.1f} ms + PostgreSQL {out['db_cpu_ms']:.1f} ms "
        f"per job), {out['left']:,} left, {out['failed']} failed")
    return out


# ---------------------------------------------------------------- profile

def bench_profile(users: dict, calls: int) -> dict:
    """cProfile of report_hazard alone and of the whole API call, with SQL counts."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from yingji.core import audit, services
    from yingji.hazards import services as hz
    from yingji.registry.models import Site

    admin = users["admin"]
    picked = list(Site.objects.filter(archived_at__isnull=True).order_by("?").values_list("pk", flat=True)[:2 * calls])
    sites, plain_sites = picked[:calls], picked[calls:] or picked[:calls]
    run = uuid.uuid4().hex[:8]

    def service_calls():
        for i, site in enumerate(sites):
            with audit.context(actor=admin, request_id=f"bench-prof-{i}"):
                hz.report_hazard(admin, site=site, description=f"配电箱未设置漏电保护(性能剖析{i})",
                                 category="electrical", idempotency_key=f"prof-{run}-{i}")

    # Committed for real (no rollback), so any after-commit work is measured too (the site's risk
    # regrade is a queued job since 2026-11-29: see bench_feed); the rows stay in the bench
    # database, keyed prof-… / profapi-….
    out: dict = {}
    prof = cProfile.Profile()
    with CaptureQueriesContext(connection) as q:
        t0 = time.perf_counter()
        prof.enable()
        service_calls()
        prof.disable()
        out["service_ms"] = (time.perf_counter() - t0) * 1000 / len(sites)
    out["service_queries"] = len(q.captured_queries) / len(sites)
    out["service_sql_ms"] = sum(float(x["time"]) for x in q.captured_queries) * 1000 / len(sites)
    out["service_sql_kinds"] = _sql_kinds(q.captured_queries, len(sites))
    out["service_top"] = _top(prof, 22)

    api = Client()
    _tok, secret = services.create_token(None, admin, "bench-profile")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    r = api.post("/api/v1/hazards", {"site_id": sites[0], "description": "灭火器过期(预热)", "category": "fire"},
                 content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"profapi-{run}-warm", **headers)
    assert r.status_code == 201, r.content[:300]   # the URLconf and the API are imported outside the profile
    prof = cProfile.Profile()
    with CaptureQueriesContext(connection) as q:
        t0 = time.perf_counter()
        prof.enable()
        for i, site in enumerate(sites):
            r = api.post("/api/v1/hazards", {"site_id": site, "description": f"灭火器过期(剖析{i})",
                                             "category": "fire"}, content_type="application/json",
                         HTTP_IDEMPOTENCY_KEY=f"profapi-{run}-{i}", **headers)
            assert r.status_code == 201, r.content[:300]
        prof.disable()
        out["api_ms"] = (time.perf_counter() - t0) * 1000 / len(sites)
    out["api_queries"] = len(q.captured_queries) / len(sites)
    out["api_sql_ms"] = sum(float(x["time"]) for x in q.captured_queries) * 1000 / len(sites)
    out["api_sql_kinds"] = _sql_kinds(q.captured_queries, len(sites))
    out["api_top"] = _top(prof, 22)
    # The same call without profiler or query capture, on other sites (a site's second report in a
    # slot finds its risk-feed job queued): CPU per call of this process and of its PostgreSQL backend.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    cpu0, pg0 = time.process_time(), _cpu_seconds(backend)
    for i, site in enumerate(plain_sites):
        r = api.post("/api/v1/hazards", {"site_id": site, "description": f"灭火器过期(计时{i})", "category": "fire"},
                     content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"profcpu-{run}-{i}", **headers)
        assert r.status_code == 201, r.content[:300]
    out["api_app_cpu_ms"] = (time.process_time() - cpu0) * 1000 / len(plain_sites)
    out["api_pg_cpu_ms"] = (_cpu_seconds(backend) - pg0) * 1000 / len(plain_sites)
    return out


def _sql_kinds(queries: list, n: int) -> list:
    kinds: dict = {}
    for q in queries:
        sql = q["sql"].lstrip()
        verb = sql.split(None, 1)[0].upper()
        table = ""
        for marker in (" FROM ", "INSERT INTO ", "UPDATE "):
            if marker in sql:
                table = sql.split(marker, 1)[1].split(None, 1)[0].strip('"')
                break
        key = f"{verb} {table}"
        kinds[key] = kinds.get(key, 0) + 1
    return sorted(((k, v / n) for k, v in kinds.items()), key=lambda kv: -kv[1])


def _top(prof: cProfile.Profile, n: int) -> str:
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(r"yingji/(?!core/middleware)|psycopg/cursor.py:\d+\(execute\)", n)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip() and not ln.startswith("   Ordered")]
    return "\n".join(lines[-(n + 2):])


# ---------------------------------------------------------------- report

def print_tables(results: dict) -> None:
    print("\n" + "=" * 118)
    print("yingji hazards benchmark — PostgreSQL, times in ms (p50/p95), ratio = p50 / raw SQL p50")
    print("=" * 118)
    for scale, r in results.items():
        print(f"\n## {scale}: {r['hazards']:,} hazards, {r['inspections']:,} inspections, {r['sites']:,} sites "
              f"(seed: sites {r['seed_sites_s']:.0f} s, hazards {r['seed_hazards_s']:.0f} s)")
        if r["lists"]:
            print(f"{'user':<6}{'query':<20}{'rows':>5} {'page p50/p95':>15} {'api p50/p95':>15} {'raw p50/p95':>15}"
                  f" {'page/raw':>9} {'api/raw':>8}")
            for row in r["lists"]:
                pg, ap, raw = row["page"], row["api"], row["raw"]
                print(f"{row['user']:<6}{row['label']:<18}{row['rows']:>5} "
                      f"{ms(pg['p50']):>7}/{ms(pg['p95']):<7} {ms(ap['p50']):>7}/{ms(ap['p95']):<7} "
                      f"{ms(raw['p50']):>7}/{ms(raw['p95']):<7} {pg['p50'] / raw['p50']:>8.1f}x "
                      f"{ap['p50'] / raw['p50']:>7.1f}x")
            within = [row["page"]["p50"] / row["raw"]["p50"] <= TARGETS["page_ratio"] for row in r["lists"]]
            print(f"pages within {TARGETS['page_ratio']:.0f}x raw SQL: {sum(within)}/{len(within)}")
        f = r.get("figures")
        if f is not None:
            if "skipped" in f:
                print(f"figures: skipped — {f['skipped']}")
            else:
                print(f"figures: refresh_figures {f['refresh_s']:.1f} s; target < {TARGETS['figures_ms']:.0f} ms")
                for row in f["rows"]:
                    ok = "OK" if row["page"]["p50"] * 1000 < TARGETS["figures_ms"] else "MISSED"
                    print(f"  {row['user']:<6} /stats/ {ms(row['page']['p50'])}/{ms(row['page']['p95'])} ms  "
                          f"api {ms(row['api']['p50'])}/{ms(row['api']['p95'])} ms  as of {row['as_of']}  "
                          f"(page shows as-of: {row['page_shows_as_of']})  [{ok}]")
        s = r.get("submit")
        if s is not None:
            if "error" in s:
                print(f"submissions: not measured ({s['error']})")
            else:
                ok = ("OK" if s["submissions_per_s"] >= TARGETS["submissions_per_s"] and not s["errors"]
                      and not s["duplicates"] else "MISSED")
                print(f"submissions ({s['wsgi']}, {s['workers']} {s.get('server', 'gunicorn')} workers × {s['threads']} threads, "
                      f"{s['clients']} client connections, {s['wall_s']:.0f} s): "
                      f"{s['submissions_per_s']:.0f} new hazards/s, "
                      f"{s['requests_per_s']:.0f} requests/s; p50 {ms(s['p50'])} ms, p95 {ms(s['p95'])} ms")
                print(f"  server CPU per request: app {s['app_cpu_ms']:.1f} ms + PostgreSQL {s['db_cpu_ms']:.1f} ms "
                      f"(client {s['client_cpu_s'] * 1000 / max(1, s['requests']):.1f} ms) → at most "
                      f"{s['capacity_2_cores']:.0f} requests/s on 2 idle cores; PostgreSQL backends before/after/new "
                      f"{s['db_backends']}")
                print(f"  requests {s['requests']:,}: 201 {s['created_201']:,}, 200 (repeat) {s['repeat_200']:,}, "
                      f"errors {s['errors']}; deliberate retries {s['retries']:,}, racing pairs {s['races']:,}")
                print(f"  database: {s['rows']:,} rows for {s['unique_keys']:,} unique keys ({s['distinct_keys']:,} "
                      f"distinct), answers naming another hazard {s['mismatched_answers']}, hazards with >1 report "
                      f"event {s['double_report_events']}, hazard.create audit entries {s['audited']:,}, "
                      f"repeats answered 201 instead of 200 {s['repeats_answered_201']}; "
                      f"duplicates {s['duplicates']}  [target ≥ {TARGETS['submissions_per_s']:.0f}/s, 0 errors, "
                      f"0 duplicates: {ok}]")
                if s["error_samples"]:
                    print(f"  error samples: {s['error_samples']}")
                fd = s.get("feed")
                if fd:
                    print(f"  risk feed (hazards.feed_risk, after the run): {fd['queued']:,} regrades queued for "
                          f"{fd['new_hazards']:,} new hazards; one in-process worker ran {fd['ran']:,} in "
                          f"{fd['wall_s']:.0f} s = {fd['per_s']:.0f}/s (app {fd['app_cpu_ms']:.1f} ms + PostgreSQL "
                          f"{fd['db_cpu_ms']:.1f} ms per regrade), {fd['left']:,} left queued, {fd['failed']} failed")
        p = r.get("profile")
        if p:
            print(f"profile: report_hazard {p['service_ms']:.1f} ms/call ({p['service_queries']:.1f} queries, "
                  f"{p['service_sql_ms']:.1f} ms in SQL); API POST {p['api_ms']:.1f} ms/call "
                  f"({p['api_queries']:.1f} queries, {p['api_sql_ms']:.1f} ms in SQL) — in process, no HTTP")
            print("  SQL per API call: " + ", ".join(f"{k} {v:.1f}" for k, v in p["api_sql_kinds"]))
            print(f"  CPU per API call without profiler (test client): app {p['api_app_cpu_ms']:.2f} ms + "
                  f"PostgreSQL {p['api_pg_cpu_ms']:.2f} ms")
            print("  top of report_hazard (cumulative):")
            print("\n".join("    " + ln for ln in p["service_top"].splitlines()))
            print("  top of the API call (cumulative):")
            print("\n".join("    " + ln for ln in p["api_top"].splitlines()))
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
    from yingji.hazards.models import Hazard
    from yingji.inspections.models import Inspection
    from yingji.registry.models import Site

    town = Area.objects.get(code=TOWN_CODE)
    results: dict = {}
    for scale in args.scales:
        site_scale, n_hz, n_insp = SCALES[scale]
        n_hz = args.hazards if args.hazards is not None else n_hz
        n_insp = args.inspections if args.inspections is not None else n_insp
        log(f"seeding sites --scale {site_scale}" + (f" --count {args.sites}" if args.sites else ""))
        t0 = time.perf_counter()
        with open(os.devnull, "w") as devnull:
            call_command("seed", scale=site_scale, count=args.sites, verbosity=0, stdout=devnull)
        seed_sites_s = time.perf_counter() - t0
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE registry_site")
            cursor.execute("ANALYZE registry_site_sectors")
        log(f"seeding {n_hz:,} hazards and {n_insp:,} inspections")
        t0 = time.perf_counter()
        call_command("seed_hazards", hazards=n_hz, inspections=n_insp, stdout=sys.stdout)
        seed_hz_s = time.perf_counter() - t0
        with connection.cursor() as cursor:
            # fresh visibility maps and statistics, and no autovacuum in the middle of a measurement
            for table in ("hazards_hazard", "hazards_hazardevent", "hazards_rectification", "inspections_inspection",
                          "core_auditentry", "registry_site"):
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("ANALYZE core_area")
        r = {"sites": Site.objects.count(), "hazards": Hazard.objects.count(),
             "inspections": Inspection.objects.count(), "seed_sites_s": seed_sites_s, "seed_hazards_s": seed_hz_s,
             "lists": []}
        log(f"{scale}: {r['hazards']:,} hazards, {r['inspections']:,} inspections, {r['sites']:,} sites")
        if not args.skip_lists:
            r["lists"] = bench_lists(users, town, args.runs, args.warmup)
        if not args.skip_figures:
            log("measuring figures")
            try:
                r["figures"] = bench_figures(users, args.runs, args.warmup)
            except Exception as exc:  # a module still being written must not sink the run
                r["figures"] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
        if not args.skip_profile:
            log("profiling report_hazard")
            r["profile"] = bench_profile(users, args.profile_calls)
        if not args.skip_submit:
            log(f"sustained submissions for {args.submit_seconds:.0f} s")
            try:
                r["submit"] = bench_submissions(bench_env(args.pg, args.db), users, town, args)
            except Exception as exc:
                r["submit"] = {"error": f"{type(exc).__name__}: {exc}"}
        results[scale] = r
        print_tables({scale: r})
    if len(results) > 1:
        print_tables(results)
    log(f"done in {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
