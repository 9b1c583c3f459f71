"""Deterministic synthetic Zhuji sites, for the demo (~3,000) and for scale seeding (170k / 2M).

Every site is derived from ``(seed, index)`` alone, so the same index always gives the same
site and seeding can top up (county → province) without regenerating what exists. Names follow
Zhuji's real industrial geography: socks in 大唐, pearls in 山下湖, hardware, valves and
plumbing in 店口, plus generic manufacturing, chemical users, small places (九小场所), crowded
places, rental and self-built housing and construction sites everywhere. Objects are returned
unsaved; callers bulk-insert them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.db import connection
from django.utils import timezone

from .creditcode import generate_credit_code
from .models import Site, SiteKind, SiteScale
from .services import pinyin_initials

DIVISION = "330681"
# generate_credit_code(n, seed=0) is distinct for distinct n; site #i uses n = base + 16*i + offset,
# the offset picking the organisation category (the generator cycles categories with period 16).
CODE_OFFSET = {"91": 0, "92": 1, "93": 6, "12": 11, "52": 15}
DEMO_CODE_BASE = 0
SEED_CODE_BASE = 16 * 100_000  # demo indexes stay below 100,000

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏吕丁沈姚卢钟陆汪金楼宣斯骆寿"
GIVEN = "建国华明伟芳丽军强敏静磊洋勇艳杰娟涛超秀英红霞平刚林海燕峰波辉鹏飞东新荣永庆良德仁志文斌宇浩"
BRAND = "鑫泰华盛达宏兴恒信永佳联科源丰嘉瑞祥利顺龙凯欣锦金新宇东江天海益昌晨博卓耀德安康明辉诚邦远通航捷艺美雅琪梦丝韵洁怡宁越浙暨唐枫"
ROADS = ["工业路", "振兴路", "发展大道", "兴业路", "建业路", "创业路", "科技路", "环镇路", "中心路", "江东路", "望云路",
         "文化路", "人民路", "解放路", "新街", "老街", "光明路", "育才路"]
TOWN_ROADS = {"330681104": ["湄池路", "店口大道", "中央路", "盾安路", "海亮路"],
              "330681005": ["袜业路", "轻纺路", "大唐大道", "开元路", "新袜路"],
              "330681108": ["珍珠路", "白塔湖路", "湖滨路", "珍珠大道"]}

NS, NG = len(SURNAMES), len(GIVEN)

# Share of sites per town (relative weights).
TOWN_WEIGHTS = {
    "330681001": 8, "330681002": 6, "330681003": 7, "330681004": 5, "330681005": 12, "330681102": 3,
    "330681103": 3, "330681104": 12, "330681106": 4, "330681108": 6, "330681109": 6, "330681110": 2,
    "330681111": 1.5, "330681112": 2, "330681115": 5, "330681116": 2, "330681117": 3, "330681119": 3,
    "330681120": 1.5, "330681121": 1, "330681122": 2, "330681124": 1.5, "330681201": 1,
}


@dataclass(frozen=True)
class Profile:
    key: str
    kind: str
    names: tuple          # name templates: {p} prefix, {b} brand, {s} surname, {g} given, {v} village, {t} town
    industries: tuple     # GB/T 4754 division codes
    sectors: tuple        # sector codes
    traits: tuple = ()    # (trait code, probability)
    employees: tuple = (5, 80)
    code: str | None = "91"   # credit-code category, None = no code, "mixed" = half 92 / half none
    base_colour: str = "blue"


P = Profile
PROFILES = {
    "socks": P("socks", SiteKind.ENTERPRISE,
               ("{p}{b}袜业有限公司", "{p}{b}针织有限公司", "{p}{b}袜业有限公司", "{p}{b}纺织品有限公司",
                "{p}{b}服饰有限公司"),
               ("17", "17", "18"), ("industry_trade",),
               (("crowded", .3), ("gas", .15), ("dust", .05), ("hot_work", .05), ("special_equipment", .2)),
               (10, 260), "91", "blue"),
    "socks_workshop": P("socks_workshop", SiteKind.INDIVIDUAL,
                        ("{t}{b}袜厂", "{s}{g}袜子加工点", "{t}{v}{b}定型厂", "{s}{g}缝头加工场"),
                        ("17",), ("industry_trade", "fire"), (("crowded", .2), ("rental", .1), ("lithium", .1)),
                        (2, 25), "mixed", "yellow"),
    "pearl": P("pearl", SiteKind.ENTERPRISE,
               ("{p}{b}珍珠有限公司", "{p}{b}珠宝有限公司", "{p}{b}珍珠饰品有限公司", "{t}{b}珍珠养殖场"),
               ("24", "24", "04", "51"), ("industry_trade",),
               (("hazchem", .15), ("hot_work", .05), ("gas", .1)), (3, 120), "91", "blue"),
    "pearl_shop": P("pearl_shop", SiteKind.SMALL_PLACE,
                    ("{b}珍珠饰品商行", "{s}{g}珍珠加工坊", "{b}珠宝直播基地"), ("52", "24"), ("fire", "commerce"),
                    (("crowded", .2), ("lithium", .1)), (1, 15), "mixed", "blue"),
    "hardware": P("hardware", SiteKind.ENTERPRISE,
                  ("{p}{b}管业有限公司", "{p}{b}阀门有限公司", "{p}{b}五金制品有限公司", "{p}{b}铜业有限公司",
                   "{p}{b}水暖器材有限公司", "{p}{b}汽车配件有限公司", "{p}{b}制冷配件有限公司"),
                  ("33", "34", "33", "32", "33", "36", "34"), ("industry_trade",),
                  (("hot_work", .4), ("metal_surface", .2), ("molten_metal", .12), ("dust", .12), ("coating", .1),
                   ("special_equipment", .35), ("confined", .08)), (10, 600), "91", "yellow"),
    "machinery": P("machinery", SiteKind.ENTERPRISE,
                   ("{p}{b}机械有限公司", "{p}{b}电机有限公司", "{p}{b}塑业有限公司", "{p}{b}木业有限公司",
                    "{p}{b}家具有限公司", "{p}{b}食品有限公司", "{p}{b}建材有限公司", "{p}{b}包装有限公司",
                    "{p}{b}印务有限公司", "{p}{b}服饰有限公司", "{p}{b}新能源科技有限公司", "{p}{b}电器有限公司"),
                   ("34", "38", "29", "20", "21", "14", "30", "22", "23", "18", "38", "38"), ("industry_trade",),
                   (("hot_work", .25), ("dust", .1), ("coating", .08), ("special_equipment", .3), ("gas", .1),
                    ("lithium", .05), ("confined", .05)), (5, 300), "91", "blue"),
    "chemical": P("chemical", SiteKind.ENTERPRISE,
                  ("{p}{b}化工有限公司", "{p}{b}新材料有限公司", "{p}{b}涂料有限公司", "{p}{b}助剂有限公司",
                   "{p}{b}气体有限公司"),
                  ("26", "26", "26", "26", "26"), ("hazchem", "industry_trade"),
                  (("hazchem", 1.0), ("confined", .5), ("hot_work", .2), ("special_equipment", .5)),
                  (8, 150), "91", "orange"),
    "gas_station": P("gas_station", SiteKind.ENTERPRISE,
                     ("中国石化销售股份有限公司浙江绍兴诸暨{t}加油站", "{p}{b}石油经营有限公司{t}加油站",
                      "{p}{b}液化气有限公司{t}供应站"),
                     ("52", "52", "45"), ("hazchem", "commerce"), (("hazchem", 1.0), ("gas", .4)),
                     (6, 20), "91", "orange"),
    "cold_chain": P("cold_chain", SiteKind.ENTERPRISE,
                    ("{p}{b}冷链物流有限公司", "{p}{b}冷冻食品有限公司", "{p}{b}水产冷藏有限公司"),
                    ("59", "13", "13"), ("industry_trade",),
                    (("ammonia", .7), ("confined", .6), ("warehouse", .5)), (10, 90), "91", "orange"),
    "logistics": P("logistics", SiteKind.ENTERPRISE,
                   ("{p}{b}物流有限公司", "{p}{b}快递服务有限公司", "{p}{b}仓储有限公司"), ("59", "60", "59"),
                   ("transport", "industry_trade"), (("warehouse", .9), ("lithium", .2), ("special_equipment", .4)),
                   (5, 120), "91", "blue"),
    "liquor": P("liquor", SiteKind.ENTERPRISE, ("{p}同山{b}酒业有限公司", "{t}{s}{g}烧酒作坊"), ("15", "15"),
                ("industry_trade",), (("hazchem", .3), ("gas", .4), ("confined", .2)), (2, 40), "91", "yellow"),
    "small_shop": P("small_shop", SiteKind.SMALL_PLACE,
                    ("{b}便利店", "{s}记小吃", "{b}超市", "{b}理发店", "{b}美容美发", "{b}宾馆", "{b}网吧",
                     "{b}棋牌室", "{s}{g}五金店", "{b}电动车行", "{b}诊所", "{b}幼儿园", "{b}足浴店", "{s}家面馆",
                     "{b}KTV"),
                    ("52", "62", "52", "80", "80", "61", "90", "90", "52", "52", "84", "83", "80", "62", "90"),
                    ("fire", "commerce"), (("gas", .35), ("crowded", .15), ("lithium", .08)), (1, 12), "mixed",
                    "blue"),
    "crowded": P("crowded", SiteKind.CROWDED_PLACE,
                 ("{t}{b}农贸市场", "{t}{b}商场", "{p}{b}大酒店", "{t}中心小学", "{t}卫生院", "{t}敬老院",
                  "{b}影城", "{t}文化礼堂"),
                 ("52", "52", "61", "83", "84", "85", "90", "88"), ("fire", "commerce"),
                 (("crowded", 1.0), ("gas", .5), ("special_equipment", .3)), (15, 200), "91", "yellow"),
    "rental": P("rental", SiteKind.RENTAL_HOUSING,
                ("{v}{s}{g}出租房", "{v}{s}{g}出租房", "{t}{b}公寓", "{v}{s}{g}群租房"), ("70",),
                ("rental_housing", "fire"), (("rental", 1.0), ("lithium", .25), ("gas", .3)), (0, 0), None,
                "blue"),
    "self_built": P("self_built", SiteKind.SELF_BUILT,
                    ("{v}{s}{g}自建房", "{v}{s}{g}经营性自建房"), ("70",), ("self_built_housing",),
                    (("self_built", 1.0), ("rental", .4), ("gas", .3)), (0, 0), None, "yellow"),
    "construction": P("construction", SiteKind.CONSTRUCTION,
                      ("{t}{v}安置房工程", "诸暨市{t}{b}路改建工程", "{p}{b}置业{t}住宅项目", "{t}中心学校扩建工程",
                       "{t}工业园区标准厂房工程", "诸暨市{t}污水管网工程"),
                      ("47", "48", "47", "47", "47", "48"), ("construction",),
                      (("hot_work", .8), ("confined", .3), ("special_equipment", .8)), (20, 300), None, "yellow"),
}

DEFAULT_MIX = {"machinery": 22, "chemical": 2.5, "gas_station": 1, "cold_chain": .6, "logistics": 3,
               "socks": 2, "small_shop": 24, "crowded": 3, "rental": 15, "self_built": 5, "construction": 2.5}
TOWN_MIX = {
    "330681005": {**DEFAULT_MIX, "socks": 40, "socks_workshop": 12, "machinery": 8},          # 大唐: socks
    "330681104": {**DEFAULT_MIX, "hardware": 42, "machinery": 8},                              # 店口: hardware
    "330681108": {**DEFAULT_MIX, "pearl": 30, "pearl_shop": 10, "machinery": 8},               # 山下湖: pearls
    "330681116": {**DEFAULT_MIX, "liquor": 8},                                                 # 同山: 同山烧
    "330681106": {**DEFAULT_MIX, "hardware": 10},                                              # 姚江: near 店口
    "330681115": {**DEFAULT_MIX, "socks": 8},                                                  # 牌头
}

COLOUR_VALUES = ["blue", "yellow", "orange", "red"]
COLOUR_INDEX = {c: i for i, c in enumerate(COLOUR_VALUES)}
PREFIXES = ("诸暨市", "诸暨市", "诸暨市", "诸暨", "浙江")
NB = len(BRAND)


@lru_cache(maxsize=1000)
def _template_tokens(template: str) -> tuple:
    tokens, rest = [], template
    while "{" in rest:
        before, _, after = rest.partition("{")
        key, _, rest = after.partition("}")
        if before:
            tokens.append(before)
        tokens.append("{%s}" % key)
    if rest:
        tokens.append(rest)
    return tuple(tokens)


@lru_cache(maxsize=50_000)
def _initials(part: str) -> str:
    return pinyin_initials(part)


def _scale(employees: int | None) -> str:
    if not employees:
        return SiteScale.MICRO if employees == 0 else ""
    if employees >= 1000:
        return SiteScale.LARGE
    if employees >= 300:
        return SiteScale.MEDIUM
    if employees >= 20:
        return SiteScale.SMALL
    return SiteScale.MICRO


def _phone(rng: random.Random) -> str:
    return "1%s%09d" % ("3589"[rng.randrange(4)], rng.randrange(1_000_000_000))


def _person(rng: random.Random) -> tuple[str, str]:
    given = GIVEN[rng.randrange(NG)]
    if rng.random() < .7:
        given += GIVEN[rng.randrange(NG)]
    return SURNAMES[rng.randrange(NS)], given


class Generator:
    """Builds unsaved sites from the area tree of the current database."""

    def __init__(self, towns: list, places_by_town: dict, industries: dict, code_base: int, source: str):
        self.towns = [t for t in towns if t.code in TOWN_WEIGHTS] or list(towns)
        self.weights = [TOWN_WEIGHTS.get(t.code, 2) for t in self.towns]
        self.places = places_by_town
        self.industries = industries      # division code -> Industry pk
        self.code_base = code_base
        self.source = source

    def credit_code(self, index: int, category: str) -> str:
        return generate_credit_code(self.code_base + 16 * index + CODE_OFFSET[category], 0, DIVISION)

    def make(self, rng: random.Random, index: int, profile_key: str | None = None, town=None,
             name: str | None = None) -> tuple[dict, tuple, list]:
        """One site for ``index`` (its credit code depends on the index only). Returns the site's
        column values (by attname, without id and timestamps), its sector codes and trait codes."""
        town = town or rng.choices(self.towns, self.weights)[0]
        mix = TOWN_MIX.get(town.code, DEFAULT_MIX)
        key = profile_key or rng.choices(list(mix), list(mix.values()))[0]
        prof = PROFILES[key]
        place, village_name = rng.choice(self.places[town.pk])
        surname, given = _person(rng)
        ti = rng.randrange(len(prof.names))
        template = prof.names[ti]
        if name is None:
            town_short = town.name[:-2] if town.name.endswith("街道") else town.name[:-1]
            parts = {"p": PREFIXES[rng.randrange(5)], "b": BRAND[rng.randrange(NB)] + BRAND[rng.randrange(NB)],
                     "s": surname, "g": given, "v": village_name, "t": town_short}
            pieces = [parts[t[1:-1]] if t.startswith("{") else t for t in _template_tokens(template)]
            name = "".join(pieces)[:100]
            pinyin = "".join(_initials(p) for p in pieces)[:100]
        else:
            pinyin = pinyin_initials(name)
        industry_code = prof.industries[ti % len(prof.industries)]
        traits = [code for code, p in prof.traits if rng.random() < p]
        lo, hi = prof.employees
        employees = int(lo + (hi - lo) * rng.random() ** 2.5) if hi else None
        category = prof.code
        if category == "mixed":
            category = "92" if rng.random() < .5 else None
        code = self.credit_code(index, category) if category else None
        if prof.kind in (SiteKind.RENTAL_HOUSING, SiteKind.SELF_BUILT):
            address = f"浙江省诸暨市{town.name}{village_name}{rng.randint(1, 300)}号"
        else:
            roads = TOWN_ROADS.get(town.code, ROADS)
            address = f"浙江省诸暨市{town.name}{roads[rng.randrange(len(roads))]}{rng.randint(1, 999)}号"
        colour_step = COLOUR_INDEX[prof.base_colour]
        if "hazchem" in traits or "ammonia" in traits or "metal_surface" in traits:
            colour_step = max(colour_step, 2)
        roll = rng.random()
        if roll < .15:
            colour = None
        else:
            if roll > .97:
                colour_step = min(3, colour_step + 1)
            elif roll < .35:
                colour_step = max(0, colour_step - 1)
            colour = COLOUR_VALUES[colour_step]
        lat = place.latitude if place.latitude is not None else town.latitude
        lng = place.longitude if place.longitude is not None else town.longitude
        if lat is not None:
            lat = Decimal("%.6f" % (float(lat) + rng.randint(-4000, 4000) / 1_000_000))
            lng = Decimal("%.6f" % (float(lng) + rng.randint(-4000, 4000) / 1_000_000))
        mgr_s, mgr_g = _person(rng)
        roll = rng.random()
        status = "operating" if roll < .92 else ("suspended" if roll < .97 else "closed")
        values = {
            "kind": str(prof.kind), "name": name, "name_pinyin": pinyin, "credit_code": code,
            "industry_id": self.industries.get(industry_code), "scale": _scale(employees), "employees": employees,
            "address": address, "area_id": place.pk, "latitude": lat, "longitude": lng,
            "legal_rep": surname + given if prof.kind != SiteKind.CONSTRUCTION else "",
            "legal_rep_phone": _phone(rng), "safety_manager": mgr_s + mgr_g, "safety_manager_phone": _phone(rng),
            "status": status, "risk_colour": colour, "host_id": None, "source": self.source, "note": "",
            "archived_at": None, "archived_by_id": None,
        }
        sectors = list(prof.sectors)
        if "special_equipment" in traits:
            sectors.append("special_equipment")
        if "gas" in traits and prof.kind != SiteKind.RENTAL_HOUSING:
            sectors.append("urban_gas")
        return values, tuple(sectors), traits


def load_context(industry_model, area_model, level_village: int, level_grid: int, level_town: int):
    """Towns, the places (villages and grids) under each, and industry pks by code."""
    towns = list(area_model.objects.filter(level=level_town, archived_at__isnull=True).order_by("code"))
    villages = {v.pk: v for v in area_model.objects.filter(level=level_village, archived_at__isnull=True)}
    by_code = {t.code: t for t in towns}
    places: dict[int, list] = {t.pk: [] for t in towns}
    for v in sorted(villages.values(), key=lambda a: a.code):
        town = by_code.get(v.code[:9])
        if town is not None:
            places[town.pk].append((v, v.name))
    for g in area_model.objects.filter(level=level_grid, archived_at__isnull=True).order_by("code"):
        town = by_code.get(g.code[:9])
        village = villages.get(g.parent_id)
        if town is not None and village is not None:
            places[town.pk].append((g, village.name))
            places[town.pk].append((g, village.name))  # grids twice as likely as villages
    for t in towns:
        if not places[t.pk]:
            places[t.pk].append((t, t.name))
    industries = dict(industry_model.objects.filter(level="division").values_list("code", "pk"))
    return towns, places, industries


PROFILES["surface_tenant"] = P(
    "surface_tenant", SiteKind.ENTERPRISE, ("{p}{b}电镀有限公司", "{p}{b}表面处理有限公司", "{p}{b}抛光有限公司"),
    ("33", "33", "33"), ("hazchem", "industry_trade"),
    (("metal_surface", 1.0), ("hazchem", .8), ("confined", .5), ("dust", .3)), (8, 60), "91", "orange")
PROFILES["sock_trader"] = P(
    "sock_trader", SiteKind.SMALL_PLACE, ("{b}袜业商行", "{b}袜业经营部", "{s}{g}袜子批发"), ("51", "51", "51"),
    ("fire", "commerce"), (("crowded", .3), ("lithium", .1)), (1, 8), "mixed", "blue")


def reserve_ids(n: int, above: int = 0) -> list[int]:
    """``n`` fresh primary keys for registry_site. PostgreSQL: taken from the sequence (safe with
    concurrent inserts); SQLite: above the current maximum (the IMMEDIATE transaction holds the
    write lock)."""
    if n <= 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence('registry_site', 'id')) "
                           "FROM generate_series(1, %s)", [n])
            return sorted(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM registry_site")
        start = max(cursor.fetchone()[0], above) + 1
        return list(range(start, start + n))


_SITE_COLUMNS = None


def _site_fields():
    global _SITE_COLUMNS
    if _SITE_COLUMNS is None:
        _SITE_COLUMNS = [f for f in Site._meta.concrete_fields if f.attname != "id"]
    return _SITE_COLUMNS


def bulk_insert(rows: list[tuple], batch_size: int = 5000) -> list[int]:
    """Insert ``(values, sector_codes, trait_codes)`` rows fast: ids reserved up front, plain
    ``executemany`` for the sites and both link tables (no model instances). ``values`` may carry
    an ``id`` (from :func:`reserve_ids`); rows without one get fresh ids. Returns the ids.
    Unknown sector or trait codes are skipped (a database may lack some sectors)."""
    from yingji.core.models import Sector

    from .models import RiskTrait

    sectors = dict(Sector.objects.values_list("code", "pk"))
    traits = dict(RiskTrait.objects.values_list("code", "pk"))
    fields = _site_fields()
    missing = [r for r in rows if not r[0].get("id")]
    above = max((r[0]["id"] for r in rows if r[0].get("id")), default=0)
    for values, new_id in zip((r[0] for r in missing), reserve_ids(len(missing), above)):
        values["id"] = new_id
    pg = connection.vendor == "postgresql"
    now = timezone.now() if pg else connection.ops.adapt_datetimefield_value(timezone.now())
    # (attname, default, field to adapt or None) once per call, not per row and field. COPY takes
    # Decimals and datetimes as they are; executemany on SQLite needs them adapted.
    specs = []
    for f in fields:
        adapt = f if not pg and f.get_internal_type() in ("DecimalField", "DateTimeField", "DateField") else None
        specs.append((f.attname, f.get_default(), adapt))
    timestamps = {"created_at", "updated_at"}
    columns = ["id"] + [f.column for f in fields]
    site_sql = "INSERT INTO %s (%s) VALUES (%s)" % (
        Site._meta.db_table, ", ".join(columns), ", ".join(["%s"] * len(columns)))
    SectorLink, TraitLink = Site.sectors.through, Site.traits.through
    sector_sql = "INSERT INTO %s (site_id, sector_id) VALUES (%%s, %%s)" % SectorLink._meta.db_table
    trait_sql = "INSERT INTO %s (site_id, risktrait_id) VALUES (%%s, %%s)" % TraitLink._meta.db_table
    ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            params, sector_params, trait_params = [], [], []
            for values, sector_codes, trait_codes in chunk:
                site_id = values["id"]
                row = [site_id]
                get = values.get
                for attname, default, adapt in specs:
                    if attname in timestamps:
                        row.append(now)
                        continue
                    v = get(attname, default)
                    if adapt is not None and v is not None:
                        v = adapt.get_db_prep_save(v, connection)
                    row.append(v)
                params.append(row)
                ids.append(site_id)
                for code in dict.fromkeys(sector_codes):
                    pk = sectors.get(code)
                    if pk is not None:
                        sector_params.append((site_id, pk))
                for code in dict.fromkeys(trait_codes):
                    pk = traits.get(code)
                    if pk is not None:
                        trait_params.append((site_id, pk))
            if pg:
                # COPY: one round trip per table instead of one per row.
                _copy(cursor, Site._meta.db_table, columns, params)
                _copy(cursor, SectorLink._meta.db_table, ["site_id", "sector_id"], sector_params)
                _copy(cursor, TraitLink._meta.db_table, ["site_id", "risktrait_id"], trait_params)
                continue
            cursor.executemany(site_sql, params)
            if sector_params:
                cursor.executemany(sector_sql, sector_params)
            if trait_params:
                cursor.executemany(trait_sql, trait_params)
    return ids


def _copy(cursor, table: str, columns: list[str], rows: list) -> None:
    if not rows:
        return
    raw = cursor.cursor  # the psycopg cursor under Django's wrapper
    with raw.copy("COPY %s (%s) FROM STDIN" % (table, ", ".join(columns))) as copy:
        for row in rows:
            copy.write_row(row)
