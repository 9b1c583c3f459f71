"""The default rule set (version 1): a sensible starting point for the bureau to adjust.

Scores add up; thresholds: ≥ 80 red, ≥ 50 orange, ≥ 25 yellow, else blue. Floors lift the colour
whatever the score: an open major hazard → at least orange; liquid-ammonia refrigeration, dust
explosion, hazardous chemicals and molten metal → at least yellow; an accident in the last 12
months → at least orange. All of it is data: administrators publish new versions on /risk/rules/.
"""
from django.db import migrations
from django.utils import timezone

THRESHOLDS = {"red_at": 80, "orange_at": 50, "yellow_at": 25}

# (factor, match, points, per_unit, cap, floor, label)
RULES = [
    ("industry_section", "B", 30, 0, None, "", "采矿业"),
    ("industry_section", "C", 10, 0, None, "", "制造业"),
    ("industry_section", "D", 15, 0, None, "", "电力、热力、燃气及水生产和供应业"),
    ("industry_section", "E", 20, 0, None, "", "建筑业"),
    ("industry_section", "G", 10, 0, None, "", "交通运输、仓储和邮政业"),
    ("industry_section", "H", 5, 0, None, "", "住宿和餐饮业"),
    ("industry_division", "25", 20, 0, None, "", "石油、煤炭及其他燃料加工业"),
    ("industry_division", "26", 20, 0, None, "", "化学原料和化学制品制造业"),
    ("industry_division", "31", 15, 0, None, "", "黑色金属冶炼和压延加工业"),
    ("industry_division", "32", 15, 0, None, "", "有色金属冶炼和压延加工业"),
    ("industry_division", "33", 5, 0, None, "", "金属制品业"),
    ("trait", "hazchem", 25, 0, None, "yellow", "涉危险化学品"),
    ("trait", "dust", 25, 0, None, "yellow", "粉尘涉爆"),
    ("trait", "ammonia", 25, 0, None, "yellow", "涉氨制冷"),
    ("trait", "molten_metal", 20, 0, None, "yellow", "高温熔融金属"),
    ("trait", "confined", 10, 0, None, "", "有限空间作业"),
    ("trait", "metal_surface", 15, 0, None, "", "金属表面处理"),
    ("trait", "lithium", 15, 0, None, "", "锂电池"),
    ("trait", "coating", 10, 0, None, "", "喷涂作业"),
    ("trait", "gas", 10, 0, None, "", "使用燃气"),
    ("trait", "crowded", 10, 0, None, "", "人员密集"),
    ("trait", "self_built", 10, 0, None, "", "经营性自建房"),
    ("trait", "hot_work", 5, 0, None, "", "电气焊作业"),
    ("trait", "rental", 5, 0, None, "", "居住出租"),
    ("trait", "special_equipment", 5, 0, None, "", "特种设备"),
    ("trait", "warehouse", 5, 0, None, "", "仓储物流"),
    ("site_kind", "crowded_place", 15, 0, None, "", "人员密集场所"),
    ("site_kind", "construction", 10, 0, None, "", "建设工地"),
    ("scale", "large", 15, 0, None, "", "大型企业"),
    ("scale", "medium", 10, 0, None, "", "中型企业"),
    ("employees_at_least", "100", 5, 0, None, "", "从业人员100人以上"),
    ("employees_at_least", "300", 5, 0, None, "", "从业人员300人以上(累加)"),
    ("employees_at_least", "1000", 10, 0, None, "", "从业人员1000人以上(累加)"),
    ("open_hazards", "", 0, 3, 15, "", "未整改一般隐患(每项3分,最多15分)"),
    ("open_major_hazards", "", 30, 10, 60, "orange", "未整改重大隐患(30分,每项加10分,最多60分)"),
    ("overdue_hazards", "", 0, 5, 20, "", "逾期未整改隐患(每项5分,最多20分)"),
    ("enforcement_cases_12m", "", 0, 5, 15, "", "近12个月执法立案(每件5分,最多15分)"),
    ("accidents_12m", "", 30, 10, 50, "orange", "近12个月发生生产安全事故(30分,每起加10分,最多50分)"),
]


def load(apps, schema_editor):
    RuleSet = apps.get_model("risk", "RuleSet")
    Rule = apps.get_model("risk", "Rule")
    if RuleSet.objects.exists():
        return
    rs = RuleSet.objects.create(name="风险分级规则", version=1, is_active=True, note="系统默认规则",
                                changes={}, published_at=timezone.now(), **THRESHOLDS)
    Rule.objects.bulk_create([
        Rule(ruleset=rs, factor=f, match=m, points=p, per_unit=u, cap=c, floor_colour=fl, label=label, sort=i)
        for i, (f, m, p, u, c, fl, label) in enumerate(RULES)
    ])


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial"), ("registry", "0002_reference_data")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
