"""Deterministic demo data for the core: Zhuji's area tree, organisations, sectors, one user per role.

Real: the county and its 23 town-level units (``data/zhuji_towns.tsv``). Generated (marked
``is_demo``): ~500 villages/communities and their grids, with plausible names and codes in the
statistical shape. Everything is derived from a fixed seed, so every run gives the same data.
"""
from __future__ import annotations

import random
from pathlib import Path

from django.db import transaction

from . import audit, roles, services
from .models import Area, AreaLevel, Organisation, OrgKind, RoleAssignment, Sector, User

DEMO_PASSWORD = "Yingji@2026"
COUNTY_CODE = "330681"
CENTRE = (29.713, 120.244)

# Approximate town centres (lat, lng), for map defaults; demo-grade.
TOWN_CENTRES = {
    "330681001": (29.716, 120.236), "330681002": (29.720, 120.262), "330681003": (29.703, 120.221),
    "330681004": (29.689, 120.245), "330681005": (29.767, 120.208), "330681102": (29.770, 120.131),
    "330681103": (29.838, 120.149), "330681104": (29.917, 120.284), "330681106": (29.859, 120.258),
    "330681108": (29.795, 120.277), "330681109": (29.646, 120.379), "330681110": (29.593, 120.449),
    "330681111": (29.780, 120.060), "330681112": (29.720, 120.100), "330681115": (29.590, 120.189),
    "330681116": (29.560, 120.263), "330681117": (29.537, 120.150), "330681119": (29.520, 120.305),
    "330681120": (29.490, 120.380), "330681121": (29.600, 120.340), "330681122": (29.540, 120.220),
    "330681124": (29.640, 120.320), "330681201": (29.600, 120.410),
}

DEPARTMENTS = [
    ("yjj", "诸暨市应急管理局", "应急管理局"),
    ("xf", "诸暨市消防救援大队", "消防救援大队"),
    ("zj", "诸暨市住房和城乡建设局", "住建局"),
    ("jt", "诸暨市交通运输局", "交通运输局"),
    ("ga", "诸暨市公安局", "公安局"),
    ("sj", "诸暨市市场监督管理局", "市场监管局"),
    ("jx", "诸暨市经济和信息化局", "经信局"),
    ("nync", "诸暨市农业农村局", "农业农村局"),
    ("sl", "诸暨市水利水电局", "水利局"),
    ("zrzy", "诸暨市自然资源和规划局", "自然资源和规划局"),
    ("jy", "诸暨市教育体育局", "教育体育局"),
    ("wglt", "诸暨市文化和广电旅游局", "文广旅局"),
    ("sw", "诸暨市商务局", "商务局"),
    ("zhzf", "诸暨市综合行政执法局", "综合执法局"),
]

# Professional committees of the safety committee (1+9, plus water traffic from 2023): (code, name, lead dept).
COMMITTEES = [
    ("zwh_dljt", "道路交通安全专业委员会", "ga"),
    ("zwh_xf", "消防安全专业委员会", "xf"),
    ("zwh_jsgc", "建设工程安全专业委员会", "zj"),
    ("zwh_whp", "危险化学品安全专业委员会", "yjj"),
    ("zwh_gksm", "工矿商贸安全专业委员会", "yjj"),
    ("zwh_tzsb", "特种设备安全专业委员会", "sj"),
    ("zwh_rq", "城镇燃气安全专业委员会", "zj"),
    ("zwh_wtly", "文体旅游安全专业委员会", "wglt"),
    ("zwh_nlsl", "农林水利安全专业委员会", "nync"),
    ("zwh_ssjt", "水上交通安全专业委员会", "jt"),
]

