"""Reference data: GB/T 4754-2017 industry sections and divisions (from data/gbt4754_2017_sections.tsv)
and the risk traits of supervised sites."""
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "gbt4754_2017_sections.tsv"

# (code, name, description)
TRAITS = [
    ("hazchem", "涉危险化学品", "生产、储存、使用、经营危险化学品"),
    ("dust", "粉尘涉爆", "存在可燃性粉尘爆炸危险"),
    ("ammonia", "涉氨制冷", "使用液氨作为制冷剂"),
    ("confined", "有限空间", "存在有限空间作业"),
    ("metal_surface", "金属表面处理", "电镀、酸洗、磷化、抛光等金属表面处理"),
    ("hot_work", "电气焊作业", "动火、电焊、气焊、切割作业"),
    ("gas", "使用燃气", "使用管道燃气或瓶装液化石油气"),
    ("crowded", "人员密集", "人员密集场所或劳动密集型车间、员工集体宿舍"),
    ("rental", "居住出租", "出租用于居住的房屋"),
    ("self_built", "自建房", "经营性自建房"),
    ("lithium", "锂电池", "锂电池生产、储存或电动自行车集中充电"),
    ("coating", "喷涂作业", "喷漆、涂装作业"),
    ("molten_metal", "高温熔融金属", "涉及高温熔融金属(冶炼、铸造)"),
    ("special_equipment", "特种设备", "使用锅炉、压力容器、起重机械、叉车等特种设备"),
    ("warehouse", "仓储物流", "仓库、物流分拣场所"),
]


def read_industries():
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("level\t"):
            continue
        parts = line.split("\t")
        level, code, section, name_zh = parts[0], parts[1], parts[2], parts[3]
        rows.append((level, code, section, name_zh))
    return rows


def load(apps, schema_editor):
    Industry = apps.get_model("registry", "Industry")
    RiskTrait = apps.get_model("registry", "RiskTrait")
    sections = {}
    for level, code, section, name in read_industries():
        if level == "section":
            obj, _ = Industry.objects.update_or_create(code=code, defaults={
                "level": "section", "section": section, "name": name, "parent": None})
            sections[code] = obj
    for level, code, section, name in read_industries():
        if level == "division":
            Industry.objects.update_or_create(code=code, defaults={
                "level": "division", "section": section, "name": name, "parent": sections[section]})
    for i, (code, name, description) in enumerate(TRAITS):
        RiskTrait.objects.update_or_create(code=code, defaults={"name": name, "description": description,
                                                                "sort": i})


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
