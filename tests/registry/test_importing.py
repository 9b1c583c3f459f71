"""Site spreadsheet import: messy real-world files built on the fly. Pure, no database."""
from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc

import pytest
import python_calamine
import xlsxwriter

from yingji.registry import importing
from yingji.registry.creditcode import generate_credit_code
from yingji.registry.importing import (
    TEMPLATE_COLUMNS,
    ImportFileError,
    ParsedRow,
    RowError,
    error_report_xlsx,
    parse_rows,
    read_header,
    write_template,
)

CODE = [generate_credit_code(i) for i in range(10)]   # valid codes, Zhuji division
FULLWIDTH = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                          "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ")


def _bad_check(code: str) -> tuple[str, str]:
    """Same code with a wrong final check character; returns (bad code, expected reason)."""
    wrong = "0" if code[-1] != "0" else "1"
    return code[:-1] + wrong, f"校验位错误:应为“{code[-1]}”,实为“{wrong}”"


# --------------------------------------------------------------------------- fixtures

def build_messy_xlsx() -> bytes:
    """Title row, two-row merged header, full-width text, numbers as text, mixed dates,
    an empty middle row, whitespace-only trailing rows."""
    bad_code, _ = _bad_check(CODE[2])
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet("大唐")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    border = wb.add_format({"border": 1})
    ws.merge_range("A1:P1", "诸暨市大唐街道企业名单（2024年）")
    ws.merge_range("A2:A3", "序号")
    ws.merge_range("B2:B3", "企业名称*")
    ws.merge_range("C2:C3", "统一社会信用代码\n（必填）")
    ws.merge_range("D2:E2", "法定代表人")
    ws.write("D3", "姓名")
    ws.write("E3", "联系电话")
    ws.merge_range("F2:F3", "详细\u3000地址")
    ws.merge_range("G2:G3", "从业人员")
    ws.merge_range("H2:I2", "坐标")
    ws.write("H3", "经度")
    ws.write("I3", "纬度")
    ws.merge_range("J2:J3", "成立日期")
    ws.merge_range("K2:K3", "行业领域")
    ws.merge_range("L2:L3", "风险特征")
    ws.merge_range("M2:N2", "安全负责人")
    ws.write("M3", "姓名")
    ws.write("N3", "电话")
    ws.merge_range("O2:O3", "镇 街")
    ws.merge_range("P2:P3", "备注")
    # row 4: full-width everything, numbers as text, a real date cell
    ws.write_row("A4", [1, "诸暨市\u3000大唐 Ａ机械有限公司", CODE[0].translate(FULLWIDTH), "张\u3000三",
                        "138 1234 5678", "  诸暨市大唐街道\u3000示例路   88号 ", "１２０", "120.2378"])
    ws.write_number("I4", 29.7134)
    ws.write_datetime("J4", dt.datetime(2015, 6, 1), date_fmt)
    ws.write_row("K4", ["工贸、危化", "粉尘涉爆，有限空间", "王五", "0575-87012345", "大唐街道", "x"])
    # row 5: lower-case code, "1,234", slash date, phone stored as a number
    ws.write_row("A5", [2, "诸暨市示例袜厂", CODE[1].lower(), "李四", 13912345678, "示例路2号", "1,234",
                        120.1, 29.8, "2023/5/15", "", "", "", "", "大唐街道"])
    # row 6: wrong check character, float employees, Excel serial number as a plain number
    ws.write_row("A6", [3, "诸暨市坏码厂", bad_code, "", "", "示例路3号", 35.0, "", "", 45061])
    # row 7: empty row in the middle (only whitespace and a formatted blank)
    ws.write_row("A7", ["", " ", "\u3000"])
    ws.write_blank("D7", None, border)
    # row 8: code mangled by Excel into a number, swapped coordinates, Chinese date, "120.0"
    ws.write_row("A8", [4, "诸暨市科学计数法厂", 9.13306810000123e17, "", "", "示例路4号", "120.0",
                        29.7, 120.2, "2023年5月15日"])
    # row 9: longitude out of Zhejiang, bad phone, text employees, compact date, dotted date
    ws.write_row("A9", [5, "诸暨市越界厂", CODE[3], "赵六", "12345", "示例路5号", "十个", 125.0, 29.0,
                        "20230515", "", "", "", "", "", ""])
    # row 10: missing name, impossible date, dotted date elsewhere is fine
    ws.write_row("A10", [6, "", CODE[4], "", "", "示例路6号", "", "", "", "2023-13-45"])
    ws.write_row("A11", [7, "诸暨市点号日期厂", "", "", "", "示例路7号", "", "", "", "2023.5.15"])
    # trailing rows that look empty: whitespace strings and formatted blanks
    for r in range(11, 30):
        ws.write_string(r, 1, " " if r % 2 else "\u3000")
        ws.write_blank(r, 3, None, border)
    wb.close()
    return out.getvalue()


