"""The upload guard (core/uploads.py): decompression bombs and sheets that would exhaust memory in
python-calamine are refused cheaply — through the import page, the API, the worker job and the
attachments — and a form body that cannot be parsed answers 400/413, never a 500."""
from __future__ import annotations

import io
import resource
import struct
import time
import tracemalloc
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yingji.core import attachments, audit, jobs, uploads
from yingji.core.errors import InvalidInput
from yingji.core.models import Job, JobStatus
from yingji.registry import importing, imports

CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
      'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
      'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
      'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
      'officedocument.spreadsheetml.worksheet+xml"/></Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
      '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
      '<sheet name="企业场所" sheetId="1" r:id="rId1"/></sheets></workbook>')
WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
           '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
           '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
              b'spreadsheetml/2006/main"><dimension ref="A1:C2"/><sheetData>')
SHEET_TAIL = b"</sheetData></worksheet>"
HEADER_ROW = (b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe5\x90\x8d\xe7\xa7\xb0</t></is></c>'  # 名称
              b'<c r="B1" t="inlineStr"><is><t>\xe5\x9c\xb0\xe5\x9d\x80</t></is></c></row>')  # 地址
BOMB_MB = 200


def xlsx(sheet_parts, level: int = 6) -> bytes:
    """A minimal valid .xlsx whose sheet1.xml is ``sheet_parts`` (bytes, written as a stream)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", CT)
        z.writestr("_rels/.rels", RELS)
        z.writestr("xl/workbook.xml", WB)
        z.writestr("xl/_rels/workbook.xml.rels", WB_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w") as w:
            w.write(SHEET_HEAD)
            for part in sheet_parts:
                w.write(part)
            w.write(SHEET_TAIL)
    return buf.getvalue()


def _bomb_parts(total: int):
    block = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20000  # ~1 MB of rows
    yield HEADER_ROW
    for _ in range(total // len(block) + 1):
        yield block


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 1.4 MB .xlsx whose sheet inflates to 200 MB (about 4 million rows)."""
    return xlsx(_bomb_parts(BOMB_MB * 1024 * 1024), level=1)


def sheet_member(data: bytes) -> zipfile.ZipInfo:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.getinfo("xl/worksheets/sheet1.xml")


def lie_about_size(data: bytes, declared: int, crc: int) -> bytes:
    """Rewrite the sheet's declared size and CRC (local header and central directory)."""
    info = sheet_member(data)
    buf = bytearray(data)
    struct.pack_into("<LL", buf, info.header_offset + 18, info.compress_size, declared)
    struct.pack_into("<L", buf, info.header_offset + 14, crc)
    cd = buf.rfind(b"PK\x01\x02", 0, buf.rfind(b"PK\x05\x06"))
    while not bytes(buf[cd + 46:cd + 46 + len(info.filename)]) == info.filename.encode():
        cd = buf.rfind(b"PK\x01\x02", 0, cd)
    struct.pack_into("<L", buf, cd + 16, crc)
    struct.pack_into("<LL", buf, cd + 20, info.compress_size, declared)
    return bytes(buf)


class Measure:
    """Wall time, Python allocation peak (tracemalloc) and growth of the process's peak RSS."""

    def __enter__(self):
        self.rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.peak_mb = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
        self.rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.rss0) / 1024
        return False

    def assert_cheap(self):
        assert self.seconds < 1.0, self.seconds
        assert self.peak_mb < 50, self.peak_mb
        assert self.rss_growth_mb < 100, self.rss_growth_mb


