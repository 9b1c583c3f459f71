"""Site import pipeline: dry run, modes, re-import, crash safety, scope, pages and API."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import python_calamine
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile

from yingji.core import audit, jobs
from yingji.core.models import AuditEntry, Job, JobStatus
from yingji.registry import imports
from yingji.registry.creditcode import generate_credit_code
from yingji.registry.models import Site, SiteSource

CODES = [generate_credit_code(i, seed=77) for i in range(60)]
FULLWIDTH = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                          "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ")
HEADER = ["名称", "统一社会信用代码", "类型", "行业", "行业领域", "风险特征", "从业人员", "地址", "镇街", "村社",
          "网格", "法定代表人", "法定代表人电话", "状态", "成立日期"]


def xlsx_bytes(rows: list[list], header=HEADER) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("企业")
    for c, h in enumerate(header):
        ws.write_string(0, c, h)
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if v is None or v == "":
                continue
            if isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v))
    wb.close()
    return buf.getvalue()


def clean_rows(n: int, start: int = 0, town="大唐街道", village="大唐街道1村", grid="大唐街道1村1网格") -> list[list]:
    rows = []
    for i in range(start, start + n):
        code = generate_credit_code(10_000 + i, seed=5)
        rows.append([f"诸暨市测试{i}号袜业有限公司", code, "企业", "17", "工贸", "粉尘涉爆", str(10 + i % 50),
                     f"大唐街道测试路{i}号", town, village, grid, "张三", "13800000000", "在营", "2015-06-01"])
    return rows


def build_messy_xlsx() -> bytes:
    """Title row, two-row merged header, full-width text and spaces, numbers as text, mixed date
    formats, trailing empty rows, and five bad rows (rows 9-13 of the sheet)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("名单")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.merge_range(0, 0, 0, 11, "诸暨市大唐街道企业(场所)安全生产基础信息表")
    for col, title in ((0, "企业名称"), (1, "统一社会信用代码"), (2, "详细地址"), (3, "镇街"), (4, "村社"),
                       (5, "网格"), (8, "从业人数"), (9, "成立日期"), (10, "行业领域"), (11, "风险特征")):
        ws.merge_range(1, col, 2, col, title)
    ws.merge_range(1, 6, 1, 7, "法定代表人")
    ws.write_string(2, 6, "姓名")
    ws.write_string(2, 7, "电话")
    good = [
        # row 4: full-width spaces in the name, full-width code, number as text with 人
        ["诸暨市　大唐　鑫泰袜业有限公司", CODES[0].translate(FULLWIDTH), "大唐街道袜业路１号", "大唐街道", "大唐街道1村",
         "大唐街道1村1网格", "王 建华", "138 0575 1234", "１２０人", "2015/6/1", "工贸", "粉尘涉爆、人员密集"],
        # row 5: date in Chinese format, employees as a real number
        ["诸暨市宏兴针织有限公司", CODES[1], "大唐街道轻纺路8号", "大唐街道", "大唐街道2村", "", "李四",
         "0575-87001234", 35, "2019年3月18日", "工贸", ""],
        # row 6: an Excel date and a compact date-like number as text; no village: town only
        ["诸暨市锦华纺织品有限公司", CODES[2], "大唐街道开元路2号", "大唐街道", "", "", "", "", "8",
         dt.datetime(2020, 1, 2), "", ""],
        # row 7: individual business without a credit code (matched on name + address)
        ["大唐老王袜子加工点", "", "大唐街道大唐街道1村5号", " 大唐街道 ", "大唐街道1村", "", "王五", "", "3",
         "20180705", "工贸", "电气焊作业"],
        # row 8: lower-case code
        ["诸暨市恒信袜业有限公司", CODES[3].lower(), "大唐街道工业路3号", "大唐街道", "大唐街道2村",
         "大唐街道2村1网格", "", "", "12", "2010.10.10", "", ""],
    ]
    bad = [
        # row 9: bad check digit
        ["诸暨市坏码袜业有限公司", CODES[4][:-1] + ("0" if CODES[4][-1] != "0" else "1"), "大唐街道坏路1号",
         "大唐街道", "", "", "", "", "5", "", "", ""],
        # row 10: missing address
        ["诸暨市无地址有限公司", CODES[5], "", "大唐街道", "", "", "", "", "5", "", "", ""],
        # row 11: unknown village
        ["诸暨市错村有限公司", CODES[6], "大唐街道错村1号", "大唐街道", "不存在村", "", "", "", "", "", "", ""],
        # row 12: same credit code as row 5
        ["诸暨市重复有限公司", CODES[1], "大唐街道重复路1号", "大唐街道", "", "", "", "", "", "", "", ""],
        # row 13: unknown trait
        ["诸暨市怪特征有限公司", CODES[7], "大唐街道特征路1号", "大唐街道", "", "", "", "", "", "", "", "会飞"],
    ]
    for r, row in enumerate(good + bad, start=3):
        for c, v in enumerate(row):
            if v in (None, ""):
                continue
            if isinstance(v, dt.datetime):
                ws.write_datetime(r, c, v, date_fmt)
            elif isinstance(v, (int, float)):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, v)
    for r in range(13, 20):  # trailing "empty" rows: spaces only
        ws.write_string(r, 0, "  ")
    wb.close()
    return buf.getvalue()


