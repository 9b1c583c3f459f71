"""Demo data: three campaigns and ~80 inspections of demo sites, all through the services.

Deterministic (fixed random seed, sites taken in id order). Inspections fall in the current
year's drive; the inspectors answer every item, fail one or two now and then (a hazard is
registered, or a small one fixed on the spot with a photo of the fix), and most inspections are
completed — so campaign coverage, the figures and the site profiles have something to show.
"""
from __future__ import annotations

import datetime
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from yingji.core import audit

DEMO_SEED = 2023
# A 1×1 PNG standing in for the photo of a fix.
PHOTO = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000b49444154789c"
    "6360000200000500017a5eab3f0000000049454e44ae426082")
# What the inspector writes down for a failed item: the observation (the hazard is titled with
# the item's short name and this, see ``services.proposed_title``).
NOTES = ["现场未落实", "相关记录缺失", "设施损坏未修复", "未按要求设置", "台账不完整", ""]
# (inspector username, mode, area code prefix of the sites, how many)
ROUNDS = [
    ("town_dt", "town", "330681005", 24),
    ("town_dk", "town", "330681104", 20),
    ("grid_dt", "grid", "330681005001", 8),
    ("inspector", "spot", "330681", 16),
    ("dept_zj", "department", "330681", 8),
]


def _photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("整改后照片.png", PHOTO, content_type="image/png")


def _campaigns(admin, town_dt):
    from yingji.core.models import Area, Organisation
    from yingji.registry.models import RiskTrait, SiteKind

    from . import services

    county = Area.objects.get(code="330681")
    year = timezone.localdate().year
    yjj = Organisation.objects.filter(code="yjj").first()
    drive = services.create_campaign(
        admin, name=f"{year}年安全生产大排查大整治行动", area=county, organiser=yjj,
        starts_on=datetime.date(year, 1, 1), ends_on=datetime.date(year, 12, 31), target_coverage=100,
        description="全覆盖、全闭环:各镇街、各部门对辖区内企业和场所开展全覆盖排查,隐患闭环整改销号。",
        target_note="企业和场所检查覆盖率100%,一般隐患整改率100%,重大隐患挂牌督办")
    dust = services.create_campaign(
        admin, name="粉尘涉爆企业专项整治", area=county, organiser=yjj,
        starts_on=datetime.date(year, 3, 1), ends_on=datetime.date(year, 11, 30), target_coverage=100,
        scope_traits=list(RiskTrait.objects.filter(code="dust")),
        description="对照《工贸企业粉尘防爆安全规定》和重大事故隐患判定标准第十一条逐项检查。")
    rental = services.create_campaign(
        town_dt, name="大唐街道出租房消防安全专项检查", area=Area.objects.get(code="330681005"),
        starts_on=datetime.date(year, 4, 1), ends_on=datetime.date(year, 12, 31), target_coverage=90,
        scope_kinds=[SiteKind.RENTAL_HOUSING, SiteKind.SMALL_PLACE])
    for c, actor in ((drive, admin), (dust, admin), (rental, town_dt)):
        services.activate_campaign(actor, c)
    for code, target in (("330681005", 300), ("330681104", 250)):
        services.add_assignment(admin, drive, task="组织辖区企业和场所全覆盖排查", area=Area.objects.get(code=code),
                                target_sites=target)
    return [drive, dust, rental]


def _inspect(user, site, mode, campaigns, rng) -> None:
    from yingji.inspections.models import Result

    from . import services

    # The narrowest campaign the site is in (the drive covers every site; listed first, it used to
    # take every inspection and leave the special campaigns with nothing to show).
    campaign = next((c for c in reversed(campaigns) if services.sites_in_scope(c).filter(pk=site.pk).exists()),
                    None)
    inspection = services.start_inspection(user, site, mode, campaign=campaign, place=site.address[:200],
                                           latitude=site.latitude, longitude=site.longitude)
    rows = list(inspection.results.select_related("item").order_by("id"))
    failures = rng.choice([0, 0, 1, 1, 2])
    for row in rng.sample(rows, min(failures, len(rows))):
        note = rng.choice(NOTES)
        files = [_photo()] if row.item.photo_required else []
        services.record_result(user, inspection, row, Result.FAIL, note=note, files=files)
        # every hazard has a sector: where the inspection does not decide it, the inspector picks
        # one of the site's (the form asks in the same case)
        choices = services.hazard_sector_choices(user, row)
        sector = choices[0].pk if choices else None
        if row.item.hazard_level == "general" and rng.random() < 0.4 and user.username != "grid_dt":
            services.fix_on_spot(user, row, rectification_description="已当场整改完毕:" + row.item.question[:40],
                                 files=[_photo()], sector=sector)
        else:
            deadline = timezone.localdate() + datetime.timedelta(days=rng.choice([-5, 7, 15, 30]))
            services.confirm_hazard(user, row, deadline=deadline, responsible_person="企业安全负责人",
                                    sector=sector)
    services.pass_remaining(user, inspection)
    if rng.random() < 0.9:
        services.complete_inspection(user, inspection, summary="检查完毕,问题已告知企业并限期整改。")


def build() -> list:
    from django.contrib.auth import get_user_model

    from yingji.registry.models import Site, SiteSource

    from .models import Campaign

    if Campaign.objects.exists():
        return []
    users = {u.username: u for u in get_user_model().objects.filter(
        username__in=["admin", "town_dt", "town_dk", "grid_dt", "inspector", "dept_zj"])}
    if len(users) < 6:
        return []
    rng = random.Random(DEMO_SEED)
    with audit.context(request_id="demo-load"):
        campaigns = _campaigns(users["admin"], users["town_dt"])
        done: set[int] = set()
        for username, mode, prefix, count in ROUNDS:
            user = users[username]
            sites = (Site.objects.visible_to(user)
                     .filter(source=SiteSource.DEMO, archived_at__isnull=True, area__code__startswith=prefix)
                     .exclude(pk__in=done).order_by("id"))
            for site in sites[:count]:
                _inspect(user, site, mode, campaigns, rng)
                done.add(site.pk)
    return []