# Sectors (行业领域): (code, name, supervising department, committee).
SECTORS = [
    ("industry_trade", "工贸", "yjj", "zwh_gksm"),
    ("hazchem", "危险化学品", "yjj", "zwh_whp"),
    ("mines", "非煤矿山", "yjj", "zwh_gksm"),
    ("fire", "消防", "xf", "zwh_xf"),
    ("road_traffic", "道路交通", "ga", "zwh_dljt"),
    ("construction", "建设施工", "zj", "zwh_jsgc"),
    ("urban_gas", "城镇燃气", "zj", "zwh_rq"),
    ("self_built_housing", "自建房", "zj", "zwh_jsgc"),
    ("rental_housing", "居住出租房", "ga", "zwh_xf"),
    ("special_equipment", "特种设备", "sj", "zwh_tzsb"),
    ("water_traffic", "水上交通", "jt", "zwh_ssjt"),
    ("transport", "交通运输", "jt", "zwh_dljt"),
    ("agriculture", "农业农村", "nync", "zwh_nlsl"),
    ("water_works", "水利工程", "sl", "zwh_nlsl"),
    ("education", "学校", "jy", "zwh_wtly"),
    ("culture_tourism", "文化旅游", "wglt", "zwh_wtly"),
    ("commerce", "商贸", "sw", "zwh_gksm"),
    ("industrial_parks", "工业园区", "jx", "zwh_gksm"),
    ("forest_fire", "森林防火", "zrzy", "zwh_nlsl"),
    ("city_management", "城市管理", "zhzf", "zwh_rq"),
]

_FIRST = "东西南北上下新大小前后横高石金山水溪塘湖桥岭坞坑湾里外中马枫杨桃李柳竹梅兰荷松"
_SECOND = "岙头口庄墅家溪塘田坞坂山岭湾埠桥里港店峰源畈园亭沿川林坪冈墩垄"


