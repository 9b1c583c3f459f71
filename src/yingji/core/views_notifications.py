"""The personal inbox: list (keyset pages, unread filter), mark read, mark all read, follow a link.

Reads start from ``Notification.objects.for_user(user)``: someone else's notification answers
404 (administrators included). Writes go through the audited services in ``notifications``.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import notifications as service
from .models import Notification, NotificationKind
from .pagination import keyset_page

PAGE_SIZE = 30


def _back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


@login_required
@require_GET
def inbox(request):
    only_unread = request.GET.get("unread") in ("1", "true", "on")
    qs = Notification.objects.for_user(request.user).current()
    if only_unread:
        qs = qs.unread()
    items, next_cursor = keyset_page(qs, request.GET.get("cursor"), PAGE_SIZE)
    newest = Notification.objects.for_user(request.user).order_by("-id").values_list("id", flat=True).first()
    return render(request, "core/inbox.html", {
        "items": items,
        "next_cursor": next_cursor,
        "only_unread": only_unread,
        "unread": service.unread_count(request.user),
        "newest_id": newest,
        "kinds": dict(NotificationKind.choices),
        "first_page": not request.GET.get("cursor"),
    })


@login_required
@require_POST
def read(request, pk):
    service.mark_read(request.user, pk)
    return redirect(_back(request, reverse("notifications:inbox")))


@login_required
@require_POST
def read_all(request):
    count = service.mark_all_read(request.user, request.POST.get("up_to"))
    if count:
        messages.success(request, _("已将%(n)d条消息标为已读") % {"n": count})
    else:
        messages.info(request, _("没有未读消息"))
    return redirect(_back(request, reverse("notifications:inbox")))


@login_required
@require_http_methods(["GET", "POST"])
def go(request, pk):
    """Mark the notification read and open what it is about (GET so that a plain link works;
    the only effect is on the signed-in user's own notification)."""
    n = service.mark_read(request.user, pk)
    return redirect(service.safe_link(n) or reverse("notifications:inbox"))


@login_required
@require_GET
def badge(request):
    """The header badge alone (refreshed by htmx)."""
    from .templatetags.notifications import badge_context

    return render(request, "core/partials/inbox_badge.html", badge_context(request.user))