def build_csv(rows: list[list[str]], encoding: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


# --------------------------------------------------------------------------- messy xlsx

def test_messy_xlsx_header_detection():
    header = read_header(io.BytesIO(build_messy_xlsx()), "名单.xlsx")
    assert header.header_rows == (2, 3)
    assert header.sheet_name == "大唐"
    assert header.recognised == {
        "name": "企业名称",
        "credit_code": "统一社会信用代码",
        "legal_rep": "法定代表人姓名",
        "legal_rep_phone": "法定代表人联系电话",
        "address": "详细地址",
        "employees": "从业人员",
        "longitude": "经度",
        "latitude": "纬度",
        "founded": "成立日期",
        "sectors": "行业领域",
        "traits": "风险特征",
        "safety_manager": "安全负责人姓名",
        "safety_manager_phone": "安全负责人电话",
        "town": "镇街",
        "note": "备注",
    }
    # 序号 is known to carry nothing to import; 备注 is the site's note.
    assert header.unknown == []
    assert header.ignored == ["序号"]
    assert header.missing_required == []
    assert header.duplicates == []


def test_messy_xlsx_rows_values_and_errors():
    rows = list(parse_rows(io.BytesIO(build_messy_xlsx()), "名单.xlsx"))
    by_row = {r.row_number: r for r in rows}
    # empty middle row 7 and the whitespace-only trailing rows are skipped
    assert list(by_row) == [4, 5, 6, 8, 9, 10, 11]

    r4 = by_row[4]
    assert r4.errors == [] and r4.warnings == []
    assert r4.values == {
        "name": "诸暨市大唐A机械有限公司",
        "credit_code": CODE[0],
        "legal_rep": "张三",
        "legal_rep_phone": "13812345678",
        "address": "诸暨市大唐街道 示例路 88号",
        "employees": 120,
        "longitude": 120.2378,
        "latitude": 29.7134,
        "founded": dt.date(2015, 6, 1),
        "sectors": ["工贸", "危化"],
        "traits": ["粉尘涉爆", "有限空间"],
        "safety_manager": "王五",
        "safety_manager_phone": "0575-87012345",
        "town": "大唐街道",
        "note": "x",
    }

    r5 = by_row[5]
    assert r5.errors == []
    assert r5.values["credit_code"] == CODE[1]
    assert r5.warnings == [RowError(5, "统一社会信用代码", CODE[1].lower(), "含小写字母,已转为大写")]
    assert r5.values["employees"] == 1234
    assert r5.values["founded"] == dt.date(2023, 5, 15)
    assert r5.values["legal_rep_phone"] == "13912345678"
    assert r5.values["sectors"] == [] and r5.values["safety_manager"] is None

    r6 = by_row[6]
    bad_code, reason = _bad_check(CODE[2])
    assert r6.errors == [RowError(6, "统一社会信用代码", bad_code, reason)]
    assert r6.values["credit_code"] is None
    assert r6.values["employees"] == 35
    assert r6.values["founded"] == dt.date(2023, 5, 15)

    r8 = by_row[8]
    assert r8.errors == [
        RowError(8, "统一社会信用代码", "9.13306810000123e+17",
                 "统一社会信用代码被Excel转成了数字(科学计数法),请将该列设为文本格式后重新填写"),
        RowError(8, "经度", "29.7,120.2", "经纬度填反了(经度应在118~123之间,纬度应在27~31.5之间)"),
    ]
    assert r8.values["longitude"] is None and r8.values["latitude"] is None
    assert r8.values["employees"] == 120
    assert r8.values["founded"] == dt.date(2023, 5, 15)

    r9 = by_row[9]
    assert r9.errors == [
        RowError(9, "法定代表人联系电话", "12345", "电话号码格式不正确(应为11位手机号或带区号的固定电话)"),
        RowError(9, "从业人员", "十个", "应为整数"),
        RowError(9, "经度", "125", "坐标超出浙江省范围"),
    ]
    assert r9.values["latitude"] == 29.0 and r9.values["longitude"] is None
    assert r9.values["founded"] == dt.date(2023, 5, 15)
    assert r9.values["credit_code"] == CODE[3]

    r10 = by_row[10]
    assert r10.errors == [
        RowError(10, "企业名称", "", "必填项为空"),
        RowError(10, "成立日期", "2023-13-45", "日期格式无法识别(应为如2023-05-15的日期)"),
    ]
    assert not r10.ok

    assert by_row[11].ok and by_row[11].values["founded"] == dt.date(2023, 5, 15)
    assert by_row[11].values["credit_code"] is None


def test_parse_rows_is_a_lazy_generator_and_accepts_paths_and_uploads(tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = build_messy_xlsx()
    gen = parse_rows(io.BytesIO(data), "a.xlsx")
    assert isinstance(next(gen), ParsedRow)
    path = tmp_path / "名单.xlsx"
    path.write_bytes(data)
    assert len(list(parse_rows(path, path.name))) == 7
    assert len(list(parse_rows(str(path), path.name))) == 7
    upload = SimpleUploadedFile("名单.xlsx", data)
    assert read_header(upload, upload.name).header_rows == (2, 3)
    assert len(list(parse_rows(upload, upload.name))) == 7   # rewound after read_header


# --------------------------------------------------------------------------- CSV

CSV_ROWS = [
    ["诸暨市店口镇企业名单", "", "", "", "", "", ""],
    ["名称", "统一社会信用代码", "地址", "镇街", "经度", "纬度", "成立日期"],
    ["诸暨市铜材厂", CODE[5], "店口镇示例路1号", "店口镇", "120.25", "29.85", "2019-3-1"],
    ["诸暨市阀门厂", "9.13307E+17", "店口镇示例路2号", "店口镇", "", "", "2019.03.01"],
    ["", "", "", "", "", "", ""],
    ["诸暨市管件厂", "", "店口镇　示例路3号", "店口镇", "29.8", "120.3", "43525"],
    ["", "", "", "", "", "", ""],
    ["", "", "", "", "", "", ""],
]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_encodings(encoding):
    data = build_csv(CSV_ROWS, encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    header = read_header(io.BytesIO(data), "店口.csv")
    assert header.header_rows == (2,)
    assert list(header.recognised) == ["name", "credit_code", "address", "town", "longitude",
                                       "latitude", "founded"]
    rows = list(parse_rows(io.BytesIO(data), "店口.csv"))
    assert [r.row_number for r in rows] == [3, 4, 6]
    assert rows[0].ok
    assert rows[0].values == {
        "name": "诸暨市铜材厂", "credit_code": CODE[5], "address": "店口镇示例路1号",
        "town": "店口镇", "longitude": 120.25, "latitude": 29.85, "founded": dt.date(2019, 3, 1),
    }
    assert rows[1].errors == [RowError(
        4, "统一社会信用代码", "9.13307E+17",
        "统一社会信用代码被Excel转成了数字(科学计数法),请将该列设为文本格式后重新填写")]
    assert rows[1].values["founded"] == dt.date(2019, 3, 1)
    assert rows[2].values["address"] == "店口镇 示例路3号"
    assert rows[2].values["founded"] == dt.date(2019, 3, 1)    # Excel serial as text
    assert rows[2].errors == [RowError(
        6, "经度", "29.8,120.3", "经纬度填反了(经度应在118~123之间,纬度应在27~31.5之间)")]


def test_csv_two_row_header_without_merge_information():
    data = build_csv([
        ["名称", "法定代表人", "", "地址", "安全负责人", ""],
        ["", "姓名", "手机", "", "姓名", "联系电话"],
        ["诸暨市甲厂", "张三", "13800000000", "示例路1号", "王五", "0575 87000000"],
    ], "utf-8")
    header = read_header(io.BytesIO(data), "a.csv")
    assert header.header_rows == (1, 2)
    assert header.recognised == {
        "name": "名称", "legal_rep": "法定代表人姓名", "legal_rep_phone": "法定代表人手机",
        "address": "地址", "safety_manager": "安全负责人姓名",
        "safety_manager_phone": "安全负责人联系电话",
    }
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.row_number == 3
    assert row.values["legal_rep_phone"] == "13800000000"
    assert row.values["safety_manager_phone"] == "0575-87000000"
    assert row.errors == []


def test_csv_quoted_multiline_cell_and_tab_separated():
    data = '名称,地址\n"诸暨市甲厂","示例路\n1号"\n诸暨市乙厂,示例路2号\n'.encode()
    rows = list(parse_rows(io.BytesIO(data), "a.csv"))
    assert [(r.row_number, r.values["address"]) for r in rows] == [(3, "示例路 1号"), (4, "示例路2号")]
    tsv = "名称\t地址\t从业人员\n诸暨市甲厂\t示例路1号\t12\n".encode("utf-16")
    (row,) = parse_rows(io.BytesIO(tsv), "导出.txt")
    assert row.values == {"name": "诸暨市甲厂", "address": "示例路1号", "employees": 12}


# --------------------------------------------------------------------------- value conversions

@pytest.mark.parametrize("raw,expected", [
    ("2023-05-15", dt.date(2023, 5, 15)),
    ("2023/5/15", dt.date(2023, 5, 15)),
    ("2023.5.15", dt.date(2023, 5, 15)),
    ("2023年5月15日", dt.date(2023, 5, 15)),
    ("２０２３年５月１５日", dt.date(2023, 5, 15)),
    ("20230515", dt.date(2023, 5, 15)),
    ("2023-05-15 00:00:00", dt.date(2023, 5, 15)),
    ("45061", dt.date(2023, 5, 15)),
])
def test_date_formats(raw, expected):
    data = build_csv([["名称", "地址", "成立日期"], ["甲", "乙", raw]], "utf-8")
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.errors == []
    assert row.values["founded"] == expected


@pytest.mark.parametrize("raw,reason", [
    ("2023-02-30", "日期格式无法识别(应为如2023-05-15的日期)"),
    ("去年", "日期格式无法识别(应为如2023-05-15的日期)"),
    ("1850-01-01", "日期超出合理范围"),
    ("2999-01-01", "日期超出合理范围"),
])
def test_bad_dates(raw, reason):
    data = build_csv([["名称", "地址", "成立日期"], ["甲", "乙", raw]], "utf-8")
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.errors == [RowError(2, "成立日期", raw, reason)]
    assert row.values["founded"] is None


@pytest.mark.parametrize("raw,expected,reason", [
    ("１２３", 123, None),
    ("123.0", 123, None),
    ("1,234", 1234, None),
    (" 56人 ", 56, None),
    ("12.5", None, "应为整数"),
    ("-3", None, "不能为负数"),
])
def test_integer_column(raw, expected, reason):
    data = build_csv([["名称", "地址", "职工人数"], ["甲", "乙", raw]], "utf-8")
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.values["employees"] == expected
    assert [e.reason for e in row.errors] == ([reason] if reason else [])


@pytest.mark.parametrize("raw,expected,reason", [
    ("13800000000", "13800000000", None),
    ("138-0000-0000", "13800000000", None),
    ("+86 138 0000 0000", "13800000000", None),
    ("0575-87000000", "0575-87000000", None),
    ("0575 8700 0000", "057587000000", None),
    ("0575-8700-00000", None, "电话号码格式不正确(应为11位手机号或带区号的固定电话)"),
    ("(0575)87000000", "0575-87000000", None),
    ("0575-87000000-123", "0575-87000000-123", None),
    ("87000000", "87000000", None),
    ("电话:13800000000", "13800000000", None),
    ("1380000000", None, "电话号码格式不正确(应为11位手机号或带区号的固定电话)"),
    ("无", None, "电话号码格式不正确(应为11位手机号或带区号的固定电话)"),
])
def test_phone_column(raw, expected, reason):
    data = build_csv([["名称", "地址", "法人电话"], ["甲", "乙", raw]], "utf-8")
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.values["legal_rep_phone"] == expected
    assert [e.reason for e in row.errors] == ([reason] if reason else [])


def test_multiple_phones_keep_first_with_warning():
    data = build_csv([["名称", "地址", "法人电话"], ["甲", "乙", "13800000000、13900000000"]], "utf-8")
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.values["legal_rep_phone"] == "13800000000"
    assert row.errors == []
    assert [w.reason for w in row.warnings] == ["含多个电话号码,仅保留第一个"]


def test_coordinates_and_host_credit_code():
    bad, reason = _bad_check(CODE[7])
    data = build_csv([
        ["名称", "地址", "经度", "纬度", "所属园区", "房东企业信用代码"],
        ["甲", "乙", "东经120", "29.7", "诸暨市园区", CODE[6]],
        ["甲", "乙", "120.1", "35", "", bad],
    ], "utf-8")
    r1, r2 = parse_rows(io.BytesIO(data), "a.csv")
    assert r1.errors == [RowError(2, "经度", "东经120", "应为数字")]
    assert r1.values["host_name"] == "诸暨市园区" and r1.values["host_credit_code"] == CODE[6]
    assert r2.errors == [RowError(3, "房东企业信用代码", bad, reason),
                         RowError(3, "纬度", "35", "坐标超出浙江省范围")]
    assert r2.values["longitude"] == 120.1 and r2.values["latitude"] is None


def test_credit_code_cell_variants():
    data = build_csv([
        ["名称", "地址", "信用代码"],
        ["甲", "乙", "'" + CODE[8]],
        ["甲", "乙", " ".join([CODE[8][:6], CODE[8][6:12], CODE[8][12:]])],
        ["甲", "乙", CODE[8][:-2]],
        ["甲", "乙", CODE[8][:-1] + "I"],
        ["甲", "乙", "9.13307E+17"],
    ], "gbk")
    rows = list(parse_rows(io.BytesIO(data), "a.csv"))
    assert [r.values["credit_code"] for r in rows] == [CODE[8], CODE[8], None, None, None]
    assert [[e.reason for e in r.errors] for r in rows] == [
        [], [], ["长度应为18位,实为16位"], ["第18位字符“I”不在允许的字符集内"],
        ["统一社会信用代码被Excel转成了数字(科学计数法),请将该列设为文本格式后重新填写"]]
    assert rows[2].errors[0].column == "信用代码" and rows[2].errors[0].row == 4


def test_required_and_length_checks():
    data = build_csv([["名称", "地址"], ["甲" * 201, ""]], "utf-8")
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.errors == [RowError(2, "名称", "甲" * 200, "超过最大长度200字"),
                          RowError(2, "地址", "", "必填项为空")]


# --------------------------------------------------------------------------- file-level errors

def test_no_header_found():
    data = build_csv([["随便", "什么"], ["1", "2"]], "utf-8")
    with pytest.raises(ImportFileError) as exc:
        list(parse_rows(io.BytesIO(data), "a.csv"))
    assert exc.value.message == (
        "未找到表头:文件前10行中没有识别出模板列(如“名称”、“统一社会信用代码”、“地址”),请使用导入模板")


def test_missing_required_column():
    data = build_csv([["企业名称", "统一社会信用代码", "镇街"], ["甲", CODE[0], "店口镇"]], "utf-8")
    with pytest.raises(ImportFileError) as exc:
        read_header(io.BytesIO(data), "a.csv")
    assert exc.value.message == "缺少必填列:地址"


def test_duplicate_columns_use_the_first():
    data = build_csv([["名称", "企业名称", "地址"], ["甲", "乙", "丙"]], "utf-8")
    header = read_header(io.BytesIO(data), "a.csv")
    assert header.duplicates == ["企业名称"]
    (row,) = parse_rows(io.BytesIO(data), "a.csv")
    assert row.values == {"name": "甲", "address": "丙"}


@pytest.mark.parametrize("content,filename,message", [
    (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 20, "名单.xlsx",
     "无法读取文件:文件已损坏或不是有效的Excel/CSV文件"),
    (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)) * 20, "名单.xls",
     "无法读取文件:文件已损坏或不是有效的Excel/CSV文件"),
    (b"PK\x03\x04" + b"\x00" * 200, "名单.xlsx", "无法读取文件:文件已损坏或不是有效的Excel/CSV文件"),
    (b"\x00\x01\x02binary", "名单.csv", "无法读取文件:文件内容不是文本(CSV)格式"),
    (b"<html><table><tr><td>1</td></tr></table></html>", "导出.xls",
     "无法读取文件:该文件实为网页(HTML/XML)格式,请用Excel打开后另存为.xlsx文件"),
    (b"hello", "名单.exe", "无法读取文件:不支持的文件类型,请上传 .xlsx、.xls 或 .csv 文件"),
    (b"", "名单.xlsx", "无法读取文件:文件已损坏或不是有效的Excel/CSV文件"),
])
def test_unreadable_files(content, filename, message):
    with pytest.raises(ImportFileError) as exc:
        list(parse_rows(io.BytesIO(content), filename))
    assert exc.value.message == message
    assert message.startswith("无法读取文件")


def test_csv_with_undecodable_bytes_later_in_file():
    head = "名称,地址\n".encode() + "甲,乙\n".encode() * 20000     # > 64 KiB of valid UTF-8
    data = head + b"\xff\xfe\xfa,x\n"
    with pytest.raises(ImportFileError) as exc:
        list(parse_rows(io.BytesIO(data), "a.csv"))
    assert exc.value.message == "无法读取文件:文本编码无法识别,请另存为UTF-8或GBK编码的CSV文件"


def test_xlsx_content_with_csv_extension_is_read_as_workbook():
    rows = list(parse_rows(io.BytesIO(build_messy_xlsx()), "名单.csv"))
    assert rows[0].row_number == 4


# --------------------------------------------------------------------------- template & report

def test_aliases_are_unambiguous():
    for col in importing._COLUMNS:
        for name in (col.header, *col.aliases):
            assert importing._lookup(importing._clean_header(name)) == col.key, name


def test_template_round_trip(tmp_path):
    assert [c[0] for c in TEMPLATE_COLUMNS][:2] == ["name", "credit_code"]
    assert {c[0] for c in TEMPLATE_COLUMNS if c[2]} == {"name", "address"}
    path = tmp_path / "模板.xlsx"
    write_template(path)
    header = read_header(path, path.name)
    assert header.header_rows == (1,)
    assert list(header.recognised) == [c[0] for c in TEMPLATE_COLUMNS]
    assert header.unknown == []
    assert list(parse_rows(path, path.name)) == []      # the main sheet has no data rows

    # The example sheet (header, help row, 2 examples) imports cleanly: help row skipped.
    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == ["企业场所", "填写示例"]
    example = [[importing._cell_text(v) for v in row]
               for row in wb.get_sheet_by_index(1).iter_rows()]
    assert len(example) == 4
    buf = io.BytesIO()
    write_template(buf)
    assert buf.getvalue()[:2] == b"PK"
    rows = list(parse_rows(io.BytesIO(build_csv(example, "utf-8")), "示例.csv"))
    assert [r.row_number for r in rows] == [3, 4]
    assert all(r.ok and not r.warnings for r in rows), [r.errors for r in rows]
    assert rows[0].values["employees"] == 120
    assert rows[1].values["host_credit_code"] == rows[0].values["credit_code"]


def test_error_report_xlsx(tmp_path):
    errors = [RowError(4, "统一社会信用代码", "9133", "长度应为18位,实为4位"),
              RowError(9, "经度", "125", "坐标超出浙江省范围")]
    out = io.BytesIO()
    assert error_report_xlsx(iter(errors), out) == 2
    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(out.getvalue()))
    rows = wb.get_sheet_by_index(0).to_python()
    assert rows == [["行号", "列", "值", "原因"],
                    [4.0, "统一社会信用代码", "9133", "长度应为18位,实为4位"],
                    [9.0, "经度", "125", "坐标超出浙江省范围"]]
    path = tmp_path / "错误.xlsx"
    assert error_report_xlsx((e for e in errors * 1000), path) == 2000
    assert len(python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
               .to_python()) == 2001


