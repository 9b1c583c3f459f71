"""A listing's supervision notice (重大事故隐患挂牌督办通知书) as .docx:
``/supervision/<id>/notice.docx``.

Built in code from a template with named placeholders (``core.docx``); read through
``Listing.objects.visible_to`` (out of scope: 404); every download audited
(``supervision.export_notice``)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_GET

from yingji.core import audit, docx
from yingji.core.audit import service
from yingji.core.services import get_visible

from .models import Listing

TEMPLATE = [
    ("title", "重大事故隐患挂牌督办通知书"),
    ("heading", "{{notice_number}}"),
    ("para", "{{site_name}}:"),
    ("para", "经核查,你单位存在重大事故隐患“{{title}}”(隐患编号第{{hazard_number}}号,位于{{area}})。根据"
             "《安全生产事故隐患排查治理暂行规定》等有关规定,{{listing_body}}决定对该重大事故隐患实行{{level}}挂牌督办。"),
    ("para", "督办要求:{{notice_text}}"),
    ("para", "请你单位于{{deadline}}前完成整改,落实整改措施、责任、资金、时限和预案,整改完成后向挂牌单位申请验收;"
             "未经验收,不得摘牌。"),
    ("table", [["督办通知书文号", "{{notice_number}}"], ["隐患编号", "{{hazard_number}}"], ["挂牌级别", "{{level}}"],
               ["挂牌日期", "{{listed_on}}"], ["整改期限", "{{deadline}}"], ["停产情况", "{{shutdown}}"]]),
    ("right", "{{listing_body}}"),
    ("right", "{{listed_on}}"),
]


def values(listing: Listing) -> dict:
    hazard = listing.hazard
    return {
        "notice_number": listing.notice_number, "hazard_number": str(hazard.pk),
        "site_name": hazard.site.name if hazard.site_id else hazard.area.name, "title": hazard.title,
        "area": hazard.area.name, "listing_body": listing.listing_body_name, "level": listing.get_level_display(),
        "notice_text": listing.notice_text, "deadline": docx.chinese_date(listing.deadline),
        "listed_on": docx.chinese_date(listing.listed_on), "shutdown": listing.get_shutdown_display(),
    }


@service("supervision.export_notice")
def notice(user, pk) -> tuple[bytes, str]:
    listing = get_visible(Listing, user, pk)
    listing = Listing.objects.select_related("hazard__site", "hazard__area").get(pk=listing.pk)
    content = docx.render(TEMPLATE, values(listing))
    audit.record("supervision.export_notice", listing, {"document": [None, "挂牌督办通知书"]})
    return content, f"挂牌督办通知书-{listing.pk}.docx"


@login_required
@require_GET
def notice_view(request, pk):
    return docx.download(*notice(request.user, pk))
