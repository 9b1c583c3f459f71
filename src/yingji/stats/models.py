"""Pre-aggregated figures (统计) of the hazard closed loop and of inspections.

These are *derived* tables, not business records: ``yingji.stats.services.refresh_rollups``
recomputes them from ``hazards.Hazard`` and ``inspections.Inspection`` with set-based SQL, so
they are plain ``models.Model`` (not ``ScopedModel``) and may be deleted and rebuilt. Every read
still applies the user's scope: ``yingji.stats.figures.rollup_scope`` turns the user's grants
into a filter on the ``area_code`` and ``sector`` columns (one place).

Each refresh is a :class:`RollupRun`; its rows carry the run, readers use the newest run, so a
refresh never shows half-written figures and every figure has an "as of" time.

Granularity (``grain``): every run stores each rollup four times, with ``area_code`` cut to
1 = county (6 digits), 2 = town (9), 3 = village (12), 4 = the record's own area (full code,
e.g. a grid). A hazard that sits higher than the grain keeps its own, shorter code. A subtree
is ``area_code LIKE 'prefix%'``; readers pick the coarsest grain that answers the question
exactly (a county leader's figures come from grain 1/2, a village's from grain 3/4).
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Length of ``area_code`` at each grain (None: the full code of the record's area).
GRAIN_CODE_LENGTH = {1: 6, 2: 9, 3: 12, 4: None}
GRAINS = tuple(GRAIN_CODE_LENGTH)
FINEST_GRAIN = 4


class RollupRun(models.Model):
    """One refresh of the figures: when the records were read (``as_of``), how long it took and
    how many rows it wrote. Committed in the same transaction as its rows."""

    as_of = models.DateTimeField(_("数据截至"))
    finished_at = models.DateTimeField(_("完成时间"))
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"), default=0)
    hazard_rows = models.PositiveIntegerField(_("隐患汇总行数"), default=0)
    inspection_rows = models.PositiveIntegerField(_("检查汇总行数"), default=0)
    hazards = models.PositiveIntegerField(_("隐患数"), default=0)
    inspections = models.PositiveIntegerField(_("检查数"), default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("统计刷新记录")
        verbose_name_plural = _("统计刷新记录")

    def __str__(self) -> str:
        return f"{_('统计刷新')} #{self.pk}"


class HazardRollup(models.Model):
    """Hazards (not archived) counted by month reported × area × sector × campaign × level ×
    source × state, with the measures the figures need."""

    run = models.ForeignKey(RollupRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    grain = models.PositiveSmallIntegerField()
    month = models.DateField()          # first day of the month the hazard was reported (Asia/Shanghai)
    area_code = models.CharField(max_length=20)
    sector = models.ForeignKey("core.Sector", null=True, on_delete=models.DO_NOTHING, db_constraint=False,
                               related_name="+")
    campaign = models.ForeignKey("inspections.Campaign", null=True, on_delete=models.DO_NOTHING,
                                 db_constraint=False, related_name="+")
    level = models.CharField(max_length=8)
    source = models.CharField(max_length=16)
    state = models.CharField(max_length=12)
    # Measures.
    count = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)          # flagged overdue (is_overdue)
    fixed_on_spot = models.PositiveIntegerField(default=0)
    closed_on_time = models.PositiveIntegerField(default=0)   # closed on or before the deadline (or none set)
    closed_timed = models.PositiveIntegerField(default=0)     # closed with a closing time
    close_time = models.DurationField(null=True)              # sum of (closed_at - reported_at)

    class Meta:
        verbose_name = _("隐患统计汇总")
        verbose_name_plural = _("隐患统计汇总")
        indexes = [
            models.Index(fields=["run", "grain", "area_code", "month"], name="stats_hazard_area",
                         opclasses=["", "", "varchar_pattern_ops", ""]),
            models.Index(fields=["run", "grain", "month"], name="stats_hazard_month"),
            models.Index(fields=["run", "grain", "sector", "month"], name="stats_hazard_sector"),
            models.Index(fields=["run", "grain", "campaign"], name="stats_hazard_campaign"),
        ]


class InspectionRollup(models.Model):
    """Inspections (not archived) counted by month started × area × sector × mode × campaign × state."""

    run = models.ForeignKey(RollupRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    grain = models.PositiveSmallIntegerField()
    month = models.DateField()
    area_code = models.CharField(max_length=20)
    sector = models.ForeignKey("core.Sector", null=True, on_delete=models.DO_NOTHING, db_constraint=False,
                               related_name="+")
    campaign = models.ForeignKey("inspections.Campaign", null=True, on_delete=models.DO_NOTHING,
                                 db_constraint=False, related_name="+")
    mode = models.CharField(max_length=12)
    state = models.CharField(max_length=12)
    count = models.PositiveIntegerField(default=0)
    items_total = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    hazards_found = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("检查统计汇总")
        verbose_name_plural = _("检查统计汇总")
        indexes = [
            models.Index(fields=["run", "grain", "area_code", "month"], name="stats_insp_area",
                         opclasses=["", "", "varchar_pattern_ops", ""]),
            models.Index(fields=["run", "grain", "month"], name="stats_insp_month"),
            models.Index(fields=["run", "grain", "sector", "month"], name="stats_insp_sector"),
        ]
