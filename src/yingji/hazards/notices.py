"""A hazard's rectification notice (隐患整改通知书) as .docx: ``/hazards/<id>/notice.docx``.

The template is built in code (``core.docx``) with named placeholders; the hazard is read through
``Hazard.objects.visible_to`` (out of scope: 404), the responsible person's phone in full only
where the user may edit the hazard, and every download is audited (``hazard.export_notice``).
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from yingji.core import audit, docx
from yingji.core.audit import service
from yingji.core.privacy import PhoneReveal
from yingji.core.services import get_visible

from .models import Hazard

TEMPLATE = [
    ("title", "隐患整改通知书"),
    ("heading", "第{{hazard_number}}号"),
    ("para", "{{site_name}}:"),
    ("para", "经检查,你单位(场所)存在下列事故隐患:"),
    ("table", [["隐患编号", "{{hazard_number}}"], ["隐患名称", "{{title}}"], ["隐患描述", "{{description}}"],
               ["具体位置", "{{location}}"], ["所在区域", "{{area}}"], ["隐患等级", "{{level}}"],
               ["隐患类别", "{{category}}"], ["发现时间", "{{reported_on}}"], ["整改责任单位", "{{responsible_unit}}"],
               ["整改责任人", "{{responsible_person}} {{responsible_phone}}"], ["整改期限", "{{deadline}}"]]),
    ("para", "根据《中华人民共和国安全生产法》等有关规定,现责令你单位于{{deadline}}前整改完毕。整改期间应当采取"
             "有效的安全防范措施,防止事故发生;整改完成后,请将整改情况(附整改前后照片)报{{issuer}}复查。"),
    ("para", "逾期未整改或者整改不到位的,将依法予以处理。"),
    ("right", "{{issuer}}"),
    ("right", "{{issued_on}}"),
    ("para", "被检查单位签收:                    日期:"),
]


def _issuer(hazard: Hazard) -> str:
    from yingji.core.models import Area

    code = hazard.area.code
    town = Area.objects.filter(code=code[:9]).values_list("name", flat=True).first() if len(code) >= 9 else None
    return town or hazard.area.name


def values(user, hazard: Hazard) -> dict:
    phones = PhoneReveal(user, Hazard).load([hazard.pk])
    return {
        "hazard_number": str(hazard.pk), "site_name": hazard.site.name if hazard.site_id else hazard.area.name,
        "title": hazard.title, "description": hazard.description, "location": hazard.location or "—",
        "area": hazard.area.name, "level": hazard.get_level_display(), "category": hazard.get_category_display(),
        "reported_on": docx.chinese_date(hazard.reported_at), "responsible_unit": hazard.responsible_unit or "—",
        "responsible_person": hazard.responsible_person or "—",
        "responsible_phone": phones.phone(hazard.pk, hazard.responsible_phone),
        "deadline": docx.chinese_date(hazard.deadline, _("规定期限")), "issuer": _issuer(hazard),
        "issued_on": docx.chinese_date(timezone.localdate()),
    }


@service("hazard.export_notice")
def notice(user, pk) -> tuple[bytes, str]:
    """The notice of the visible hazard ``pk`` (NotFound otherwise), audited."""
    hazard = get_visible(Hazard, user, pk)
    hazard = Hazard.objects.select_related("area", "site").get(pk=hazard.pk)
    content = docx.render(TEMPLATE, values(user, hazard))
    audit.record("hazard.export_notice", hazard, {"document": [None, "隐患整改通知书"]})
    return content, f"隐患整改通知书-{hazard.pk}.docx"


@login_required
@require_GET
def notice_view(request, pk):
    return docx.download(*notice(request.user, pk))
