"""Reading messy real-world site spreadsheets (.xlsx/.xls/.xlsb/.ods via python-calamine, .csv).

Pure module: no models, no database.  The registry's import service matches and upserts the
rows this module yields.

Entry points
------------
* :func:`parse_rows` -- generator of :class:`ParsedRow` (``row_number`` is the spreadsheet's
  1-based row number, ``values`` holds the converted values of the recognised columns,
  ``errors``/``warnings`` are :class:`RowError` lists with Chinese reasons).  CSV files are
  streamed with constant memory; workbooks are iterated row by row.
* :func:`read_header` -- :class:`HeaderInfo` for a file (recognised/unknown/duplicate columns).
* :func:`write_template` -- the downloadable import template (xlsxwriter).
* :func:`error_report_xlsx` -- the downloadable error report (行号, 列, 值, 原因).
* :data:`TEMPLATE_COLUMNS` -- ordered ``(key, chinese header, required, help)``.

Any problem with the file as a whole (unreadable or unsupported file, no header row found,
required columns missing, undecodable text) raises :class:`ImportFileError` with a Chinese
message; nothing else escapes for bad input.

Values
------
``values`` contains a key for every recognised column of the file (and only those, so that a
column missing from the file can be told apart from an empty cell).  Empty cells give ``None``
(``[]`` for list columns).  Types: ``employees`` int; ``founded`` :class:`datetime.date`;
``longitude``/``latitude`` float; ``sectors``/``traits`` list of str; ``credit_code`` and
``host_credit_code`` the normalised 18-character code; everything else str.  A value that fails
its check is reported in ``errors`` and set to ``None`` in ``values``.

Header detection
----------------
The header is searched in the first :data:`HEADER_SEARCH_ROWS` non-empty rows (title rows such
as "诸暨市XX镇企业名单" before it are skipped).  A two-row header (a parent cell merged over
several child cells, e.g. "法定代表人" over "姓名"/"电话") is combined: merged cells are filled
from the workbook's merge ranges, and -- for files without merge information, e.g. CSV -- an
empty parent cell above a non-empty child takes the text of the nearest parent to its left.
"parent+child" is then looked up in the aliases ("法定代表人电话"), then the child alone, and a
generic child ("姓名", "名称") under a known parent maps to the parent ("法定代表人").
Header text is normalised: NFKC (full-width brackets, slashes, colons to half-width), other
brackets and slashes unified, all whitespace and line breaks removed, ``*`` markers removed;
a parenthesised hint such as "(必填)" may be dropped. The synonyms towns use are data:
``data/import_headers.tsv`` (``key<TAB>header``). Besides the template columns it knows combined
columns ("安全管理人员 / 手机": ``safety_manager+safety_manager_phone``, the cell split into name
and phone; "X/电话", "X及联系电话" of a person column X are recognised without a line), a bare
phone column right after a person column (``~phone``: "法定代表人" | "联系电话"), and columns that
carry nothing to import (``-``: 序号), listed in ``HeaderInfo.ignored``, not ``unknown``.

Notices, not errors: a signature footer ("填表人:… 审核人:…", "制表:", "联系电话:" …) and a row
whose recognised cells repeat an earlier row exactly are yielded with ``notice`` set
(:data:`NOTICE_FOOTER` / :data:`NOTICE_DUPLICATE`, ``same_as``) and no values; the import skips
and counts them.

.xlsx/.xlsm are streamed row by row (:mod:`.importing_xlsx`, constant memory); .xls/.xlsb/.ods
are read by python-calamine, which loads the sheet whole.

Rows skipped silently: fully empty rows (anywhere, so trailing empty rows are ignored), the help
row of the template's example sheet directly under the header.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import math
import os
import re
import unicodedata
from array import array
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

from .creditcode import LOWERCASE_FIXED, validate_credit_code

__all__ = [
    "HEADER_SEARCH_ROWS",
    "TEMPLATE_COLUMNS",
    "HeaderInfo",
    "ImportFileError",
    "ParsedRow",
    "RowError",
    "error_report_xlsx",
    "open_rows",
    "parse_rows",
    "read_header",
    "write_template",
]

HEADER_SEARCH_ROWS = 10
# .xlsx/.xlsm are streamed row by row (importing_xlsx); other workbooks are read by calamine.
STREAM_XLSX = True

# Rough bounding box of Zhejiang province.
LAT_RANGE = (27.0, 31.5)
LNG_RANGE = (118.0, 123.0)


class ImportFileError(Exception):
    """The file as a whole cannot be imported; ``message`` is Chinese and shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    row: int        # spreadsheet 1-based row number
    column: str     # the column's (cleaned) header as written in the file
    value: str      # the offending cell as text
    reason: str     # Chinese


@dataclass
class ParsedRow:
    row_number: int
    values: dict
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    # A row that is not a site and is skipped, with the reason (not an error): NOTICE_FOOTER for a
    # signature footer ("填表人:… 审核人:…"), NOTICE_DUPLICATE for a repeat of an earlier row
    # (``same_as`` its row number). ``values`` is empty then.
    notice: str = ""
    same_as: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- column spec

@dataclass(frozen=True)
class _Col:
    key: str
    header: str
    required: bool
    help: str
    aliases: tuple[str, ...]
    kind: str = "text"          # text|name|address|credit_code|list|int|date|phone|lng|lat
    max_length: int = 100
    example: tuple[Any, Any] = ("", "")


