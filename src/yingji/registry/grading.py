"""The site's risk colour is kept by the risk app, which sits above the registry: the registry
asks through these hooks, which the risk app installs when it is ready (``RiskConfig.ready``).
Without the risk app a site keeps the colour it has."""
from __future__ import annotations


def _none(*args, **kwargs):
    return None


_grade_site = _none        # (actor, site) -> colour | None, in the caller's transaction
_regrade_all = _none       # (actor, *, now: bool) -> None: every live site (now: synchronously)


def install(*, grade_site, regrade_all) -> None:
    global _grade_site, _regrade_all
    _grade_site, _regrade_all = grade_site, regrade_all


def grade_site(actor, site) -> str | None:
    """Regrade one site after a change; returns its colour (None: no grading installed)."""
    return _grade_site(actor, site)


def regrade_all(actor=None, *, now: bool = False) -> None:
    """Regrade every live site: in the background (a coalesced job) or, with ``now``, at once."""
    _regrade_all(actor, now=now)
