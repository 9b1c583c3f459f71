"""Demo data: three listed major hazards (挂牌督办) at different stages, through the services.

Uses the major hazards the inspection demo registered in 大唐街道: one listed by the town and
rectifying under partial shutdown, one listed by the county with an approved extension, and one
taken through the whole flow to delisting (摘牌销号) and published.
"""
from __future__ import annotations

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from yingji.core import audit

PHOTO = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b49444154789c"
    "6360000200000500017a5eab3f0000000049454e44ae426082")


def _plan(actor, listing, deadline):
    from . import services

    return services.file_plan(
        actor, listing, measures="停用相关设备,委托有资质单位整改,整改期间落实专人值守和临时管控措施",
        funds="150000", responsible_people="企业主要负责人、安全负责人", plan_deadline=deadline,
        contingency="制定专项应急处置方案,配备应急器材,明确疏散路线")


def build() -> list:
    from django.contrib.auth import get_user_model

    from yingji.hazards import services as hazards
    from yingji.hazards.models import Hazard, Level, State

    from . import services
    from .models import Listing

    if Listing.objects.exists():
        return []
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["admin", "town_dt"])}
    if len(users) < 2:
        return []
    admin, town = users["admin"], users["town_dt"]
    majors = list(Hazard.objects.filter(level=Level.MAJOR, state=State.REPORTED, site__isnull=False,
                                        area__code__startswith="330681005").order_by("id")[:3])
    if len(majors) < 3:
        return []
    today = timezone.localdate()
    with audit.context(request_id="demo-load"):
        # 1. town-level listing, rectifying under partial shutdown
        first = services.list_hazard(town, majors[0], level="town", listing_body_name="大唐街道安全生产委员会", notice_number="大唐安督〔%d〕1号" % today.year,
                                     notice_text="请你单位立即落实整改措施,限期消除重大事故隐患。",
                                     deadline=today + datetime.timedelta(days=90),
                                     public_title=majors[0].title[:100])
        services.publish_notice(town, first)
        _plan(town, first, today + datetime.timedelta(days=80))
        services.set_shutdown(town, first, shutdown="partial", note="涉及车间局部停产整改")
        # 2. county-level listing with an approved extension
        second = services.list_hazard(admin, majors[1], level="county", listing_body_name="诸暨市安全生产委员会",
                                      notice_number="诸安委办督〔%d〕2号" % today.year,
                                      notice_text="经研究,决定对该重大事故隐患实行挂牌督办。",
                                      deadline=today + datetime.timedelta(days=120),
                                      public_title=majors[1].title[:100])
        services.publish_notice(admin, second)
        _plan(town, second, today + datetime.timedelta(days=110))
        extension = services.request_extension(town, second, new_deadline=today + datetime.timedelta(days=180),
                                               reason="整改设备采购周期较长,需延期60日")
        services.decide_extension(admin, extension, approve=True, note="同意延期,期间落实临时管控措施")
        # 3. the whole flow to delisting
        third = services.list_hazard(admin, majors[2], level="county", listing_body_name="诸暨市安全生产委员会", notice_number="诸安委办督〔%d〕3号" % today.year,
                                     notice_text="经研究,决定对该重大事故隐患实行挂牌督办。",
                                     deadline=today + datetime.timedelta(days=60),
                                     public_title=majors[2].title[:100])
        services.publish_notice(admin, third)
        _plan(town, third, today + datetime.timedelta(days=50))
        hazard = majors[2]
        hazards.accept(town, hazard, responsible_person="企业安全负责人", deadline=today + datetime.timedelta(days=50))
        hazards.submit_rectification(town, hazard, description="已按方案完成整改并经第三方检测合格", cost="150000",
                                     files=[SimpleUploadedFile("整改报告.png", PHOTO, content_type="image/png")])
        hazards.verify(admin, hazard, note="现场核查,整改到位")
        services.request_acceptance(town, third, note="整改完成,申请验收")
        services.accept(admin, third, passed=True, note="验收合格")
        services.delist(admin, third, note="同意摘牌销号")
        services.publish_delisting(admin, third)
    return []