_COLUMNS: tuple[_Col, ...] = (
    _Col("name", "名称", True, "必填。企业或场所全称,与营业执照一致",
         (), "name", 200,
         ("诸暨市示例机械有限公司", "诸暨市示例袜业加工厂")),
    _Col("credit_code", "统一社会信用代码", False,
         "18位,数字或大写字母;个体户、出租房等无代码可留空。请将本列设为文本格式,避免Excel转成科学计数法",
         (), "credit_code", 18,
         ("91330681MA2BCD3E53", "")),
    _Col("kind", "类型", False, "对象类型,如:企业、个体工商户、出租房、人员密集场所",
         (), "text", 50, ("企业", "个体工商户")),
    _Col("industry", "行业", False, "国民经济行业(GB/T 4754-2017)代码或名称,如 C3484 或 机械制造",
         (), "text", 100,
         ("C3484", "C1762")),
    _Col("sectors", "行业领域", False, "监管行业领域,多个用顿号分隔,如:工贸、危化",
         (), "list", 200, ("工贸", "工贸")),
    _Col("traits", "风险特征", False, "重点风险特征,多个用顿号分隔,如:粉尘涉爆、有限空间、电气焊",
         (), "list", 300,
         ("粉尘涉爆、有限空间", "电气焊")),
    _Col("scale", "规模", False, "如:规上、规下、小微", (), "text", 50,
         ("规上", "小微")),
    _Col("employees", "从业人员", False, "从业人员数,整数",
         (), "int", 0, (120, 8)),
    _Col("address", "地址", True, "必填。详细经营地址",
         (),
         "address", 300, ("诸暨市大唐街道示例路88号", "诸暨市店口镇示例村12号")),
    _Col("town", "镇街", False, "所属镇街,如:大唐街道、店口镇",
         (), "text", 50,
         ("大唐街道", "店口镇")),
    _Col("village", "村社", False, "所属村(社区)", (),
         "text", 50, ("示例村", "示例社区")),
    _Col("grid", "网格", False, "所属网格名称或编号", (), "text", 50,
         ("示例村第一网格", "")),
    _Col("longitude", "经度", False, "WGS84/GCJ-02 十进制经度,如 120.2378", (),
         "lng", 0, (120.2378, "")),
    _Col("latitude", "纬度", False, "十进制纬度,如 29.7134", (), "lat", 0,
         (29.7134, "")),
    _Col("legal_rep", "法定代表人", False, "法定代表人(负责人)姓名",
         (), "name", 50, ("张三", "李四")),
    _Col("legal_rep_phone", "法定代表人电话", False, "手机或固定电话,如 13800000000 或 0575-87000000",
         (), "phone", 30,
         ("13800000000", "0575-87000000")),
    _Col("safety_manager", "安全负责人", False, "安全生产管理负责人姓名",
         (),
         "name", 50, ("王五", "")),
    _Col("safety_manager_phone", "安全负责人电话", False, "手机或固定电话",
         (), "phone", 30,
         ("13900000000", "")),
    _Col("status", "状态", False, "经营状态,如:在营、停产、歇业、注销", (),
         "text", 20, ("在营", "在营")),
    _Col("founded", "成立日期", False, "如 2015-06-01", (),
         "date", 0, ("2015-06-01", "2020-03-18")),
    _Col("host_name", "所属厂区", False, "厂中厂、园中园:所在厂区/园区/房东企业名称",
         (), "name", 200, ("", "诸暨市示例机械有限公司")),
    _Col("host_credit_code", "所属厂区信用代码", False, "所在厂区/园区/房东企业的统一社会信用代码",
         (), "credit_code", 18,
         ("", "91330681MA2BCD3E53")),
    _Col("note", "备注", False, "其他需要说明的情况", (), "text", 500, ("", "租用厂房")),
)

#: Ordered ``(key, chinese header, required, help)`` of the registry's import template.
TEMPLATE_COLUMNS: list[tuple[str, str, bool, str]] = [
    (c.key, c.header, c.required, c.help) for c in _COLUMNS
]
_BY_KEY = {c.key: c for c in _COLUMNS}

_GENERIC_CHILD = {"姓名", "名称", "名字", "人员", "负责人"}

_WS_RE = re.compile(r"\s+")
_PAREN_RE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】")
_SPLIT_RE = re.compile(r"[、,;/|]+")
_CJK_SPACE_RE = re.compile(r"(?<=[\u3400-\u9fff])\s+|\s+(?=[\u3400-\u9fff])")
# Header punctuation NFKC leaves alone: other brackets, slashes and colons read as their plain forms.
_HEADER_PUNCT = str.maketrans({"〔": "(", "〕": ")", "〈": "(", "〉": ")", "《": "(", "》": ")", "﹙": "(",
                               "﹚": ")", "\\": "/", "|": "/", "∕": "/", "⁄": "/", "﹕": ":", "︰": ":"})
# A combined header "安全管理人员 / 手机": person part, separator, phone part.
_COMBINED_RE = re.compile(r"^(.+?)(?:/|及|和|与|、|\+|&)(.+)$")

#: Where the header synonyms live (data, not code: add a town's variant there).
HEADER_SYNONYMS = Path(__file__).resolve().parent / "data" / "import_headers.tsv"
IGNORED = "-"          # a known column that carries nothing to import (序号)
PHONE_OF_LEFT = "~phone"  # a bare phone column: the phone of the person column on its left
PERSON_PHONE = {"legal_rep": "legal_rep_phone", "safety_manager": "safety_manager_phone"}


def _clean_header(text: object) -> str:
    """Header text normalisation: NFKC (full-width brackets, slashes and colons to half-width),
    other brackets and slashes unified, no whitespace or line breaks, no ``*`` markers."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", _cell_text(text)).translate(_HEADER_PUNCT)
    s = _WS_RE.sub("", s).replace("*", "").replace("★", "")
    return s.strip(":/、")


def _strip_hints(s: str) -> str:
    prev = None
    while prev != s:
        prev, s = s, _PAREN_RE.sub("", s)
    return s


def _read_synonyms(path: Path = HEADER_SYNONYMS) -> list[tuple[str, str]]:
    """``(key, header)`` lines of the synonym table (comments and the title line skipped)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            key, _tab, header = line.partition("\t")
            key, header = key.strip(), header.strip()
            if key == "key" or not header:
                continue
            out.append((key, header))
    return out


def _valid_key(key: str) -> bool:
    if key in (IGNORED, PHONE_OF_LEFT) or key in _BY_KEY:
        return True
    person, plus, phone = key.partition("+")
    return bool(plus) and PERSON_PHONE.get(person) == phone


