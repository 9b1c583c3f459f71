"""Deterministic SEED DATA for scale tests: hazards with their whole history (events and
rectifications) and inspections, bulk-inserted over the sites already in the database.

This is load-test data, not business data: it bypasses the services (like ``registry.synth``)
and is marked as seed data everywhere it can be —

* every seeded hazard's ``idempotency_key`` is ``seed:<seed>:h<index>`` and every seeded
  inspection's ``seed:<seed>:i<index>``; nothing else writes keys with the ``seed:`` prefix;
* each batch writes one audit entry ``hazard.seed`` / ``inspection.seed`` on the county;
* seeded rectifications carry no evidence files (their events say ``"evidence": 0``).

Hazard #i depends only on ``(seed, i)``, the anchor time and the sites/users/inspections of the
database, so ``yingji seed_hazards`` tops up: a second run with the same target adds nothing, a
bigger target adds the difference. Each hazard's life is simulated up to the anchor time
(report or fix-on-the-spot, acceptance with a deadline, submissions, send-backs, verification,
overdue escalation to the town and then the county, occasional archiving), so lists, filters and
figures see realistic state, level, source, overdue and sector mixes.

The title/description catalogue (``CATALOGUE``, ``TRAIT_CATEGORIES``) is shared with
``yingji.hazards.demo``.
"""
from __future__ import annotations

import datetime
import json
import random
from array import array
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from .models import Action, Hazard, HazardEvent, Level, Outcome, Rectification, Source, State

SEED_PREFIX = "seed:"


def hazard_key(seed: int, index: int) -> str:
    return f"seed:{seed}:h{index:09d}"


def inspection_key(seed: int, index: int) -> str:
    return f"seed:{seed}:i{index:09d}"


# ---------------------------------------------------------------- catalogue

