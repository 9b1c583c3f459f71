"""The `yingji` console commands: demo, createuser, token."""
import io
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from yingji.core.models import ApiToken, Area, AuditEntry, AreaLevel, Organisation, RoleAssignment, Sector, User


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_builds_zhuji_and_prints_one_login_per_role():
    out = run("demo", "--no-migrate")
    assert Area.objects.filter(level=AreaLevel.TOWN).count() == 23
    assert Area.objects.get(code="330681104").name == "店口镇"
    villages = Area.objects.filter(level=AreaLevel.VILLAGE)
    assert 400 <= villages.count() <= 600
    assert not villages.filter(is_demo=False).exists()
    assert Area.objects.filter(level=AreaLevel.GRID).count() >= villages.count()
    assert Sector.objects.filter(code="water_traffic").exists()
    assert Organisation.objects.filter(kind="sub_committee").count() == 10
    assert Organisation.objects.filter(kind="town_office").count() == 23
    for username in ("admin", "leader", "dept_zj", "inspector", "town_dt", "town_dk", "grid_dt", "ent_demo", "root"):
        assert username in out
    roles_held = set(RoleAssignment.objects.values_list("role", flat=True))
    assert {"city_admin", "leader", "dept_officer", "inspector", "town_officer", "grid_worker", "enterprise"} <= roles_held
    # The work of the year: campaigns, inspections, hazards from them, listed major hazards, figures.
    from yingji.checklists.models import ChecklistModule
    from yingji.hazards.models import Hazard
    from yingji.inspections.models import Campaign, Inspection
    from yingji.stats.models import RollupRun
    from yingji.supervision.models import Listing

    assert ChecklistModule.objects.filter(sectors__isnull=False).exists()  # seeded modules linked to sectors
    assert Campaign.objects.filter(status="active").count() == 3
    inspections = Inspection.objects.filter(state="completed")
    assert inspections.count() >= 50 and set(inspections.values_list("mode", flat=True)) >= {"town", "grid", "spot"}
    assert Hazard.objects.filter(inspection__isnull=False, fixed_on_spot=True, state="closed").exists()
    assert sorted(Listing.objects.values_list("state", flat=True)) == ["delisted", "rectifying", "rectifying"]
    run_ = RollupRun.objects.latest("id")
    assert run_.hazards == Hazard.objects.filter(archived_at__isnull=True).exclude(state="draft").count()
    counts = (Campaign.objects.count(), Inspection.objects.count(), Hazard.objects.count(), Listing.objects.count())
    # every action the demo's services wrote has a readable name
    from yingji.core.audit_labels import OBJECTS, VERBS

    for action in AuditEntry.objects.values_list("action", flat=True).distinct():
        obj, _sep, verb = action.partition(".")
        assert obj in OBJECTS and verb in VERBS, action
    # Deterministic and idempotent: a second run changes nothing.
    names = list(villages.order_by("code").values_list("name", flat=True))
    run("demo", "--no-migrate")
    assert (Campaign.objects.count(), Inspection.objects.count(), Hazard.objects.count(),
            Listing.objects.count()) == counts
    assert list(Area.objects.filter(level=AreaLevel.VILLAGE).order_by("code").values_list("name", flat=True)) == names
    assert User.objects.filter(username="admin").count() == 1
    assert AuditEntry.objects.filter(action="area.import").count() == 1