def upload(content: bytes, name: str = "名单.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def run_jobs() -> int:
    return jobs.run_worker(worker_id="test-worker", once=True)


def do_import(user, content: bytes, *, mode=imports.MODE_ALL, dry_run=False, name="名单.xlsx") -> Job:
    with audit.context(actor=user):
        job = imports.start_import(user, upload(content, name), mode=mode, dry_run=dry_run)
    run_jobs()
    job.refresh_from_db()
    return job


def report_rows(job: Job) -> list[list]:
    path = jobs.result_file(job)
    assert path is not None
    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = wb.get_sheet_by_index(0).to_python()
    assert rows[0] == ["行号", "列", "值", "原因"]
    return rows[1:]


def live_count() -> int:
    return Site.objects.filter(archived_at__isnull=True).count()


# ---------------------------------------------------------------- messy file, dry run

@pytest.mark.django_db
def test_dry_run_of_messy_file_previews_reports_every_bad_row_and_writes_nothing(world):
    before = Site.objects.count()
    job = do_import(world.admin, build_messy_xlsx(), dry_run=True)
    assert job.status == JobStatus.SUCCEEDED, job.error
    r = job.result
    assert (r["rows"], r["valid"], r["invalid"]) == (10, 5, 5)
    assert (r["create"], r["update"], r["written"]) == (5, 0, False)
    assert [p["row"] for p in r["preview"]] == [4, 5, 6, 7, 8]
    assert {p["action_label"] for p in r["preview"]} == {"新增"}
    assert r["preview"][0]["name"] == "诸暨市大唐鑫泰袜业有限公司"
    assert r["preview"][0]["credit_code"] == CODES[0]
    assert r["preview"][0]["area"] == "大唐街道1村1网格"
    assert r["preview"][2]["area"] == "大唐街道"
    rows = report_rows(job)
    by_row = {}
    for row, column, value, reason in rows:
        by_row.setdefault(int(row), []).append((column, reason))
    assert sorted(by_row) == [9, 10, 11, 12, 13]
    assert by_row[9][0][0] == "统一社会信用代码" and "校验位错误" in by_row[9][0][1]
    assert by_row[10] == [("详细地址", "必填项为空")]
    assert by_row[11] == [("村社", "村社“不存在村”不存在(在大唐街道下)")]
    assert by_row[12] == [("统一社会信用代码", "与第5行的统一社会信用代码重复")]
    assert by_row[13] == [("风险特征", "风险特征“会飞”不存在")]
    assert Site.objects.count() == before
    assert jobs.can_download(world.admin, job) and not jobs.can_download(world.town_a, job)


@pytest.mark.django_db
def test_all_or_nothing_with_a_bad_row_writes_nothing(world):
    before = Site.objects.count()
    job = do_import(world.admin, build_messy_xlsx(), mode=imports.MODE_ALL)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["written"] is False and job.result["invalid"] == 5
    assert "未写入任何数据" in job.result["message"]
    assert Site.objects.count() == before
    assert len(report_rows(job)) == 5


@pytest.mark.django_db
def test_valid_rows_mode_writes_the_good_rows_with_cleaned_values(world):
    before = live_count()
    job = do_import(world.admin, build_messy_xlsx(), mode=imports.MODE_VALID)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.result["created"], job.result["skipped"], job.result["written"]) == (5, 5, True)
    assert live_count() == before + 5
    site = Site.objects.get(credit_code=CODES[0])
    assert site.name == "诸暨市大唐鑫泰袜业有限公司"
    assert site.name_pinyin == "zjsdtxtwyyxgs"
    assert site.employees == 120 and site.area == world.grids["a1g1"] and site.source == SiteSource.IMPORT
    assert site.address == "大唐街道袜业路1号"
    assert site.legal_rep == "王建华" and site.legal_rep_phone == "13805751234"
    assert sorted(site.traits.values_list("code", flat=True)) == ["crowded", "dust"]
    assert list(site.sectors.values_list("code", flat=True)) == ["industry_trade"]
    assert Site.objects.get(credit_code=CODES[3]).area == world.grids["a2g1"]
    shop = Site.objects.get(name="大唐老王袜子加工点")
    assert shop.credit_code is None and shop.kind == "other" and shop.area == world.villages["a1"]
    created = AuditEntry.objects.filter(action="site.import_create")
    assert created.count() == 5 and all(e.actor_id == world.admin.pk for e in created)
    assert AuditEntry.objects.filter(action="registry.import", object_id=job.pk).count() == 1
    assert not Site.objects.filter(credit_code__in=[CODES[5], CODES[6], CODES[7]]).exists()


