"""Write services of the figures (统计): refreshing the rollups, and asking for a refresh.

The rollups (``HazardRollup``, ``InspectionRollup``) are derived data, not business records:
a refresh recomputes them from the records and replaces the previous run's rows. Nothing
about a hazard or an inspection is changed or deleted; the rows deleted here are rollup rows
of older runs, which the new run supersedes.

How a refresh works (``refresh_rollups``), all in one transaction (readers keep seeing the
previous run until it commits, on PostgreSQL and SQLite alike):

1. a ``RollupRun`` row is created; ``as_of`` is the time just before the records are read;
2. one ``GROUP BY`` over the hazards (and one over the inspections) at the finest grain (the
   record's own area) is written with ``INSERT INTO … SELECT …`` (the SELECT is built and
   compiled by the ORM; nothing passes through Python, so it scales to millions of records);
3. the coarser grains (village, town, county) are derived from those rows with one more
   ``GROUP BY`` each over the rollup itself (``SUBSTR(area_code, 1, n)``);
4. rows of older runs are deleted, the run's row counts and duration are stored and one audit
   entry (``stats.refresh``) is written.

Months are truncated in ``settings.TIME_ZONE`` (Asia/Shanghai) by the database
(``TruncMonth(..., tzinfo=…)``), so a hazard reported at 00:30 on 1 March Beijing time counts
in March on both databases.
"""
from __future__ import annotations

import time
import zoneinfo

from django.conf import settings
from django.db.models import Count, DateField, DurationField, ExpressionWrapper, F, IntegerField, Q, Sum, Value
from django.db.models.functions import Substr, TruncDate, TruncMonth
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext as _

from yingji.core import audit, roles
from yingji.core.audit import service
from yingji.core.errors import Forbidden
from yingji.core.scoping import grants_for
from yingji.core.sqlinsert import insert_select

from .models import FINEST_GRAIN, GRAIN_CODE_LENGTH, HazardRollup, InspectionRollup, RollupRun

JOB_KIND = "stats.refresh"


def local_tz():
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


# ---------------------------------------------------------------- per-record measures (shared with live figures)

def closed_q() -> Q:
    from yingji.hazards.models import State

    return Q(state=State.CLOSED)


def closed_on_time_q() -> Q:
    """Closed on or before its deadline (local date), or closed without a deadline (e.g. on the spot)."""
    on_time = LessThanOrEqual(TruncDate("closed_at", tzinfo=local_tz()), F("deadline"))
    return closed_q() & Q(closed_at__isnull=False) & (Q(deadline__isnull=True) | on_time)


def close_duration():
    return ExpressionWrapper(F("closed_at") - F("reported_at"), output_field=DurationField())


def hazard_record_measures() -> dict:
    """Aggregates over ``Hazard`` rows, named like the rollup's measure columns (prefixed ``m_``)."""
    timed = closed_q() & Q(closed_at__isnull=False)
    return {
        "m_count": Count("id"),
        "m_overdue": Count("id", filter=Q(is_overdue=True)),
        "m_fixed_on_spot": Count("id", filter=Q(fixed_on_spot=True)),
        "m_closed_on_time": Count("id", filter=closed_on_time_q()),
        "m_closed_timed": Count("id", filter=timed),
        "m_close_time": Sum(close_duration(), filter=timed),
    }


def inspection_record_measures() -> dict:
    return {
        "m_count": Count("id"),
        "m_items_total": Sum("items_total"),
        "m_items_failed": Sum("items_failed"),
        "m_hazards_found": Sum("hazards_found"),
    }


def month_of(field: str):
    return TruncMonth(field, output_field=DateField(), tzinfo=local_tz())


def hazard_records(queryset=None):
    """The hazards the figures count: every committed, not archived hazard (drafts never commit;
    archived ones are duplicates or mistakes taken out of the work lists). ``queryset``: a
    scoped queryset to narrow (live figures); the refresh reads all hazards (system work)."""
    from yingji.hazards.models import Hazard, State

    qs = Hazard.objects.all() if queryset is None else queryset
    return qs.filter(archived_at__isnull=True).exclude(state=State.DRAFT)


def inspection_records(queryset=None):
    """The inspections the figures count: every not archived inspection."""
    from yingji.inspections.models import Inspection

    qs = Inspection.objects.all() if queryset is None else queryset
    return qs.filter(archived_at__isnull=True)


def _constants(run: RollupRun, grain: int) -> dict:
    return {"d_run_id": Value(run.pk, output_field=IntegerField()),
            "d_grain": Value(grain, output_field=IntegerField())}


def _finest_hazards(run: RollupRun) -> int:
    qs = (hazard_records().order_by()
          .values("sector_id", "campaign_id", "level", "source", "state",
                  d_month=month_of("reported_at"), d_area_code=F("area__code"))
          .annotate(**hazard_record_measures(), **_constants(run, FINEST_GRAIN)))
    return insert_select(HazardRollup, qs)


