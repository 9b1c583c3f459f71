"""The campaign progress as a workbook: the figures of ``services.campaign_progress`` (the same
function as the page and the API), one row per line of the page, with the definitions (口径)
below. Aggregates only: no personal data."""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = ["sites_in_scope", "sites_inspected", "coverage", "inspections", "hazards_found", "hazards_closed",
           "major_hazards", "open_overdue"]


def headers() -> list[str]:
    return [_("分组"), _("名称"), _("范围内对象"), _("已检查对象"), _("覆盖率(%)"), _("检查次数"), _("发现隐患"),
            _("已销号"), _("重大隐患"), _("超期未改")]


def rows(progress: dict) -> list[list]:
    """The table of the workbook: [group, label, figures…] for the total, each area, each sector."""
    out = [[_("合计"), str(progress["overall"]["label"])] + [progress["overall"][c] for c in COLUMNS]]
    out += [[_("分区域"), str(r["label"])] + [r[c] for c in COLUMNS] for r in progress["by_area"]]
    out += [[_("分行业领域"), str(r["label"])] + [r[c] for c in COLUMNS] for r in progress["by_sector"]]
    return out


def write_progress(campaign, progress: dict, out) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet(_("工作进度"))
    sheet.set_column(0, 1, 16)
    sheet.set_column(2, 9, 11)
    sheet.write_string(0, 0, campaign.name[:200], bold)
    sheet.write_string(1, 0, _("截至 %(t)s") % {"t": timezone.localtime(progress["as_of"]).strftime("%Y-%m-%d %H:%M")})
    for col, title in enumerate(headers()):
        sheet.write_string(3, col, title, bold)
    line = 4
    for values in rows(progress):
        for col, value in enumerate(values):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(line, col, value)
            else:
                sheet.write_string(line, col, "" if value is None else str(value))  # strings only: no formulas
        line += 1
    o = progress["overall"]
    line += 1
    notes = [_("另有检查中 %(n)d 次(未计入)") % {"n": o["in_progress"]}]
    if o["inspections_outside"]:
        notes.append(_("另有 %(n)d 次已完成检查的对象已不在范围内(未计入)") % {"n": o["inspections_outside"]})
    if progress["multi_sector_sites"]:
        notes.append(_("本行动范围内有 %(n)d 家对象同属多个行业领域。") % {"n": progress["multi_sector_sites"]})
    notes.append(_("口径") + ":")
    notes += list(progress["definitions"].values())
    for text in notes:
        sheet.write_string(line, 0, text)
        line += 1
    book.close()


def download_name(campaign) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"{_('专项行动进度')}-{campaign.pk}-{stamp}.xlsx"