# category -> [(title, description, may be major)]
CATALOGUE: dict[str, list[tuple[str, str, bool]]] = {
    "dust": [
        ("除尘系统未设置泄爆装置", "打磨车间干式除尘器未设置泄爆片,箱体内粉尘积聚,存在粉尘爆炸风险。", True),
        ("粉尘作业区积尘未及时清理", "抛光工位地面、设备顶部积尘明显,未落实每班清扫制度。", False),
        ("除尘器未设置防火花进入措施", "除尘管道未设置火花探测或隔爆阀,打磨火花可能进入除尘器。", True),
        ("粉尘涉爆区域使用非防爆电气", "粉尘涉爆作业区照明灯具、开关为普通型,不符合防爆要求。", False),
    ],
    "ammonia": [
        ("氨制冷机房未设置氨气泄漏报警", "氨制冷机房未安装氨气浓度检测报警装置,泄漏无法及时发现。", True),
        ("氨制冷机房事故排风装置失效", "事故排风机无法启动,应急情况下不能及时排出泄漏氨气。", True),
        ("涉氨岗位未配备正压式呼吸器", "液氨操作岗位应急防护器材不全,未配备正压式空气呼吸器。", False),
        ("速冻间与包装车间未有效隔离", "包装间人员密集,与氨速冻设备间未设置有效隔离。", True),
    ],
    "confined_space": [
        ("有限空间作业未先通风检测", "污水池清淤作业未执行“先通风、再检测、后作业”,未配备气体检测仪。", True),
        ("有限空间未设置警示标识", "污水井、化粪池入口未设置有限空间安全警示标识和防护盖板。", False),
        ("有限空间作业无专人监护", "进入发酵罐作业时外部无监护人员,未配备救援设备。", True),
        ("未建立有限空间管理台账", "企业未辨识有限空间并建立台账,作业审批制度缺失。", False),
    ],
    "gas": [
        ("餐饮厨房未安装燃气报警装置", "厨房使用液化石油气,未安装可燃气体报警及联动切断装置。", True),
        ("燃气软管老化开裂", "灶具连接软管老化开裂、长度超过2米,且穿越墙体。", False),
        ("液化气钢瓶存放在地下室", "将液化石油气钢瓶存放在地下室及半地下室,违反燃气使用规定。", True),
        ("液化气钢瓶未固定且超期未检", "钢瓶未固定放置,瓶身检验标签过期。", False),
    ],
    "fire": [
        ("消防通道堆放杂物", "厂区消防车通道被原材料及成品堆放占用,影响应急通行。", False),
        ("安全出口锁闭", "车间安全出口上锁,人员无法从内部开启。", True),
        ("疏散指示标志损坏", "二层疏散走道应急照明及疏散指示标志损坏不亮。", False),
        ("灭火器过期未更换", "仓库配置的干粉灭火器压力不足、超过检验期。", False),
        ("电动自行车在楼道内充电", "楼道内停放电动自行车并私拉电线充电,存在火灾风险。", False),
        ("室内消火栓无水", "室内消火栓打开后无水,消防水泵未处于自动状态。", False),
        ("生产、仓储、住宿“三合一”", "生产车间内设置员工宿舍,与生产、仓储区域未进行防火分隔。", True),
    ],
    "electrical": [
        ("私拉乱接电线", "车间内私拉乱接临时电线,电线直接敷设在可燃物上。", False),
        ("配电箱未设置漏电保护", "车间配电箱未安装漏电保护器,箱门缺失。", False),
        ("电气线路未穿管保护", "仓库内电气线路明敷未穿管,绝缘层破损。", False),
        ("配电房堆放杂物", "配电房内堆放纸箱等可燃物,未配置灭火器。", False),
    ],
    "hazchem": [
        ("危险化学品仓库超量储存", "甲类仓库实际储存量超过核定储存量,部分桶装溶剂露天堆放。", True),
        ("化学品未按禁配要求分类存放", "氧化剂与易燃液体混存于同一仓库,未分区隔离。", True),
        ("危化品仓库未设置防静电装置", "易燃液体仓库入口未设置人体静电释放装置。", False),
        ("危化品安全技术说明书缺失", "使用场所未张贴化学品安全技术说明书和安全标签。", False),
        ("电镀槽区未设置围堰", "酸洗、电镀槽区未设置防泄漏围堰,地面防腐层破损。", False),
    ],
    "equipment": [
        ("冲床未安装光电保护装置", "冲压工位设备未安装光电保护或双手操作装置,存在机械伤害风险。", False),
        ("叉车超期未检验", "厂内叉车超过定期检验有效期,驾驶员未持证。", False),
        ("机械传动部位防护罩缺失", "皮带传动及联轴器外露,未设置防护罩。", False),
        ("起重机钢丝绳断丝超标", "桥式起重机钢丝绳断丝、磨损超过报废标准仍在使用。", True),
        ("压力容器安全阀未校验", "空压机储气罐安全阀超期未校验,压力表损坏。", False),
        ("熔炼炉冷却水无断水报警", "中频炉冷却水系统未设置断水报警装置,存在熔融金属爆炸风险。", True),
    ],
    "environment": [
        ("车间通道堆放原材料", "车间内安全通道被原材料占用,通道宽度不足。", False),
        ("作业场所照明不足", "仓库及楼梯间照明不足,存在人员跌倒风险。", False),
        ("临边洞口未设置防护栏杆", "二层平台临边及预留洞口未设置防护栏杆。", False),
        ("经营性自建房违规改变用途", "自建房擅自改变为经营用途,未经安全鉴定。", True),
    ],
    "management": [
        ("未建立隐患排查治理制度", "企业未建立事故隐患排查治理制度,无排查记录。", False),
        ("特种作业人员无证上岗", "电工、焊工等特种作业人员未取得操作证书即上岗作业。", False),
        ("未开展应急演练", "企业未制定生产安全事故应急预案,本年度未组织演练。", False),
        ("安全生产责任制未落实", "全员安全生产责任制未制定到岗位,未签订责任书。", False),
        ("新员工未进行三级安全教育", "抽查新入职员工未接受厂、车间、班组三级安全教育。", False),
    ],
    "hot_work": [
        ("动火作业未办理审批", "厂房内电焊作业未办理动火作业审批,现场无监护人。", True),
        ("焊接作业周边可燃物未清理", "焊接作业点周边5米内堆放纸箱、泡沫等可燃物。", False),
        ("气瓶间距不足且无防倒措施", "氧气瓶与乙炔瓶间距不足5米,未设置防倾倒措施。", False),
    ],
}

