"""The upload guard: one place that bounds what an upload may cost before anything parses it.

* :class:`UploadGuardMiddleware` — the request body: its declared size
  (``settings.UPLOAD_MAX_REQUEST_BYTES`` for forms and files, ``DATA_UPLOAD_MAX_MEMORY_SIZE`` for
  other bodies) and a form body that cannot be parsed (``multipart/form-data`` without a boundary,
  a broken body, too many fields or files) answer a structured 4xx in the API and a Chinese error
  page in the UI, never a 500. The form is parsed here, once, so no view meets a parser error.
* :func:`check_archive` — a zip package (.xlsx, .xlsm, .ods, .docx) from its central directory,
  without inflating anything: the number of members, each member's and the total declared
  uncompressed size, and the compression ratio (``settings.ARCHIVE_MAX_*``).
* :func:`check_spreadsheet` — a spreadsheet about to be read by python-calamine (site import, in
  the web process and again in the worker): :func:`check_archive`, then every member is inflated
  as a stream (never whole), each bounded by the size its directory entry declares — a member that
  inflates to more (or to other bytes: CRC) than declared is refused — while the sheet's extent is
  measured the way calamine will lay it out (cell references, rows and cells without references,
  ODS repeat counts). calamine allocates ``rows × columns`` cells for a sheet at once (a 1.5 KB
  file with cells at A1 and XFD1048576 aborts the process), so the extent is bounded by
  ``settings.IMPORT_MAX_ROWS`` / ``IMPORT_MAX_COLUMNS`` / ``IMPORT_MAX_CELLS`` before it reads.
  .xlsb (binary records) is refused: its extent cannot be bounded cheaply.

Every refusal is :class:`~yingji.core.errors.InvalidInput` (422) with a Chinese message and
``detail={"file": message}``.
"""
from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Iterator

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

from .errors import InvalidInput, YingjiError

ZIP_MAGIC = b"PK\x03\x04"
CHUNK = 1 << 20              # inflate and scan a member 1 MB at a time
RATIO_GRACE = 1 << 20        # members inflating to at most 1 MB are not ratio-checked
MAX_TAG = 64 * 1024          # an XML tag longer than this is not a spreadsheet's
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CD_BYTES_PER_MEMBER = 1024  # a central directory may average this much per member


@dataclass(frozen=True)
class Limits:
    members: int
    uncompressed: int
    ratio: int
    rows: int
    columns: int
    cells: int


def limits() -> Limits:
    return Limits(
        members=settings.ARCHIVE_MAX_MEMBERS, uncompressed=settings.ARCHIVE_MAX_UNCOMPRESSED_BYTES,
        ratio=settings.ARCHIVE_MAX_RATIO, rows=settings.IMPORT_MAX_ROWS, columns=settings.IMPORT_MAX_COLUMNS,
        cells=settings.IMPORT_MAX_CELLS)


def _refuse(message: str, code: str = "unsafe_file") -> InvalidInput:
    return InvalidInput(message, detail={"file": message}, code=code)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f}"


def _broken() -> InvalidInput:
    return _refuse(_("文件已损坏:压缩包结构无效,请重新保存后再上传"), code="broken_file")


def _lying() -> InvalidInput:
    return _refuse(_("文件已损坏:压缩包的内容与其目录记载不一致,可能是恶意构造的文件,已拒绝"))


def _bomb(limit: int) -> InvalidInput:
    return _refuse(_("文件解压后过大(超过%(mb)sMB),可能是压缩炸弹,已拒绝;请删除多余内容后重新上传")
                   % {"mb": _mb(limit)})


def too_many_rows(limit: int) -> InvalidInput:
    return _refuse(_("表格行数过多:每个工作表最多%(n)d行,请拆分后分批导入") % {"n": limit}, code="too_many_rows")


def too_many_columns(limit: int) -> InvalidInput:
    return _refuse(_("表格列数过多:每个工作表最多%(n)d列,请删除多余的列后重新上传") % {"n": limit},
                   code="too_many_columns")


def _too_many_cells(rows: int, cols: int, limit: int) -> InvalidInput:
    return _refuse(_("表格使用范围过大(%(rows)d行×%(cols)d列,超过%(n)d个单元格),请删除多余的空行空列后重新上传")
                   % {"rows": rows, "cols": cols, "n": limit}, code="too_many_cells")


def is_zip(f: IO[bytes]) -> bool:
    f.seek(0)
    head = f.read(4)
    f.seek(0)
    return head == ZIP_MAGIC


