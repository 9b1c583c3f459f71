#!/usr/bin/env python
"""Site import benchmark: a messy town sheet, dry run then real run, on SQLite and PostgreSQL.

    .venv/bin/python bench/imports.py [--rows 17000,170000] [--dbs sqlite,postgres]
        [--pg postgres://postgres@127.0.0.1:5432/yingji_importer_bench] [--profile DIR]

For each database it creates a fresh database (SQLite: a file in a temporary directory;
PostgreSQL: ``--pg``'s database is DROPPED and created again), runs ``yingji demo`` (the Zhuji
area tree, demo users), then for each size generates a deterministic messy town sheet (title
rows, the header variants towns use -- ``所在村（社区）``, ``安全管理人员 / 手机``, ``规模`` with
规上/规下/限上/小微 … --, unrecognised columns, exact duplicate rows, bad rows, a signature footer)
and imports it as the 大唐街道 officer through the job code itself (``imports.start_import`` +
``imports.run_import``, then ``imports.confirm_import`` + ``imports.run_import``), mode
``valid_rows``. Each run is a child process of its own, so its peak RSS is its own.

Reported per run: wall seconds, CPU seconds of this process (user+sys, ``resource.getrusage``),
CPU seconds of the PostgreSQL backend (from /proc, local server only), peak RSS and its growth
over the process's RSS before the import. The machine may be shared: compare CPU seconds
when the wall time is noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(os.environ.get("BENCH_SRC") or ROOT / "src")   # BENCH_SRC: measure another checkout's code
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(ROOT / "bench"))
from benchlib import backend_cpu as _backend_cpu, rss_mb as _rss_mb  # noqa: E402

TOWN_CODE = "330681005"          # 大唐街道
TOWN_OFFICER = "town_dt"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/yingji_importer_bench"
TARGET_S = 60.0

HEADER = ["序号", "企业名称", "统一社会信用代码", "所属镇街", "所在村（社区）", "详细\n地址", "行业类别", "规模", "从业\n人数",
          "法定代表人", "联系电话", "安全管理人员 / 手机", "监管领域", "备注", "检查情况"]
SCALES = ["规上", "规下", "规模以上", "规模以下", "限上", "限下", "小微", "小型", "微型", "", "规上企业"]
INDUSTRIES = ["C17", "17", "C1762", "纺织业", "C34 通用设备制造业", "33", "F52", "52"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建华", "伟", "芳", "秀英", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超"]
BRANDS = ["鑫泰", "宏兴", "锦华", "恒信", "华美", "永盛", "天诚", "金达", "新宇", "富源", "联创", "隆昌"]
TRADES = ["袜业", "针织", "纺织品", "机械", "五金", "塑业", "服饰", "印染"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the sheet

def _person(rng):
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _mobile(rng):
    return "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))


def _manager_cell(rng):
    name, phone = _person(rng), _mobile(rng)
    return rng.choice([f"{name} / {phone}", f"{name}/{phone}", f"{name} {phone}", f"{name}（{phone}）",
                       f"{name}\n{phone}", name, f"{name}、{phone}"])


def write_sheet(path: Path, n: int, villages: list[str], *, code_offset: int) -> dict:
    """A messy 大唐街道 sheet of ``n`` data rows (deterministic). Returns what it holds."""
    import xlsxwriter

    from yingji.registry.creditcode import generate_credit_code

    rng = random.Random(20260314 + n)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("大唐街道")
    ws.write_string(0, 0, "诸暨市大唐街道企业（场所）安全生产基础信息台账")
    ws.write_string(1, 0, "填报单位：大唐街道应急管理办公室        填报日期：2026年3月")
    for c, h in enumerate(HEADER):
        ws.write_string(2, c, h)
    r = 3
    kept: list[list] = []
    stats = {"rows": 0, "duplicates": 0, "bad": 0, "footer": 3}
    for i in range(n):
        if kept and rng.random() < 0.003:
            row = list(rng.choice(kept))
            stats["duplicates"] += 1
        else:
            brand = rng.choice(BRANDS)
            has_code = rng.random() < 0.8
            code = generate_credit_code(code_offset + i, seed=91) if has_code else ""
            village = rng.choice(villages)
            row = [str(i + 1), f"诸暨市{brand}{rng.choice(TRADES)}{code_offset + i}号有限公司" if has_code
                   else f"{village}{_person(rng)}{rng.choice(TRADES)}加工点{code_offset + i}",
                   code, "大唐街道", village if rng.random() < 0.9 else " " + village + " ",
                   f"大唐街道{village}{rng.randint(1, 300)}号", rng.choice(INDUSTRIES), rng.choice(SCALES),
                   rng.choice([str(rng.randint(1, 400)), f"{rng.randint(1, 400)}人", rng.randint(1, 400)]),
                   _person(rng), _mobile(rng) if rng.random() < 0.9 else "0575-8" + str(rng.randint(1000000, 9999999)),
                   _manager_cell(rng), "工贸", rng.choice(["", "", "租用厂房", "三合一场所"]),
                   rng.choice(["", "已检查", "未检查"])]
            roll = rng.random()
            if roll < 0.002:
                row[2] = code[:-1] + ("0" if code[-1:] != "0" else "1") if code else "123"
                stats["bad"] += 1
            elif roll < 0.004:
                row[5] = ""
                stats["bad"] += 1
            elif roll < 0.005:
                row[4] = "不存在村"
                stats["bad"] += 1
            if len(kept) < 2000 and rng.random() < 0.05:
                kept.append(row)
        for c, v in enumerate(row):
            if v in ("", None):
                continue
            if isinstance(v, int):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, v)
        r += 1
        stats["rows"] += 1
    r += 1  # an empty row, then the signature footer
    ws.write_string(r, 0, "填表人：王建华        审核人：李伟")
    ws.write_string(r + 1, 0, "制表：大唐街道应急管理办公室")
    ws.write_string(r + 2, 0, "联系电话：0575-87001234")
    wb.close()
    return stats


# ---------------------------------------------------------------- one run (child process)

def child(args) -> None:
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from yingji.core import audit, jobs
    from yingji.core.models import Job, User
    from yingji.registry import imports

    user = User.objects.get(username=TOWN_OFFICER)
    if args.phase == "dry":
        with audit.context(actor=user, request_id="bench-import"), open(args.file, "rb") as f:
            job = imports.start_import(user, SimpleUploadedFile(Path(args.file).name, f.read()),
                                       mode=imports.MODE_VALID, dry_run=True)
    else:
        dry = Job.objects.get(pk=args.job)
        with audit.context(actor=user, request_id="bench-import"):
            try:
                job = imports.confirm_import(user, dry, mode=imports.MODE_VALID, acknowledge_unrecognised=True)
            except TypeError:  # code from before the acknowledgement (BENCH_SRC)
                job = imports.confirm_import(user, dry, mode=imports.MODE_VALID)
    job = Job.objects.get(pk=job.pk)
    import gc

    gc.collect()
    rss0 = _rss_mb()
    pg0 = _backend_cpu()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    # The worker's own path: claim, run the handler (with heartbeat and progress), record the outcome.
    claimed = jobs.try_claim(job.pk, "bench-worker")
    if claimed is None:
        raise SystemExit(f"job {job.pk} could not be claimed")
    job = jobs.run_job(claimed)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    pg1 = _backend_cpu()
    job.refresh_from_db()
    if job.status != "succeeded":
        raise SystemExit(f"job {job.pk}: {job.status} {job.error}")
    result = job.result or {}
    out = {"job": job.pk, "wall_s": wall, "cpu_s": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
           "pg_cpu_s": (pg1 - pg0) if pg0 is not None and pg1 is not None else None,
           "peak_mb": ru1.ru_maxrss / 1024, "rss_before_mb": rss0,
           "rows": result.get("rows"), "valid": result.get("valid"), "invalid": result.get("invalid"),
           "created": result.get("created"), "notices": result.get("notice_count"),
           "unknown": result.get("unknown_columns")}
    print(json.dumps(out, ensure_ascii=False))


# ---------------------------------------------------------------- orchestration

def _env(url: str, media: str) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "SECRET_KEY": env.get("SECRET_KEY", "bench-not-secret"),
                "DJANGO_SETTINGS_MODULE": "yingji.settings", "YINGJI_COMPRESS_STATIC": "0",
                "YINGJI_LOG_LEVEL": "WARNING", "YINGJI_MEDIA_ROOT": media, "PYTHONPATH": str(SRC)})
    return env


def _python(code_or_args: list[str], env: dict) -> str:
    out = subprocess.run([sys.executable, *code_or_args], env=env, capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"child failed: {code_or_args[:3]}")
    return out.stdout


def setup_database(kind: str, url: str, env: dict) -> None:
    if kind == "postgres":
        import psycopg

        server, name = url.rsplit("/", 1)
        with psycopg.connect(server + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_CTYPE 'C.UTF-8' TEMPLATE template0")
    code = ("import django, os; django.setup(); from django.core.management import call_command; "
            "call_command('demo', verbosity=0, stdout=open(os.devnull, 'w'))")
    _python(["-c", code], env)


def drop_postgres(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def villages_of(env: dict) -> list[str]:
    code = ("import django, json; django.setup(); from yingji.core.models import Area; "
            f"print(json.dumps(list(Area.objects.filter(code__startswith='{TOWN_CODE}', level=3)"
            ".order_by('code').values_list('name', flat=True)), ensure_ascii=False))")
    return json.loads(_python(["-c", code], env).strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="17000,170000")
    p.add_argument("--dbs", default="sqlite,postgres")
    p.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    p.add_argument("--profile", default="", help="directory for cProfile dumps (slows the runs)")
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    p.add_argument("--job", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:
        child(args)
        return
    sizes = [int(x) for x in args.rows.split(",") if x]
    work = Path(tempfile.mkdtemp(prefix="yingji-bench-imports-"))
    media = str(work / "media")
    results = []
    for kind in [x for x in args.dbs.split(",") if x]:
        url = f"sqlite:///{work / 'bench.sqlite3'}" if kind == "sqlite" else args.pg
        env = _env(url, media)
        log(f"{kind}: creating the database (demo data)")
        t0 = time.perf_counter()
        setup_database(kind, url, env)
        log(f"{kind}: ready in {time.perf_counter() - t0:.0f} s")
        villages = villages_of(env)
        offset = 0
        for n in sizes:
            sheet = work / f"town-{n}.xlsx"
            if not sheet.exists():
                os.environ.update(env)
                stats = write_sheet(sheet, n, villages, code_offset=5_000_000 + offset)
                log(f"sheet {sheet.name}: {stats}, {sheet.stat().st_size / 2**20:.1f} MB")
            offset += n
            job = None
            for phase in ("dry", "real"):
                cmd = [str(Path(__file__).resolve()), "--phase", phase, "--file", str(sheet)]
                if job:
                    cmd += ["--job", str(job)]
                if args.profile:
                    Path(args.profile).mkdir(parents=True, exist_ok=True)
                    cmd += ["--profile", str(Path(args.profile) / f"{kind}-{n}-{phase}.prof")]
                log(f"{kind} {n:,} rows: {phase} run")
                out = json.loads(_python(cmd, env).strip().splitlines()[-1])
                job = out["job"] if phase == "dry" else job
                out.update(db=kind, size=n, phase=phase)
                log(f"  {json.dumps(out, ensure_ascii=False)}")
                results.append(out)
        if kind == "postgres" and not args.keep:
            drop_postgres(url)
    print()
    print(f"{'db':<9}{'rows':>8} {'run':<5}{'wall s':>8}{'cpu s':>8}{'pg cpu s':>9}{'peak MB':>9}{'growth MB':>10}"
          f"{'valid':>8}{'invalid':>8}{'notices':>8}  target")
    for r in results:
        pg = f"{r['pg_cpu_s']:.1f}" if r["pg_cpu_s"] is not None else "-"
        ok = "ok" if r["wall_s"] < TARGET_S else ("cpu ok" if r["cpu_s"] + (r["pg_cpu_s"] or 0) < TARGET_S else "SLOW")
        print(f"{r['db']:<9}{r['size']:>8,} {r['phase']:<5}{r['wall_s']:>8.1f}{r['cpu_s']:>8.1f}{pg:>9}"
              f"{r['peak_mb']:>9.0f}{r['peak_mb'] - r['rss_before_mb']:>10.0f}{r['valid'] or 0:>8,}"
              f"{r['invalid'] or 0:>8,}{r['notices'] or 0:>8,}  {ok}")


if __name__ == "__main__":
    main()