CATEGORY_LOCATIONS = {
    "dust": ["打磨车间", "抛光车间", "除尘器旁"], "ammonia": ["制冷机房", "速冻间", "液氨储罐区"],
    "confined_space": ["污水池", "化粪池", "地下泵房"], "gas": ["食堂厨房", "后厨", "钢瓶间"],
    "fire": ["一号车间", "成品仓库", "二楼走道", "楼梯间"], "electrical": ["配电房", "车间配电箱", "仓库"],
    "hazchem": ["化学品仓库", "调漆间", "电镀车间"], "equipment": ["冲压车间", "装配车间", "空压机房", "熔炼车间"],
    "environment": ["车间通道", "二层平台", "厂区"], "management": ["办公室", "安全管理台账"],
    "hot_work": ["维修车间", "厂房屋面", "钢结构平台"],
}

# sector code -> category weights (what inspectors of that sector find)
SECTOR_CATEGORIES: dict[str, dict[str, float]] = {
    "industry_trade": {"equipment": 25, "fire": 15, "management": 15, "electrical": 12, "environment": 10,
                       "dust": 8, "confined_space": 5, "hot_work": 5, "ammonia": 3, "gas": 2},
    "hazchem": {"hazchem": 40, "fire": 15, "management": 15, "electrical": 10, "confined_space": 10,
                "hot_work": 10},
    "fire": {"fire": 55, "electrical": 25, "gas": 15, "management": 5},
    "commerce": {"fire": 50, "electrical": 25, "gas": 20, "management": 5},
    "construction": {"hot_work": 25, "equipment": 20, "electrical": 20, "environment": 15, "management": 10,
                     "fire": 10},
    "urban_gas": {"gas": 80, "fire": 10, "management": 10},
    "rental_housing": {"fire": 55, "electrical": 30, "gas": 15},
    "self_built_housing": {"environment": 40, "fire": 35, "electrical": 25},
    "special_equipment": {"equipment": 75, "management": 25},
    "transport": {"fire": 40, "equipment": 30, "electrical": 15, "management": 15},
}
DEFAULT_CATEGORIES = {"fire": 30, "electrical": 20, "management": 20, "equipment": 20, "environment": 10}

# registry risk trait code -> the category its typical hazards fall in (used by the demo)
TRAIT_CATEGORIES = {
    "dust": "dust", "ammonia": "ammonia", "confined": "confined_space", "gas": "gas", "hot_work": "hot_work",
    "hazchem": "hazchem", "metal_surface": "hazchem", "molten_metal": "equipment", "special_equipment": "equipment",
    "lithium": "fire", "crowded": "fire", "rental": "fire", "self_built": "environment", "warehouse": "fire",
    "coating": "fire",
}

SOURCES = [(Source.INSPECTION, 45), (Source.SELF_REPORT, 25), (Source.GRID_PATROL, 20), (Source.TIP_OFF, 5),
           (Source.OTHER, 5)]