# ---------------------------------------------------------------- re-import

@pytest.mark.django_db
def test_reimporting_the_same_file_updates_instead_of_duplicating(world):
    rows = clean_rows(2500)
    content = xlsx_bytes(rows)
    before = live_count()
    first = do_import(world.admin, content)
    assert first.status == JobStatus.SUCCEEDED, first.error
    assert first.result["created"] == 2500
    assert live_count() == before + 2500
    assert AuditEntry.objects.filter(action="site.import_create").count() == 2500

    again = do_import(world.admin, content, mode=imports.MODE_VALID)  # same bytes, other mode: a new job
    assert again.pk != first.pk
    assert (again.result["created"], again.result["updated"], again.result["same"]) == (0, 0, 2500)
    assert live_count() == before + 2500

    rows[7][6] = "999"          # employees
    rows[8][9] = "大唐街道2村"    # move to another village (grid column must go too)
    rows[8][10] = ""
    rows[9][5] = "有限空间、粉尘涉爆"
    third = do_import(world.admin, xlsx_bytes(rows))
    assert third.status == JobStatus.SUCCEEDED, third.error
    assert (third.result["created"], third.result["updated"], third.result["same"]) == (0, 3, 2497)
    assert live_count() == before + 2500
    assert Site.objects.get(credit_code=rows[7][1]).employees == 999
    assert Site.objects.get(credit_code=rows[8][1]).area == world.villages["a2"]
    assert sorted(Site.objects.get(credit_code=rows[9][1]).traits.values_list("code", flat=True)) == [
        "confined", "dust"]
    updates = AuditEntry.objects.filter(action="site.import_update").order_by("id")
    assert updates.count() == 3
    e = updates.get(object_id=Site.objects.get(credit_code=rows[7][1]).pk)
    assert e.changes["employees"] == [17, 999] and e.actor_id == world.admin.pk