# ---------------------------------------------------------------- central directory

def _end_record(f: IO[bytes]) -> tuple[int, int] | None:
    """(number of members, central directory size) from the end-of-central-directory record."""
    f.seek(0, 2)
    size = f.tell()
    tail_len = min(size, 22 + 65535 + 20)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    pos = tail.rfind(_EOCD)
    if pos < 0 or len(tail) - pos < 22:
        return None
    _, _, _, _, count, cd_size, _, _ = struct.unpack("<4s4H2LH", tail[pos:pos + 22])
    if count == 0xFFFF or cd_size == 0xFFFFFFFF:  # ZIP64: the real figures are in the zip64 record
        loc = pos - 20
        if loc < 0 or tail[loc:loc + 4] != _EOCD64_LOCATOR:
            return None
        _, _, offset64, _ = struct.unpack("<4sLQL", tail[loc:loc + 20])
        if offset64 >= size:
            return None
        f.seek(offset64)
        rec = f.read(56)
        if len(rec) < 56 or rec[:4] != _EOCD64:
            return None
        count, cd_size = struct.unpack("<Q", rec[32:40])[0], struct.unpack("<Q", rec[40:48])[0]
    return count, cd_size


def check_archive(f: IO[bytes], lim: Limits | None = None) -> list[zipfile.ZipInfo]:
    """Refuse a zip package whose directory declares too many members, too much inflated data or
    an implausible compression ratio. Reads only the central directory (its size is bounded before
    Python's zipfile parses it); inflates nothing. Returns the members; ``f`` is rewound."""
    lim = lim or limits()
    try:
        end = _end_record(f)
        if end is None:
            raise _broken()
        count, cd_size = end
        if count > lim.members or cd_size > lim.members * _CD_BYTES_PER_MEMBER:
            raise _refuse(_("文件结构异常:压缩包内的部件过多(超过%(n)d个),可能是恶意构造的文件,已拒绝")
                          % {"n": lim.members})
        f.seek(0)
        with zipfile.ZipFile(f) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            struct.error):
        raise _broken() from None
    finally:
        f.seek(0)
    if len(infos) > lim.members:
        raise _refuse(_("文件结构异常:压缩包内的部件过多(超过%(n)d个),可能是恶意构造的文件,已拒绝")
                      % {"n": lim.members})
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > lim.uncompressed or total > lim.uncompressed:
            raise _bomb(lim.uncompressed)
        if info.file_size > RATIO_GRACE and info.file_size > lim.ratio * max(info.compress_size, 1):
            raise _refuse(_("文件压缩比异常(超过%(n)d倍),可能是压缩炸弹,已拒绝") % {"n": lim.ratio})
    return infos


