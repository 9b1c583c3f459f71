"""Job handlers of the registry (imported by the worker's autodiscovery of ``<app>.jobs``)."""
from django.utils.translation import gettext_lazy

from yingji.core.jobs import job_handler

from . import exports, imports, maps  # noqa: F401

MAP_JOB = "registry.refresh_map"


@job_handler(MAP_JOB, label=gettext_lazy("刷新地图汇总"))
def refresh_map(job, progress) -> dict:
    """No params. Recounts the map's pre-aggregated cells; safe to run any number of times."""
    run = maps.refresh_cells()
    return {"run": run.pk, "as_of": run.as_of, "cells": run.cells, "sites": run.sites,
            "duration_ms": run.duration_ms}
