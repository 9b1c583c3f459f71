"""Keyset pagination: pages are found by the last key seen, never by OFFSET, so page 5,000 costs
what page 1 costs, and no COUNT(*) is run over the whole table."""
from __future__ import annotations

import base64
import binascii
import json

from .errors import InvalidInput


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("分页游标无效", detail={"cursor": "分页游标无效"}) from None
    if not isinstance(values, list):
        raise InvalidInput("分页游标无效", detail={"cursor": "分页游标无效"})
    return values


def keyset_page(qs, cursor: str | None = None, limit: int = 50, key: str = "id", descending: bool = True,
                keys_first: bool = False, values: tuple[str, ...] | None = None):
    """One page of ``qs`` ordered by the unique integer ``key``; returns (items, next_cursor).

    ``values``: the items are plain dicts of these fields (``qs.values(*values)``, which must
    include ``key``) instead of model instances.

    ``keys_first``: find the page's keys with a query of their own, then read those rows (with
    the joins of ``qs``). For big lists whose filters match many rows that no index returns in key
    order (a town's major hazards, say): the first query can be answered from an index alone and
    sorts keys only, where one query would fetch and join every matching row before sorting."""
    if limit < 1 or limit > 500:
        raise InvalidInput("每页条数须在1到500之间", detail={"limit": "每页条数须在1到500之间"})
    after = decode_cursor(cursor)
    if after is not None:
        try:
            last = int(after[0])
        except (IndexError, TypeError, ValueError, OverflowError):
            raise InvalidInput("分页游标无效", detail={"cursor": "分页游标无效"}) from None
        qs = qs.filter(**{f"{key}__lt" if descending else f"{key}__gt": last})
    qs = qs.order_by(f"-{key}" if descending else key)
    if keys_first:
        # The keys from ``qs`` as it is: ``values`` may join related tables, the keys must not.
        keys = list(qs.values_list(key, flat=True)[: limit + 1])
        rows = qs.filter(**{f"{key}__in": keys})
        items = list(rows.values(*values) if values else rows) if keys else []
    else:
        items = list((qs.values(*values) if values else qs)[: limit + 1])
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor([last[key] if isinstance(last, dict) else getattr(last, key)])
    return items, next_cursor
