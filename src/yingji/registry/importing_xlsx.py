"""Streaming reader of .xlsx/.xlsm worksheets for the site import (stdlib only).

python-calamine reads a whole sheet into memory before the first row is returned: ~150 MB for a
170,000-row town sheet, on top of the import itself. This reader yields ``(row number, cells)``
one row at a time straight from the zip member (``xml.etree.ElementTree.iterparse``, each row
cleared once read), so memory does not grow with the rows. The shared-string table, which grows
with the number of *distinct* texts, is kept as one string plus an offset array (about two bytes
per character instead of a Python object per text).

Cell values are what calamine gives: str for text, float for numbers, bool, ``datetime`` for
numbers in a date format (1900 or 1904 date system), "" for errors and empty cells. Merged
ranges (``<mergeCells>`` follow the cell data in the file) are found by a byte scan of the
decompressed sheet before the rows are parsed.

Other workbook formats (.xls, .xlsb, .ods) stay with calamine (see :mod:`.importing`).
"""
from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import zipfile
from array import array
from typing import IO, Iterator
from xml.etree.ElementTree import iterparse

_MAIN = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
         "http://purl.oclc.org/ooxml/spreadsheetml/main")
_REL = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "http://purl.oclc.org/ooxml/officeDocument/relationships")
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_COL_RE = re.compile(r"^([A-Z]+)(\d*)$")
_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
# Built-in number formats that are dates or times (ECMA-376 18.8.30, plus the CJK ones).
_DATE_FORMAT_IDS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) | set(range(50, 59))
_QUOTED_RE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_EPOCH_1900 = dt.datetime(1899, 12, 30)
_EPOCH_1904 = dt.datetime(1904, 1, 1)


def is_xlsx(stream: IO[bytes]) -> bool:
    """A zip package with a SpreadsheetML workbook (xlsx/xlsm, not xlsb or ods)."""
    try:
        with zipfile.ZipFile(stream) as z:
            return "xl/workbook.xml" in z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        stream.seek(0)


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Strings:
    """The shared-string table: one str and the offsets of its items."""

    def __init__(self):
        self.text = ""
        self.offsets = array("Q", [0])

    def __getitem__(self, i: int) -> str:
        return self.text[self.offsets[i]:self.offsets[i + 1]]

    def __len__(self) -> int:
        return len(self.offsets) - 1


def _text_of(el) -> str:
    """Text of an ``<si>``/``<is>``: its ``<t>`` and rich-text runs' ``<t>``, not phonetic runs."""
    parts = []
    for child in el:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            for t in child:
                if _local(t.tag) == "t":
                    parts.append(t.text or "")
    return "".join(parts)