def _build_alias_map(synonyms: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    entries = [(c.key, c.header) for c in _COLUMNS] + synonyms
    for key, name in entries:
        if not _valid_key(key):
            raise ValueError(f"import_headers.tsv: unknown key {key!r} for {name!r}")
        clean = _clean_header(name)
        out.setdefault(clean, key)
        out.setdefault(_strip_hints(clean), key)
    return out


def _lookup(clean: str) -> str | None:
    """The key a cleaned header names: a column key, ``person+phone`` (combined), ``-``
    (known, ignored), ``~phone`` (a bare phone column), or None."""
    if not clean:
        return None
    key = _ALIASES.get(clean)
    if key is None:
        stripped = _strip_hints(clean)
        if stripped != clean:
            key = _ALIASES.get(stripped)
        if key is None:
            key = _lookup_combined(stripped or clean)
    return key


def _lookup_combined(clean: str) -> str | None:
    """"安全员/联系电话", "负责人及手机": a person column and a phone word joined by a separator."""
    m = _COMBINED_RE.match(clean)
    if not m:
        return None
    left, right = _ALIASES.get(m.group(1)), _ALIASES.get(m.group(2))
    phone = PERSON_PHONE.get(left or "")
    if phone and right in (PHONE_OF_LEFT, phone):
        return f"{left}+{phone}"
    return None


def _score_key(key: str | None) -> bool:
    return bool(key) and key not in (IGNORED, PHONE_OF_LEFT)


# --------------------------------------------------------------------------- header info

@dataclass
class HeaderInfo:
    """Result of header detection.

    ``header_rows``: the 1-based row numbers of the header (one or two rows).
    ``columns``: per column index ``(header text, key or None)``.
    ``recognised``: key -> header text as written in the file.
    ``unknown``: header texts that matched no template column (ignored on import).
    ``duplicates``: header texts mapping to a key already taken by an earlier column (ignored).
    ``missing_required``: Chinese headers of required columns not found (``read_header`` and
    ``parse_rows`` raise :class:`ImportFileError` when this is not empty).
    """

    header_rows: tuple[int, ...]
    columns: list[tuple[str, str | None]]
    recognised: dict[str, str]
    unknown: list[str]
    duplicates: list[str]
    missing_required: list[str]
    sheet_name: str = ""
    # True for workbooks: the whole sheet was read when the header was found, so reading the
    # rows cannot fail halfway any more (a CSV is decoded as it is read).
    fully_read: bool = False
    # Known columns that carry nothing to import (序号): not imported, not "unknown" either.
    ignored: list[str] = field(default_factory=list)
    # Combined "姓名 / 手机" columns: column index -> the keys it fills (those no other column took).
    pairs: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return list(self.recognised)


def _combine_two_rows(top: list[str], bottom: list[str]) -> list[str]:
    """Forward-fill parents over non-empty children (for files without merge information)."""
    top = list(top)
    parent = ""
    for i, (t, b) in enumerate(zip(top, bottom)):
        if t:
            parent = t
        elif b and parent:
            top[i] = parent
        else:
            parent = ""
    return top


def _resolve_pair(top: str, bottom: str) -> tuple[str, str | None]:
    if not bottom:
        return top, _lookup(top)
    if not top or top == bottom:
        return bottom, _lookup(bottom)
    both = top + bottom
    key = _lookup(both)
    if _score_key(key):
        return both, key
    below = _lookup(bottom)
    if below == PHONE_OF_LEFT and _lookup(top) in PERSON_PHONE:   # 安全负责人 over 手机
        return both, PERSON_PHONE[_lookup(top)]
    if _score_key(below):
        return bottom, below
    if _strip_hints(bottom) in _GENERIC_CHILD:
        key = _lookup(top)
        if _score_key(key):
            return both, key
    return both, below


def _make_header(texts: list[tuple[str, str | None]], rows: tuple[int, ...], sheet: str) -> HeaderInfo:
    recognised: dict[str, str] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    ignored: list[str] = []
    pairs: dict[int, tuple[str, ...]] = {}
    columns: list[tuple[str, str | None]] = []
    for idx, (text, key) in enumerate(texts):
        if key == PHONE_OF_LEFT:
            # "联系电话" right after "法定代表人": that person's phone; anywhere else unrecognised.
            left = columns[-1][1] if columns else None
            key = PERSON_PHONE.get(left or "")
        if key == IGNORED:
            ignored.append(text)
            columns.append((text, None))
            continue
        if key is not None:
            text = _strip_hints(text) or text
        if key is not None and "+" in key:
            free = tuple(k for k in key.split("+") if k not in recognised)
            if free:
                for k in free:
                    recognised[k] = text
                pairs[idx] = free
            else:
                duplicates.append(text)
                key = None
        elif key is not None and key in recognised:
            duplicates.append(text)
            key = None
        elif key is not None:
            recognised[key] = text
        elif text:
            unknown.append(text)
        columns.append((text, key))
    missing = [c.header for c in _COLUMNS if c.required and c.key not in recognised]
    return HeaderInfo(rows, columns, recognised, unknown, duplicates, missing, sheet, ignored=ignored, pairs=pairs)


def _score(texts: list[tuple[str, str | None]]) -> int:
    return len({k for _, k in texts if _score_key(k)})


def _detect_header(
    rows: list[tuple[int, list[str]]], sheet: str
) -> tuple[HeaderInfo, int] | None:
    """Find the header among buffered ``(row_number, cleaned header cells)``.

    Returns the header and the index into ``rows`` of the first data row, or ``None``.
    """
    best: tuple[int, int, HeaderInfo, int] | None = None   # (score, -priority, header, next)
    for i, (rn, cells) in enumerate(rows):
        single = [(t, _lookup(t)) for t in cells]
        s1 = _score(single)
        cand = [(s1, 0, single, (rn,), i + 1)]
        if i + 1 < len(rows) and rows[i + 1][0] == rn + 1:
            rn2, below = rows[i + 1]
            width = max(len(cells), len(below))
            top = cells + [""] * (width - len(cells))
            bottom = below + [""] * (width - len(below))
            top = _combine_two_rows(top, bottom)
            pair = [_resolve_pair(t, b) for t, b in zip(top, bottom)]
            s2 = _score(pair)
            s1_next = _score([(t, _lookup(t)) for t in below])
            if s2 > max(s1, s1_next):
                cand.append((s2, -1, pair, (rn, rn2), i + 2))
        for score, prio, texts, hdr_rows, nxt in cand:
            if score < 2:
                continue
            if best is None or (score, prio) > (best[0], best[1]):
                best = (score, prio, _make_header(texts, hdr_rows, sheet), nxt)
    if best is None:
        return None
    return best[2], best[3]


# --------------------------------------------------------------------------- cell helpers

def _cell_text(v: object) -> str:
    """Raw cell value -> text, without normalisation.  Integral floats lose their ``.0``."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        if v.time() == dt.time(0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _norm_text(v: object) -> str:
    """NFKC, trim, collapse runs of whitespace (incl. U+3000 and newlines) to one space."""
    s = v if isinstance(v, str) else _cell_text(v)
    if not s.isascii() and not unicodedata.is_normalized("NFKC", s):
        s = unicodedata.normalize("NFKC", s)
    return " ".join(s.split())


_SCI_RE = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_INT_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+$|^[+-]?\d+$")
_FLOAT_INT_RE = re.compile(r"^([+-]?\d+)\.0*$")
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^(?:0\d{2,3}-?)?[1-9]\d{6,7}(?:-\d{1,6})?$")
_PHONE_SEP_RE = re.compile(r"[、,;/]|\s{2,}")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MIN_DATE = dt.date(1900, 1, 1)

R_REQUIRED = "必填项为空"
R_INT = "应为整数"
R_NEGATIVE = "不能为负数"
R_NUMBER = "应为数字"
R_DATE = "日期格式无法识别(应为如2023-05-15的日期)"
R_DATE_RANGE = "日期超出合理范围"
R_PHONE = "电话号码格式不正确(应为11位手机号或带区号的固定电话)"
R_PHONE_MULTI = "含多个电话号码,仅保留第一个"
R_COORD = "坐标超出浙江省范围"
R_COORD_SWAPPED = "经纬度填反了(经度应在118~123之间,纬度应在27~31.5之间)"
R_SCI = "统一社会信用代码被Excel转成了数字(科学计数法),请将该列设为文本格式后重新填写"
R_TOO_LONG = "超过最大长度{n}字"


def _to_int(v: object, s: str) -> int:
    """Integer from a cell (raw value ``v``, normalised text ``s``); ValueError otherwise."""
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v):
            return int(v)
        raise ValueError
    s = s.replace(" ", "")
    if s.endswith("人"):
        s = s[:-1]
    if _INT_RE.match(s):
        return int(s.replace(",", ""))
    m = _FLOAT_INT_RE.match(s.replace(",", ""))
    if m:
        return int(m.group(1))
    raise ValueError


def _to_float(v: object, s: str) -> float:
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, (int, float)):
        f = float(v)
    else:
        s = s.replace(" ", "").rstrip("°")
        if not _NUM_RE.match(s):
            raise ValueError
        f = float(s)
    if not math.isfinite(f):
        raise ValueError
    return f


def _to_date(v: object, s: str, latest: dt.date) -> dt.date:
    """Date from a cell; ValueError when unrecognised, OverflowError when outside
    1900-01-01..``latest``."""
    if isinstance(v, dt.datetime):
        d = v.date()
    elif isinstance(v, dt.date):
        d = v
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        if 19000101 <= v <= 29991231 and v == int(v):      # 20230515 typed as a number
            m = _COMPACT_DATE_RE.match(str(int(v)))
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        else:
            d = _serial_to_date(v)
    else:
        m = _DATE_RE.match(s)
        if m:
            d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        else:
            s2 = s.replace(" ", "")
            m = _COMPACT_DATE_RE.match(s2)
            if m:
                d = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            elif _NUM_RE.match(s2):
                d = _serial_to_date(float(s2))
            else:
                raise ValueError
    if not (_MIN_DATE <= d <= latest):
        raise OverflowError
    return d


def _serial_to_date(x: float) -> dt.date:
    """Excel (1900 date system) serial number -> date."""
    if not math.isfinite(x) or x < 1 or x > 2_958_465:
        raise ValueError
    return _EXCEL_EPOCH + dt.timedelta(days=int(x))


def _norm_phone(s: str) -> tuple[str, bool]:
    """(phone, had_multiple) from normalised text; ValueError when not a valid number."""
    if len(s) == 11 and _MOBILE_RE.match(s):
        return s, False
    parts = [p for p in _PHONE_SEP_RE.split(s) if p.strip()]
    multiple = len(parts) > 1
    s = parts[0].strip().replace(" ", "-").replace(")", "-") if parts else ""
    digits = "".join(ch for ch in s if ch.isdigit() or ch == "-").strip("-")
    while "--" in digits:
        digits = digits.replace("--", "-")
    if s.startswith("+86") or (len(digits.replace("-", "")) == 13 and digits.startswith("86")):
        digits = digits[2:].lstrip("-")
    compact = digits.replace("-", "")
    if _MOBILE_RE.match(compact):
        return compact, multiple
    if _LANDLINE_RE.match(digits):
        return digits, multiple
    if _LANDLINE_RE.match(compact):
        return compact, multiple
    raise ValueError


# --------------------------------------------------------------------------- row conversion

def _make_converter(col: _Col, latest: dt.date) -> Callable[[object, str, str, ParsedRow], Any]:
    """Return ``convert(raw, text, header, parsed_row) -> value`` for ``col``.

    ``text`` is the normalised, non-empty cell text; problems are appended to
    ``parsed_row.errors``/``warnings`` and give ``None``.
    """
    kind = col.kind
    max_len = col.max_length

    def err(pr: ParsedRow, header: str, text: str, reason: str) -> None:
        pr.errors.append(RowError(pr.row_number, header, text[:200], reason))

    if kind in ("text", "address"):
        def conv(raw, s, header, pr):
            if len(s) > max_len:
                err(pr, header, s, R_TOO_LONG.format(n=max_len))
                return None
            return s
    elif kind == "name":
        def conv(raw, s, header, pr):
            if " " in s:
                s = _CJK_SPACE_RE.sub("", s)
            if len(s) > max_len:
                err(pr, header, s, R_TOO_LONG.format(n=max_len))
                return None
            return s
    elif kind == "list":
        def conv(raw, s, header, pr):
            items = []
            for part in _SPLIT_RE.split(s):
                part = part.strip()
                if part and part not in items:
                    items.append(part)
            return items
    elif kind == "credit_code":
        def conv(raw, s, header, pr):
            if (isinstance(raw, (int, float)) and not isinstance(raw, bool)) \
                    or _SCI_RE.match(s.replace(" ", "")):
                err(pr, header, s, R_SCI)
                return None
            # A leading apostrophe is Excel's "store as text" marker, sometimes exported as is.
            ok, code, reason = validate_credit_code(s.lstrip("'`"))
            if not ok:
                err(pr, header, s, reason)
                return None
            if reason == LOWERCASE_FIXED:
                pr.warnings.append(RowError(pr.row_number, header, s, reason))
            return code
    elif kind == "int":
        def conv(raw, s, header, pr):
            try:
                n = _to_int(raw, s)
            except ValueError:
                err(pr, header, s, R_INT)
                return None
            if n < 0:
                err(pr, header, s, R_NEGATIVE)
                return None
            return n
    elif kind == "date":
        def conv(raw, s, header, pr):
            try:
                return _to_date(raw, s, latest)
            except (ValueError, TypeError):
                err(pr, header, s, R_DATE)
            except OverflowError:
                err(pr, header, s, R_DATE_RANGE)
            return None
    elif kind == "phone":
        def conv(raw, s, header, pr):
            try:
                phone, multiple = _norm_phone(s)
            except ValueError:
                err(pr, header, s, R_PHONE)
                return None
            if multiple:
                pr.warnings.append(RowError(pr.row_number, header, s, R_PHONE_MULTI))
            return phone
    elif kind in ("lng", "lat"):
        def conv(raw, s, header, pr):
            try:
                return _to_float(raw, s)
            except ValueError:
                err(pr, header, s, R_NUMBER)
                return None
    else:  # pragma: no cover - spec error
        raise AssertionError(kind)
    return conv


# A phone number inside other text: a mobile (spaces or dashes allowed), or a landline with area code.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)"
                            r"|(?<!\d)0\d{2,3}[-\s]?[1-9]\d{6,7}(?:-\d{1,6})?(?!\d)"
                            r"|(?<!\d)[1-9]\d{6,7}(?!\d)")
_PAIR_JUNK_RE = re.compile(r"[/()、,;:|\-—_]+|电话|手机|联系方式")


def _make_pair_converter(person: str, phone: str, owned: tuple[str, ...]) -> Callable:
    """``convert(raw, text, header, parsed_row)`` of a combined "姓名 / 手机" column: sets the
    person's name and phone (only the ``owned`` keys: a separate column wins) in ``values``."""
    name_col = _BY_KEY[person]
    keep_name, keep_phone = person in owned, phone in owned

    def conv(raw, s, header, pr):
        values = pr.values
        name = number = None
        if s:
            m = _PHONE_IN_TEXT.search(s)
            rest = s
            if m:
                rest = s[:m.start()] + " " + s[m.end():]
                try:
                    number, _multiple = _norm_phone(_norm_text(m.group(0)))
                except ValueError:
                    number = None
                if _PHONE_IN_TEXT.search(rest):
                    pr.warnings.append(RowError(pr.row_number, header, s[:200], R_PHONE_MULTI))
                    rest = _PHONE_IN_TEXT.sub(" ", rest)
            rest = _CJK_SPACE_RE.sub("", " ".join(_PAIR_JUNK_RE.sub(" ", rest).split()))
            if keep_phone and (number is None and (m or any(ch.isdigit() for ch in rest))):
                pr.errors.append(RowError(pr.row_number, header, s[:200], R_PHONE))
                rest = "".join(ch for ch in rest if not ch.isdigit()).strip()
            if rest:
                if len(rest) > name_col.max_length:
                    pr.errors.append(RowError(pr.row_number, header, s[:200],
                                              R_TOO_LONG.format(n=name_col.max_length)))
                else:
                    name = rest
        if keep_name:
            values[person] = name
        if keep_phone:
            values[phone] = number
        return None
    return conv


_SYNONYMS = _read_synonyms()
_ALIASES = _build_alias_map(_SYNONYMS)
# The synonyms of each column, from the table (``_Col.aliases``).
_COLUMNS = tuple(replace(c, aliases=tuple(h for k, h in _SYNONYMS if k == c.key)) for c in _COLUMNS)
_BY_KEY = {c.key: c for c in _COLUMNS}


def _in_range(x: float | None, bounds: tuple[float, float]) -> bool:
    return x is not None and bounds[0] <= x <= bounds[1]


def _check_coordinates(pr: ParsedRow, headers: dict[str, str], texts: dict[str, str]) -> None:
    """Zhejiang bounding box; detects swapped longitude/latitude."""
    values = pr.values
    lng = values.get("longitude")
    lat = values.get("latitude")
    if (lng is not None and lat is not None and not _in_range(lng, LNG_RANGE)
            and not _in_range(lat, LAT_RANGE) and _in_range(lat, LNG_RANGE)
            and _in_range(lng, LAT_RANGE)):
        pr.errors.append(RowError(pr.row_number, headers["longitude"],
                                  f"{texts['longitude']},{texts['latitude']}", R_COORD_SWAPPED))
        values["longitude"] = values["latitude"] = None
        return
    for key, bounds in (("longitude", LNG_RANGE), ("latitude", LAT_RANGE)):
        x = values.get(key)
        if x is not None and not _in_range(x, bounds):
            pr.errors.append(RowError(pr.row_number, headers[key], texts[key], R_COORD))
            values[key] = None


# --------------------------------------------------------------------------- readers

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORKBOOK_EXT = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
_TEXT_EXT = {".csv", ".txt", ".tsv"}
_MARKUP_MAGIC = (b"<html", b"<!doc", b"<?xml", b"<table", b"<meta")
_UNREADABLE = "无法读取文件:文件已损坏或不是有效的Excel/CSV文件"
_UNSUPPORTED = "无法读取文件:不支持的文件类型,请上传 .xlsx、.xls 或 .csv 文件"


def _open_binary(file: Any) -> tuple[IO[bytes], bool]:
    """(binary stream positioned at 0, whether we opened it and must close it)."""
    if isinstance(file, (str, os.PathLike)):
        try:
            return open(file, "rb"), True
        except OSError as exc:
            raise ImportFileError("无法读取文件:文件不存在或无法打开") from exc
    if isinstance(file, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(file)), True
    if not hasattr(file, "read"):
        raise ImportFileError(_UNSUPPORTED)
    try:
        file.seek(0)
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    return file, False


class _Source:
    """A sheet as a stream of ``(row_number, raw cells)`` plus merge ranges for header rows."""

    sheet_name = ""
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = []

    def rows(self) -> Iterator[tuple[int, list]]:  # pragma: no cover - interface
        raise NotImplementedError


class _CsvSource(_Source):
    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        head = stream.read(65536) or b""
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.encoding = "utf-16"     # Excel's "Unicode text" export
        elif b"\x00" in head:
            raise ImportFileError("无法读取文件:文件内容不是文本(CSV)格式")
        elif head.startswith(codecs.BOM_UTF8):
            self.encoding = "utf-8-sig"
        else:
            dec = codecs.getincrementaldecoder("utf-8")()
            try:
                dec.decode(head, final=len(head) < 65536)
                self.encoding = "utf-8"
            except UnicodeDecodeError:
                self.encoding = "gb18030"
        self.head = head
        sample = head[:16384].decode(self.encoding, errors="ignore")
        self.delimiter = ","
        first_line = sample.split("\n", 1)[0]
        if "," not in first_line and "\t" in first_line:
            self.delimiter = "\t"
        elif "," not in first_line and ";" in first_line:
            self.delimiter = ";"

    def _lines(self) -> Iterator[str]:
        dec = codecs.getincrementaldecoder(self.encoding)()
        buf = ""
        chunk = self.head
        while chunk:
            try:
                buf += dec.decode(chunk)
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    "无法读取文件:文本编码无法识别,请另存为UTF-8或GBK编码的CSV文件") from exc
            parts = buf.split("\n")
            buf = parts.pop()
            for p in parts:
                yield p + "\n"
            chunk = self.stream.read(1 << 16)
        try:
            buf += dec.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ImportFileError("无法读取文件:文本编码无法识别,请另存为UTF-8或GBK编码的CSV文件") from exc
        if buf:
            yield buf

    def rows(self):
        reader = csv.reader(self._lines(), delimiter=self.delimiter)
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise ImportFileError(f"无法读取文件:CSV格式错误(第{reader.line_num}行)") from exc