def test_createuser_and_token(world):
    run("createuser", "zhang", "--role", "town_officer", "--area", "330681005", "--password", "Strong-pass-99",
        "--name", "张三")
    user = User.objects.get(username="zhang")
    assert user.assignments.get().area.code == "330681005"
    assert AuditEntry.objects.filter(action="user.create", object_id=user.pk).exists()
    key = run("token", "create", "zhang").strip()
    assert key.startswith("yj_")
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == ApiToken.hash(key)
    assert token.prefix in run("token", "list", "zhang")
    run("token", "revoke", token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_createuser_errors_are_chinese(world):
    with pytest.raises(CommandError, match="区域不存在"):
        run("createuser", "li", "--role", "town_officer", "--area", "999999", "--password", "Strong-pass-99")
    with pytest.raises(CommandError, match="用户名已被使用"):
        run("createuser", "admin", "--role", "town_officer", "--area", "330681005", "--password", "Strong-pass-99")
    with pytest.raises(CommandError, match="密码"):
        run("createuser", "wang", "--role", "town_officer", "--area", "330681005", "--password", "123")
    with pytest.raises(CommandError, match="用户不存在"):
        run("token", "create", "nobody")


@pytest.mark.parametrize("env,message", [
    ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
    ({"YINGJI_ATTACHMENT_MAX_BYTES": "lots"}, "YINGJI_ATTACHMENT_MAX_BYTES must be an integer"),
    ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must point to PostgreSQL or SQLite"),
    ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
])
def test_bad_settings_fail_loudly(env, message):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL"}}
    clean.update({"SECRET_KEY": "x", **env})
    proc = subprocess.run([sys.executable, "-c", "import yingji.settings"], env=clean, capture_output=True,
                          text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))) + "/src")
    assert proc.returncode != 0
    assert message in proc.stderr


def test_production_defaults():
    from django.conf import settings

    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert "en" in dict(settings.LANGUAGES)
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert settings.SESSION_COOKIE_HTTPONLY
    assert not str(settings.MEDIA_ROOT).startswith(str(settings.STATIC_ROOT))


def test_audit_actions_have_readable_names():
    from yingji.core.audit_labels import action_label

    assert action_label("hazard.send_back") == "隐患:退回"
    assert action_label("user.grant_role") == "用户:授予角色"
    assert action_label("something.new") == "something:new"  # unknown parts stay visible
    assert action_label("plain") == "plain"


def test_every_audit_action_written_in_the_code_has_a_readable_name():
    """Literal ``audit.record("object.verb", …)`` actions, and the verbs of the state tables that
    build actions from their names (hazard transitions, listing events)."""
    import re
    from pathlib import Path

    import yingji
    from yingji.core.audit_labels import OBJECTS, VERBS
    from yingji.hazards.models import Action
    from yingji.supervision.models import EventAction

    pattern = re.compile(r'audit\.record(?:_many)?\(\s*(?:f?)"([a-z_]+)\.([a-z_{}\'" =]+?)"')
    found = set()
    for path in Path(yingji.__file__).parent.rglob("*.py"):
        for obj, verb in pattern.findall(path.read_text(encoding="utf-8")):
            assert obj in OBJECTS, f"{path.name}: {obj}"
            if "{" not in verb:
                found.add((obj, verb))
    assert len(found) > 60
    missing = [f"{o}.{v}" for o, v in found if v not in VERBS]
    missing += [f"hazard.{a}" for a in Action.values if a not in VERBS]
    missing += [f"supervision.{a}" for a in EventAction.values if a not in VERBS]
    assert not missing, missing


@pytest.mark.parametrize("lat,lng,message", [
    ("NaN", "120.2", "经纬度格式不正确"),          # used to raise decimal.InvalidOperation (a 500) in the registry
    ("Infinity", "120.2", "经纬度格式不正确"),
    ("29.7", "", "经度和纬度须同时填写"),
    ("120.2", "29.7", "经纬度超出范围"),
    ("abc", "1", "经纬度格式不正确"),
])
def test_coordinates_are_validated_in_one_place(lat, lng, message):
    from yingji.core.errors import InvalidInput
    from yingji.core.validators import clean_coordinates

    with pytest.raises(InvalidInput, match=message):
        clean_coordinates(lat, lng)


def test_coordinates_inside_china():
    from decimal import Decimal

    from yingji.core.errors import InvalidInput
    from yingji.core.validators import clean_coordinates

    assert clean_coordinates(" 29.7123456 ", "120.24") == (Decimal("29.712346"), Decimal("120.240000"))
    assert clean_coordinates(None, "") == (None, None)
    with pytest.raises(InvalidInput, match="坐标不在中国境内"):
        clean_coordinates("-29.7", "120.2", within_china=True)
