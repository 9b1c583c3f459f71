"""Keyset pages, with the keys read first or in one query: the same pages either way."""
from __future__ import annotations

import pytest

from yingji.core.errors import InvalidInput
from yingji.core.models import Area
from yingji.core.pagination import keyset_page


def _walk(qs, keys_first: bool, limit: int):
    pages, cursor = [], None
    while True:
        items, cursor = keyset_page(qs, cursor, limit, keys_first=keys_first)
        pages.append([a["id"] if isinstance(a, dict) else a.pk for a in items])
        if cursor is None:
            return pages


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_keys_first_gives_the_same_pages(world, limit):
    qs = Area.objects.visible_to(world.town_a).select_related("parent")
    one_query = _walk(qs, False, limit)
    assert _walk(qs, True, limit) == one_query
    flat = [pk for page in one_query for pk in page]
    assert flat == sorted(flat, reverse=True) and len(flat) == len(set(flat)) == qs.count()
    items, _ = keyset_page(qs, None, limit, keys_first=True)
    assert all(a.parent is not None or a.pk == world.county.pk for a in items)  # the joins are kept


def test_keys_first_on_an_empty_list_and_bad_cursors(world):
    assert keyset_page(Area.objects.none(), None, 10, keys_first=True) == ([], None)
    with pytest.raises(InvalidInput, match="分页游标无效"):
        keyset_page(Area.objects.all(), "not-a-cursor", 10, keys_first=True)
    with pytest.raises(InvalidInput, match="每页条数"):
        keyset_page(Area.objects.all(), None, 0, keys_first=True)


@pytest.mark.parametrize("keys_first", [False, True])
def test_rows_as_dicts_give_the_same_pages(world, keys_first):
    qs = Area.objects.visible_to(world.town_a)
    assert _walk(qs.values("id", "name", "parent__name"), keys_first, 2) == _walk(qs, keys_first, 2)
    fields = ("id", "parent__name")
    rows, _ = keyset_page(qs, None, 2, keys_first=keys_first, values=fields)
    assert set(rows[0]) == set(fields)
    pages, cursor = [], None
    while True:
        rows, cursor = keyset_page(qs, cursor, 2, keys_first=keys_first, values=fields)
        pages.append([r["id"] for r in rows])
        if cursor is None:
            break
    assert pages == _walk(qs, keys_first, 2)


def test_the_keys_of_a_values_page_are_read_without_its_joins(world):
    """A regression: keys read from ``qs.values("parent__name")`` kept the join, so a wide
    filter could no longer be answered from an index alone (a town's major hazards: 8 → 208 ms)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as cq:
        rows, _ = keyset_page(Area.objects.all(), None, 2, keys_first=True, values=("id", "parent__name"))
    keys_sql, rows_sql = (q["sql"] for q in cq.captured_queries)
    assert "JOIN" not in keys_sql and "JOIN" in rows_sql and len(rows) == 2
