"""Demo hazards (built after the registry demo): ~300 hazards over the demo sites, THROUGH THE
SERVICES, in every state of the closed loop.

Each hazard replays a plausible history over the last four months — reported by the demo
account whose work it is (the 大唐 grid worker on patrol, the enterprise's self-check at its own
sites, the town officers of 大唐 and 店口, the work-safety inspector at 工贸/危化 sites, the
住建 officer at construction, gas and self-built-housing sites, the county administrator for
tip-offs), accepted with a responsible person and deadline, rectified with photo evidence,
verified by someone other than the rectifier, some sent back once, some fixed on the spot, some
left open, some overdue and escalated to the town and then the county, a few archived as
duplicates, about 20 major. Titles and descriptions come from ``synth.CATALOGUE`` by the site's
risk traits (dust, ammonia, confined spaces, gas, hot work, hazardous chemicals…) or sector.

Every step runs through ``yingji.hazards.services`` at its own simulated time: the services read
the clock through ``django.utils.timezone.now``, which :func:`_clock` pins for the step, so the
events, audit entries, notifications and deadlines carry consistent past dates. The random
choices are seeded and all times are offsets from the moment of loading, so every load gives the
same demo relative to its "today".
"""
from __future__ import annotations

import contextlib
import datetime
import io
import random
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from yingji.core import audit

from . import services, synth
from .models import Hazard, Level, Source

DEMO_SEED = 20240315
DEMO_HAZARDS = 300
KEY_PREFIX = "demo-hz-"

# (reporter username, share of the hazards)
REPORTERS = [("town_dt", 55), ("town_dk", 50), ("inspector", 60), ("dept_zj", 35), ("grid_dt", 30),
             ("ent_demo", 25), ("admin", 45)]
PLAN = [("closed", 40), ("sent_back_closed", 9), ("fixed_on_spot", 11), ("rectifying", 13), ("submitted", 9),
        ("reported", 9), ("overdue", 7), ("archived", 2)]
TOWN_OFFICERS = {"330681005": "town_dt", "330681104": "town_dk"}
SECTOR_OFFICERS = {"industry_trade": "inspector", "hazchem": "inspector", "construction": "dept_zj",
                   "urban_gas": "dept_zj", "self_built_housing": "dept_zj"}


@contextlib.contextmanager
def _clock(at: datetime.datetime):
    """Run a service call "at" ``at``: everything reading ``timezone.now()`` sees that time."""
    with mock.patch.object(timezone, "now", lambda: at):
        yield


