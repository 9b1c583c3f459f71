"""The personal inbox over the API (mounted at ``/api/v1/notifications``): list with an unread
filter (keyset pages), mark one read, mark all read. Someone else's notification answers 404."""
from __future__ import annotations

import datetime

from ninja import Router, Schema

from . import notifications as service
from .api import ERRORS
from .models import Notification
from .pagination import keyset_page

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    kind: str
    kind_label: str
    title: str
    body: str
    link: str
    object_type: str | None
    object_id: int | None
    created_at: datetime.datetime
    read_at: datetime.datetime | None
    is_read: bool


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class ReadAllIn(Schema):
    up_to: int | None = None


class ReadAllOut(Schema):
    count: int
    unread_count: int


def _out(n: Notification) -> dict:
    return {
        "id": n.pk, "kind": n.kind, "kind_label": str(n.get_kind_display()), "title": n.title, "body": n.body,
        "link": service.safe_link(n), "object_type": service.object_label(n), "object_id": n.object_id,
        "created_at": n.created_at, "read_at": n.read_at, "is_read": n.read_at is not None,
    }


@router.get("", response={200: NotificationPage, **ERRORS}, url_name="notifications_list",
            summary="我的消息(键集分页,可只看未读)")
def list_notifications(request, unread: bool = False, cursor: str | None = None, limit: int = 50):
    qs = Notification.objects.for_user(request.user).current()
    if unread:
        qs = qs.unread()
    items, next_cursor = keyset_page(qs, cursor, limit)
    return {"items": [_out(n) for n in items], "next_cursor": next_cursor,
            "unread_count": service.unread_count(request.user)}


@router.post("/read-all", response={200: ReadAllOut, **ERRORS}, url_name="notifications_read_all",
             summary="全部标为已读(可限定至某条消息编号)")
def read_all(request, payload: ReadAllIn | None = None):
    count = service.mark_all_read(request.user, payload.up_to if payload else None)
    return {"count": count, "unread_count": service.unread_count(request.user)}


@router.post("/{notification_id}/read", response={200: NotificationOut, **ERRORS}, url_name="notifications_read",
             summary="标为已读")
def read(request, notification_id: int):
    return _out(service.mark_read(request.user, notification_id))