def _finest_inspections(run: RollupRun) -> int:
    qs = (inspection_records().order_by()
          .values("sector_id", "campaign_id", "mode", "state",
                  d_month=month_of("started_at"), d_area_code=F("area__code"))
          .annotate(**inspection_record_measures(), **_constants(run, FINEST_GRAIN)))
    return insert_select(InspectionRollup, qs)


def _derive(model, run: RollupRun, grain: int, dims: list[str], measures: list[str]) -> int:
    """Rows of ``grain`` from the finest rows of the same run, area codes cut to the grain."""
    length = GRAIN_CODE_LENGTH[grain]
    qs = (model.objects.filter(run=run, grain=FINEST_GRAIN).order_by()
          .values(*dims, d_area_code=Substr("area_code", 1, length))
          .annotate(**{f"m_{m}": Sum(m) for m in measures}, **_constants(run, grain)))
    return insert_select(model, qs)


HAZARD_DIMS = ["month", "sector_id", "campaign_id", "level", "source", "state"]
HAZARD_MEASURES = ["count", "overdue", "fixed_on_spot", "closed_on_time", "closed_timed", "close_time"]
INSPECTION_DIMS = ["month", "sector_id", "campaign_id", "mode", "state"]
INSPECTION_MEASURES = ["count", "items_total", "items_failed", "hazards_found"]


@service("stats.refresh")
def refresh_rollups(progress=None) -> RollupRun:
    """Recompute every rollup from the records (system work; safe to run any number of times:
    the result depends only on the records). Returns the new run."""
    started = time.monotonic()
    now = timezone.now()
    run = RollupRun.objects.create(as_of=now, finished_at=now)
    hazard_rows = _finest_hazards(run)
    if progress is not None:
        progress(1, 3, _("已汇总隐患"))
    inspection_rows = _finest_inspections(run)
    if progress is not None:
        progress(2, 3, _("已汇总检查"))
    for grain in sorted(GRAIN_CODE_LENGTH, reverse=True):
        if grain == FINEST_GRAIN:
            continue
        hazard_rows += _derive(HazardRollup, run, grain, HAZARD_DIMS, HAZARD_MEASURES)
        inspection_rows += _derive(InspectionRollup, run, grain, INSPECTION_DIMS, INSPECTION_MEASURES)
    # Superseded rows (derived data of older runs; records are untouched).
    HazardRollup.objects.filter(run_id__lt=run.pk).delete()
    InspectionRollup.objects.filter(run_id__lt=run.pk).delete()
    hazards = HazardRollup.objects.filter(run=run, grain=FINEST_GRAIN).aggregate(n=Sum("count"))["n"] or 0
    inspections = InspectionRollup.objects.filter(run=run, grain=FINEST_GRAIN).aggregate(n=Sum("count"))["n"] or 0
    run.hazard_rows, run.inspection_rows = hazard_rows, inspection_rows
    run.hazards, run.inspections = hazards, inspections
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - started) * 1000)
    run.save(update_fields=["hazard_rows", "inspection_rows", "hazards", "inspections", "finished_at",
                            "duration_ms"])
    audit.record("stats.refresh", run, {"as_of": [None, run.as_of], "hazards": [None, hazards],
                                        "inspections": [None, inspections], "rows": [None, hazard_rows
                                                                                     + inspection_rows]},
                 note=_("统计数据已刷新"))
    if progress is not None:
        progress(3, 3, _("统计数据已刷新"))
    return run


def latest_run() -> RollupRun | None:
    return RollupRun.objects.order_by("-id").first()


# ---------------------------------------------------------------- asking for a refresh

def refresh_area(user):
    """The area a refresh job requested by ``user`` belongs to, or None if they may not ask for
    one. A refresh recomputes everyone's figures, so only administrators of a whole tree (a
    root-area grant without sector limits that may manage reference data) may ask for it."""
    for g in grants_for(user):
        if (g.site_ids is None and g.area_is_root and not g.sector_ids
                and g.allows(roles.MANAGE_REFERENCE)):
            from yingji.core.models import Area

            return Area.objects.filter(pk=g.area_id).first()
    return None


def can_request_refresh(user) -> bool:
    return refresh_area(user) is not None


def request_refresh(actor):
    """Queue a refresh for the worker (the ``refresh now`` button). Two clicks within the same
    minute queue one job. Returns the job."""
    from yingji.core import jobs

    area = refresh_area(actor)
    if area is None:
        raise Forbidden(_("只有管理员可以刷新统计数据"))
    key = f"{JOB_KIND}:{timezone.now():%Y%m%d%H%M}"
    return jobs.enqueue(actor, JOB_KIND, area=area, idempotency_key=key)
