"""Site import of a town's own sheet: the header variants towns write, combined "姓名 / 手机"
columns, 规模 as towns write it, signature footers and exact duplicate rows as notices, and the
acknowledgement of unrecognised columns before a real run (service, page and API)."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import xlsxwriter

from yingji.core import audit
from yingji.core.models import AuditEntry, JobStatus
from yingji.registry import importing, imports
from yingji.registry.creditcode import generate_credit_code
from yingji.registry.models import Site

from .test_import_pipeline import do_import, run_jobs, upload

CODES = [generate_credit_code(i, seed=4242) for i in range(20)]

# A town's sheet as the towns write it: full-width brackets, spaces around the slash, line breaks.
TOWN_HEADER = ["序号", "企业名称", "统一社会信用代码", "所在村（社区）", "详细\n地址", "规模", "成立\n时间",
               "法定代表人", "联系电话", "安全管理人员 / 手机", "备注", "检查情况"]


def town_sheet(rows: list[list], header=TOWN_HEADER, footer=True) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("大唐街道")
    ws.write_string(0, 0, "诸暨市大唐街道企业（场所）安全生产基础信息台账")
    for c, h in enumerate(header):
        ws.write_string(1, c, h)
    r = 2
    for row in rows:
        for c, v in enumerate(row):
            if v not in ("", None):
                ws.write_string(r, c, str(v))
        r += 1
    if footer:
        r += 1
        ws.write_string(r, 0, "填表人：王建华        审核人：李伟")
        ws.write_string(r + 1, 0, "制表：大唐街道应急管理办公室")
        ws.write_string(r + 2, 0, "联系电话：0575-87001234")
    wb.close()
    return buf.getvalue()


def town_rows() -> list[list]:
    return [
        ["1", "诸暨市规上袜业有限公司", CODES[0], "大唐街道1村", "大唐街道袜业路1号", "规上", "2015-06-01",
         "王建华", "13805751234", "张三 / 13812345678", "租用厂房", "已检查"],
        ["2", "诸暨市限上商贸有限公司", CODES[1], "大唐街道2村", "大唐街道轻纺路8号", "限上", "",
         "李伟", "0575-87001111", "李四（0575-87002222）", "", ""],
        ["3", "诸暨市小微针织有限公司", CODES[2], "大唐街道1村", "大唐街道开元路2号", "小微", "",
         "赵六", "", "王五\n13900001111", "", ""],
        ["4", "诸暨市规下机械有限公司", CODES[3], "大唐街道2村", "大唐街道工业路3号", "规模以下", "",
         "", "", "钱七", "", ""],
        # row 7 of the sheet: an exact repeat of row 3 (the first data row) but its 序号
        ["5", "诸暨市规上袜业有限公司", CODES[0], "大唐街道1村", "大唐街道袜业路1号", "规上", "2015-06-01",
         "王建华", "13805751234", "张三 / 13812345678", "租用厂房", "已检查"],
    ]


# ---------------------------------------------------------------- the parser

def test_town_header_variants_are_recognised():
    header = importing.read_header(town_sheet(town_rows()), "台账.xlsx")
    assert header.recognised == {
        "name": "企业名称", "credit_code": "统一社会信用代码", "village": "所在村", "address": "详细地址",
        "scale": "规模", "founded": "成立时间", "legal_rep": "法定代表人", "legal_rep_phone": "联系电话",
        "safety_manager": "安全管理人员/手机", "safety_manager_phone": "安全管理人员/手机", "note": "备注",
    }
    assert header.unknown == ["检查情况"]
    assert header.ignored == ["序号"]


@pytest.mark.parametrize("written, key", [
    ("所在村（社区）", "village"), ("所在村 (社区)", "village"), ("村（居）", "village"), ("所属\n村社", "village"),
    ("安全管理人员／手机", "safety_manager+safety_manager_phone"),
    ("安全管理人员\\电话", "safety_manager+safety_manager_phone"),
    ("安全员 及 联系电话", "safety_manager+safety_manager_phone"),
    ("负责人/联系方式", "legal_rep+legal_rep_phone"),
    ("法定代表人及手机", "legal_rep+legal_rep_phone"),
    ("企业规模（规上/规下）", "scale"), ("规上/规下", "scale"),
    ("备  注", "note"), ("序 号", "-"),
])
def test_header_normalisation(written, key):
    assert importing._lookup(importing._clean_header(written)) == key


def test_synonym_table_is_data_and_every_key_reaches_a_column():
    synonyms = importing._read_synonyms()
    assert ("village", "所在村(社区)") in synonyms
    assert ("safety_manager+safety_manager_phone", "安全管理人员/手机") in synonyms
    for key, _header in synonyms:
        assert importing._valid_key(key), key


def test_every_recognised_column_reaches_a_site_field():
    """A column the parser recognises but nothing stores is data silently dropped."""
    site_fields = {f.name for f in Site._meta.get_fields()}
    to_field = {"town": "area", "village": "area", "grid": "area", "industry": "industry",
                "host_name": "host", "host_credit_code": "host"}
    for key, *_rest in importing.TEMPLATE_COLUMNS:
        assert to_field.get(key, key) in site_fields, key
        if key not in to_field and key not in ("sectors", "traits"):
            assert key in imports.WRITABLE, key


def test_combined_person_phone_cells_are_split():
    rows = {pr.row_number: pr for pr in importing.parse_rows(town_sheet(town_rows()), "台账.xlsx")}
    assert (rows[3].values["safety_manager"], rows[3].values["safety_manager_phone"]) == ("张三", "13812345678")
    assert (rows[4].values["safety_manager"], rows[4].values["safety_manager_phone"]) == ("李四", "0575-87002222")
    assert (rows[5].values["safety_manager"], rows[5].values["safety_manager_phone"]) == ("王五", "13900001111")
    assert (rows[6].values["safety_manager"], rows[6].values["safety_manager_phone"]) == ("钱七", None)
    assert all(not rows[r].errors for r in (3, 4, 5, 6))


def test_combined_cell_with_a_broken_phone_is_a_row_error():
    bad = [["1", "诸暨市坏号有限公司", CODES[5], "大唐街道1村", "大唐街道坏路1号", "", "", "", "", "孙八 12345", "",
            ""]]
    (pr,) = [p for p in importing.parse_rows(town_sheet(bad, footer=False), "台账.xlsx")]
    assert [(e.column, e.reason) for e in pr.errors] == [("安全管理人员/手机", importing.R_PHONE)]


def test_footer_and_exact_duplicates_are_notices_not_rows():
    rows = list(importing.parse_rows(town_sheet(town_rows()), "台账.xlsx"))
    notices = [(pr.row_number, pr.notice, pr.same_as) for pr in rows if pr.notice]
    assert notices == [(7, importing.NOTICE_DUPLICATE, 3), (9, importing.NOTICE_FOOTER, 0),
                       (10, importing.NOTICE_FOOTER, 0), (11, importing.NOTICE_FOOTER, 0)]
    assert all(not pr.errors for pr in rows)


@pytest.mark.parametrize("cells, footer", [
    (["填表人:王五", "", "审核人:李四"], True),
    (["填表人", "王五", "审核人", "李四"], True),
    (["单位负责人(签字):", "", "", "填报日期:2026年3月1日"], True),
    (["注:本表由各村填报"], True),
    (["1", "诸暨市制表厂", "91330681MA2BCD3E53", "大唐街道1村", "地址"], False),
    (["制表厂", "大唐街道制表路1号"], False),
])
def test_footer_detection(cells, footer):
    texts = [importing._norm_text(c) for c in cells]
    assert importing._is_footer(texts) is footer


# ---------------------------------------------------------------- the import job

@pytest.mark.django_db
def test_town_sheet_dry_run_reports_warnings_and_notices_in_chinese(world):
    job = do_import(world.town_a, town_sheet(town_rows()), dry_run=True)
    assert job.status == JobStatus.SUCCEEDED, job.error
    r = job.result
    assert (r["rows"], r["valid"], r["invalid"], r["create"]) == (4, 4, 0, 4)
    assert r["unknown_columns"] == ["检查情况"] and r["needs_acknowledgement"] is True
    assert r["column_warnings"][0]["code"] == "unrecognised_columns"
    assert "检查情况" in r["column_warnings"][0]["message"] and "不会导入" in r["column_warnings"][0]["message"]
    codes = {n["code"]: n for n in r["notices"]}
    assert codes["footer_rows"]["count"] == 3 and codes["footer_rows"]["rows"] == [9, 10, 11]
    assert "签名栏" in codes["footer_rows"]["message"] and "第9、10、11行" in codes["footer_rows"]["message"]
    assert codes["duplicate_rows"]["count"] == 1 and "第7行(同第3行)" in codes["duplicate_rows"]["message"]
    assert "序号" in codes["ignored_columns"]["message"]
    assert r["notice_count"] == 4 and r["errors"] == 0
    assert not Site.objects.filter(credit_code__in=CODES[:4]).exists()


@pytest.mark.django_db
def test_real_run_refused_until_unrecognised_columns_are_acknowledged(world):
    dry = do_import(world.town_a, town_sheet(town_rows()), dry_run=True)
    with audit.context(actor=world.town_a), pytest.raises(imports.InvalidInput) as exc:
        imports.confirm_import(world.town_a, dry)
    assert exc.value.code == "unrecognised_columns" and "检查情况" in exc.value.message
    assert exc.value.detail["unknown_columns"] == ["检查情况"]
    # Straight to a real run (no dry run) is refused the same way, and nothing is queued.
    with audit.context(actor=world.town_a), pytest.raises(imports.InvalidInput) as exc:
        imports.start_import(world.town_a, upload(town_sheet(town_rows())), dry_run=False)
    assert exc.value.code == "unrecognised_columns"
    with audit.context(actor=world.town_a):
        job = imports.confirm_import(world.town_a, dry, mode=imports.MODE_VALID, acknowledge_unrecognised=True)
    run_jobs()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.result["created"], job.result["invalid"], job.result["notice_count"]) == (4, 0, 4)
    entry = AuditEntry.objects.get(action="registry.import_confirm", object_id=str(job.pk))
    assert entry.changes["unrecognised_acknowledged"] == [None, ["检查情况"]]


@pytest.mark.django_db
def test_every_recognised_column_is_stored(world):
    dry = do_import(world.town_a, town_sheet(town_rows()), dry_run=True)
    with audit.context(actor=world.town_a):
        imports.confirm_import(world.town_a, dry, mode=imports.MODE_VALID, acknowledge_unrecognised=True)
    run_jobs()
    s = {site.credit_code: site for site in Site.objects.filter(credit_code__in=CODES[:4])}
    assert len(s) == 4 and Site.objects.filter(credit_code=CODES[0]).count() == 1   # the repeat once
    a = s[CODES[0]]
    assert a.name == "诸暨市规上袜业有限公司" and a.address == "大唐街道袜业路1号"
    assert a.area == world.villages["a1"]                       # 所在村（社区）→ the village
    assert a.scale == "above" and a.get_scale_display() == "规上(规模以上)"
    assert a.founded == dt.date(2015, 6, 1)
    assert (a.legal_rep, a.legal_rep_phone) == ("王建华", "13805751234")    # 联系电话 after 法定代表人
    assert (a.safety_manager, a.safety_manager_phone) == ("张三", "13812345678")
    assert a.note == "租用厂房"
    b = s[CODES[1]]
    assert b.area == world.villages["a2"] and b.scale == "q_above"
    assert (b.legal_rep, b.legal_rep_phone) == ("李伟", "0575-87001111")
    assert (b.safety_manager, b.safety_manager_phone) == ("李四", "0575-87002222")
    c = s[CODES[2]]
    assert c.scale == "micro" and (c.safety_manager, c.safety_manager_phone) == ("王五", "13900001111")
    assert c.legal_rep_phone == "" and c.founded is None
    d = s[CODES[3]]
    assert d.scale == "below" and (d.safety_manager, d.safety_manager_phone) == ("钱七", "")
    created = AuditEntry.objects.get(action="site.import_create", object_id=str(a.pk))
    assert created.changes["founded"] == [None, "2015-06-01"] and created.changes["scale"] == [None, "above"]


@pytest.mark.django_db
def test_unknown_scale_word_is_a_row_error_not_silently_dropped(world):
    rows = [["1", "诸暨市怪规模有限公司", CODES[6], "大唐街道1村", "大唐街道怪路1号", "特大号", "", "", "", "", "", ""]]
    job = do_import(world.town_a, town_sheet(rows, footer=False), dry_run=True)
    assert job.result["invalid"] == 1


@pytest.mark.django_db
def test_file_without_unrecognised_columns_needs_no_acknowledgement(world):
    header = [h for h in TOWN_HEADER if h != "检查情况"]
    rows = [row[:-1] for row in town_rows()]
    job = do_import(world.town_a, town_sheet(rows, header=header), mode=imports.MODE_VALID)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["created"] == 4 and job.result["needs_acknowledgement"] is False


@pytest.mark.django_db
def test_worker_refuses_a_real_job_queued_without_the_acknowledgement(world):
    """A real job whose params lack the acknowledgement (queued around the service) writes nothing."""
    from yingji.core import jobs

    content = town_sheet(town_rows())
    dry = do_import(world.town_a, content, dry_run=True)
    params = dict(dry.params, dry_run=False)
    params.pop(imports.ACK_FIELD, None)
    with audit.context(actor=world.town_a):
        job = jobs.enqueue(world.town_a, imports.JOB_KIND, area=dry.area, params=params, max_attempts=1)
    run_jobs()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "检查情况" in job.error
    assert not Site.objects.filter(credit_code=CODES[0]).exists()


# ---------------------------------------------------------------- page and API

@pytest.mark.django_db
def test_page_shows_warnings_and_notices_and_needs_the_checkbox(world, client):
    client.force_login(world.town_a)
    dry = do_import(world.town_a, town_sheet(town_rows()), dry_run=True)
    page = client.get(f"/sites/import/{dry.pk}/").content.decode()
    assert 'data-testid="import-column-warnings"' in page and "检查情况" in page
    assert "签名栏" in page and "第7行(同第3行)" in page
    assert 'name="acknowledge_unrecognised"' in page
    r = client.post(f"/sites/import/{dry.pk}/confirm/", {"mode": imports.MODE_VALID})
    assert r.status_code == 302 and r.url.endswith(f"/sites/import/{dry.pk}/")
    follow = client.get(r.url).content.decode()
    assert "我已知晓未识别的列不会导入" in follow and "检查情况" in follow
    assert not Site.objects.filter(credit_code=CODES[0]).exists()
    r = client.post(f"/sites/import/{dry.pk}/confirm/", {"mode": imports.MODE_VALID,
                                                           "acknowledge_unrecognised": "on"})
    assert r.status_code == 302 and not r.url.endswith(f"/sites/import/{dry.pk}/")
    run_jobs()
    assert Site.objects.get(credit_code=CODES[0]).safety_manager_phone == "13812345678"


@pytest.mark.django_db
def test_api_confirm_needs_acknowledge_unrecognised(world, client):
    from yingji.core import services as core_services

    _t, token = core_services.create_token(None, world.town_a, "t")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    r = client.post("/api/v1/site-imports", {"file": upload(town_sheet(town_rows())), "dry_run": "true"}, **headers)
    assert r.status_code == 200, r.content
    job_id = r.json()["id"]
    run_jobs()
    body = client.get(f"/api/v1/site-imports/{job_id}", **headers).json()
    assert body["result"]["needs_acknowledgement"] is True
    assert "不会导入" in body["result"]["column_warnings"][0]["message"]
    assert {n["code"] for n in body["result"]["notices"]} == {"ignored_columns", "footer_rows", "duplicate_rows"}
    r = client.post(f"/api/v1/site-imports/{job_id}/confirm", {"mode": imports.MODE_VALID},
                    content_type="application/json", **headers)
    assert r.status_code == 422 and r.json()["code"] == "unrecognised_columns"
    assert "检查情况" in r.json()["message"]
    r = client.post(f"/api/v1/site-imports/{job_id}/confirm",
                    {"mode": imports.MODE_VALID, "acknowledge_unrecognised": True},
                    content_type="application/json", **headers)
    assert r.status_code == 200, r.content
    run_jobs()
    assert Site.objects.filter(credit_code__in=CODES[:4]).count() == 4
    # Upload straight to a real run: refused without the flag, accepted with it.
    r = client.post("/api/v1/site-imports", {"file": upload(town_sheet(town_rows())), "dry_run": "false"},
                    **headers)
    assert r.status_code == 422 and r.json()["code"] == "unrecognised_columns"
    r = client.post("/api/v1/site-imports", {"file": upload(town_sheet(town_rows())), "dry_run": "false",
                                             "acknowledge_unrecognised": "true"}, **headers)
    assert r.status_code == 200, r.content


def test_seen_table_keeps_the_first_row_of_each_key_through_growth():
    seen = importing.SeenTable(capacity=8)
    for i in range(1, 5001):
        assert seen.setdefault(f"代码{i}", i) == i
    assert len(seen) == 5000
    assert [seen.setdefault(f"代码{i}", 9999) for i in (1, 77, 5000)] == [1, 77, 5000]
    assert seen.get("代码0") is None and seen.get(12345) is None
    assert seen.setdefault(12345, 3) == 3 and seen.get(12345) == 3