MODES = [("town", 35), ("department", 20), ("grid", 20), ("self", 15), ("spot", 6), ("service", 4)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏吕丁沈姚卢钟陆汪金楼宣斯骆寿"
GIVEN = "建国华明伟芳丽军强敏静磊洋勇艳杰娟涛超秀英红霞平刚林海燕峰波辉鹏飞东新荣永庆良德仁志文斌宇浩"
RECT_TEXT = {
    "dust": "已加装泄爆片并清理积尘,建立每班清扫记录。", "ammonia": "已安装氨气报警并与事故排风联动,完成调试。",
    "confined_space": "已设置警示标识,配备气体检测仪,建立作业审批制度。", "gas": "已更换金属波纹管并安装燃气报警切断装置。",
    "fire": "已清理杂物、恢复通道畅通,更换损坏的应急照明和灭火器。", "electrical": "已拆除临时线路,加装漏电保护器并穿管敷设。",
    "hazchem": "已按禁配要求分区存放,超量部分已转移,补设防静电装置。", "equipment": "已加装防护装置并完成检验,相关人员已培训。",
    "environment": "已清理通道并设置防护栏杆。", "management": "已建立制度台账并组织全员培训。",
    "hot_work": "已补办动火审批,作业点周边可燃物已清理并配备监护人。",
}
SEND_BACK_REASONS = ["整改照片不清晰,无法确认整改效果", "整改不彻底,现场仍有问题", "缺少整改前后对比照片",
                     "整改措施与隐患描述不符"]


def weighted(rng: random.Random, table) -> str:
    items = list(table.items()) if isinstance(table, dict) else list(table)
    total = sum(w for _k, w in items)
    x = rng.random() * total
    for key, w in items:
        x -= w
        if x < 0:
            return key
    return items[-1][0]


def person(rng: random.Random) -> str:
    given = GIVEN[rng.randrange(len(GIVEN))]
    if rng.random() < .7:
        given += GIVEN[rng.randrange(len(GIVEN))]
    return SURNAMES[rng.randrange(len(SURNAMES))] + given


def phone(rng: random.Random) -> str:
    return "1%s%09d" % ("3589"[rng.randrange(4)], rng.randrange(1_000_000_000))


# ---------------------------------------------------------------- context

@dataclass
class Context:
    site_ids: array
    site_areas: array
    site_sectors: array          # 0: none
    site_names: dict             # only used for responsible_unit (id -> name) when small; else empty
    town_of_area: dict           # area id -> town id (towns map to themselves)
    county_id: int
    sector_codes: dict           # sector id -> code
    users: list                  # user ids that report/act
    inspections: array = None    # seeded inspection ids
    insp_sites: array = None     # index into site arrays
    insp_started: array = None   # unix seconds


def load_context(with_names: bool = False) -> Context:
    from yingji.core.models import Area, AreaLevel, Sector, User

    ids, areas, sectors = array("q"), array("q"), array("q")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.area_id, COALESCE((SELECT MIN(l.sector_id) FROM registry_site_sectors l "
            "WHERE l.site_id = s.id), 0) FROM registry_site s WHERE s.archived_at IS NULL ORDER BY s.id")
        while True:
            rows = cursor.fetchmany(50_000)
            if not rows:
                break
            for sid, aid, sec in rows:
                ids.append(sid)
                areas.append(aid)
                sectors.append(sec)
    names = {}
    if with_names:
        from yingji.registry.models import Site

        names = dict(Site.objects.filter(archived_at__isnull=True).values_list("pk", "name"))
    county = Area.objects.filter(level=AreaLevel.COUNTY).order_by("code").first()
    towns = {code: pk for pk, code in Area.objects.filter(level=AreaLevel.TOWN).values_list("pk", "code")}
    town_of = {}
    for pk, code, level in Area.objects.values_list("pk", "code", "level"):
        if level == AreaLevel.COUNTY:
            town_of[pk] = pk
        else:
            town_of[pk] = towns.get(code[:9], county.pk if county else pk)
    users = list(User.objects.filter(is_active=True).order_by("id").values_list("pk", flat=True))
    return Context(site_ids=ids, site_areas=areas, site_sectors=sectors, site_names=names, town_of_area=town_of,
                   county_id=county.pk if county else 0,
                   sector_codes=dict(Sector.objects.values_list("pk", "code")), users=users)


def load_inspections(ctx: Context, seed: int) -> None:
    """The seeded inspections (id, site index, start time) that seeded hazards may come from."""
    index_of = {sid: i for i, sid in enumerate(ctx.site_ids)}
    ctx.inspections, ctx.insp_sites, ctx.insp_started = array("q"), array("q"), array("q")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, site_id, started_at FROM inspections_inspection WHERE idempotency_key LIKE %s "
                       "AND archived_at IS NULL ORDER BY id", [f"seed:{seed}:i%"])
        while True:
            rows = cursor.fetchmany(50_000)
            if not rows:
                break
            for pk, site_id, started in rows:
                i = index_of.get(site_id)
                if i is None:
                    continue
                if isinstance(started, str):  # SQLite
                    started = datetime.datetime.fromisoformat(started)
                if timezone.is_naive(started):
                    started = timezone.make_aware(started, datetime.timezone.utc)
                ctx.inspections.append(pk)
                ctx.insp_sites.append(i)
                ctx.insp_started.append(int(started.timestamp()))


# ---------------------------------------------------------------- ids and inserts

def reserve_ids(table: str, n: int) -> list[int]:
    if n <= 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
                           [n])
            return sorted(r[0] for r in cursor.fetchall())
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + n))