def refusal(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        uploads.check_spreadsheet(io.BytesIO(data))
    return exc.value


# ---------------------------------------------------------------- the guard itself

def test_bomb_is_refused_from_its_directory_in_a_blink(bomb):
    assert len(bomb) < 2 * 1024 * 1024 and sheet_member(bomb).file_size > BOMB_MB * 1024 * 1024
    with Measure() as m:
        exc = refusal(bomb)
    m.assert_cheap()
    assert exc.status == 422 and "压缩炸弹" in exc.message and exc.detail == {"file": exc.message}


def test_inflated_size_limit_applies_without_ratio(bomb, settings):
    settings.ARCHIVE_MAX_RATIO = 10_000
    settings.ARCHIVE_MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
    assert "解压后过大" in refusal(bomb).message


def test_bomb_under_the_ratio_is_stopped_by_its_row_count_while_streaming(bomb, settings):
    settings.ARCHIVE_MAX_RATIO = 10_000
    with Measure() as m:
        exc = refusal(bomb)
    assert "行数过多" in exc.message
    assert m.peak_mb < 50  # inflated 1 MB at a time, never whole


def test_member_that_inflates_past_its_declared_size_is_refused(bomb, settings):
    """A directory that lies (small declared size, CRC of the declared prefix): the stream is cut
    at the declared size and refused, not read on."""
    import zlib

    with zipfile.ZipFile(io.BytesIO(bomb)) as z, z.open("xl/worksheets/sheet1.xml") as f:
        prefix = f.read(1000)
    liar = lie_about_size(bomb, 1000, zlib.crc32(prefix))
    assert sheet_member(liar).file_size == 1000
    with Measure() as m:
        exc = refusal(liar)
    m.assert_cheap()
    assert "不一致" in exc.message


def test_member_whose_crc_does_not_match_is_refused():
    data = xlsx([HEADER_ROW])
    info = sheet_member(data)
    assert "不一致" in refusal(lie_about_size(data, info.file_size, info.CRC ^ 1)).message


def test_tiny_sparse_sheet_that_would_abort_calamine_is_refused():
    """Cells at A1 and XFD1048576: calamine allocates 17 billion cells (the process aborts)."""
    data = xlsx([b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'])
    assert len(data) < 2000
    assert refusal(data).code == "too_many_rows"
    data = xlsx([b'<row r="1"><c r="A1"><v>1</v></c><c r="XFD1"><v>1</v></c></row>'])
    assert refusal(data).code == "too_many_columns"


def test_positional_cells_and_lying_references_are_measured_like_calamine(settings):
    settings.IMPORT_MAX_COLUMNS = 200
    # cells without references: one row of 16000 cells
    data = xlsx([b'<row r="1">' + b"<c><v>1</v></c>" * 16000 + b"</row>"])
    assert refusal(data).code == "too_many_columns"
    # references that are not first, lower-case, prefixed elements
    for row in (b'<row r="1"><c t="n" r="ZZ1"><v>1</v></c></row>', b'<row r="1"><c r="zz1"><v>1</v></c></row>',
                b'<x:row r="1"><x:c r="ZZ1"><x:v>1</x:v></x:c></x:row>'):
        assert refusal(xlsx([row])).code == "too_many_columns", row
    # a row reference smaller than its cells'
    data = xlsx([b'<row r="1"><c r="A900000"><v>1</v></c></row>'])
    assert refusal(data).code == "too_many_rows"
    # rows × columns within each bound but not together
    settings.IMPORT_MAX_CELLS = 1000
    data = xlsx([b'<row r="1"><c r="A1"><v>1</v></c></row><row r="100"><c r="Z100"><v>1</v></c></row>'])
    assert refusal(data).code == "too_many_cells"


def ods(body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:'
                   'opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                   'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
                   '<table:table table:name="S">' + body + "</table:table></office:spreadsheet></office:body>"
                   "</office:document-content>")
    return buf.getvalue()


def test_ods_repeat_counts_are_bounded_but_trailing_empty_rows_are_fine():
    cell = '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'
    bomb = ods('<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
               'table:number-columns-repeated="16000" office:value-type="string"><text:p>x</text:p>'
               '</table:table-cell></table:table-row>')
    assert refusal(bomb).code == "too_many_rows"
    # what LibreOffice writes after the data: empty repeated rows and cells
    uploads.check_spreadsheet(io.BytesIO(ods(
        f"<table:table-row>{cell}</table:table-row><table:table-row table:number-rows-repeated=\"1048575\">"
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>')))


def test_xlsb_and_too_many_members_are_refused(settings):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    assert ".xlsb" in refusal(buf.getvalue()).message
    settings.ARCHIVE_MAX_MEMBERS = 10
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(11):
            z.writestr(f"m{i}.xml", "<a/>")
    assert "部件过多" in refusal(buf.getvalue()).message


def test_normal_workbook_passes_and_the_parser_stops_at_the_row_limit(settings):
    rows = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x%d</t></is></c></row>' % (r, r, r)
                    for r in range(2, 61))
    data = xlsx([HEADER_ROW, rows])
    uploads.check_spreadsheet(io.BytesIO(data))
    assert len(list(importing.parse_rows(data, "名单.xlsx"))) == 59
    settings.IMPORT_MAX_ROWS = 50
    with pytest.raises(importing.ImportFileError) as exc:
        importing.read_header(data, "名单.xlsx")
    assert "行数过多" in exc.value.message
    # CSV has no directory to read: the parser itself stops
    csv = ("名称,地址\n" + "".join(f"甲{i},乙\n" for i in range(60))).encode()
    with pytest.raises(importing.ImportFileError) as exc:
        list(importing.parse_rows(csv, "名单.csv"))
    assert "行数过多" in exc.value.message
    settings.IMPORT_MAX_COLUMNS = 5
    csv = ("名称,地址\n甲,乙" + ",x" * 10 + "\n").encode()
    with pytest.raises(importing.ImportFileError) as exc:
        list(importing.parse_rows(csv, "名单.csv"))
    assert "列数过多" in exc.value.message
    list(importing.parse_rows(("名称,地址\n甲,乙" + "," * 10 + "\n").encode(), "名单.csv"))  # empty tail


# ---------------------------------------------------------------- every path that takes the bomb

def test_bomb_through_the_import_page(world, client, bomb):
    client.force_login(world.admin)
    assert client.get("/sites/import/").status_code == 200  # warm: URL conf and templates loaded
    with Measure() as m:
        r = client.post("/sites/import/", {"file": SimpleUploadedFile("名单.xlsx", bomb), "mode": imports.MODE_ALL,
                                           "dry_run": "on"})
    assert m.seconds < 1.5 and m.peak_mb < 50, (m.seconds, m.peak_mb)  # includes the multipart round trip
    assert r.status_code == 400
    assert "压缩炸弹" in r.content.decode()
    assert not Job.objects.filter(kind=imports.JOB_KIND).exists()
    assert list(imports.import_dir().iterdir()) == []


def test_bomb_through_the_api(world, client, bomb):
    from yingji.core import services

    _t, token = services.create_token(None, world.admin, "test")
    client.get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Bearer {token}")  # warm: URL conf and API loaded
    with Measure() as m:
        r = client.post("/api/v1/site-imports", {"file": SimpleUploadedFile("名单.xlsx", bomb)},
                        HTTP_AUTHORIZATION=f"Bearer {token}")
    assert m.seconds < 1.5 and m.peak_mb < 50, (m.seconds, m.peak_mb)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_input" and "压缩炸弹" in body["message"] and body["detail"]["file"]


def test_worker_survives_a_bomb_that_reached_it(world, bomb):
    """A stored file that never went through the page (or an older release): the job runs the
    same guard before calamine and fails with the Chinese message."""
    folder = imports.import_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = "0" * 32 + ".xlsx"
    (folder / name).write_bytes(bomb)
    with audit.context(actor=world.admin):
        job = jobs.enqueue(world.admin, imports.JOB_KIND, area=imports.default_job_area(world.admin),
                           params={"file": name, "filename": "名单.xlsx", "mode": imports.MODE_ALL,
                                   "dry_run": True}, max_attempts=2)
    with Measure() as m:
        jobs.run_worker(worker_id="test-worker", once=True)
    m.assert_cheap()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "压缩炸弹" in job.error


def docx_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as w:
            block = b"<w:p/>" * 100000
            for _ in range(60 * 1024 * 1024 // len(block)):
                w.write(block)
    return buf.getvalue()


def test_attachment_bomb_is_refused_on_the_page_and_the_api(world, client, settings):
    from django.contrib.messages import get_messages

    from yingji.core import services
    from yingji.core.models import Attachment

    data = docx_bomb()
    assert len(data) < settings.ATTACHMENT_MAX_BYTES
    with pytest.raises(InvalidInput) as exc:
        attachments.add_attachment(world.admin, world.area_a, SimpleUploadedFile("通知.docx", data))
    assert "压缩炸弹" in exc.value.message
    client.force_login(world.admin)
    r = client.post(f"/attachments/upload/core.area/{world.area_a.pk}/",
                    {"file": SimpleUploadedFile("通知.docx", data)})
    assert r.status_code == 302
    assert any("压缩炸弹" in str(msg) for msg in get_messages(r.wsgi_request))
    _t, token = services.create_token(None, world.admin, "test")
    r = client.post("/api/v1/attachments", {"model": "core.area", "object_id": world.area_a.pk,
                                            "file": SimpleUploadedFile("通知.docx", data)},
                    HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 422 and "压缩炸弹" in r.json()["message"]
    assert not Attachment.objects.exists()


# ---------------------------------------------------------------- request bodies

UI_UPLOADS = ["/attachments/upload/core.area/1/", "/sites/import/", "/hazards/report/", "/hazards/1/submit/",
              "/inspections/1/results/1/", "/inspections/1/results/1/hazard/", "/inspections/1/results/1/fix/"]


def api_uploads() -> list[str]:
    """Every API operation that takes multipart/form-data, from the OpenAPI schema."""
    from yingji.api import api

    schema = api.get_openapi_schema()
    found = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            content = (op.get("requestBody") or {}).get("content", {})
            if "multipart/form-data" in content:
                assert method == "post", path
                found.append("/api/v1" + path.removeprefix("/api/v1").replace("{", "<").replace("}", ">"))
    return [_fill(p) for p in found]


def _fill(path: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "1", path)


BROKEN = [
    ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"),
    ("multipart/form-data; boundary=" + "b" * 300, b"whatever"),
    ("multipart/form-data; boundary=\"\"", b"--\r\n"),
]


def test_upload_endpoints_are_all_enumerated():
    assert len(api_uploads()) == 7


@pytest.mark.parametrize("content_type,body", BROKEN)
def test_broken_multipart_on_every_api_upload_is_a_structured_400(world, client, content_type, body):
    from yingji.core import services

    _t, token = services.create_token(None, world.admin, "test")
    for path in api_uploads():
        r = client.generic("POST", path, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert r.status_code == 400, (path, r.status_code, r.content[:200])
        data = r.json()
        assert data["code"] == "bad_request" and "multipart" in data["message"], path


@pytest.mark.parametrize("content_type,body", BROKEN)
def test_broken_multipart_on_every_page_upload_is_a_chinese_error_page(world, client, content_type, body):
    client.force_login(world.admin)
    for path in UI_UPLOADS:
        r = client.generic("POST", path, body, content_type=content_type)
        assert r.status_code == 400, (path, r.status_code)
        assert "上传内容格式错误" in r.content.decode(), path


def test_oversized_and_malformed_bodies_are_refused_before_reading(world, client, settings):
    from yingji.core import services

    _t, token = services.create_token(None, world.admin, "test")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    too_big = str(settings.UPLOAD_MAX_REQUEST_BYTES + 1)
    r = client.generic("POST", "/api/v1/site-imports", b"x", content_type="multipart/form-data; boundary=x",
                       CONTENT_LENGTH=too_big, **auth)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    client.force_login(world.admin)
    r = client.generic("POST", "/sites/import/", b"x", content_type="multipart/form-data; boundary=x",
                       CONTENT_LENGTH=too_big)
    assert r.status_code == 413 and "上传内容过大" in r.content.decode()
    r = client.generic("POST", "/api/v1/hazards", b"{}", content_type="application/json",
                       CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), **auth)
    assert r.status_code == 413
    r = client.generic("POST", "/api/v1/site-imports", b"x", content_type="multipart/form-data; boundary=x",
                       CONTENT_LENGTH="abc", **auth)
    assert r.status_code == 400 and r.json()["code"] == "bad_request"
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    r = client.post("/api/v1/attachments", {f"f{i}": "1" for i in range(10)}, **auth)
    assert r.status_code == 400 and r.json()["message"] == "表单字段过多"


def test_import_file_size_is_bounded_by_its_setting(world, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    content = ("名称,地址\n" + "甲,乙\n" * 300_000).encode()
    with audit.context(actor=world.admin), pytest.raises(InvalidInput) as exc:
        imports.start_import(world.admin, SimpleUploadedFile("名单.csv", content), dry_run=True)
    assert "不能超过1MB" in exc.value.message
    assert list(imports.import_dir().iterdir()) == []