class _WorkbookSource(_Source):
    def __init__(self, sheet: Any):
        self.sheet = sheet
        self.sheet_name = sheet.name
        start = sheet.start
        self.col_offset = start[1] if start else 0
        try:
            merged = sheet.merged_cell_ranges or []
        except Exception:  # noqa: BLE001 - merge info is optional
            merged = []
        self.merged = [((r0, c0 - self.col_offset), (r1, c1 - self.col_offset))
                       for (r0, c0), (r1, c1) in merged]

    def rows(self):
        try:
            for i, row in enumerate(self.sheet.iter_rows()):
                yield i + 1, row
        except ImportFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - calamine raises assorted errors
            raise ImportFileError(_UNREADABLE) from exc


class _XlsxSource(_Source):
    """A worksheet of an .xlsx/.xlsm streamed row by row (:mod:`.importing_xlsx`): memory does
    not grow with the rows. Read errors surface while the rows are read, as for a CSV file."""

    def __init__(self, sheet):
        self.sheet = sheet
        self.sheet_name = sheet.name
        self._merged = None

    @property
    def merged(self):
        if self._merged is None:
            try:
                self._merged = self.sheet.merged
            except Exception:  # noqa: BLE001 - merge info is optional
                self._merged = []
        return self._merged

    def rows(self):
        try:
            yield from self.sheet.rows()
        except ImportFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken package or XML
            raise ImportFileError(_UNREADABLE) from exc


