"""THE layer order of the apps (tests/core/test_layers.py holds the code to it).

An app may import from its own layer and the layers below it, never from one above: the
foundation (``core``) knows no app, the registry of sites knows no hazard. What a lower app needs
from a higher one goes through a registry the lower app (or ``core.contrib``) owns and the higher
app fills from its ``AppConfig.ready()`` — home panels, to-do lines, search results, a site's
activity (``core.contrib``), a site's risk colour (``registry.grading``), a site's open-hazard
counts (``risk.queries.set_open_counts_source``), the inspection a hazard is reported in
(``hazards.contrib.set_inspection_resolver``). No module imports, directly or through others,
a module that imports it back (no import cycles).

The project modules outside the apps (``yingji.urls``, ``yingji.api``, ``yingji.settings``,
``yingji.cli``, ``yingji.wsgi``) assemble everything and sit above every app.
"""
from __future__ import annotations

LAYERS: tuple[str, ...] = (
    "core",         # areas, people, roles, the access rule, audit, jobs, the UI shell
    "registry",     # sites (监管对象)
    "risk",         # the sites' risk colours
    "hazards",      # the hazard closed loop
    "checklists",   # checklists (items cite hazard categories)
    "inspections",  # campaigns and inspections (failed items become hazards)
    "supervision",  # listed supervision of major hazards
    "stats",        # figures over hazards and inspections
)
TOP = "<project>"   # yingji.urls, yingji.api, … (may import every app)


def rank(app: str) -> int:
    return len(LAYERS) if app == TOP else LAYERS.index(app)
