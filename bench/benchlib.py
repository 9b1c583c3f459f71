"""What the benchmarks share: the database they run on, Django set up against it, timing."""
from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time

TOWN_CODE = "330681005"          # 大唐街道, the biggest town of the seed
TOWN_OFFICER = "town_dt"         # demo town officer of 大唐街道
ADMIN = "admin"                  # demo county admin


def create_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server.rstrip("/") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_CTYPE 'C.UTF-8' TEMPLATE template0")


def bench_env(server: str, name: str) -> dict:
    """The environment of the app under test (also given to a server process)."""
    return {
        "DATABASE_URL": f"{server.rstrip('/')}/{name}", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-not-secret"),
        "DJANGO_SETTINGS_MODULE": "yingji.settings", "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "YINGJI_COMPRESS_STATIC": "0", "YINGJI_LOG_LEVEL": "WARNING",
    }


def django_setup(server: str, name: str) -> None:
    os.environ.update(bench_env(server, name))
    # Uploaded import files and export files go to a throwaway directory, never to var/media.
    os.environ["YINGJI_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="yingji-bench-media-")
    import django

    django.setup()


def open_database(args) -> dict | None:
    """Create (unless ``--reuse``) and migrate the bench database, load the demo data into a new
    one, and return the demo users {"admin", "town"} — None (with a message) off PostgreSQL."""
    if not args.reuse:
        log(f"creating database {args.db}")
        create_database(args.pg, args.db)
    django_setup(args.pg, args.db)
    from django.core.management import call_command
    from django.db import connection

    from yingji.core.models import User

    if connection.vendor != "postgresql":
        print("this benchmark runs on PostgreSQL only", file=sys.stderr)
        return None
    if not args.reuse:
        log("migrate + demo data (areas, users, demo sites)")
        with open(os.devnull, "w") as devnull:
            call_command("demo", verbosity=0, stdout=devnull)
    else:
        call_command("migrate", interactive=False, verbosity=0)
    return {"admin": User.objects.get(username=ADMIN), "town": User.objects.get(username=TOWN_OFFICER)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def measure_together(fns: dict, runs: int, warmup: int) -> dict:
    """Several callables interleaved run by run, so that background load hits all of them alike
    (their ratios are what matter on a shared machine)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict = {k: [] for k in fns}
    for _ in range(runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: {"p50": statistics.median(v), "p95": pct(v, 95), "runs": runs} for k, v in times.items()}


def ms(x: float | None) -> str:
    return "-" if x is None else (f"{x * 1000:.1f}" if x < 10 else f"{x * 1000:.0f}")


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc; 0 elsewhere)."""
    from pathlib import Path

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (server on this machine
    only: read from /proc; None on SQLite or when it cannot be read)."""
    from pathlib import Path

    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