def _xlsx_sources(stream: IO[bytes]) -> Iterator[_XlsxSource]:
    from . import importing_xlsx

    try:
        book = importing_xlsx.Workbook(stream)
    except Exception as exc:  # noqa: BLE001
        raise ImportFileError(_UNREADABLE) from exc
    for name, path, visible in book.sheets:
        if visible:
            yield _XlsxSource(importing_xlsx.Sheet(book, name, path))


def _workbook_sources(stream: IO[bytes]) -> Iterator[_WorkbookSource]:
    import python_calamine

    try:
        wb = python_calamine.CalamineWorkbook.from_filelike(stream)
    except python_calamine.PasswordError as exc:
        raise ImportFileError("无法读取文件:文件设有密码保护,请取消密码后重新上传") from exc
    except Exception as exc:  # noqa: BLE001
        raise ImportFileError(_UNREADABLE) from exc
    try:
        metas = wb.sheets_metadata
    except Exception:  # noqa: BLE001
        metas = []
    names = wb.sheet_names
    for idx, name in enumerate(names):
        meta = metas[idx] if idx < len(metas) else None
        if meta is not None and str(meta.visible).rsplit(".", 1)[-1] != "Visible":
            continue
        if meta is not None and str(meta.typ).rsplit(".", 1)[-1] != "WorkSheet":
            continue
        try:
            sheet = wb.get_sheet_by_index(idx)
        except Exception as exc:  # noqa: BLE001
            raise ImportFileError(_UNREADABLE) from exc
        yield _WorkbookSource(sheet)


