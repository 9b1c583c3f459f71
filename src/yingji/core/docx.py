"""Official notices as .docx (python-docx): a template with named placeholders ``{{name}}``,
filled with text.

A template is either a .docx file (kept under ``<app>/templates/docx/``) or built in code from
blocks (:func:`build`): ``("title", text)``, ``("heading", text)``, ``("para", text)``,
``("right", text)`` (a right-aligned line: the issuing body, the date), ``("table", [[label,
value], …])``. :func:`fill` replaces every ``{{name}}`` in paragraphs and table cells (also when
Word split the placeholder across runs) and fails on a placeholder it has no value for, so a
notice never goes out with a ``{{…}}`` left in it. Values are plain text (no markup is
interpreted).
"""
from __future__ import annotations

import datetime
import io
import re
from pathlib import Path

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def chinese_date(value: datetime.date | None, empty: str = "") -> str:
    """``2025-03-05`` → ``2025年3月5日`` (the date format of official documents)."""
    if value is None:
        return empty
    if isinstance(value, datetime.datetime):
        from django.utils import timezone

        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return f"{value.year}年{value.month}月{value.day}日"


def build(blocks) -> "object":
    """A python-docx Document (A4, 2.5 cm margins, SimSun) from ``blocks`` (see the module)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2.5))
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "SimSun")
    for kind, content in blocks:
        if kind == "title":
            p = doc.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = p.add_run(content)
            run.bold = True
            run.font.size = Pt(20)
        elif kind == "heading":
            p = doc.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            p.add_run(content)
        elif kind == "right":
            p = doc.add_paragraph(content)
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif kind == "table":
            table = doc.add_table(rows=0, cols=2)
            table.style = "Table Grid"
            for label, value in content:
                cells = table.add_row().cells
                cells[0].text, cells[1].text = label, value
                cells[0].width, cells[1].width = Cm(4), Cm(12)
        else:
            p = doc.add_paragraph(content)
            p.paragraph_format.first_line_indent = Pt(24)
    return doc


def _paragraphs(doc):
    yield from doc.paragraphs
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs
    for section in doc.sections:
        for part in (section.header, section.footer):
            yield from part.paragraphs


def fill(doc, values: dict) -> "object":
    """Replace every ``{{name}}`` of ``doc`` with ``values[name]`` (as text). A placeholder split
    across runs is joined into the paragraph's first run (its formatting is kept). Raises KeyError
    for a placeholder without a value."""
    for p in _paragraphs(doc):
        text = "".join(r.text for r in p.runs)
        if "{{" not in text:
            continue
        new = PLACEHOLDER.sub(lambda m: str(values[m.group(1)] if values[m.group(1)] is not None else ""), text)
        if new == text:
            continue
        runs = p.runs
        runs[0].text = new
        for r in runs[1:]:
            r.text = ""
    return doc


def placeholders(doc) -> set[str]:
    return {m.group(1) for p in _paragraphs(doc) for m in PLACEHOLDER.finditer("".join(r.text for r in p.runs))}


def render(template, values: dict) -> bytes:
    """``template`` (a .docx path or a list of blocks) filled with ``values``, as .docx bytes."""
    from docx import Document

    doc = Document(str(template)) if isinstance(template, (str, Path)) else build(template)
    fill(doc, values)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def download(content: bytes, filename: str):
    """The HTTP answer that downloads a generated document (never shown inline)."""
    from django.http import HttpResponse
    from django.utils.http import content_disposition_header

    response = HttpResponse(content, content_type=DOCX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