def _member_chunks(f: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The inflated bytes of one member, CHUNK at a time, never more than its declared size:
    a stream that inflates past ``file_size``, ends short of it, needs more than
    ``compress_size`` input or fails its CRC is refused as soon as that shows."""
    if info.flag_bits & 0x1:
        raise _refuse(_("文件设有密码保护,请取消密码后重新上传"), code="encrypted")
    f.seek(info.header_offset)
    head = f.read(30)
    if len(head) != 30 or head[:4] != ZIP_MAGIC:
        raise _broken()
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    f.seek(info.header_offset + 30 + name_len + extra_len)
    left, done, crc = info.compress_size, 0, 0
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise _lying()
        while left:
            block = f.read(min(CHUNK, left))
            if not block:
                raise _broken()
            left -= len(block)
            crc = zlib.crc32(block, crc)
            yield block
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        d = zlib.decompressobj(-15)
        while not d.eof:
            data = d.unconsumed_tail
            if not data:
                if left <= 0:
                    raise _lying()
                data = f.read(min(CHUNK, left))
                if not data:
                    raise _broken()
                left -= len(data)
            try:
                out = d.decompress(data, min(CHUNK, info.file_size - done + 1))
            except zlib.error:
                raise _broken() from None
            done += len(out)
            if done > info.file_size:
                raise _lying()
            if out:
                crc = zlib.crc32(out, crc)
                yield out
        if done != info.file_size:
            raise _lying()
    else:
        raise _refuse(_("不支持的压缩方式,请用 Excel 重新保存后再上传"), code="broken_file")
    if crc != info.CRC:
        raise _lying()


# ---------------------------------------------------------------- sheet extent

# A row or cell that does not start with its reference, or one with a namespace prefix: measured
# tag by tag (slow path); everything else is measured from the references alone (fast path).
_IRREGULAR = re.compile(rb'<c(?=[\s>/])(?! r="[A-Z]{1,3}\d+")|<row(?=[\s>/])(?! r="\d+")|:(?:c|row)(?=[\s>/])')
_ROW_R = re.compile(rb'<row r="(\d+)"')
_CELL_COL = re.compile(rb'<c r="([A-Z]{1,3})')
_CELL_ROW = re.compile(rb'<c r="[A-Z]{1,3}(\d+)"')
_XLSX_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_R_ATTR = re.compile(rb'(?:^|\s)r\s*=\s*["\']([A-Za-z]*)(\d*)["\']')
_ODS_TAG = re.compile(rb"<(/?)(?:[A-Za-z_][\w.-]*:)?(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*)>")
_ROWS_REPEATED = re.compile(rb'number-rows-repeated\s*=\s*["\'](\d+)')
_COLS_REPEATED = re.compile(rb'number-columns-repeated\s*=\s*["\'](\d+)')


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


class _ExtentScan:
    """The extent calamine will give each sheet of one member (xlsx cells, ODS tables), measured
    from its XML as it streams by; refuses as soon as a bound is passed."""

    def __init__(self, lim: Limits):
        self.lim = lim
        self.carry = b""
        # xlsx: highest 1-based row / column; the row and next column of r-less rows and cells
        self.max_row = self.max_col = 0
        self.cur_row = 0
        self.next_col = 1
        self.strings = 0
        # ods: per table
        self.ods = False
        self._ods_reset()

    def _ods_reset(self):
        self.o_row = self.o_max_row = self.o_max_col = 0
        self.o_reps = 1
        self.o_col = self.o_row_max_col = 0
        self.o_has = False

    def _check(self, rows: int, cols: int) -> None:
        lim = self.lim
        if rows > lim.rows:
            raise too_many_rows(lim.rows)
        if cols > lim.columns:
            raise too_many_columns(lim.columns)
        if rows * cols > lim.cells:
            raise _too_many_cells(rows, cols, lim.cells)

    def feed(self, block: bytes) -> None:
        data = self.carry + block
        lt = data.rfind(b"<")
        if lt >= 0 and data.find(b">", lt) < 0:
            data, self.carry = data[:lt], data[lt:]
            if len(self.carry) > MAX_TAG:
                raise _broken()
        else:
            self.carry = b""
        self._xlsx(data)
        if self.ods or b"table-row" in data or b"table-cell" in data:
            self.ods = True
            self._ods(data)

    def finish(self) -> None:
        if self.carry:
            self.feed(b">")  # a truncated last tag is measured as if closed
        if self.ods:
            self._ods_table_end()

    # -- xlsx

    def _xlsx(self, data: bytes) -> None:
        if b"<si" in data:  # shared strings: calamine keeps each one
            self.strings += data.count(b"<si>") + data.count(b"<si ")
        if self.strings > self.lim.cells:
            raise _too_many_cells(self.strings, 1, self.lim.cells)
        if _IRREGULAR.search(data):
            self._xlsx_tags(data)
        else:
            cols = set(_CELL_COL.findall(data))
            if cols:
                self.max_col = max(self.max_col, max(map(_col_number, cols)))
                self.next_col = self.max_col + 1
                self.max_row = max(self.max_row, max(map(int, set(_CELL_ROW.findall(data)))))
            rows = set(_ROW_R.findall(data))
            if rows:
                self.max_row = max(self.max_row, max(map(int, rows)))
            self.cur_row = self.max_row
        self._check(self.max_row, self.max_col)

    def _xlsx_tags(self, data: bytes) -> None:
        """Slow path: rows or cells without a leading reference (positional, like calamine reads them)."""
        for m in _XLSX_TAG.finditer(data):
            ref = _R_ATTR.search(m.group(2))
            if m.group(1) == b"row":
                self.cur_row = int(ref.group(2)) if ref and ref.group(2) else self.cur_row + 1
                self.next_col = 1
                self.max_row = max(self.max_row, self.cur_row)
            else:
                if ref and ref.group(1) and ref.group(2):
                    row, col = int(ref.group(2)), _col_number(ref.group(1))
                else:
                    row, col = self.cur_row, self.next_col
                self.next_col = col + 1
                self.max_row = max(self.max_row, row)
                self.max_col = max(self.max_col, col)
            if self.max_row > self.lim.rows or self.max_col > self.lim.columns:
                self._check(self.max_row, self.max_col)

    # -- ods

    def _ods(self, data: bytes) -> None:
        for m in _ODS_TAG.finditer(data):
            closing, name, attrs = m.group(1), m.group(2), m.group(3)
            self_closing = attrs.endswith(b"/")
            if name == b"table":
                self._ods_table_end()
            elif name == b"table-row":
                if closing:
                    self._ods_row_end()
                else:
                    rep = _ROWS_REPEATED.search(attrs)
                    self.o_reps = int(rep.group(1)) if rep else 1
                    self.o_col = self.o_row_max_col = 0
                    self.o_has = False
                    if self_closing:
                        self._ods_row_end()
            elif not closing:  # a cell
                rep = _COLS_REPEATED.search(attrs)
                reps = int(rep.group(1)) if rep else 1
                if not self_closing or b"value-type" in attrs:
                    self.o_row_max_col = self.o_col + reps
                    self.o_has = True
                self.o_col += reps

    def _ods_row_end(self) -> None:
        if self.o_has:
            self.o_max_row = self.o_row + self.o_reps
            self.o_max_col = max(self.o_max_col, self.o_row_max_col)
            self._check(self.o_max_row, self.o_max_col)
        self.o_row += self.o_reps
        self.o_reps, self.o_has = 1, False

    def _ods_table_end(self) -> None:
        self._check(self.o_max_row, self.o_max_col)
        self._ods_reset()


def check_spreadsheet(f: IO[bytes]) -> None:
    """Refuse a spreadsheet upload that would exhaust memory in python-calamine. ``f`` is a
    seekable binary file (rewound afterwards). Files that are not zip packages (.csv, .xls) are
    bounded by the size limit and the parser's row and column limits instead."""
    if not is_zip(f):
        return
    lim = limits()
    infos = check_archive(f, lim)
    try:
        for info in infos:
            name = info.filename.lower()
            if name.endswith(".bin") and name.startswith("xl/") and "workbook" in name:
                raise _refuse(_("暂不支持 .xlsb(Excel 二进制工作簿)格式,请用 Excel 另存为 .xlsx 后重新上传"),
                              code="unsupported_type")
        for info in infos:
            scan = _ExtentScan(lim)
            for block in _member_chunks(f, info):
                scan.feed(block)
            scan.finish()
    except (OSError, ValueError, EOFError, struct.error):
        raise _broken() from None
    finally:
        f.seek(0)


# ---------------------------------------------------------------- the request body

class RequestTooLarge(YingjiError):
    status = 413
    code = "too_large"


class BadRequestBody(YingjiError):
    status = 400
    code = "bad_request"


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class UploadGuardMiddleware:
    """Bound the request body before anything reads it and parse a form body here, once: a body
    over the limit answers 413, one that cannot be parsed 400 — JSON ``{"code", "message",
    "detail"}`` under /api/, the Chinese error page elsewhere."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        error = self.check(request)
        if error is not None:
            return self.respond(request, error)
        return self.get_response(request)

    def check(self, request) -> YingjiError | None:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            length = -1
        if length < 0:
            return BadRequestBody(_("请求无效:Content-Length 不正确"))
        form = request.content_type in FORM_TYPES
        limit = settings.UPLOAD_MAX_REQUEST_BYTES if form else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return RequestTooLarge(_("上传内容过大:单次请求不能超过%(mb)sMB") % {"mb": _mb(limit)})
        if not form:
            return None
        try:
            request.POST  # noqa: B018 - parse now, so that no view meets a parser error
            request.FILES  # noqa: B018
        except RequestDataTooBig:
            return RequestTooLarge(_("上传内容过大:表单字段超过%(mb)sMB") % {
                "mb": _mb(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)})
        except TooManyFilesSent:
            return BadRequestBody(_("一次上传的文件过多"))
        except TooManyFieldsSent:
            return BadRequestBody(_("表单字段过多"))
        except MultiPartParserError:
            return BadRequestBody(_("上传内容格式错误(multipart 表单无效或不完整),请重新提交"))
        return None

    @staticmethod
    def respond(request, error: YingjiError):
        if request.path.startswith("/api/"):
            return JsonResponse(error.as_dict(), status=error.status, json_dumps_params={"ensure_ascii": False})
        from .views import error_page

        return error_page(request, error)
