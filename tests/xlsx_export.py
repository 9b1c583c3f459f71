"""Reading an export of ``core.exports`` back with python-calamine, for the export tests."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import python_calamine


@dataclass
class Export:
    title: str
    header: dict            # header block: label -> value
    columns: list
    rows: list              # data rows (every sheet of data)
    total: int | None       # the "合计" line
    counts: dict = field(default_factory=dict)   # "按…统计" -> {value: count}
    sheets: list = field(default_factory=list)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def read_export(content: bytes) -> Export:
    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    names = wb.sheet_names
    grid = wb.get_sheet_by_index(0).to_python()
    title = grid[0][0]
    header = {}
    i = 1
    while i < len(grid) and any(c != "" for c in grid[i]):
        header[grid[i][0]] = grid[i][1]
        i += 1
    i += 1
    columns = [c for c in grid[i] if c != ""]
    rows = []
    i += 1
    while i < len(grid) and any(c != "" for c in grid[i]):
        rows.append(grid[i][:len(columns)])
        i += 1
    tail = grid[i:]
    if "汇总" in names:
        tail = wb.get_sheet_by_name("汇总").to_python()
    total, counts, current = None, {}, None
    for r in tail:
        if not any(c != "" for c in r):
            current = None
            continue
        if r[0] == "合计":
            total = int(r[1])
        elif str(r[0]).startswith("按") and str(r[0]).endswith("统计") and (len(r) < 2 or r[1] == ""):
            current = counts.setdefault(r[0], {})
        elif current is not None:
            current[r[0]] = int(r[1])
    return Export(title, header, columns, rows, total, counts, names)
