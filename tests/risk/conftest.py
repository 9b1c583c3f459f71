"""Risk test helpers: sites built through the registry services, a small known rule set."""
from __future__ import annotations

import pytest

# A small rule set with round numbers, used where the arithmetic must be checked exactly.
SMALL_RULES = [
    {"factor": "industry_section", "match": "C", "points": 10, "label": "制造业"},
    {"factor": "industry_division", "match": "26", "points": 20, "label": "化学原料和化学制品制造业"},
    {"factor": "trait", "match": "dust", "points": 15, "label": "粉尘涉爆"},
    {"factor": "trait", "match": "ammonia", "points": 5, "floor_colour": "yellow", "label": "涉氨制冷"},
    {"factor": "employees_at_least", "match": "100", "points": 5, "label": "从业人员100人以上"},
    {"factor": "open_hazards", "points": 0, "per_unit": 4, "cap": 12, "label": "未整改隐患"},
    {"factor": "open_major_hazards", "points": 20, "per_unit": 5, "cap": 40, "floor_colour": "orange",
     "label": "未整改重大隐患"},
]
SMALL_THRESHOLDS = {"red": 60, "orange": 40, "yellow": 20}


@pytest.fixture
def small_rules(world):
    """Publish the small rule set (v2) without queueing the recompute."""
    from yingji.risk import services

    return services.publish_ruleset(world.admin, SMALL_RULES, SMALL_THRESHOLDS, name="测试规则", recompute=False)