def _columns(model) -> list:
    return [f for f in model._meta.concrete_fields]


def insert(model, rows: list[dict]) -> None:
    """Insert rows (dicts by attname, ``id`` included) with COPY on PostgreSQL and executemany
    elsewhere. Missing keys take the field default."""
    if not rows:
        return
    fields = _columns(model)
    names = [f.attname for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    table = model._meta.db_table
    cols = [f.column for f in fields]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            json_cols = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
            raw = cursor.cursor
            with raw.copy("COPY %s (%s) FROM STDIN" % (table, ", ".join(cols))) as copy:
                for r in rows:
                    copy.write_row([json.dumps(r[n], ensure_ascii=False) if n in json_cols and n in r
                                    else r.get(n, defaults[n]) for n in names])
            return
        prep = [f for f in fields if f.get_internal_type() in ("DateTimeField", "DateField", "DecimalField",
                                                                 "JSONField")]
        prep_names = {f.attname: f for f in prep}
        params = []
        for r in rows:
            row = []
            for n in names:
                v = r.get(n, defaults[n])
                if n in prep_names and v is not None:
                    v = prep_names[n].get_db_prep_save(v, connection)
                row.append(v)
            params.append(row)
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols), ", ".join(["%s"] * len(cols)))
        cursor.executemany(sql, params)


# ---------------------------------------------------------------- generators

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


def make_inspection(rng: random.Random, ctx: Context, index: int, seed: int, anchor: datetime.datetime) -> dict:
    si = rng.randrange(len(ctx.site_ids))
    started = anchor - datetime.timedelta(seconds=rng.randrange(365 * 86400))
    started = timezone.localtime(started).replace(hour=8 + rng.randrange(9), microsecond=0)
    if started > anchor:
        started -= DAY
    done = started + datetime.timedelta(minutes=20 + rng.randrange(160))
    completed = done if done < anchor and rng.random() < .99 else None
    total = 10 + rng.randrange(31)
    sector = ctx.site_sectors[si] or None
    return {
        "created_at": started, "updated_at": completed or started, "archived_at": None, "archived_by_id": None,
        "site_id": ctx.site_ids[si], "area_id": ctx.site_areas[si], "sector_id": sector,
        "mode": weighted(rng, MODES), "campaign_id": None, "lead_id": ctx.users[rng.randrange(len(ctx.users))],
        "started_at": started, "completed_at": completed, "place": "", "latitude": None, "longitude": None,
        "gps_accuracy": None, "state": "completed" if completed else "in_progress",
        "summary": "压测数据(种子生成)", "items_total": total, "items_failed": 0, "hazards_found": 0,
        "idempotency_key": inspection_key(seed, index),
    }


