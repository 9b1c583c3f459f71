"""No transition without permission, scope or the right state: a table of persona × action ×
state, each row asserting the exact outcome (done, 404 out of scope, 403 not allowed, 409 state)."""
from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.hazards import services
from yingji.hazards.models import Hazard, HazardEvent

from .factories import make_hazard, make_site, photo

pytestmark = pytest.mark.django_db

STATES = ("reported", "rectifying", "submitted", "closed")


def in_days(n):
    return timezone.localdate() + datetime.timedelta(days=n)


def hazard_in(world, site, state: str) -> Hazard:
    """A hazard at ``site`` (town A, industry & trade) brought to ``state`` by grid → town → enterprise → town."""
    hazard = make_hazard(world, None, site=site, actor=world.grid)
    if state in ("rectifying", "submitted", "closed"):
        services.accept(world.town_a, hazard, responsible_person="王五", deadline=in_days(5))
    if state in ("submitted", "closed"):
        services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])
    if state == "closed":
        services.verify(world.town_a, hazard)
    hazard.refresh_from_db()
    assert hazard.state == state
    return hazard


def run(action: str, user, hazard):
    if action == "accept":
        return services.accept(user, hazard, responsible_person="李四", deadline=in_days(3))
    if action == "submit_rectification":
        return services.submit_rectification(user, hazard, description="已整改", files=[photo()])
    if action == "verify":
        return services.verify(user, hazard)
    if action == "send_back":
        return services.send_back(user, hazard, reason="不合格")
    if action == "archive":
        return services.archive(user, hazard, reason="重复上报")
    raise AssertionError(action)


SOURCE = {"accept": "reported", "submit_rectification": "rectifying", "verify": "submitted",
          "send_back": "submitted", "archive": "reported"}
TARGET = {"accept": "rectifying", "submit_rectification": "submitted", "verify": "closed",
          "send_back": "rectifying", "archive": "reported"}

OK, NF, FB = "ok", "404", "403"
# Who may do what to a hazard the grid worker found at an industry & trade site in town A
# (enterprise bound to the site): found by the government side, so accepted by it, never by the
# enterprise (models.HANDLING; the enterprise-found rows are in test_handling.py).
# Expected for the action in its source state. inspector: industry & trade, county; dept: construction.
TABLE = {
    #                       admin town_a town_b grid enterprise leader inspector dept
    "accept":               (OK, OK, NF, FB, FB, FB, OK, NF),
    "submit_rectification": (OK, OK, NF, FB, OK, FB, OK, NF),
    "verify":               (OK, OK, NF, FB, FB, FB, OK, NF),
    "send_back":            (OK, OK, NF, FB, FB, FB, OK, NF),
    "archive":              (OK, OK, NF, FB, FB, FB, OK, NF),
}
PERSONAS = ("admin", "town_a", "town_b", "grid", "enterprise", "leader", "inspector", "dept")
CASES = [(action, persona, want) for action, row in TABLE.items() for persona, want in zip(PERSONAS, row)]


@pytest.mark.parametrize("action,persona,want", CASES)
def test_permission_and_scope(world, site_a, action, persona, want):
    hazard = hazard_in(world, site_a, SOURCE[action])
    user = world.users[persona]
    events_before = HazardEvent.objects.filter(hazard=hazard).count()
    if want == OK:
        assert action in services.allowed_actions(user, hazard)  # the page offers the button
        result = run(action, user, hazard)
        assert result.state == TARGET[action]
        assert HazardEvent.objects.filter(hazard=hazard).count() == events_before + 1
        assert action not in services.allowed_actions(user, result)
        return
    allowed = services.allowed_actions(user, hazard)
    assert action not in allowed
    with pytest.raises(NotFound if want == NF else Forbidden):
        run(action, user, hazard)
    hazard.refresh_from_db()
    assert hazard.state == SOURCE[action] and hazard.archived_at is None
    assert HazardEvent.objects.filter(hazard=hazard).count() == events_before


WRONG_STATES = [(action, state) for action, spec in (
    ("accept", {"reported"}), ("submit_rectification", {"rectifying"}), ("verify", {"submitted"}),
    ("send_back", {"submitted"})) for state in STATES if state not in spec]