class Sheet:
    def __init__(self, book: "Workbook", name: str, path: str):
        self.book = book
        self.name = name
        self.path = path
        self._merged = None

    @property
    def merged(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """0-based ``((r0, c0), (r1, c1))`` of the merged ranges (calamine's convention)."""
        if self._merged is None:
            found = []
            tail = b""
            with self.book.zip.open(self.path) as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    data = tail + block
                    cut = max(0, len(data) - 200)
                    for m in _MERGE_RE.finditer(data):
                        if m.start() >= cut:
                            break
                        found.append(((int(m.group(2)) - 1, _col_index(m.group(1).decode())),
                                      (int(m.group(4)) - 1, _col_index(m.group(3).decode()))))
                    tail = data[cut:]
            for m in _MERGE_RE.finditer(tail):
                found.append(((int(m.group(2)) - 1, _col_index(m.group(1).decode())),
                              (int(m.group(4)) - 1, _col_index(m.group(3).decode()))))
            self._merged = found
        return self._merged

    def rows(self) -> Iterator[tuple[int, list]]:
        """``(1-based row number, cell values from column A)`` for each row in the file."""
        book = self.book
        strings = book.strings
        dates = book.date_styles
        epoch = book.epoch
        rn = 0
        row_tag = c_tag = v_tag = is_tag = t_tag = None
        parent = None
        columns: dict[str, int] = {}
        with book.zip.open(self.path) as f:
            for event, el in iterparse(f, events=("start", "end")):
                if event == "start":
                    if parent is None and _local(el.tag) == "sheetData":
                        parent = el         # read rows are removed from it: constant memory
                    continue
                tag = el.tag
                if tag != row_tag:
                    if row_tag is None and _local(tag) == "row":
                        ns = tag[:-3]
                        row_tag, c_tag, v_tag, is_tag, t_tag = tag, ns + "c", ns + "v", ns + "is", ns + "t"
                    else:
                        continue
                r = el.get("r")
                rn = int(r) if r else rn + 1
                cells: list = []
                col = -1
                for c in el:
                    if c.tag != c_tag:
                        continue
                    ref = c.get("r")
                    if ref:
                        letters = ref.rstrip("0123456789")
                        index = columns.get(letters)
                        if index is None:
                            m = _COL_RE.match(ref)
                            index = columns[letters] = _col_index(m.group(1)) if m else col + 1
                        col = index
                    else:
                        col += 1
                    if col >= len(cells):
                        cells.extend([""] * (col + 1 - len(cells)))
                    t = c.get("t")
                    v = c.find(v_tag)
                    text = v.text if v is not None else None
                    if t == "s":
                        value = strings[int(text)] if text else ""
                    elif t == "inlineStr":
                        node = c.find(is_tag)
                        if node is None:
                            value = ""
                        elif len(node) == 1 and node[0].tag == t_tag:     # the usual <is><t>…</t></is>
                            value = node[0].text or ""
                        else:
                            value = _text_of(node)
                    elif t == "str":
                        value = text or ""
                    elif t == "b":
                        value = text == "1"
                    elif t == "e":
                        value = ""
                    elif t == "d":
                        try:
                            value = dt.datetime.fromisoformat(text) if text else ""
                        except ValueError:
                            value = text or ""
                    elif text is None:
                        value = ""
                    else:
                        try:
                            value = float(text)
                        except ValueError:
                            value = text
                        else:
                            s = c.get("s")
                            if s and int(s) in dates and 0 <= value < 2_958_466:
                                # to the millisecond, as Excel shows it (a float day loses µs)
                                value = epoch + dt.timedelta(milliseconds=round(value * 86_400_000))
                                if book.epoch is _EPOCH_1900 and value < dt.datetime(1900, 3, 1):
                                    value += dt.timedelta(days=1)   # Excel's phantom 1900-02-29
                    cells[col] = value
                el.clear()
                if parent is not None:
                    parent.clear()
                yield rn, cells


class Workbook:
    """The worksheets of an .xlsx/.xlsm package, in workbook order, with their visibility."""

    def __init__(self, stream: IO[bytes]):
        self.zip = zipfile.ZipFile(stream)
        names = set(self.zip.namelist())
        rels = {}
        with self.zip.open("xl/_rels/workbook.xml.rels") as f:
            for _e, el in iterparse(f):
                if _local(el.tag) == "Relationship" and el.get("Type", "").endswith("/worksheet"):
                    target = el.get("Target", "")
                    path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                        posixpath.join("xl", target))
                    rels[el.get("Id")] = path
        self.sheets: list[tuple[str, str, bool]] = []   # (name, path, visible)
        self.epoch = _EPOCH_1900
        with self.zip.open("xl/workbook.xml") as f:
            for _e, el in iterparse(f):
                name = _local(el.tag)
                if name == "workbookPr" and el.get("date1904") in ("1", "true"):
                    self.epoch = _EPOCH_1904
                elif name == "sheet":
                    rid = next((el.get("{%s}id" % ns) for ns in _REL if el.get("{%s}id" % ns)), None)
                    path = rels.get(rid)
                    if path and path in names:
                        self.sheets.append((el.get("name", ""), path, el.get("state", "visible") == "visible"))
        self._names = names
        self._strings = None
        self._dates = None

    @property
    def strings(self) -> _Strings:
        if self._strings is None:
            table = _Strings()
            if "xl/sharedStrings.xml" in self._names:
                out = io.StringIO()
                offsets = table.offsets
                pos = 0
                with self.zip.open("xl/sharedStrings.xml") as f:
                    for _e, el in iterparse(f):
                        if _local(el.tag) == "si":
                            s = _text_of(el)
                            out.write(s)
                            pos += len(s)
                            offsets.append(pos)
                            el.clear()
                table.text = out.getvalue()
            self._strings = table
        return self._strings

    @property
    def date_styles(self) -> set[int]:
        """Indices of the cell formats (``s``) whose number format is a date or time."""
        if self._dates is None:
            dates: set[int] = set()
            if "xl/styles.xml" in self._names:
                custom: dict[int, str] = {}
                xfs: list[int] = []
                in_cell_xfs = False
                with self.zip.open("xl/styles.xml") as f:
                    for event, el in iterparse(f, events=("start", "end")):
                        name = _local(el.tag)
                        if name == "cellXfs":
                            in_cell_xfs = event == "start"
                        elif event == "end" and name == "numFmt":
                            try:
                                custom[int(el.get("numFmtId", "-1"))] = el.get("formatCode", "")
                            except ValueError:
                                pass
                        elif event == "end" and name == "xf" and in_cell_xfs:
                            try:
                                xfs.append(int(el.get("numFmtId", "0")))
                            except ValueError:
                                xfs.append(0)
                for i, fmt in enumerate(xfs):
                    if fmt in custom:
                        code = _QUOTED_RE.sub("", custom[fmt]).lower()
                        if any(ch in code for ch in "ymdhs") and "general" not in code:
                            dates.add(i)
                    elif fmt in _DATE_FORMAT_IDS:
                        dates.add(i)
            self._dates = dates
        return self._dates

    def close(self) -> None:
        self.zip.close()