class HazardHistory:
    """Builds one hazard and its events/rectifications by simulating its life up to ``anchor``."""

    def __init__(self, ctx: Context, seed: int, anchor: datetime.datetime):
        self.ctx, self.seed, self.anchor = ctx, seed, anchor
        self.today = timezone.localdate(anchor)

    def make(self, rng: random.Random, index: int) -> tuple[dict, list[dict], list[dict]]:
        ctx, anchor = self.ctx, self.anchor
        source = weighted(rng, SOURCES)
        inspection_id = None
        if source == Source.INSPECTION and ctx.inspections:
            j = rng.randrange(len(ctx.inspections))
            si = ctx.insp_sites[j]
            inspection_id = ctx.inspections[j]
            reported = (datetime.datetime.fromtimestamp(ctx.insp_started[j], tz=datetime.timezone.utc)
                        + datetime.timedelta(minutes=5 + rng.randrange(60)))
            if reported > anchor:
                reported = anchor - datetime.timedelta(minutes=rng.randrange(1, 60))
        else:
            si = rng.randrange(len(ctx.site_ids))
            # more recent hazards are a bit more frequent (the platform is being rolled out)
            age = 365 * 86400 * rng.random() ** 1.2
            reported = anchor - datetime.timedelta(seconds=int(age))
        reported = reported.replace(microsecond=0)
        site_id, area_id = ctx.site_ids[si], ctx.site_areas[si]
        sector_id = ctx.site_sectors[si] or None
        without_site = source in (Source.TIP_OFF, Source.OTHER) and rng.random() < .3
        code = ctx.sector_codes.get(sector_id, "")
        category = weighted(rng, SECTOR_CATEGORIES.get(code, DEFAULT_CATEGORIES))
        title, description, may_be_major = CATALOGUE[category][rng.randrange(len(CATALOGUE[category]))]
        major = may_be_major and rng.random() < .25
        users = ctx.users
        reporter = users[rng.randrange(len(users))]
        actor = users[rng.randrange(len(users))]
        verifier = users[rng.randrange(len(users))]
        if verifier == actor and len(users) > 1:
            verifier = users[(users.index(actor) + 1) % len(users)]
        hazard = {
            "created_at": reported, "archived_at": None, "archived_by_id": None,
            "site_id": None if without_site else site_id, "area_id": area_id, "sector_id": sector_id,
            "source": str(source), "level": Level.MAJOR if major else Level.GENERAL, "category": category,
            "title": title, "description": description,
            "location": CATEGORY_LOCATIONS[category][rng.randrange(len(CATEGORY_LOCATIONS[category]))],
            "latitude": None, "longitude": None, "responsible_unit": "", "responsible_person": "",
            "responsible_phone": "", "deadline": None, "reported_by_id": reporter, "reported_at": reported,
            "accepted_at": None, "closed_at": None, "closed_by_id": None, "fixed_on_spot": False, "is_overdue": False,
            "escalation_level": 0, "escalated_at": None, "escalated_to_id": None, "inspection_id": inspection_id,
            "campaign_id": None, "checklist_item_id": None, "idempotency_key": hazard_key(self.seed, index),
        }
        events: list[dict] = []
        rects: list[dict] = []
        version = 1
        state = State.DRAFT
        escalations: list = []   # (time, level, target area) due once the deadline has passed

        def escalate_until(until):
            """The escalation job's steps that happen before ``until`` while the hazard is open."""
            while escalations and escalations[0][0] < until and state in (State.RECTIFYING, State.SUBMITTED):
                at, level, target = escalations.pop(0)
                events.append({"action": str(Action.ESCALATE), "from_state": str(state), "to_state": str(state),
                               "actor_id": None, "at": at, "idempotency_key": None,
                               "reason": f"超过整改期限{hazard['deadline'].isoformat()},超期升级",
                               "data": {"level": level, "to_area": target,
                                        "deadline": hazard["deadline"].isoformat()}})
                hazard.update(is_overdue=True, escalation_level=level, escalated_at=at, escalated_to_id=target)

        def event(action, to, at, who, reason="", data=None):
            nonlocal state, version
            escalate_until(at)
            to = state if to is None else to   # archiving keeps the state
            events.append({"action": str(action), "from_state": str(state), "to_state": str(to), "actor_id": who,
                           "at": at, "reason": reason, "data": data or {}, "idempotency_key": None})
            version += 1
            state = to

        if not major and source == Source.INSPECTION and rng.random() < .35:
            # found and fixed on the spot
            rects.append({"description": RECT_TEXT[category], "cost": None, "submitted_by_id": reporter,
                          "submitted_at": reported, "outcome": Outcome.ACCEPTED, "reviewed_by_id": reporter,
                          "reviewed_at": reported, "review_note": "当场整改"})
            event(Action.FIX_ON_SPOT, State.CLOSED, reported, reporter,
                  data={"photos": 0, "rectification": len(rects) - 1, "evidence": 0})
            hazard.update(fixed_on_spot=True, closed_at=reported, closed_by_id=reporter)
        else:
            event(Action.REPORT, State.REPORTED, reported, reporter, data={"photos": 0})
            accepted = reported + datetime.timedelta(hours=2 + rng.randrange(70))
            if accepted <= anchor:
                deadline = (timezone.localtime(accepted).date()
                            + datetime.timedelta(days=(30 + rng.randrange(60)) if major else (5 + rng.randrange(40))))
                unit = ctx.site_names.get(site_id, "") if ctx.site_names else ""
                person_name = person(rng)
                hazard.update(responsible_unit=unit[:100], responsible_person=person_name,
                              responsible_phone=phone(rng), deadline=deadline, accepted_at=accepted)
                event(Action.ACCEPT, State.RECTIFYING, accepted, actor,
                      data={"responsible_unit": unit[:100], "responsible_person": person_name,
                            "deadline": deadline.isoformat()})
                escalations.extend(self._escalations(area_id, deadline))
                span = (deadline - timezone.localtime(accepted).date()).days
                # most fix in time; some are late (escalated meanwhile), a few never (overdue)
                sends = 1 if rng.random() < .12 else 0
                stalled = rng.random() < .06
                t = accepted
                while not stalled:
                    late = rng.random() < .12
                    t = t + datetime.timedelta(days=rng.uniform(.3, max(1, span) * (1.8 if late else .9)))
                    if t > anchor:
                        break
                    rects.append({"description": RECT_TEXT[category], "cost": None, "submitted_by_id": actor,
                                  "submitted_at": t, "outcome": Outcome.PENDING, "reviewed_by_id": None,
                                  "reviewed_at": None, "review_note": ""})
                    event(Action.SUBMIT, State.SUBMITTED, t, actor,
                          data={"rectification": len(rects) - 1, "evidence": 0, "cost": None})
                    t = t + datetime.timedelta(hours=4 + rng.randrange(120))
                    if t > anchor:
                        break
                    rect = rects[-1]
                    if sends:
                        sends -= 1
                        reason = SEND_BACK_REASONS[rng.randrange(len(SEND_BACK_REASONS))]
                        rect.update(outcome=Outcome.SENT_BACK, reviewed_by_id=verifier, reviewed_at=t,
                                    review_note=reason)
                        event(Action.SEND_BACK, State.RECTIFYING, t, verifier, reason=reason,
                              data={"rectification": len(rects) - 1})
                        span = 7
                        continue
                    rect.update(outcome=Outcome.ACCEPTED, reviewed_by_id=verifier, reviewed_at=t)
                    event(Action.VERIFY, State.CLOSED, t, verifier, data={"rectification": len(rects) - 1})
                    hazard.update(closed_at=t, closed_by_id=verifier)
                    break
                escalate_until(anchor)
        if rng.random() < .01:
            at = min(anchor, events[-1]["at"] + DAY)
            hazard.update(archived_at=at, archived_by_id=actor)
            event(Action.ARCHIVE, None, at, actor, reason="重复上报,已合并处理")
        hazard.update(state=str(state), version=version, updated_at=events[-1]["at"])
        return hazard, events, rects

    def _escalations(self, area: int, deadline: datetime.date) -> list:
        """When the hourly escalation job would raise an open hazard past ``deadline``: the day
        after to its town, a week later to the county (like ``services.escalation_targets``: a
        hazard held at a town itself goes to the county)."""
        ctx = self.ctx
        town = ctx.town_of_area.get(area, ctx.county_id)
        targets = [town, ctx.county_id] if town not in (ctx.county_id, area) else [ctx.county_id]
        first = timezone.make_aware(datetime.datetime.combine(deadline + DAY, datetime.time(2)))
        return [(first + 7 * DAY * i, i + 1, target) for i, target in enumerate(targets)
                if first + 7 * DAY * i <= self.anchor]