LABELS = {"reported": "已上报", "rectifying": "整改中", "submitted": "已提交整改", "closed": "已销号"}
ACTION_LABELS = {"accept": "受理", "submit_rectification": "提交整改", "verify": "验收销号", "send_back": "退回"}


@pytest.mark.parametrize("action,state", WRONG_STATES)
def test_wrong_state_is_a_conflict(world, site_a, action, state):
    hazard = hazard_in(world, site_a, state)
    events_before = HazardEvent.objects.filter(hazard=hazard).count()
    with pytest.raises(Conflict) as exc:
        run(action, world.admin, hazard)
    assert exc.value.message == f"该隐患当前状态为“{LABELS[state]}”,不能执行“{ACTION_LABELS[action]}”"
    hazard.refresh_from_db()
    assert hazard.state == state
    assert HazardEvent.objects.filter(hazard=hazard).count() == events_before


def test_archived_hazard_takes_no_transition(world, site_a):
    hazard = hazard_in(world, site_a, "reported")
    services.archive(world.town_a, hazard, reason="重复上报")
    for action in ("accept", "archive"):
        with pytest.raises(Conflict) as exc:
            run(action, world.admin, hazard)
        assert "该隐患已归档" in exc.value.message
    assert Hazard.objects.filter(pk=hazard.pk).exists()  # archived, never deleted
    from yingji.core.scoping import HardDeleteForbidden

    with pytest.raises(HardDeleteForbidden):
        hazard.delete()


@pytest.mark.parametrize("persona,where,want", [
    ("grid", "site_a", OK),            # in the grid worker's village
    ("grid", "area_b", NF),            # another town: not even visible
    ("enterprise", "site_a", OK),      # its bound site
    ("enterprise", "other_site", NF),  # someone else's site
    ("enterprise", "area_a", "422"),   # enterprises report for their sites only
    ("leader", "area_a", FB),          # read-only
    ("dept", "site_a", NF),            # construction officer; site is industry & trade
    ("dept", "area_a", OK),            # construction hazard without a site: sector defaults to theirs
    ("town_b", "site_a", NF),
])
def test_who_may_report_where(world, site_a, persona, where, want):
    other_site = make_site(world, world.villages["a2"], world.sectors["industry_trade"])
    user = world.users[persona]
    kwargs = {"site_a": {"site": site_a}, "other_site": {"site": other_site}, "area_a": {"area": world.area_a},
              "area_b": {"area": world.area_b}}[where]
    if want == OK:
        hazard = services.report_hazard(user, description="发现隐患", **kwargs)
        assert hazard.state == "reported" and hazard.reported_by == user
        assert Hazard.objects.visible_to(user).filter(pk=hazard.pk).exists()
        if persona == "dept":
            assert hazard.sector == world.sectors["construction"]
        if persona == "enterprise":
            assert hazard.source == "self_report"
        return
    expected = {NF: NotFound, FB: Forbidden, "422": InvalidInput}[want]
    with pytest.raises(expected):
        services.report_hazard(user, description="发现隐患", **kwargs)
    assert not Hazard.objects.exists()


def test_grid_worker_photos_only_while_reporting(world, site_a):
    """REPORT-only users attach photos to a hazard inside the report, never afterwards."""
    from yingji.core import attachments

    hazard = services.report_hazard(world.grid, site=site_a, description="x", files=[photo()])
    assert attachments.attachments_for(world.grid, hazard).count() == 1
    assert not attachments.can_attach(world.grid, hazard)
    assert not attachments.can_attach(world.enterprise, hazard)
    assert attachments.can_attach(world.town_a, hazard)
    with pytest.raises(Forbidden):
        attachments.add_attachment(world.grid, hazard, photo())


def test_sector_less_hazard_hidden_from_sector_bound_users(world):
    hazard = make_hazard(world, world.area_a, None)
    assert Hazard.objects.visible_to(world.town_a).filter(pk=hazard.pk).exists()
    assert not Hazard.objects.visible_to(world.inspector).filter(pk=hazard.pk).exists()
    assert not Hazard.objects.visible_to(world.dept).filter(pk=hazard.pk).exists()
    assert HazardEvent.objects.visible_to(world.town_a).filter(hazard=hazard).count() == 1
    assert not HazardEvent.objects.visible_to(world.inspector).filter(hazard=hazard).exists()
