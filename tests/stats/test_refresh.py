"""Refreshing the rollups: stale until refreshed (with the "as of" time), idempotent, one audit
entry per run, superseded rows removed, as a job (button, worker) and as a command."""
from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from tests.hazards.factories import make_hazard
from yingji.core import jobs
from yingji.core.errors import Forbidden
from yingji.core.models import AuditEntry, Job
from yingji.inspections import services as inspection_services
from yingji.stats import figures, services
from yingji.stats.models import HazardRollup, InspectionRollup, RollupRun

pytestmark = pytest.mark.django_db


def totals(user, **params):
    fig = figures.hazard_figures(user, figures.parse_filters(user, params))
    return fig.totals, fig.as_of


def test_no_figures_before_the_first_refresh(world, data):
    assert services.latest_run() is None
    fig = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, {}))
    assert fig.as_of is None and fig.totals["found"] == 0 and not fig.breakdowns["state"]
    # the month axis is there, all zeros
    assert fig.breakdowns["month"] and not any(r["found"] for r in fig.breakdowns["month"])
    # enterprise figures are live: they need no refresh
    ent = figures.hazard_figures(world.enterprise, figures.parse_filters(world.enterprise, {}))
    assert ent.live and ent.as_of is not None and ent.totals["found"] == 1


def test_figures_are_stale_until_refreshed_and_show_as_of(world, data):
    first = services.refresh_rollups()
    before, as_of = totals(world.town_a)
    town_b_before = totals(world.town_b)[0]
    assert as_of == first.as_of
    make_hazard(world, world.villages["a2"], world.sectors["construction"], level="major")
    inspection_services.archive_inspection(world.town_a, data.inspections["town_a"], reason="误录")
    stale, stale_as_of = totals(world.town_a)
    assert stale == before and stale_as_of == as_of  # nothing changes until the next refresh
    insp_before = figures.inspection_figures(world.town_a, figures.parse_filters(world.town_a, {})).totals
    second = services.refresh_rollups()
    after, new_as_of = totals(world.town_a)
    assert new_as_of == second.as_of and new_as_of > as_of
    assert after["found"] == before["found"] + 1 and after["major"] == before["major"] + 1
    insp_after = figures.inspection_figures(world.town_a, figures.parse_filters(world.town_a, {})).totals
    assert insp_after["inspections"] == insp_before["inspections"] - 1  # archived inspections do not count
    # town B's figures did not move
    assert totals(world.town_b)[0] == town_b_before


def test_refresh_is_idempotent_and_replaces_the_previous_rows(world, data):
    first = services.refresh_rollups()
    fig1 = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, {})).as_dict()
    rows1 = HazardRollup.objects.filter(run=first).count()
    second = services.refresh_rollups()
    fig2 = figures.hazard_figures(world.leader, figures.parse_filters(world.leader, {})).as_dict()
    assert {k: v for k, v in fig1.items() if k != "as_of"} == {k: v for k, v in fig2.items() if k != "as_of"}
    assert set(HazardRollup.objects.values_list("run_id", flat=True)) == {second.pk}
    assert set(InspectionRollup.objects.values_list("run_id", flat=True)) == {second.pk}
    assert HazardRollup.objects.count() == rows1  # the same rows again, not twice as many
    assert second.hazards == 11 and second.inspections == 4
    assert second.hazard_rows == HazardRollup.objects.count()
    assert second.inspection_rows == InspectionRollup.objects.count()
    # each grain holds every hazard once
    for grain in (1, 2, 3, 4):
        counts = HazardRollup.objects.filter(grain=grain).values_list("count", flat=True)
        assert sum(counts) == 11
    # one audit entry per run, by the system
    ct = ContentType.objects.get_for_model(RollupRun)
    entries = AuditEntry.objects.filter(content_type=ct, action="stats.refresh")
    assert entries.count() == 2 and entries.filter(object_id=second.pk, actor__isnull=True).exists()
    assert RollupRun.objects.count() == 2  # the run history stays


def test_refresh_now_button_queues_a_job_for_administrators_only(world, data):
    assert services.can_request_refresh(world.admin)
    for user in (world.leader, world.town_a, world.dept, world.enterprise):
        assert not services.can_request_refresh(user)
        with pytest.raises(Forbidden, match="只有管理员可以刷新统计数据"):
            services.request_refresh(user)
    job = services.request_refresh(world.admin)
    again = services.request_refresh(world.admin)  # a double click: the same job
    assert again.pk == job.pk and job.kind == "stats.refresh" and job.area == world.county
    assert jobs.kind_label("stats.refresh") == "刷新统计数据"
    jobs.run_worker(once=True)
    job.refresh_from_db()
    run = services.latest_run()
    assert job.status == "succeeded" and job.result["run"] == run.pk and job.result["hazards"] == 11
    assert totals(world.leader)[1] == run.as_of


def test_command_refreshes_now_or_queues_one_job_per_slot(world, data, capsys):
    call_command("refresh_figures")
    assert "统计数据已刷新" in capsys.readouterr().out
    assert services.latest_run().hazards == 11
    call_command("refresh_figures", "--enqueue")
    call_command("refresh_figures", "--enqueue")
    assert Job.objects.filter(kind="stats.refresh").count() == 1
    jobs.run_worker(once=True)
    assert RollupRun.objects.count() == 2
    assert Job.objects.get(kind="stats.refresh").status == "succeeded"