@pytest.mark.django_db
def test_rows_without_code_match_on_name_and_address(world):
    row = ["大唐老王袜子加工点", "", "个体工商户", "", "", "", "3", "大唐街道5号", "大唐街道", "", "", "", "", "", ""]
    do_import(world.admin, xlsx_bytes([row]))
    row[6] = "4"
    job = do_import(world.admin, xlsx_bytes([row]))
    assert (job.result["created"], job.result["updated"]) == (0, 1)
    assert Site.objects.filter(name="大唐老王袜子加工点").count() == 1
    assert Site.objects.get(name="大唐老王袜子加工点").employees == 4


@pytest.mark.django_db
def test_same_upload_twice_within_the_window_is_one_job(world):
    content = xlsx_bytes(clean_rows(3))
    with audit.context(actor=world.admin):
        a = imports.start_import(world.admin, upload(content), mode=imports.MODE_ALL, dry_run=True)
        b = imports.start_import(world.admin, upload(content), mode=imports.MODE_ALL, dry_run=True)
        c = imports.start_import(world.admin, upload(content), mode=imports.MODE_ALL, dry_run=False)
    assert a.pk == b.pk != c.pk
    assert len(list(imports.import_dir().iterdir())) == 2  # the repeat's copy was removed


# ---------------------------------------------------------------- crash safety

@pytest.mark.django_db
def test_import_killed_halfway_in_all_or_nothing_mode_leaves_nothing(world, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 100)
    calls = []

    def crash(plans):
        calls.append(len(plans))
        if len(calls) == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(imports, "after_write_chunk", crash)
    before_sites = Site.objects.count()
    before_audit = AuditEntry.objects.filter(action__startswith="site.import").count()
    job = do_import(world.admin, xlsx_bytes(clean_rows(350)))
    assert len(calls) == 2
    assert job.status == JobStatus.QUEUED and "worker killed" in job.error  # will be retried
    assert Site.objects.count() == before_sites
    assert Site.sectors.through.objects.filter(site__name__startswith="诸暨市测试").count() == 0
    assert AuditEntry.objects.filter(action__startswith="site.import").count() == before_audit


@pytest.mark.django_db
def test_valid_rows_mode_commits_chunk_by_chunk_and_a_rerun_completes(world, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 100)
    state = {"n": 0}

    def crash_once(plans):
        state["n"] += 1
        if state["n"] == 2:
            raise RuntimeError("worker killed")

    monkeypatch.setattr(imports, "after_write_chunk", crash_once)
    before = live_count()
    content = xlsx_bytes(clean_rows(250))
    job = do_import(world.admin, content, mode=imports.MODE_VALID)
    assert job.status == JobStatus.QUEUED
    assert live_count() == before + 100  # the first chunk was committed, the second rolled back
    job2 = do_import(world.admin, content, mode=imports.MODE_ALL)  # re-import completes, no duplicates
    assert job2.result["created"] == 150 and job2.result["same"] == 100
    assert live_count() == before + 250


# ---------------------------------------------------------------- scope

@pytest.mark.django_db
def test_town_officer_cannot_import_rows_into_another_town(world):
    rows = clean_rows(2) + clean_rows(2, start=2, town="店口镇", village="店口镇1村", grid="")
    job = do_import(world.town_a, xlsx_bytes(rows), mode=imports.MODE_VALID)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.result["created"], job.result["invalid"]) == (2, 2)
    reasons = {(int(r[0]), r[1], r[3]) for r in report_rows(job)}
    assert reasons == {(4, "村社", imports.R_OUT_OF_SCOPE), (5, "村社", imports.R_OUT_OF_SCOPE)}
    assert not Site.objects.filter(area__code__startswith=world.area_b.code).exists()