def _photo(rng: random.Random, name: str) -> SimpleUploadedFile:
    """A small generated site photo (PNG) — coloured blocks, different per call."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), tuple(rng.randrange(90, 200) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = rng.randrange(300), rng.randrange(220)
        draw.rectangle([x, y, x + rng.randrange(20, 120), y + rng.randrange(15, 80)],
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


def _users() -> dict:
    from yingji.core.models import User

    names = {u for u, _w in REPORTERS} | {"admin", "root"}
    return {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}


def _site_pools(users: dict) -> dict:
    """Demo sites each reporter works on: username -> [(site, sector codes, trait codes)]."""
    from yingji.registry.models import Site, SiteBinding, SiteSource

    sites = list(Site.objects.filter(source=SiteSource.DEMO, archived_at__isnull=True, status="operating")
                 .select_related("area").prefetch_related("sectors", "traits").order_by("id"))
    info = [(s, [x.code for x in s.sectors.all()], [t.code for t in s.traits.all()]) for s in sites]
    pools: dict = {u: [] for u in users}
    ent_sites = set()
    if "ent_demo" in users:
        ent_sites = set(SiteBinding.objects.filter(assignment__user=users["ent_demo"], revoked_at__isnull=True)
                        .values_list("site_id", flat=True))
    grid_area = None
    if "grid_dt" in users:
        grant = users["grid_dt"].assignments.filter(revoked_at__isnull=True).select_related("area").first()
        grid_area = grant.area.code if grant else None
    for s, sectors, traits in info:
        code = s.area.code
        if s.pk in ent_sites:
            pools.get("ent_demo", []).append((s, sectors, traits))
        if grid_area and code.startswith(grid_area):
            pools.get("grid_dt", []).append((s, sectors, traits))
        for town, user in TOWN_OFFICERS.items():
            if code.startswith(town) and user in pools:
                pools[user].append((s, sectors, traits))
        if "inspector" in pools and {"industry_trade", "hazchem"} & set(sectors):
            pools["inspector"].append((s, sectors, traits))
        if "dept_zj" in pools and {"construction", "urban_gas", "self_built_housing"} & set(sectors):
            pools["dept_zj"].append((s, sectors, traits))
        if "admin" in pools:
            pools["admin"].append((s, sectors, traits))
    if grid_area and "grid_dt" in pools and not pools["grid_dt"]:
        pools.pop("grid_dt")
    return {u: p for u, p in pools.items() if p}


def _category(rng: random.Random, sectors: list, traits: list, reporter_sector: str | None) -> str:
    cats = [synth.TRAIT_CATEGORIES[t] for t in traits if t in synth.TRAIT_CATEGORIES]
    if cats and rng.random() < .7:
        return cats[rng.randrange(len(cats))]
    code = reporter_sector or (sectors[0] if sectors else "")
    return synth.weighted(rng, synth.SECTOR_CATEGORIES.get(code, synth.DEFAULT_CATEGORIES))


def _reporter_sector(username: str, sectors: list) -> str | None:
    for code in sectors:
        if SECTOR_OFFICERS.get(code) == username:
            return code
    return None


# The sector a hazard of a category belongs to when the reporter's own sector does not decide
# (every hazard has a sector): preferred among the site's sectors, else this one.
CATEGORY_SECTORS = {"fire": "fire", "electrical": "fire", "gas": "urban_gas", "hazchem": "hazchem",
                    "hot_work": "fire"}
FALLBACK_SECTOR = "industry_trade"


def _hazard_sector(sectors: list, reporter_sector: str | None, category: str) -> str:
    """The hazard's sector code: the reporter's own, else the category's if the site has it, else
    the site's first, else the category's (or 工贸) for a site filed under no sector."""
    if reporter_sector:
        return reporter_sector
    preferred = CATEGORY_SECTORS.get(category, FALLBACK_SECTOR)
    if preferred in sectors:
        return preferred
    return sectors[0] if sectors else preferred


def _roles(users: dict, reporter: str, site, sector_code: str | None) -> tuple:
    """(acceptor, rectifier, verifier or None) for a hazard at ``site`` in ``sector_code``, as
    ``models.HANDLING`` says: the enterprise's self-found hazards are accepted (deadline set) by
    the enterprise itself; others by the town officer where there is one, else the officer of the
    hazard's sector, else the county administrator; the enterprise rectifies at its own sites; the
    verifier is a government officer and never the rectifier."""
    officer = users.get(TOWN_OFFICERS.get(site.area.code[:9], ""))
    sector_officer = users.get(SECTOR_OFFICERS.get(sector_code or "", ""))
    admin = users["admin"]
    ent = users.get("ent_demo")
    if ent is not None and site.bindings.filter(revoked_at__isnull=True, assignment__user=ent).exists():
        return ent if reporter == "ent_demo" else officer or admin, ent, officer or admin
    rectifier = officer or sector_officer or admin
    # the system administrator (a second county account) verifies where nobody else may
    verifier = next((u for u in (sector_officer, admin, officer, users.get("root"))
                     if u is not None and u != rectifier), None)
    return rectifier, rectifier, verifier


def load_demo_hazards(total: int = DEMO_HAZARDS, seed: int = DEMO_SEED, now: datetime.datetime | None = None) -> int:
    """Build the demo hazards once (nothing happens if any exists). Returns how many were made."""
    if Hazard.objects.filter(idempotency_key__startswith=KEY_PREFIX).exists():
        return 0
    users = _users()
    if "admin" not in users:
        return 0
    pools = _site_pools(users)
    if not pools:
        return 0
    now = (now or timezone.now()).replace(microsecond=0)
    rng = random.Random(seed)
    reporters = [(u, w) for u, w in REPORTERS if u in pools]
    majors = 0
    made = 0
    with transaction.atomic():
        for i in range(total):
            reporter = synth.weighted(rng, reporters)
            site, sectors, traits = pools[reporter][rng.randrange(len(pools[reporter]))]
            plan = synth.weighted(rng, PLAN)
            if plan == "fixed_on_spot" and reporter in ("grid_dt", "ent_demo"):
                plan = "closed"
            rsec = _reporter_sector(reporter, sectors)
            category = _category(rng, sectors, traits, rsec)
            choices = synth.CATALOGUE[category]
            major = plan != "fixed_on_spot" and majors < 20 and rng.random() < .1
            if major:
                choices = [c for c in choices if c[2]] or choices
                majors += 1
            title, description, _may = choices[rng.randrange(len(choices))]
            location = synth.CATEGORY_LOCATIONS[category][rng.randrange(len(synth.CATEGORY_LOCATIONS[category]))]
            if _make_one(rng, i, users, reporter, site, sectors, rsec, plan, major, category, title,
                         description, location, now):
                made += 1
    return made


def _make_one(rng, i, users, reporter, site, sectors, rsec, plan, major, category, title, description, location,
              now) -> bool:
    from yingji.core.models import Sector

    actor = users[reporter]
    age = datetime.timedelta(days=rng.uniform(40, 80) if plan == "overdue" else rng.uniform(1, 120),
                             hours=rng.randrange(24))
    t = (now - age).replace(second=0, microsecond=0)
    if plan in ("closed", "sent_back_closed", "archived") and age < datetime.timedelta(days=12):
        t = now - datetime.timedelta(days=12 + rng.randrange(60))
    source = {"grid_dt": Source.GRID_PATROL, "ent_demo": Source.SELF_REPORT}.get(
        reporter, Source.TIP_OFF if reporter == "admin" and rng.random() < .5 else Source.INSPECTION)
    sector = Sector.objects.filter(code=_hazard_sector(sectors, rsec, category)).first()
    key = f"{KEY_PREFIX}{i:04d}"
    common = dict(site=site, sector=sector, source=source, level=Level.MAJOR if major else Level.GENERAL,
                  category=category, title=title, description=description, location=location,
                  idempotency_key=key)

    def step(at, fn, *args, user=None, **kwargs):
        with _clock(at), audit.context(actor=user or actor, request_id=f"demo-hazards-{i}"):
            return fn(*args, **kwargs)

    if plan == "fixed_on_spot":
        step(t, services.report_hazard, actor, **common, fixed_on_spot=True,
             files=[_photo(rng, "现场照片.png")], rectification_description=synth.RECT_TEXT[category],
             rectification_files=[_photo(rng, "整改后.png")], cost=str(rng.choice([0, 200, 500, 1200])))
        return True
    files = [_photo(rng, "现场照片.png")] if rng.random() < .6 else []
    hazard = step(t, services.report_hazard, actor, **common, files=files)
    acceptor, rectifier, verifier = _roles(users, reporter, site, hazard.sector.code if hazard.sector else None)
    if plan == "reported":
        return True
    t += datetime.timedelta(hours=rng.uniform(2, 40))
    span = rng.randrange(25, 50) if major else rng.randrange(7, 25)
    if plan == "overdue":
        span = rng.randrange(10, 20)
    deadline = timezone.localtime(t).date() + datetime.timedelta(days=span)
    hazard = step(t, services.accept, acceptor, hazard, user=acceptor,
                  responsible_unit=site.name[:100], responsible_person=synth.person(rng),
                  responsible_phone=synth.phone(rng), deadline=deadline,
                  note="请按期整改并上传整改照片" if rng.random() < .5 else "")
    if plan == "overdue":
        first = timezone.make_aware(datetime.datetime.combine(deadline + datetime.timedelta(days=1),
                                                              datetime.time(2)))
        for at in (first, first + services.escalation_interval()):
            if at < now:
                with _clock(at), audit.context(request_id=f"demo-hazards-{i}"):
                    services.escalate(hazard, now=at)
        return True
    if plan == "rectifying" or verifier is None and plan not in ("submitted",):
        return True
    latest = now - datetime.timedelta(hours=2)
    t = min(t + datetime.timedelta(days=span * rng.uniform(.2, .8)), latest)
    hazard = step(t, services.submit_rectification, rectifier, hazard, user=rectifier,
                  description=synth.RECT_TEXT[category], cost=str(rng.choice([0, 300, 800, 1500, 5000])),
                  files=[_photo(rng, "整改后照片.png")])
    if plan == "submitted" or verifier is None:
        return True
    if plan == "sent_back_closed":
        t = min(t + datetime.timedelta(hours=rng.uniform(6, 60)), latest)
        hazard = step(t, services.send_back, verifier, hazard, user=verifier,
                      reason=synth.SEND_BACK_REASONS[rng.randrange(len(synth.SEND_BACK_REASONS))])
        t = min(t + datetime.timedelta(days=rng.uniform(1, 4)), latest)
        hazard = step(t, services.submit_rectification, rectifier, hazard, user=rectifier,
                      description=synth.RECT_TEXT[category] + "已补充整改前后对比照片。",
                      files=[_photo(rng, "整改前.png"), _photo(rng, "整改后.png")])
    t = min(t + datetime.timedelta(hours=rng.uniform(4, 72)), latest)
    hazard = step(t, services.verify, verifier, hazard, user=verifier, note="经现场复查,整改到位,同意销号")
    if plan == "archived":
        t = min(t + datetime.timedelta(days=1), latest)
        step(t, services.archive, verifier, hazard, user=verifier, reason="与其他隐患重复上报,已合并处理")
    return True


def build() -> list:
    """Hook for ``yingji demo`` (``DEMO_MODULES``): loads the demo hazards once."""
    load_demo_hazards()
    load_story()
    return []


STORY_KEY = "demo-story-grid-ent"


def load_story(now: datetime.datetime | None = None) -> bool:
    """The hazard that ties the demo's roles together (once): yesterday the 大唐 grid worker, on
    patrol in her community, reported a blocked fire exit at the enterprise account's sock factory
    there; found by the government side, it waits for the 大唐 town officer to accept it and set
    the deadline; then the enterprise rectifies and the town officer verifies."""
    from yingji.core.models import User
    from yingji.registry.demo import ENT_SITE_IN_GRID_VILLAGE
    from yingji.registry.models import Site, SiteSource

    if Hazard.objects.filter(idempotency_key=STORY_KEY).exists():
        return False
    grid = User.objects.filter(username="grid_dt", is_active=True).first()
    site = Site.objects.filter(name=ENT_SITE_IN_GRID_VILLAGE, source=SiteSource.DEMO).first()
    if grid is None or site is None or not Site.objects.visible_to(grid).filter(pk=site.pk).exists():
        return False
    at = ((now or timezone.now()) - datetime.timedelta(days=1)).replace(second=0, microsecond=0)
    with _clock(at), audit.context(actor=grid, request_id="demo-hazards-story"):
        services.report_hazard(
            grid, site=site, source=Source.GRID_PATROL, level=Level.GENERAL, category="fire",
            title="成品仓库安全出口被纸箱堵塞", location="成品仓库",
            description="网格巡查发现成品仓库东侧安全出口被成箱袜子堵塞,应急照明灯不亮,请企业立即清理并检修。",
            files=[_photo(random.Random(DEMO_SEED), "现场照片.png")], idempotency_key=STORY_KEY)
    return True