def build_hazard_batch(gen: HazardHistory, rng: random.Random, indexes: range, keep_from: int):
    """Hazards ``indexes`` (all generated so the random stream stays deterministic; those below
    ``keep_from`` already exist and are dropped). Returns (hazards, events, rectifications) with ids."""
    made = []
    for index in indexes:
        h, ev, rc = gen.make(rng, index)
        if index >= keep_from:
            made.append((h, ev, rc))
    hazard_ids = iter(reserve_ids(Hazard._meta.db_table, len(made)))
    rect_ids = iter(reserve_ids(Rectification._meta.db_table, sum(len(rc) for _h, _e, rc in made)))
    hazards, events, rects = [], [], []
    for h, ev, rc in made:
        h["id"] = next(hazard_ids)
        local = []
        for r in rc:
            r["id"] = next(rect_ids)
            r["hazard_id"] = h["id"]
            local.append(r["id"])
            rects.append(r)
        for e in ev:
            e["hazard_id"] = h["id"]
            if "rectification" in e["data"]:
                e["data"] = dict(e["data"], rectification=local[e["data"]["rectification"]])
            events.append(e)
        hazards.append(h)
    event_ids = iter(reserve_ids(HazardEvent._meta.db_table, len(events)))
    for e in events:
        e["id"] = next(event_ids)
    return hazards, events, rects


