"""The streaming .xlsx reader gives what calamine gives, row by row (pure, no database)."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import python_calamine
import xlsxwriter

from yingji.registry import importing, importing_xlsx

from .test_importing import build_messy_xlsx


def _calamine_rows(content: bytes, index: int = 0) -> list[list]:
    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    return [list(r) for r in wb.get_sheet_by_index(index).iter_rows()]


def _streamed_rows(content: bytes, index: int = 0) -> list[tuple[int, list]]:
    book = importing_xlsx.Workbook(io.BytesIO(content))
    name, path, _visible = book.sheets[index]
    return list(importing_xlsx.Sheet(book, name, path).rows())


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return a == b
    if isinstance(a, dt.datetime) and isinstance(b, (dt.date, dt.datetime)):
        return a == (b if isinstance(b, dt.datetime) else dt.datetime.combine(b, dt.time()))
    return a == b


def _trim(cells: list) -> list:
    cells = list(cells)
    while cells and cells[-1] in ("", None):
        cells.pop()
    return cells


def workbook(constant_memory: bool) -> bytes:
    """Shared strings (or inline strings), numbers, booleans, dates in several formats, a formula
    string, a rich string, a gap in the columns, an empty row, a hidden second sheet."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "constant_memory": constant_memory})
    ws = wb.add_worksheet("名单")
    hidden = wb.add_worksheet("隐藏")
    hidden.hide()
    ws.activate()
    d1 = wb.add_format({"num_format": "yyyy-mm-dd"})
    d2 = wb.add_format({"num_format": 14})
    d3 = wb.add_format({"num_format": 'yyyy"年"m"月"d"日"'})
    money = wb.add_format({"num_format": "#,##0.00"})
    bold = wb.add_format({"bold": True})
    ws.write_row(0, 0, ["名称", "地址", "人数", "成立日期", "是否", "备注"])
    ws.write_string(1, 0, "诸暨市 A&B <有限> 公司")
    ws.write_rich_string(1, 1, "大唐", bold, "街道", "1号")
    ws.write_number(1, 2, 120)
    ws.write_datetime(1, 3, dt.datetime(2015, 6, 1), d1)
    ws.write_boolean(1, 4, True)
    ws.write_string(1, 5, "第一行\n第二行")
    ws.write_string(3, 0, "第三条")           # row 3 (1-based) left empty
    ws.write_number(3, 2, 12.5, money)
    ws.write_datetime(3, 3, dt.datetime(2020, 3, 18, 9, 30), d2)
    ws.write_formula(3, 5, '="公式"&"结果"', None, "公式结果")
    ws.write_datetime(4, 3, dt.datetime(1999, 12, 31), d3)
    ws.write_number(4, 7, 13800000000)       # column H: a gap after F
    hidden.write_string(0, 0, "不应读取")
    wb.close()
    return buf.getvalue()


@pytest.mark.parametrize("constant_memory", [False, True])
def test_streamed_rows_equal_calamine(constant_memory):
    content = workbook(constant_memory)
    streamed = _streamed_rows(content)
    cal = _calamine_rows(content)
    assert [rn for rn, _ in streamed] == [1, 2, 4, 5]
    by_number = dict(streamed)
    for rn, cells in enumerate(cal, start=1):
        mine = _trim(by_number.get(rn, []))
        theirs = _trim(cells)
        assert len(mine) == len(theirs), (rn, mine, theirs)
        assert all(_same(a, b) for a, b in zip(mine, theirs)), (rn, mine, theirs)
    assert by_number[2][1] == "大唐街道1号" and by_number[2][0] == "诸暨市 A&B <有限> 公司"
    assert by_number[2][3] == dt.datetime(2015, 6, 1) and by_number[2][4] is True
    assert by_number[4][3] == dt.datetime(2020, 3, 18, 9, 30) and by_number[4][5] == "公式结果"
    assert by_number[5][3] == dt.datetime(1999, 12, 31) and by_number[5][7] == 13800000000.0


def test_hidden_sheets_are_listed_as_hidden():
    book = importing_xlsx.Workbook(io.BytesIO(workbook(False)))
    assert [(name, visible) for name, _path, visible in book.sheets] == [("名单", True), ("隐藏", False)]


def test_merged_ranges_equal_calamine():
    content = build_messy_xlsx()
    book = importing_xlsx.Workbook(io.BytesIO(content))
    name, path, _ = book.sheets[0]
    mine = sorted(importing_xlsx.Sheet(book, name, path).merged)
    cal = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
    assert mine == sorted(cal.merged_cell_ranges)
    assert mine  # the messy sheet has a merged title and a two-row header


def test_messy_file_parses_the_same_streamed_and_through_calamine(monkeypatch):
    streamed = list(importing.parse_rows(io.BytesIO(build_messy_xlsx()), "名单.xlsx"))
    monkeypatch.setattr(importing, "STREAM_XLSX", False)
    whole = list(importing.parse_rows(io.BytesIO(build_messy_xlsx()), "名单.xlsx"))
    assert [(r.row_number, r.values, r.errors, r.warnings) for r in streamed] == \
        [(r.row_number, r.values, r.errors, r.warnings) for r in whole]


def test_broken_sheet_xml_is_a_chinese_file_error():
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(workbook(False)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) * 2 // 3]          # cut in the middle of the rows
            z.writestr(item, data)
    with pytest.raises(importing.ImportFileError) as exc:
        list(importing.parse_rows(out.getvalue(), "名单.xlsx"))
    assert "无法读取文件" in exc.value.message