@pytest.mark.django_db
def test_existing_site_of_another_town_cannot_be_overwritten_by_code(world):
    rows = clean_rows(1, town="店口镇", village="店口镇1村", grid="")
    do_import(world.admin, xlsx_bytes(rows))
    site = Site.objects.get(credit_code=rows[0][1])
    rows[0][8:11] = ["大唐街道", "大唐街道1村", ""]
    job = do_import(world.town_a, xlsx_bytes(rows), mode=imports.MODE_VALID)
    assert job.result["created"] == 0 and job.result["invalid"] == 1
    assert report_rows(job)[0][3] == "该统一社会信用代码已由其他辖区登记,请联系上级管理员"
    site.refresh_from_db()
    assert site.area == world.villages["b1"]


@pytest.mark.django_db
def test_people_without_edit_rights_cannot_start_an_import(world):
    from yingji.core.errors import NotFound

    for user in (world.grid, world.leader, world.enterprise):
        with pytest.raises(NotFound), audit.context(actor=user):
            imports.start_import(user, upload(xlsx_bytes(clean_rows(1))), mode=imports.MODE_ALL, dry_run=True)


@pytest.mark.django_db
def test_unreadable_file_is_a_chinese_error_not_a_job(world):
    from yingji.core.errors import InvalidInput

    with audit.context(actor=world.admin):
        with pytest.raises(InvalidInput) as exc:
            imports.start_import(world.admin, upload(b"hello", "a.pdf"), mode=imports.MODE_ALL, dry_run=True)
        assert "不支持的文件类型" in exc.value.message
        with pytest.raises(InvalidInput) as exc:
            imports.start_import(world.admin, upload("甲,乙\n1,2\n".encode(), "a.csv"),
                                 mode=imports.MODE_ALL, dry_run=True)
        assert "未找到表头" in exc.value.message
    assert not Job.objects.filter(kind=imports.JOB_KIND).exists()
    assert list(imports.import_dir().iterdir()) == []


@pytest.mark.django_db
def test_csv_with_gbk_encoding_imports(world):
    text = "名称,统一社会信用代码,地址,镇街\n诸暨市甲袜业有限公司,%s,大唐街道甲路1号,大唐街道\n,,,\n" % CODES[20]
    job = do_import(world.admin, text.encode("gb18030"), name="甲.csv")
    assert job.result["created"] == 1, job.result
    assert Site.objects.get(credit_code=CODES[20]).area == world.area_a


# ---------------------------------------------------------------- pages and API

@pytest.mark.django_db
def test_import_pages_flow_dry_run_then_confirm(world, client):
    client.force_login(world.town_a)
    assert client.get("/sites/import/").status_code == 200
    tpl = client.get("/sites/import/template/")
    assert tpl.status_code == 200 and tpl["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp = client.post("/sites/import/", {"file": upload(xlsx_bytes(clean_rows(3))), "mode": "all_or_nothing",
                                          "dry_run": "on"})
    assert resp.status_code == 302
    job = Job.objects.get(kind=imports.JOB_KIND)
    assert resp["Location"] == f"/sites/import/{job.pk}/"
    run_jobs()
    page = client.get(f"/sites/import/{job.pk}/")
    text = page.content.decode()
    assert page.status_code == 200 and "确认导入" in text and "新增" in text and "诸暨市测试0号袜业有限公司" in text
    resp = client.post(f"/sites/import/{job.pk}/confirm/", {"mode": "all_or_nothing"})
    real = Job.objects.filter(kind=imports.JOB_KIND).exclude(pk=job.pk).get()
    assert resp.status_code == 302 and resp["Location"] == f"/sites/import/{real.pk}/"
    run_jobs()
    assert Site.objects.filter(name__startswith="诸暨市测试").count() == 3
    # town B sees neither the job page nor the confirm
    client.force_login(world.town_b)
    assert client.get(f"/sites/import/{job.pk}/").status_code == 404
    assert client.post(f"/sites/import/{job.pk}/confirm/", {"mode": "all_or_nothing"}).status_code == 404
    client.force_login(world.grid)
    assert client.get("/sites/import/").status_code == 404


