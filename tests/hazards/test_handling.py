"""Who accepts (受理, sets the deadline) and who verifies a hazard depends on who found it
(``models.HANDLING``): the government side accepts and verifies what it found, the enterprise
only rectifies; an enterprise accepts its self-found hazards and sets its own deadline, closes
its self-found general ones itself (自查自改), and needs the government side for major ones."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from yingji.core import roles
from yingji.core import services as core_services
from yingji.core.errors import Forbidden
from yingji.core.worklist import worklist
from yingji.hazards import services
from yingji.hazards.models import HANDLING, Hazard, Level, Side

from .factories import in_days, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def ent2(world, site_a):
    """A second safety manager of the same site (the four-eyes rule still holds in 自查自改)."""
    from yingji.registry import services as registry

    user = core_services.create_user(world.admin, username="ent2", password=PASSWORD, role=roles.ENTERPRISE,
                                     area=world.county, must_change_password=False)
    registry.bind_site_manager(world.admin, user, site_a)
    return user


def report(user, site, level="general"):
    return services.report_hazard(user, site=site, level=level, category="fire", description="消防通道堆放纸箱",
                                  files=[photo("现场.png")])


def test_the_rule_table_covers_every_finder_and_level():
    assert set(HANDLING) == {(s, lvl) for s in Side.values for lvl in Level.values}
    assert all(rule.accept == {Side.GOVERNMENT} and rule.verify == {Side.GOVERNMENT}
               for (finder, _l), rule in HANDLING.items() if finder == Side.GOVERNMENT)
    assert HANDLING[(Side.ENTERPRISE, Level.GENERAL)].verify == {Side.ENTERPRISE, Side.GOVERNMENT}
    assert HANDLING[(Side.ENTERPRISE, Level.MAJOR)].verify == {Side.GOVERNMENT}


def test_the_finder_is_the_reporters_side(world, site_a):
    assert report(world.enterprise, site_a).finder == Side.ENTERPRISE
    assert report(world.grid, site_a).finder == Side.GOVERNMENT
    assert report(world.inspector, site_a).finder == Side.GOVERNMENT


def test_enterprise_cannot_accept_what_an_inspector_found_on_its_site(world, site_a):
    hazard = report(world.inspector, site_a)
    assert services.allowed_actions(world.enterprise, hazard) == []
    with pytest.raises(Forbidden) as exc:
        services.accept(world.enterprise, hazard, responsible_person="王五", deadline=in_days(30))
    assert exc.value.message == ("该隐患由监管部门检查发现,须由属地镇街或行业监管部门受理并确定整改期限;"
                                 "企业按期整改并提交整改证据即可")
    hazard.refresh_from_db()
    assert hazard.state == "reported" and hazard.deadline is None
    # the government side accepts and sets the deadline; the enterprise rectifies, never verifies
    for officer in (world.town_a, world.admin):
        assert "accept" in services.allowed_actions(officer, hazard)
    hazard = services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(7))
    hazard = services.submit_rectification(world.enterprise, hazard, description="已清理", files=[photo()])
    with pytest.raises(Forbidden, match="须由属地镇街或行业监管部门验收,企业不能自行验收销号"):
        services.verify(world.enterprise, hazard)
    assert services.verify(world.town_a, hazard).state == "closed"


def test_enterprise_self_found_general_hazard_is_accepted_and_closed_by_the_enterprise(world, site_a, ent2):
    hazard = report(world.enterprise, site_a)
    assert services.allowed_actions(world.town_a, hazard) == ["archive"]
    with pytest.raises(Forbidden, match="该隐患为企业自查发现,由企业自行受理并确定整改期限"):
        services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(7))
    assert services.allowed_actions(world.enterprise, hazard) == ["accept"]
    hazard = services.accept(world.enterprise, hazard, responsible_person="王五", deadline=in_days(20))
    assert hazard.deadline == in_days(20)                    # its own deadline
    hazard = services.submit_rectification(world.enterprise, hazard, description="已清理", files=[photo()])
    # 自查自改: another manager of the enterprise closes it (the rectifier never verifies their own)
    assert "verify" not in services.allowed_actions(world.enterprise, hazard)
    assert "verify" in services.allowed_actions(ent2, hazard)
    assert "verify" in services.allowed_actions(world.town_a, hazard)   # or the government side
    assert services.verify(ent2, hazard).state == "closed"


def test_enterprise_self_found_major_hazard_needs_government_verification(world, site_a, ent2):
    hazard = report(world.enterprise, site_a, level="major")
    hazard = services.accept(world.enterprise, hazard, responsible_person="王五", deadline=in_days(60))
    hazard = services.submit_rectification(world.enterprise, hazard, description="已加装泄爆片", files=[photo()])
    assert services.allowed_actions(ent2, hazard) == []
    with pytest.raises(Forbidden) as exc:
        services.send_back(ent2, hazard, reason="不行")
    assert exc.value.message == "企业自查发现的重大隐患须由属地镇街或行业监管部门验收销号"
    with pytest.raises(Forbidden, match="重大隐患须由属地镇街或行业监管部门验收销号"):
        services.verify(ent2, hazard)
    assert services.verify(world.town_a, hazard).state == "closed"


@pytest.mark.parametrize("finder", ["grid", "enterprise"])
@pytest.mark.parametrize("level", ["general", "major"])
def test_python_rule_agrees_with_the_sql_rule(world, site_a, ent2, finder, level):
    hazard = report(world.users[finder], site_a, level=level)
    for user in [*world.users.values(), ent2]:
        for action in ("accept", "verify"):
            in_sql = Hazard.objects.restrict(user, action).filter(pk=hazard.pk).exists()
            assert services.reaches(user, hazard, action) == in_sql, (user.username, action)


def test_detail_page_says_who_accepts_and_who_verifies_and_when(world, site_a):
    hazard = report(world.grid, site_a)
    c = Client()
    c.force_login(world.enterprise)
    url = f"/hazards/{hazard.pk}/"
    html = c.get(url).content.decode()
    assert "由谁受理/验收" in html and "监管部门发现(网格巡查)" in html
    assert "由属地镇街或行业监管部门受理并确定整改期限,整改后由属地镇街或行业监管部门验收销号" in html
    assert "待属地镇街或行业监管部门受理(确定整改责任人和整改期限)" in html
    services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(7))
    html = c.get(url).content.decode()
    assert "待属地镇街或行业监管部门验收(整改提交后)" in html and 'data-testid="action-verify"' not in html
    services.submit_rectification(world.town_a, hazard, description="镇街代为整改", files=[photo()])
    c.force_login(world.town_a)   # the rectifier: no verify button, and the page says why
    html = c.get(url).content.decode()
    assert 'data-testid="action-verify"' not in html and "(整改人不能验收自己提交的整改)" in html
    c.force_login(world.admin)
    html = c.get(url).content.decode()
    assert 'data-testid="action-verify"' in html and "待属地镇街或行业监管部门验收" in html


def test_worklists_follow_the_rule(world, site_a):
    report(world.grid, site_a)
    report(world.enterprise, site_a)
    lines = {str(w.label): w.count for w in worklist(world.enterprise)}
    assert lines["待受理隐患"] == 1            # its self-found one only
    assert {str(w.label): w.count for w in worklist(world.town_a)}["待受理隐患"] == 1


def test_the_migration_marks_hazards_reported_by_enterprise_accounts(world, site_a):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("yingji.hazards.migrations.0006_hazard_finder")
    mine, theirs = report(world.enterprise, site_a), report(world.grid, site_a)
    Hazard.objects.update(finder=Side.GOVERNMENT)      # as before the field existed
    migration.set_finder(apps, None)
    assert Hazard.objects.get(pk=mine.pk).finder == Side.ENTERPRISE
    assert Hazard.objects.get(pk=theirs.pk).finder == Side.GOVERNMENT