def _guard(stream: IO[bytes], close: Callable[[], None]) -> None:
    """The upload guard (``yingji.core.uploads``) before python-calamine sees the workbook: a zip
    package whose inflated size, ratio or sheet extent would exhaust memory is refused here, in
    the web process and in the worker alike."""
    from yingji.core import uploads
    from yingji.core.errors import InvalidInput

    try:
        uploads.check_spreadsheet(stream)
    except InvalidInput as exc:
        close()
        raise ImportFileError(_UNREADABLE if exc.code == "broken_file" else exc.message) from None


def _bounded(rows: Iterator[tuple[int, list]]) -> Iterator[tuple[int, list]]:
    """Stop at the row and column limits (``settings.IMPORT_MAX_ROWS`` / ``IMPORT_MAX_COLUMNS``)."""
    from yingji.core import uploads

    lim = uploads.limits()
    for rn, cells in rows:
        if rn > lim.rows:
            raise ImportFileError(uploads.too_many_rows(lim.rows).message)
        if len(cells) > lim.columns:
            if any(v not in ("", None) for v in cells[lim.columns:]):
                raise ImportFileError(uploads.too_many_columns(lim.columns).message)
            cells = cells[:lim.columns]  # trailing empty cells
        yield rn, cells


def _sources(file: Any, filename: str) -> tuple[Iterator[_Source], Callable[[], None]]:
    stream, owned = _open_binary(file)

    def close():
        if owned:
            stream.close()

    try:
        magic = stream.read(512) or b""
        stream.seek(0)
    except Exception as exc:  # noqa: BLE001
        close()
        raise ImportFileError(_UNREADABLE) from exc
    ext = os.path.splitext(filename or "")[1].lower()
    if magic.startswith(_XLSX_MAGIC) or magic.startswith(_OLE_MAGIC):
        if ext in _TEXT_EXT or ext in _WORKBOOK_EXT or not ext:
            _guard(stream, close)
            if STREAM_XLSX and magic.startswith(_XLSX_MAGIC):
                from .importing_xlsx import is_xlsx

                if is_xlsx(stream):
                    return _xlsx_sources(stream), close
            return _workbook_sources(stream), close
    elif ext in _TEXT_EXT:
        try:
            return iter([_CsvSource(stream)]), close
        except BaseException:
            close()
            raise
    elif ext in _WORKBOOK_EXT:
        close()
        if magic.lstrip(codecs.BOM_UTF8 + b" \r\n\t").lower().startswith(_MARKUP_MAGIC):
            raise ImportFileError("无法读取文件:该文件实为网页(HTML/XML)格式,请用Excel打开后另存为.xlsx文件")
        raise ImportFileError(_UNREADABLE)
    close()
    raise ImportFileError(_UNSUPPORTED)


# --------------------------------------------------------------------------- parsing

_NO_HEADER = ("未找到表头:文件前{n}行中没有识别出模板列(如“名称”、“统一社会信用代码”、“地址”),"
              "请使用导入模板")


def _row_is_empty(cells: list) -> bool:
    for v in cells:
        if v is None or v == "":
            continue
        if isinstance(v, str) and not _norm_text(v):
            continue
        return False
    return True