@pytest.mark.django_db
def test_import_page_shows_chinese_error_for_bad_upload(world, client):
    client.force_login(world.admin)
    resp = client.post("/sites/import/", {"file": upload(b"%PDF-1.4", "a.pdf"), "mode": "all_or_nothing"})
    assert resp.status_code == 400
    assert "不支持的文件类型" in resp.content.decode()
    resp = client.post("/sites/import/", {"file": upload(xlsx_bytes(clean_rows(1))), "mode": "whatever"})
    assert resp.status_code == 400


@pytest.mark.django_db
def test_api_upload_status_errors_and_scope(world, client, api_client):
    from yingji.core import services

    _t, token = services.create_token(None, world.town_a, "t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    resp = client.post("/api/v1/site-imports", {"file": upload(build_messy_xlsx()), "mode": "valid_rows",
                                                "dry_run": "true"}, **auth)
    assert resp.status_code == 200, resp.content
    job_id = resp.json()["id"]
    run_jobs()
    status = client.get(f"/api/v1/site-imports/{job_id}", **auth).json()
    assert status["status"] == "succeeded" and status["result"]["invalid"] == 5
    report = client.get(f"/api/v1/site-imports/{job_id}/errors", **auth)
    assert report.status_code == 200
    assert report["Content-Type"].startswith("application/vnd.openxmlformats")
    bad = client.post("/api/v1/site-imports", {"file": upload(b"x", "a.doc"), "mode": "valid_rows"}, **auth)
    assert bad.status_code == 422 and "不支持的文件类型" in bad.json()["message"]
    # another town: 404 everywhere
    api_client.as_user(world.town_b)
    assert api_client.get(f"/api/v1/site-imports/{job_id}").status_code == 404
    assert api_client.get(f"/api/v1/site-imports/{job_id}/errors").status_code == 404
    assert api_client.post(f"/api/v1/site-imports/{job_id}/confirm", {"mode": "valid_rows"}).status_code == 404
    # a grid worker cannot upload at all
    _t, grid_token = services.create_token(None, world.grid, "t")
    resp = client.post("/api/v1/site-imports", {"file": upload(xlsx_bytes(clean_rows(1))), "mode": "valid_rows"},
                       HTTP_AUTHORIZATION=f"Bearer {grid_token}")
    assert resp.status_code == 404
    # confirm by the uploader starts the real import
    resp = client.post(f"/api/v1/site-imports/{job_id}/confirm", {"mode": "valid_rows"},
                       content_type="application/json", **auth)
    assert resp.status_code == 200, resp.content
    run_jobs()
    assert Site.objects.filter(credit_code__in=CODES[:4]).count() == 4



@pytest.mark.parametrize("name", ["中国银行诸暨支行", "重庆火锅店", "长城汽修厂", "诸暨市大唐鑫泰袜业有限公司", "ABC公司",
                                  "诸暨市2号厂", "朝阳超市", "银行", "老王·袜子(加工点)", ""])
def test_fast_pinyin_initials_equals_the_registry_helper(name):
    from yingji.registry.services import pinyin_initials

    assert imports.fast_pinyin_initials(name) == pinyin_initials(name)


def test_row_estimate_for_the_progress_bar(tmp_path):
    xlsx = tmp_path / "a.xlsx"
    xlsx.write_bytes(xlsx_bytes(clean_rows(30)))
    assert imports.estimate_rows(xlsx) == 31
    csv = tmp_path / "a.csv"
    csv.write_text("名称,地址\n甲,乙\n丙,丁\n", encoding="utf-8")
    assert imports.estimate_rows(csv) == 3
    broken = tmp_path / "b.xlsx"
    broken.write_bytes(b"PK\x03\x04garbage")
    assert imports.estimate_rows(broken) == 0