# --------------------------------------------------------------------------- scale

def test_200k_row_csv_streams_with_flat_memory(tmp_path):
    # Lean columns keep the tracemalloc run affordable; per-column conversions are covered above.
    path = tmp_path / "big.csv"
    n_rows = 200_000
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write("诸暨市企业名单\r\n名称,详细地址,从业人员\r\n")
        f.writelines(f"诸暨市示例{i}有限公司,诸暨市店口镇示例路{i}号,{i % 500}\r\n" for i in range(n_rows))
        f.write(",,\r\n" * 5)
    assert path.stat().st_size > 12_000_000
    tracemalloc.start()
    try:
        count = bad = 0
        last = None
        for row in parse_rows(path, path.name):
            count += 1
            bad += bool(row.errors)
            last = row
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == n_rows and bad == 0
    assert last.row_number == n_rows + 2
    assert last.values == {"name": f"诸暨市示例{n_rows - 1}有限公司",
                           "address": f"诸暨市店口镇示例路{n_rows - 1}号", "employees": (n_rows - 1) % 500}
    assert peak < 50 * 1024 * 1024, peak


def test_vertically_merged_data_cells_and_sheet_choice():
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    cover = wb.add_worksheet("说明")
    cover.write("A1", "本表由大唐街道安监站汇总")
    hidden = wb.add_worksheet("旧表")
    hidden.write_row("A1", ["名称", "地址"])
    hidden.write_row("A2", ["不应导入", "x"])
    hidden.hide()
    ws = wb.add_worksheet("名单")
    ws.write_row("A1", ["镇街", "名称", "地址"])
    ws.merge_range("A2:A4", "大唐街道")
    for r, name in enumerate(["甲厂", "乙厂", "丙厂"], start=1):
        ws.write_row(r, 1, [name, f"示例路{r}号"])
    wb.close()
    header = read_header(io.BytesIO(out.getvalue()), "a.xlsx")
    assert header.sheet_name == "名单"
    rows = list(parse_rows(io.BytesIO(out.getvalue()), "a.xlsx"))
    assert [(r.row_number, r.values["town"], r.values["name"]) for r in rows] == [
        (2, "大唐街道", "甲厂"), (3, "大唐街道", "乙厂"), (4, "大唐街道", "丙厂")]