class _MergeFiller:
    """Fill cells covered by merged ranges with the range's top-left value (workbooks only)."""

    def __init__(self, merged):
        self.by_row: dict[int, list[tuple[int, int, int, int]]] = {}
        self.values: dict[tuple[int, int], object] = {}
        for (r0, c0), (r1, c1) in merged:
            if r1 - r0 > 100_000 or c1 < 0:
                continue
            c1 = min(c1, 1023)      # whole-row merges: no real sheet has more columns
            for r in range(r0, r1 + 1):
                self.by_row.setdefault(r + 1, []).append((r0 + 1, max(c0, 0), c1, r1 + 1))

    def fill(self, rn: int, cells: list) -> list:
        spans = self.by_row.pop(rn, None)
        if not spans:
            return cells
        cells = list(cells)
        for r0, c0, c1, _ in spans:
            if c1 >= len(cells):
                cells.extend([""] * (c1 + 1 - len(cells)))
            if rn == r0:
                self.values[(r0, c0)] = cells[c0]
            v = self.values.get((r0, c0), "")
            for c in range(c0, c1 + 1):
                if cells[c] in ("", None):
                    cells[c] = v
        return cells


def _find_header(source: _Source) -> tuple[HeaderInfo, Iterator[tuple[int, list]], _MergeFiller] | None:
    filler = _MergeFiller(source.merged)
    it = _bounded(source.rows())
    buffered: list[tuple[int, list]] = []
    for rn, cells in it:
        cells = filler.fill(rn, cells)
        if _row_is_empty(cells):
            continue
        buffered.append((rn, cells))
        if len(buffered) >= HEADER_SEARCH_ROWS + 1:
            break
    cleaned = [(rn, [_clean_header(v) for v in cells]) for rn, cells in buffered]
    found = _detect_header(cleaned, source.sheet_name)
    if found is None:
        return None
    header, nxt = found

    def rest():
        yield from buffered[nxt:]
        for rn, cells in it:
            yield rn, filler.fill(rn, cells)

    return header, rest(), filler


def _open(file: Any, filename: str) -> tuple[HeaderInfo, Iterator[tuple[int, list]], Callable[[], None]]:
    sources, close = _sources(file, filename)
    try:
        for source in sources:
            found = _find_header(source)
            if found is not None:
                header, rows, _ = found
                if header.missing_required:
                    raise ImportFileError("缺少必填列:" + "、".join(header.missing_required))
                header.fully_read = isinstance(source, _WorkbookSource)
                return header, rows, close
        raise ImportFileError(_NO_HEADER.format(n=HEADER_SEARCH_ROWS))
    except BaseException:
        close()
        raise


def read_header(file: Any, filename: str) -> HeaderInfo:
    """Detect and describe the header of ``file`` (path, bytes or binary file object).

    Raises :class:`ImportFileError` for unreadable files, when no header is found and when
    required columns are missing.  File objects are rewound, so ``parse_rows`` can follow.
    """
    header, rows, close = _open(file, filename)
    close()
    return header


_HELP_TEXTS = {c.key: _norm_text(c.help) for c in _COLUMNS}


def _is_help_row(texts: list[str], columns: list[tuple[str, str | None]]) -> bool:
    """The help row of the template's example sheet (cells equal to the column help texts)."""
    hits = total = 0
    for (_, key), s in zip(columns, texts):
        if not s:
            continue
        total += 1
        if key and _HELP_TEXTS.get(key) == s:
            hits += 1
    return total > 0 and hits * 2 >= total


def parse_rows(file: Any, filename: str) -> Iterator[ParsedRow]:
    """Yield a :class:`ParsedRow` for each non-empty data row of ``file``.

    ``file``: a path, bytes, or a binary file object (e.g. a Django ``UploadedFile``);
    ``filename`` decides the format together with the file's magic bytes.  Raises
    :class:`ImportFileError` (on first iteration) when the file cannot be imported at all.
    """
    header, rows, close = _open(file, filename)
    yield from _parse(header, rows, close)


def open_rows(file: Any, filename: str) -> tuple[HeaderInfo, Iterator[ParsedRow], Callable[[], None]]:
    """``read_header`` and ``parse_rows`` reading the file once: the header now (raises
    :class:`ImportFileError` like :func:`read_header`), a generator of the rows (which may still
    raise it for a text file that turns out undecodable further down) and ``close()`` (idempotent;
    call it when done, also if the rows were not read to the end)."""
    header, rows, close = _open(file, filename)
    return header, _parse(header, rows, close), close


class SeenTable:
    """``text -> first row number`` for the in-file duplicate checks of a whole file, without a
    Python object per entry: 16-byte BLAKE2b digests in an open-addressing table of three arrays
    (20 bytes a slot, at most 2/3 full, instead of ~300 bytes an entry), so a 170,000-row file does not hold 170,000 keys."""

    def __init__(self, capacity: int = 1 << 12):
        self._alloc(capacity)
        self.count = 0

    def _alloc(self, capacity: int) -> None:
        self.mask = capacity - 1
        self.hi = array("Q", [0]) * capacity
        self.lo = array("Q", [0]) * capacity
        self.rows = array("I", [0]) * capacity     # 0 = empty slot (row numbers start at 1)

    @staticmethod
    def digest(key) -> tuple[int, int]:
        if isinstance(key, str):
            key = key.encode()
        elif isinstance(key, int):
            key = b"#%d" % key
        d = hashlib.blake2b(key, digest_size=16).digest()
        return int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")

    def _slot(self, h: int, l: int) -> int:
        mask, hi, lo, rows = self.mask, self.hi, self.lo, self.rows
        i = h & mask
        while rows[i] and (hi[i] != h or lo[i] != l):
            i = (i + 1) & mask
        return i

    def get(self, key) -> int | None:
        i = self._slot(*self.digest(key))
        return self.rows[i] or None

    def setdefault(self, key, row: int) -> int:
        """The first row seen with ``key`` (``row`` itself if it is the first)."""
        h, l = self.digest(key)
        i = self._slot(h, l)
        if self.rows[i]:
            return self.rows[i]
        self.hi[i], self.lo[i], self.rows[i] = h, l, row
        self.count += 1
        if self.count * 3 > self.mask * 2:        # at most 2/3 full: short probe runs
            self._grow()
        return row

    def _grow(self) -> None:
        old = (self.hi, self.lo, self.rows)
        self._alloc((self.mask + 1) * 2)
        for h, l, r in zip(*old):
            if r:
                i = self._slot(h, l)
                self.hi[i], self.lo[i], self.rows[i] = h, l, r

    def __len__(self) -> int:
        return self.count


NOTICE_FOOTER = "footer"
NOTICE_DUPLICATE = "duplicate"

# Signature footers under the table: "填表人:王五 审核人:李四", "制表:…", "联系电话:…", "注:…".
_FOOTER_LABELS = ("填表人|填报人|制表人|制表单位|制表|审核人|审核|复核人|审批人|签发人|负责人|单位负责人|主要负责人|"
                  "分管领导|统计人|联系人|联系电话|电话|填表日期|填报日期|制表日期|日期|填报单位|填表单位|单位|"
                  "签字|签名|盖章|注|说明|备注")
