"""What each app contributes to the pages everybody shares: home panels, to-do lines, global
search results and the site profile's activity.

``core`` is the foundation: it never imports the apps above it (tests/core/test_layers.py). Each
app registers its contributions here from its ``AppConfig.ready()`` (through its own ``contrib.py``),
and the shared pages ask these registries. A contribution is a function of the signed-in user that
reads through the one access rule (``visible_to`` / ``restrict``, or stats' ``rollup_scope``) and
returns plain dataclasses; core renders them.

Registries are simple: registering a key again replaces the earlier function (``ready()`` may
run more than once in tests), and the order is the ``order`` given, then the key.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from . import roles as _roles

# Who sees the "how are we doing" panels (figures of an area or sectors); grid workers see their
# tasks of the day, enterprise managers their own sites.
OVERVIEW_ROLES = frozenset({_roles.CITY_ADMIN, _roles.LEADER, _roles.TOWN_OFFICER, _roles.DEPT_OFFICER,
                            _roles.INSPECTOR})

# ---------------------------------------------------------------- what contributions return


@dataclass
class Figure:
    """One number of a panel: a label, the value and the filtered list it counts."""

    label: str
    value: int | str | None
    url: str = ""
    urgent: bool = False      # shown in the alert colour when not zero
    note: str = ""            # e.g. the trend ("较上月 +3")


@dataclass
class Row:
    """One line of a panel's table: a label (linked) and its cells (each optionally linked)."""

    label: str
    url: str = ""
    cells: list[Figure] = field(default_factory=list)


@dataclass
class Panel:
    """A home-page panel. ``figures`` are the headline numbers, ``columns`` + ``rows`` an optional
    table (e.g. by town), ``links`` plain lines (e.g. today's tasks). ``as_of`` says how fresh
    the figures are (None: read live)."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    links: list[Row] = field(default_factory=list)
    as_of: datetime.datetime | None = None
    note: str = ""
    more_url: str = ""
    empty_text: str = ""


@dataclass
class SearchResult:
    kind: str      # readable kind, e.g. "监管对象"
    title: str
    url: str
    detail: str = ""


@dataclass
class SiteActivity:
    """An app's records about one site: timeline entries and named counts (e.g. open hazards)."""

    items: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)


# ---------------------------------------------------------------- registries


@dataclass(frozen=True)
class _Entry:
    key: str
    fn: Callable
    order: int = 0
    roles: frozenset | None = None


_HOME: dict[str, _Entry] = {}
_WORK: dict[str, _Entry] = {}
_SEARCH: dict[str, _Entry] = {}
_ACTIVITY: dict[str, _Entry] = {}


def _sorted(registry: dict[str, _Entry]) -> list[_Entry]:
    return sorted(registry.values(), key=lambda e: (e.order, e.key))


def register_home_panel(key: str, fn: Callable, *, order: int, roles=None) -> None:
    """``fn(user) -> Panel | list[Panel] | None``, shown to users holding one of ``roles``
    (None: everyone with a role)."""
    _HOME[key] = _Entry(key, fn, order, frozenset(roles) if roles is not None else None)


def register_work_items(fn: Callable, *, key: str | None = None, order: int = 0) -> None:
    """``fn(user) -> list[WorkItem]`` (core.worklist.WorkItem): the user's to-do lines."""
    key = key or f"{fn.__module__}.{fn.__qualname__}"
    _WORK[key] = _Entry(key, fn, order)


def register_search_provider(key: str, fn: Callable, *, order: int) -> None:
    """``fn(user, q, limit) -> list[SearchResult]``: at most ``limit`` results within the user's
    scope, from an indexed lookup."""
    _SEARCH[key] = _Entry(key, fn, order)


def register_site_activity(key: str, fn: Callable, *, order: int) -> None:
    """``fn(user, site) -> SiteActivity``: the app's records about a site the user may see."""
    _ACTIVITY[key] = _Entry(key, fn, order)


def _user_roles(user) -> set[str]:
    from .scoping import grants_for

    return {g.role for g in grants_for(user)}


def home_panels(user) -> list[Panel]:
    held = _user_roles(user)
    if not held:
        return []
    out: list[Panel] = []
    for entry in _sorted(_HOME):
        if entry.roles is not None and not (entry.roles & held):
            continue
        result = entry.fn(user)
        if result is None:
            continue
        out.extend(result if isinstance(result, list) else [result])
    return out


def work_items(user) -> list:
    out = []
    for entry in _sorted(_WORK):
        out.extend(entry.fn(user) or [])
    return out


SEARCH_LIMIT = 8
SEARCH_MAX_LENGTH = 100


def search(user, q: str, limit: int = SEARCH_LIMIT) -> list[tuple[str, list[SearchResult]]]:
    """``[(provider key, results)]`` of every provider with results (empty for an empty query)."""
    q = (q or "").strip()[:SEARCH_MAX_LENGTH]
    if not q or "\x00" in q:
        return []
    out = []
    for entry in _sorted(_SEARCH):
        results = list(entry.fn(user, q, limit) or [])[:limit]
        if results:
            out.append((entry.key, results))
    return out


def site_activity(user, site) -> SiteActivity:
    merged = SiteActivity()
    for entry in _sorted(_ACTIVITY):
        part = entry.fn(user, site)
        if part is None:
            continue
        merged.items.extend(part.items)
        merged.counts.update(part.counts)
    return merged


def registered() -> dict[str, list[str]]:
    """The keys of every registry (for tests and the architecture doc)."""
    return {"home": [e.key for e in _sorted(_HOME)], "work": [e.key for e in _sorted(_WORK)],
            "search": [e.key for e in _sorted(_SEARCH)], "activity": [e.key for e in _sorted(_ACTIVITY)]}