def _village_names(rng: random.Random, n: int, suffix: str, taken: set[str]) -> list[str]:
    names = []
    while len(names) < n:
        name = rng.choice(_FIRST) + rng.choice(_SECOND) + suffix
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def load_towns() -> list[tuple[str, str, str]]:
    rows = []
    for line in (Path(__file__).parent / "data" / "zhuji_towns.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line.startswith("code"):
            continue
        code, name, kind, _parent = line.split("\t")
        rows.append((code, name, kind))
    return rows


@transaction.atomic
def build_areas(villages_per_town: int = 22, grids_per_village: int = 3, seed: int = 20231031) -> Area:
    """The Zhuji tree (bulk insert; audited as one system import): the county, its 23 towns
    (real codes) and, for the demo, ``villages_per_town`` synthetic villages (0: none) with
    ``grids_per_village`` grids each. Does nothing if the towns exist."""
    county, created = Area.objects.get_or_create(
        code=COUNTY_CODE, defaults={"name": "诸暨市", "level": AreaLevel.COUNTY, "kind": "县级市",
                                    "latitude": CENTRE[0], "longitude": CENTRE[1]})
    if not created and Area.objects.filter(level=AreaLevel.TOWN).exists():
        return county
    rng = random.Random(seed)
    towns = [Area(code=code, name=name, level=AreaLevel.TOWN, kind=kind, parent=county,
                  latitude=TOWN_CENTRES[code][0], longitude=TOWN_CENTRES[code][1])
             for code, name, kind in load_towns()]
    Area.objects.bulk_create(towns)
    towns = list(Area.objects.filter(level=AreaLevel.TOWN).order_by("code"))
    if villages_per_town <= 0:  # the real county and towns only (``yingji load_areas``)
        with audit.context(request_id="area-load"):
            audit.record("area.import", county, {"towns": [0, len(towns)]}, note="诸暨市镇街区划导入")
        return county
    taken: set[str] = set()
    villages = []
    for t in towns:
        suffix = "社区" if t.kind == "街道" else "村"
        count = villages_per_town + rng.randint(-4, 4)
        for i, name in enumerate(_village_names(rng, count, suffix, taken), start=1):
            villages.append(Area(code=f"{t.code}{i:03d}", name=name, level=AreaLevel.VILLAGE,
                                 kind="社区" if suffix == "社区" else "村", parent=t, is_demo=True,
                                 latitude=round(float(t.latitude) + rng.uniform(-0.03, 0.03), 6),
                                 longitude=round(float(t.longitude) + rng.uniform(-0.03, 0.03), 6)))
    Area.objects.bulk_create(villages, batch_size=500)
    villages = list(Area.objects.filter(level=AreaLevel.VILLAGE).order_by("code"))
    grids = []
    for v in villages:
        for j in range(1, grids_per_village + 1):
            grids.append(Area(code=f"{v.code}{j:03d}", name=f"{v.name}第{j}网格", level=AreaLevel.GRID, kind="网格",
                              parent=v, is_demo=True, latitude=v.latitude, longitude=v.longitude))
    Area.objects.bulk_create(grids, batch_size=1000)
    with audit.context(request_id="demo-load"):
        audit.record("area.import", county, {"towns": [0, len(towns)], "villages": [0, len(villages)],
                                             "grids": [0, len(grids)]}, note="演示数据导入")
    return county


@transaction.atomic
def build_organisations(county: Area) -> None:
    if Organisation.objects.exists():
        return
    depts = {}
    for i, (code, name, short) in enumerate(DEPARTMENTS):
        depts[code] = Organisation.objects.create(code=code, name=name, short_name=short,
                                                  kind=OrgKind.DEPARTMENT, area=county, sort=i)
    committee = Organisation.objects.create(code="awh", name="诸暨市安全生产委员会", short_name="市安委会",
                                            kind=OrgKind.COMMITTEE, area=county, lead=depts["yjj"])
    committee.members.set(depts.values())
    committees = {}
    for i, (code, name, lead) in enumerate(COMMITTEES):
        committees[code] = Organisation.objects.create(code=code, name=name, kind=OrgKind.SUB_COMMITTEE,
                                                       area=county, parent=committee, lead=depts[lead], sort=i)
    for i, (code, name, dept, com) in enumerate(SECTORS):
        Sector.objects.create(code=code, name=name, department=depts[dept], committee=committees[com], sort=i)
    for i, town in enumerate(Area.objects.filter(level=AreaLevel.TOWN).order_by("code")):
        Organisation.objects.create(code=f"yxb_{town.code}", name=f"{town.name}应急和消防管理办公室",
                                    short_name=f"{town.name}应消办", kind=OrgKind.TOWN_OFFICE, area=town, sort=i)
    with audit.context(request_id="demo-load"):
        audit.record("organisation.import", committee, {"organisations": [0, Organisation.objects.count()],
                                                         "sectors": [0, Sector.objects.count()]}, note="演示数据导入")


# username, display name, role, area code (None = county), sectors, organisation code
DEMO_USERS = [
    ("admin", "王建国(市应急管理局)", roles.CITY_ADMIN, None, [], "yjj"),
    ("leader", "陈局长(只读)", roles.LEADER, None, [], "yjj"),
    ("dept_zj", "李明(住建局)", roles.DEPT_OFFICER, None, ["construction", "urban_gas", "self_built_housing"], "zj"),
    ("inspector", "赵强(执法大队)", roles.INSPECTOR, None, ["industry_trade", "hazchem"], "yjj"),
    ("town_dt", "周丽(大唐街道应消办)", roles.TOWN_OFFICER, "330681005", [], "yxb_330681005"),
    ("town_dk", "吴刚(店口镇应消办)", roles.TOWN_OFFICER, "330681104", [], "yxb_330681104"),
    ("grid_dt", "孙芳(大唐街道网格员)", roles.GRID_WORKER, "330681005001", [], None),
    ("ent_demo", "郑经理(企业安全管理员)", roles.ENTERPRISE, None, [], None),
]


def build_users() -> list[tuple[str, str, str]]:
    logins = []
    county = Area.objects.get(code=COUNTY_CODE)
    with audit.context(request_id="demo-load"):
        for username, name, role, area_code, sector_codes, org_code in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                area = Area.objects.get(code=area_code) if area_code else county
                services.create_user(
                    None, username=username, password=DEMO_PASSWORD, display_name=name, role=role, area=area,
                    sectors=list(Sector.objects.filter(code__in=sector_codes)),
                    organisation=Organisation.objects.filter(code=org_code).first() if org_code else None,
                    must_change_password=False)
            area = RoleAssignment.objects.filter(user__username=username).select_related("area").first().area
            logins.append((username, str(roles.ROLE_LABELS[role]), area.name))
        if not User.objects.filter(username="root").exists():
            services.create_user(None, username="root", password=DEMO_PASSWORD, display_name="系统管理员",
                                 role=roles.CITY_ADMIN, area=county, must_change_password=False, is_superuser=True)
    logins.append(("root", "超级管理员(含Django后台)", county.name))
    return logins


def build(villages_per_town: int = 22, grids_per_village: int = 3) -> list[tuple[str, str, str]]:
    county = build_areas(villages_per_town, grids_per_village)
    build_organisations(county)
    return build_users()