_FOOTER_RE = re.compile(r"^(?:%s)(?:\((?:盖章|签字|签名|签章)\))?\s*(?::|$)" % _FOOTER_LABELS)


def _is_footer(texts: list[str]) -> bool:
    """Every non-empty cell is a footer label (with its value after a colon), or the row starts
    with one and has at most four non-empty cells ("填表人" | "王五" | "审核人" | "李四")."""
    filled = [t for t in texts if t]
    if not filled or not _FOOTER_RE.match(filled[0]):
        return False
    return len(filled) <= 4 or all(_FOOTER_RE.match(t) for t in filled)


def _parse(header: HeaderInfo, rows: Iterator[tuple[int, list]], close: Callable[[], None]) -> Iterator[ParsedRow]:
    try:
        latest = dt.date.today() + dt.timedelta(days=366)
        cols = []
        for i, (text, key) in enumerate(header.columns):
            if key and "+" in key:
                person, phone = key.split("+")
                cols.append((i, key, text, _make_pair_converter(person, phone, header.pairs.get(i, ())),
                             False, None))
            elif key:
                col = _BY_KEY[key]
                empty: Any = [] if col.kind == "list" else None
                cols.append((i, key, text, _make_converter(col, latest), col.required, empty))
        headers = {key: text for _, key, text, _, _, _ in cols}
        coord_idx = [(key, i) for i, key, *_ in cols if key in ("longitude", "latitude")]
        used = [i for i, *_ in cols]
        seen = SeenTable()          # a row's recognised cells -> the first row with them
        first = True
        norm = _norm_text
        for rn, cells in rows:
            n = len(cells)
            texts = [(" ".join(v.split()) if v.isascii() else norm(v)) if type(v) is str
                     else ("" if v is None else norm(v)) for v in cells]
            if not any(texts):
                continue
            if first:
                first = False
                if _is_help_row(texts, header.columns):
                    continue
            if _FOOTER_RE.match(next(t for t in texts if t)) and _is_footer(texts):
                yield ParsedRow(rn, {}, notice=NOTICE_FOOTER)
                continue
            same = seen.setdefault("\x1f".join([texts[i] if i < n else "" for i in used]), rn)
            if same != rn:
                yield ParsedRow(rn, {}, notice=NOTICE_DUPLICATE, same_as=same)
                continue
            pr = ParsedRow(rn, {}, [], [])
            values = pr.values
            for i, key, text, conv, required, empty in cols:
                s = texts[i] if i < n else ""
                if empty is None and "+" in key:      # a combined "姓名 / 手机" column
                    conv(cells[i] if i < n else None, s, text, pr)
                    continue
                if not s:
                    values[key] = empty
                    if required:
                        pr.errors.append(RowError(rn, text, "", R_REQUIRED))
                    continue
                value = conv(cells[i], s, text, pr)
                if value is None and required and not any(e.column == text for e in pr.errors):
                    pr.errors.append(RowError(rn, text, s, R_REQUIRED))
                values[key] = value
            if coord_idx:
                _check_coordinates(pr, headers, {k: (texts[i] if i < n else "")
                                                 for k, i in coord_idx})
            yield pr
    finally:
        close()


# --------------------------------------------------------------------------- xlsx output

def write_template(path_or_file: Any) -> None:
    """Write the import template: sheet "企业场所" (header with help comments, text-formatted
    code/phone columns) and sheet "填写示例" (header, help row, two example rows).

    Required columns are marked with a red header and a leading ``*`` (ignored on import).
    """
    import xlsxwriter

    options = {"in_memory": True} if not isinstance(path_or_file, (str, os.PathLike)) else {}
    wb = xlsxwriter.Workbook(path_or_file, options)
    try:
        hdr = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                             "valign": "vcenter", "align": "center"})
        hdr_req = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                 "font_color": "#C00000", "text_wrap": True,
                                 "valign": "vcenter", "align": "center"})
        text_fmt = wb.add_format({"num_format": "@"})
        help_fmt = wb.add_format({"italic": True, "font_color": "#7F7F7F", "text_wrap": True,
                                  "valign": "top", "num_format": "@"})
        date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})

        main = wb.add_worksheet("企业场所")
        sample = wb.add_worksheet("填写示例")
        for ws in (main, sample):
            ws.freeze_panes(1, 0)
            ws.set_row(0, 30)
            for col_idx, col in enumerate(_COLUMNS):
                width = max(10, min(40, len(col.header) * 2 + 4))
                if col.kind in ("address", "name") and col.key in ("name", "address", "host_name"):
                    width = 32
                if col.kind in ("credit_code", "phone", "text", "list"):
                    ws.set_column(col_idx, col_idx, width, text_fmt)
                elif col.kind == "date":
                    ws.set_column(col_idx, col_idx, width, date_fmt)
                else:
                    ws.set_column(col_idx, col_idx, width)
                title = ("*" + col.header) if col.required else col.header
                ws.write_string(0, col_idx, title, hdr_req if col.required else hdr)
                if ws is main:
                    ws.write_comment(0, col_idx, col.help, {"x_scale": 2, "y_scale": 1.5})
        sample.set_row(1, 60)
        for col_idx, col in enumerate(_COLUMNS):
            sample.write_string(1, col_idx, col.help, help_fmt)
            for r, value in enumerate(col.example, start=2):
                if value == "":
                    continue
                if isinstance(value, str):
                    sample.write_string(r, col_idx, value)
                else:
                    sample.write_number(r, col_idx, value)
    finally:
        wb.close()


def error_report_xlsx(errors: Iterable[RowError], out: Any) -> int:
    """Write the error report (行号, 列, 值, 原因) to ``out`` (path or binary file object).

    Uses xlsxwriter's constant-memory mode, so ``errors`` may be a generator of any length.
    Returns the number of errors written.
    """
    import xlsxwriter

    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    count = 0
    try:
        ws = wb.add_worksheet("错误明细")
        bold = wb.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
        ws.set_column(0, 0, 8)
        ws.set_column(1, 1, 18)
        ws.set_column(2, 2, 30)
        ws.set_column(3, 3, 60)
        for c, title in enumerate(("行号", "列", "值", "原因")):
            ws.write_string(0, c, title, bold)
        ws.freeze_panes(1, 0)
        for count, e in enumerate(errors, start=1):
            ws.write_number(count, 0, e.row)
            ws.write_string(count, 1, e.column or "")
            ws.write_string(count, 2, e.value or "")
            ws.write_string(count, 3, e.reason or "")
    finally:
        wb.close()
    return count