# ---------------------------------------------------------------- index handling (PostgreSQL)

SEED_TABLES = ("hazards_hazard", "hazards_hazardevent", "hazards_rectification", "inspections_inspection")


def drop_secondary_indexes(tables=SEED_TABLES) -> list[tuple[str, str]]:
    """Drop the plain (non-primary, non-constraint) indexes of ``tables``; returns their
    definitions for :func:`create_indexes`. PostgreSQL only."""
    defs = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)", [table])
            defs.extend(cursor.fetchall())
        for name, _sql in defs:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    return defs


def create_indexes(defs: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for _name, sql in defs:
            cursor.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                           .replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX IF NOT EXISTS ", 1))


def update_inspection_tallies(seed: int) -> int:
    """hazards_found (and items_failed ≥ it) of the seeded inspections, from the hazards."""
    like = f"seed:{seed}:i%"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE inspections_inspection i SET hazards_found = c.n, items_failed = GREATEST(i.items_failed, c.n) "
                "FROM (SELECT inspection_id, COUNT(*) AS n FROM hazards_hazard WHERE inspection_id IS NOT NULL "
                "GROUP BY inspection_id) c WHERE c.inspection_id = i.id AND i.idempotency_key LIKE %s "
                "AND i.hazards_found <> c.n", [like])
        else:
            cursor.execute(
                "UPDATE inspections_inspection SET hazards_found = (SELECT COUNT(*) FROM hazards_hazard h "
                "WHERE h.inspection_id = inspections_inspection.id) WHERE idempotency_key LIKE %s", [like])
            cursor.execute("UPDATE inspections_inspection SET items_failed = hazards_found "
                           "WHERE idempotency_key LIKE %s AND items_failed < hazards_found", [like])
        return cursor.rowcount
