"""Notifications: an in-app inbox, and an outbox delivered over pluggable channels.

Raising a notification
    :func:`notify` is called by other services inside their own transaction (an assignment, a
    deadline, a send-back, an escalation). It writes one inbox row (``Notification``) per
    recipient and one ``OutboxMessage`` per external channel that can reach that recipient,
    with an audit entry per notification — all in the caller's transaction, so a rolled-back
    business change leaves no notification and no message. A ``dedupe_key`` makes the same
    event notify each person at most once (also when two calls race: a unique constraint
    decides).

Delivering
    Nothing is sent inside the business transaction. After commit (``transaction.on_commit``)
    the outbox is handed to the background worker (``NOTIFY_DELIVERY``: ``job`` queues a
    ``core.send_notifications`` job, ``inline`` sends at once in the committing process,
    ``off`` leaves it to ``yingji send_notifications`` run by cron/systemd). A sender claims a
    due row by a conditional UPDATE (pending → sending, ``attempts + 1``, ``next_attempt_at`` =
    the end of its lease), sends it, and records the outcome (audited): sent; or, on
    :class:`ChannelError`, pending again with exponential back-off while attempts remain,
    else failed with the error kept. A row left in ``sending`` by a sender that died is
    claimed again when its lease runs out. Rows are never deleted, so nothing is lost;
    delivery is at least once (HTTP adapters send a stable ``client_msg_id`` the gateway can
    use to drop duplicates).

Channels
    ``log`` (default: the ``yingji.notifications`` logger), ``sms`` and ``govmsg`` (浙政钉-style
    government messaging; JSON over HTTP POST). Enabled by ``NOTIFY_CHANNELS`` (env
    ``YINGJI_NOTIFY_CHANNELS``, comma list, default ``log``); an HTTP channel needs its URL
    (``YINGJI_SMS_URL`` / ``YINGJI_GOVMSG_URL``) and is refused at start-up without one.

Reading
    The inbox is personal: ``Notification.objects.for_user(user)`` is the only read path (not
    area-scoped; administrators do not see other people's notifications). Marking read is
    audited: an acknowledged assignment or escalation is evidence of who knew what, when.
"""
from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import traceback
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.dispatch import receiver
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import audit
from .audit import service
from .errors import InvalidInput, NotFound
from .jobs import job_handler
from .models import Notification, NotificationKind, OutboxMessage, OutboxStatus

log = logging.getLogger("yingji.notifications")

JOB_KIND = "core.send_notifications"
BATCH = 100                      # outbox rows claimed per round
MAX_ROUNDS = 50                  # rounds per job run (then a follow-up job continues)
RETRY_BASE_SECONDS = 60          # first retry after 1 min, then 2, 4, 8 … (capped)
RETRY_MAX_SECONDS = 3600
ERROR_MAX_CHARS = 2000
TITLE_MAX = 200
DEDUPE_KEY_MAX = 200
LINK_MAX = 500
SMS_MAX_CHARS = 300
KNOWN_CHANNELS = ("log", "sms", "govmsg")
DELIVERY_MODES = ("job", "inline", "off")


# ================================================================ configuration

@dataclass(frozen=True)
class Config:
    channels: tuple[str, ...]
    sms_url: str
    sms_key: str
    sms_sign: str
    govmsg_url: str
    govmsg_key: str
    timeout: int
    max_attempts: int
    lease_seconds: int
    delivery: str


def _raw(setting: str, env: str):
    """A Django setting if defined, else the environment variable (None when unset/empty)."""
    value = getattr(settings, setting, None)
    if value is None:
        value = os.environ.get(env)
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def _int(setting: str, env: str, default: int, low: int, high: int) -> int:
    raw = _raw(setting, env)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{env} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{env} must be between {low} and {high}, got {value}")
    return value


def _url(setting: str, env: str) -> str:
    raw = _raw(setting, env)
    if raw is None:
        return ""
    raw = str(raw).strip()
    if not raw.lower().startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{env} must be an http(s) URL, got {raw!r}")
    return raw


@functools.lru_cache(maxsize=1)
def config() -> Config:
    """The notification settings, validated once (a bad value fails loudly)."""
    raw = _raw("NOTIFY_CHANNELS", "YINGJI_NOTIFY_CHANNELS")
    if raw is None:
        names = ["log"]
    elif isinstance(raw, str):
        names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    else:
        names = [str(n).strip().lower() for n in raw if str(n).strip()]
    unknown = [n for n in names if n not in KNOWN_CHANNELS]
    if unknown:
        raise ImproperlyConfigured(f"YINGJI_NOTIFY_CHANNELS: unknown channel(s) {unknown}; "
                                   f"known: {', '.join(KNOWN_CHANNELS)}")
    cfg = Config(
        channels=tuple(dict.fromkeys(names)),
        sms_url=_url("NOTIFY_SMS_URL", "YINGJI_SMS_URL"),
        sms_key=str(_raw("NOTIFY_SMS_KEY", "YINGJI_SMS_KEY") or ""),
        sms_sign=str(_raw("NOTIFY_SMS_SIGN", "YINGJI_SMS_SIGN") or ""),
        govmsg_url=_url("NOTIFY_GOVMSG_URL", "YINGJI_GOVMSG_URL"),
        govmsg_key=str(_raw("NOTIFY_GOVMSG_KEY", "YINGJI_GOVMSG_KEY") or ""),
        timeout=_int("NOTIFY_HTTP_TIMEOUT", "YINGJI_NOTIFY_TIMEOUT", 10, 1, 120),
        max_attempts=_int("NOTIFY_MAX_ATTEMPTS", "YINGJI_NOTIFY_MAX_ATTEMPTS", 5, 1, 20),
        lease_seconds=_int("NOTIFY_LEASE_SECONDS", "YINGJI_NOTIFY_LEASE_SECONDS", 300, 5, 86400),
        delivery=str(_raw("NOTIFY_DELIVERY", "YINGJI_NOTIFY_DELIVERY") or "job").strip().lower(),
    )
    if cfg.delivery not in DELIVERY_MODES:
        raise ImproperlyConfigured(f"YINGJI_NOTIFY_DELIVERY must be one of {', '.join(DELIVERY_MODES)}, "
                                   f"got {cfg.delivery!r}")
    if "sms" in cfg.channels and not cfg.sms_url:
        raise ImproperlyConfigured("YINGJI_NOTIFY_CHANNELS enables sms but YINGJI_SMS_URL is not set")
    if "govmsg" in cfg.channels and not cfg.govmsg_url:
        raise ImproperlyConfigured("YINGJI_NOTIFY_CHANNELS enables govmsg but YINGJI_GOVMSG_URL is not set")
    if cfg.lease_seconds <= cfg.timeout:
        raise ImproperlyConfigured("YINGJI_NOTIFY_LEASE_SECONDS must exceed YINGJI_NOTIFY_TIMEOUT")
    return cfg


@receiver(setting_changed)
def _settings_changed(setting, **kwargs):
    if setting.startswith("NOTIFY_"):
        reset()


def reset() -> None:
    """Forget the cached configuration and channels (tests, settings changes)."""
    config.cache_clear()
    channels.cache_clear()


# ================================================================ channels

class ChannelError(Exception):
    """A channel could not send a message. ``permanent``: retrying cannot help (e.g. HTTP 400)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Channel:
    """A way to reach people outside the platform. ``send`` returns the provider's message id
    and raises :class:`ChannelError` on failure."""

    name = ""
    label = ""

    def address_for(self, user) -> str:
        """Where ``user`` is reached on this channel ("" = not reachable: no message)."""
        raise NotImplementedError

    def render(self, notification: Notification) -> tuple[str, str]:
        """(subject, body) of the outgoing message."""
        return notification.title[:TITLE_MAX], notification.body

    def send(self, message: OutboxMessage) -> str:
        raise NotImplementedError


class LogChannel(Channel):
    """The default channel: writes each message to the ``yingji.notifications`` logger."""

    name = "log"
    label = gettext_lazy("日志")

    def address_for(self, user) -> str:
        return user.username

    def send(self, message: OutboxMessage) -> str:
        log.info("notification to %s [%s]: %s — %s", message.address, message.channel, message.subject,
                 message.body[:500])
        return f"log-{message.pk}"


class HttpJsonChannel(Channel):
    """A gateway reached by an HTTP POST of a JSON object.

    Request: ``POST url`` with ``Content-Type: application/json``, ``Authorization: Bearer KEY``
    (when a key is set), ``Idempotency-Key`` and a body from :meth:`payload` that carries
    ``client_msg_id`` (stable across retries, so the gateway can drop duplicates).
    Response: HTTP 2xx with a JSON object ``{"code": 0, "message_id": "…"}``; a non-zero
    ``code`` is a refusal (retried). HTTP 4xx other than 408/425/429 is permanent (not
    retried); 5xx, timeouts and connection errors are retried.
    """

    def __init__(self, url: str, key: str = "", timeout: int = 10):
        if not url.lower().startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"{self.name}: URL must be http(s), got {url!r}")
        self.url = url
        self.key = key
        self.timeout = timeout

    def payload(self, message: OutboxMessage) -> dict:
        raise NotImplementedError

    @staticmethod
    def client_id(message: OutboxMessage) -> str:
        return f"yingji-outbox-{message.pk}"

    def send(self, message: OutboxMessage) -> str:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
                   "User-Agent": "yingji-notify/1", "Idempotency-Key": self.client_id(message)}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL from settings
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            try:
                snippet = exc.read(500).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001 - the status is what matters
                snippet = ""
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 425, 429)
            raise ChannelError(f"{self.name}: HTTP {exc.code} {snippet}".strip(), permanent=permanent) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise ChannelError(f"{self.name}: {_('连接失败')}: {reason}") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ChannelError(f"{self.name}: {_('响应不是有效的JSON')}") from None
        if not isinstance(data, dict):
            raise ChannelError(f"{self.name}: {_('响应不是有效的JSON')}")
        code = data.get("code", 0)
        if code not in (0, "0", None):
            raise ChannelError(f"{self.name}: {_('网关拒绝')} code={code} {data.get('message', '')}".strip())
        return str(data.get("message_id") or data.get("id") or "")[:200]


class SmsChannel(HttpJsonChannel):
    """SMS through an HTTP gateway. Address: the user's mobile number."""

    name = "sms"
    label = gettext_lazy("短信")

    def __init__(self, url: str, key: str = "", timeout: int = 10, sign: str = ""):
        super().__init__(url, key, timeout)
        self.sign = sign

    def address_for(self, user) -> str:
        phone = "".join(ch for ch in (getattr(user, "phone", "") or "") if ch.isdigit() or ch == "+")
        if phone.startswith("+86"):
            phone = phone[3:]
        return phone if len(phone) == 11 and phone.startswith("1") and phone.isdigit() else ""

    def render(self, notification: Notification) -> tuple[str, str]:
        text = notification.title if not notification.body else f"{notification.title}:{notification.body}"
        if len(text) > SMS_MAX_CHARS:
            text = text[:SMS_MAX_CHARS - 1] + "…"
        return notification.title[:TITLE_MAX], text

    def payload(self, message: OutboxMessage) -> dict:
        return {"phone": message.address, "content": message.body, "sign": self.sign,
                "client_msg_id": self.client_id(message)}


class GovMessageChannel(HttpJsonChannel):
    """Government work messaging (浙政钉-style) through an HTTP gateway. Address: the
    platform account name (accounts mirror the government directory's account ids)."""

    name = "govmsg"
    label = gettext_lazy("政务消息")

    def address_for(self, user) -> str:
        return user.username

    def payload(self, message: OutboxMessage) -> dict:
        link = message.notification.link if message.notification_id else ""
        return {"account": message.address, "title": message.subject, "content": message.body, "link": link,
                "client_msg_id": self.client_id(message)}


@functools.lru_cache(maxsize=1)
def channels() -> dict[str, Channel]:
    """The enabled channels by name, in configured order."""
    cfg = config()
    result: dict[str, Channel] = {}
    for name in cfg.channels:
        if name == "log":
            result[name] = LogChannel()
        elif name == "sms":
            result[name] = SmsChannel(cfg.sms_url, cfg.sms_key, cfg.timeout, cfg.sms_sign)
        elif name == "govmsg":
            result[name] = GovMessageChannel(cfg.govmsg_url, cfg.govmsg_key, cfg.timeout)
    return result


# ================================================================ raising notifications

class _NothingToDo(Exception):
    """Raised inside a service when another process did the work first: rolls back the (empty)
    savepoint instead of committing a service call without an audit entry."""


def _recipients(recipients) -> list:
    from .models import User

    if recipients is None:
        return []
    if isinstance(recipients, User):
        recipients = [recipients]
    seen, result = set(), []
    for user in recipients:
        if user is None or user.pk is None or user.pk in seen:
            continue
        seen.add(user.pk)
        if user.is_active and getattr(user, "archived_at", None) is None:
            result.append(user)
    return result


def clean_link(link) -> str:
    """A path within the site ("" allowed); anything else is refused."""
    link = (link or "").strip()
    if not link:
        return ""
    if (len(link) > LINK_MAX or not link.startswith("/") or link.startswith(("//", "/\\"))
            or not url_has_allowed_host_and_scheme(link, allowed_hosts=None)
            or any(ch in link for ch in "\r\n\t\x00")):
        raise InvalidInput(_("通知链接须为本站路径"), detail={"link": _("通知链接须为本站路径")})
    return link


def _selected_channels(names) -> list[Channel]:
    enabled = channels()
    if names is None:
        return list(enabled.values())
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in KNOWN_CHANNELS]
    if unknown:
        raise InvalidInput(_("未知的通知渠道:%(names)s") % {"names": "、".join(unknown)},
                           detail={"channels": _("未知的通知渠道")})
    return [enabled[n] for n in dict.fromkeys(names) if n in enabled]  # disabled channels: skipped


def notify(recipients, *, kind, title, body, link="", obj=None, dedupe_key=None, channels=None) -> list[Notification]:
    """Notify ``recipients`` (a user or an iterable of users) in the current transaction.

    Writes an inbox row per active recipient and an outbox row per enabled channel that can
    reach them (``channels``: names to use, default all enabled; a named channel that is not
    enabled is skipped). With ``dedupe_key`` a recipient already notified under that key is
    skipped. Messages are sent after commit. Returns the notifications created.
    """
    if kind not in NotificationKind.values:
        raise InvalidInput(_("未知的通知类型:%(kind)s") % {"kind": kind}, detail={"kind": _("未知的通知类型")})
    title = " ".join(str(title or "").split())
    if not title:
        raise InvalidInput(_("通知标题不能为空"), detail={"title": _("通知标题不能为空")})
    if len(title) > TITLE_MAX:
        title = title[:TITLE_MAX - 1] + "…"
    body = str(body or "").strip()
    link = clean_link(link)
    key = (dedupe_key or "").strip() or None
    if key is not None and len(key) > DEDUPE_KEY_MAX:
        raise InvalidInput(_("去重键不能超过%(n)d个字符") % {"n": DEDUPE_KEY_MAX},
                           detail={"dedupe_key": _("去重键过长")})
    if obj is not None and getattr(obj, "pk", None) is None:
        raise InvalidInput(_("通知关联的记录尚未保存"), detail={"obj": _("记录尚未保存")})
    users = _recipients(recipients)
    if key is not None and users:
        done = set(Notification.objects.filter(recipient_id__in=[u.pk for u in users], dedupe_key=key)
                   .values_list("recipient_id", flat=True))
        users = [u for u in users if u.pk not in done]
    selected = _selected_channels(channels)
    if not users:
        return []
    try:
        return _notify(users, kind=kind, title=title, body=body, link=link, obj=obj, key=key, selected=selected)
    except _NothingToDo:
        return []


@service("core.notify")
def _notify(users, *, kind, title, body, link, obj, key, selected) -> list[Notification]:
    ct = ContentType.objects.get_for_model(obj) if obj is not None else None
    now = timezone.now()
    max_attempts = config().max_attempts
    created: list[Notification] = []
    outbox: list[OutboxMessage] = []
    entries = []
    for user in users:
        n = Notification(recipient=user, kind=kind, title=title, body=body, link=link, content_type=ct,
                         object_id=obj.pk if obj is not None else None, created_at=now, dedupe_key=key)
        if key is None:
            n.save(force_insert=True)
        else:
            try:
                with transaction.atomic():  # savepoint: a lost race on the dedupe key skips only this one
                    n.save(force_insert=True)
            except IntegrityError:
                if Notification.objects.filter(recipient=user, dedupe_key=key).exists():
                    continue
                raise
        created.append(n)
        sent_to = []
        for channel in selected:
            address = (channel.address_for(user) or "")[:200]
            if not address:
                continue
            subject, text = channel.render(n)
            outbox.append(OutboxMessage(notification=n, channel=channel.name, address=address, subject=subject,
                                        body=text, max_attempts=max_attempts, next_attempt_at=now, created_at=now))
            sent_to.append(channel.name)
        entries.append((n, {"recipient": [None, user.pk], "kind": [None, kind], "title": [None, title],
                            "link": [None, link], "dedupe_key": [None, key], "channels": [None, sent_to]}))
    if not created:
        raise _NothingToDo()
    if outbox:
        OutboxMessage.objects.bulk_create(outbox)
        transaction.on_commit(_after_commit, robust=True)
    audit.record_many("notification.create", entries)
    return created


def _after_commit() -> None:
    """Hand the new outbox rows to the sender (never inside the business transaction)."""
    mode = config().delivery
    if mode == "job":
        ensure_send_job()
    elif mode == "inline":
        deliver_due()


def _root_area():
    from .models import Area

    return Area.objects.filter(parent__isnull=True, archived_at__isnull=True).order_by("id").first()


def ensure_send_job(run_after=None):
    """Queue a ``core.send_notifications`` job unless one is already queued to run by then."""
    from . import jobs
    from .models import Job, JobStatus

    run_after = run_after or timezone.now()
    if Job.objects.filter(kind=JOB_KIND, status=JobStatus.QUEUED, run_after__lte=run_after).exists():
        return None
    root = _root_area()
    if root is None:
        log.warning("no root area: cannot queue %s; run `yingji send_notifications`", JOB_KIND)
        return None
    with audit.context(actor=None, request_id=audit.current().request_id or None):
        return jobs.enqueue(None, JOB_KIND, area=root, run_after=run_after)


# ================================================================ delivering

def retry_delay(attempts: int) -> datetime.timedelta:
    """Back-off after the ``attempts``-th failed attempt: 1, 2, 4, 8 … minutes (capped at 1 h)."""
    seconds = RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return datetime.timedelta(seconds=min(RETRY_MAX_SECONDS, seconds))


class _LeaseLost(Exception):
    pass


@service("core.deliver_notification")
def _record_outcome(message: OutboxMessage, attempt: int, *, provider_id: str | None = None,
                    error: str | None = None, permanent: bool = False) -> str:
    """Write the outcome of attempt ``attempt`` of ``message`` if this sender still holds it."""
    now = timezone.now()
    if error is None:
        status = OutboxStatus.SENT
        fields = {"status": status, "sent_at": now, "provider_message_id": (provider_id or "")[:200]}
        note = _("第%(n)d次尝试发送成功") % {"n": attempt}
    else:
        error = error[-ERROR_MAX_CHARS:]
        if permanent or attempt >= message.max_attempts:
            status = OutboxStatus.FAILED
            fields = {"status": status, "last_error": error}
            note = _("第%(n)d次尝试失败,不再重试:%(e)s") % {"n": attempt, "e": error[:300]}
        else:
            status = OutboxStatus.PENDING
            retry_at = now + retry_delay(attempt)
            fields = {"status": status, "last_error": error, "next_attempt_at": retry_at}
            note = _("第%(n)d次尝试失败,将于%(t)s重试:%(e)s") % {
                "n": attempt, "e": error[:300], "t": timezone.localtime(retry_at).strftime("%H:%M:%S")}
    changed = (OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.SENDING, attempts=attempt)
               .update(**fields))
    if changed != 1:
        raise _LeaseLost()
    for name, value in fields.items():
        setattr(message, name, value)
    audit.record(f"outbox.{status}", message, {"status": [OutboxStatus.SENDING, status], "attempts": attempt},
                 note=note)
    return status


def _claim(pk: int, status: str, attempts: int, now) -> OutboxMessage | None:
    """Compare-and-set: take row ``pk`` if it is still as we saw it. Runs in its own (auto)commit
    so other senders see the claim before we start sending."""
    lease = datetime.timedelta(seconds=config().lease_seconds)
    changed = OutboxMessage.objects.filter(pk=pk, status=status, attempts=attempts, next_attempt_at__lte=now).update(
        status=OutboxStatus.SENDING, attempts=attempts + 1, next_attempt_at=timezone.now() + lease)
    if changed != 1:
        return None
    return OutboxMessage.objects.select_related("notification").get(pk=pk)


def deliver_one(pk: int, status: str, attempts: int, max_attempts: int, now=None) -> str:
    """Claim and send one outbox row. Returns the outcome: sent / pending (retry later) /
    failed / skipped (another sender has it)."""
    now = now or timezone.now()
    with audit.context(actor=None, request_id=f"outbox-{pk}"):
        if status == OutboxStatus.SENDING and attempts >= max_attempts:
            # The sender of the last allowed attempt vanished without recording its outcome.
            message = OutboxMessage.objects.filter(pk=pk).first()
            if message is None or message.next_attempt_at > now:
                return "skipped"
            error = _("发送进程未在租约期内确认结果(第%(n)d次尝试),不再重试") % {"n": attempts}
            try:
                return _record_outcome(message, attempts, error=error, permanent=True)
            except _LeaseLost:
                return "skipped"
        message = _claim(pk, status, attempts, now)
        if message is None:
            return "skipped"
        if status == OutboxStatus.SENDING:
            log.warning("outbox %s: lease of attempt %d expired, sending again", pk, attempts)
        attempt = message.attempts
        channel = channels().get(message.channel)
        provider_id, error, permanent = None, None, False
        try:
            if channel is None:
                raise ChannelError(_("通知渠道“%(name)s”未启用") % {"name": message.channel})
            provider_id = channel.send(message)
        except ChannelError as exc:
            error, permanent = str(exc) or type(exc).__name__, exc.permanent
        except Exception as exc:  # noqa: BLE001 - a broken adapter must not lose the message
            log.exception("outbox %s: channel %s raised", pk, message.channel)
            error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            outcome = _record_outcome(message, attempt, provider_id=provider_id, error=error, permanent=permanent)
        except _LeaseLost:
            log.warning("outbox %s: attempt %d finished after its lease was lost; outcome discarded", pk, attempt)
            return "skipped"
        if error is not None:
            log.warning("outbox %s (%s to %s) attempt %d/%d failed%s: %s", pk, message.channel, message.address,
                        attempt, message.max_attempts, "" if outcome == OutboxStatus.PENDING else ", giving up",
                        error.strip().splitlines()[-1] if error.strip() else error)
        return outcome


def deliver_due(*, limit: int = BATCH, now=None) -> dict[str, int]:
    """Send the outbox rows that are due now (at most ``limit``); returns counts per outcome."""
    now = now or timezone.now()
    rows = list(OutboxMessage.objects.due(now).order_by("next_attempt_at", "id")
                .values_list("pk", "status", "attempts", "max_attempts")[:limit])
    stats: Counter = Counter()
    for pk, status, attempts, max_attempts in rows:
        stats[deliver_one(pk, status, attempts, max_attempts, now)] += 1
    return dict(stats)


def deliver_all_due(*, limit: int = BATCH, max_rounds: int = MAX_ROUNDS, progress=None) -> dict[str, int]:
    """Rounds of :func:`deliver_due` until fewer than ``limit`` rows were due."""
    totals: Counter = Counter()
    for _round in range(max_rounds):
        stats = deliver_due(limit=limit)
        totals.update(stats)
        done = sum(totals.values())
        if progress is not None:
            progress(done, done, _("已处理%(n)d条消息") % {"n": done})
        if sum(stats.values()) < limit:
            break
    return {k: totals.get(k, 0) for k in ("sent", "pending", "failed", "skipped")}


def next_due_at():
    """When the earliest unfinished outbox row is next due (None when there is none)."""
    return (OutboxMessage.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING])
            .aggregate(at=Min("next_attempt_at"))["at"])


@job_handler(JOB_KIND, label=gettext_lazy("发送通知"))
def send_notifications_job(job, progress) -> dict:
    """Send every due outbox row, then queue a follow-up job for the next retry (if any).
    Safe to run again: rows are claimed one by one by a conditional update."""
    result = deliver_all_due(progress=progress)
    following = next_due_at()
    if following is not None:
        ensure_send_job(max(following, timezone.now()))
        result["next_at"] = following.isoformat()
    return result


# ================================================================ the inbox

def get_notification(user, pk) -> Notification:
    """``user``'s notification ``pk``; NotFound for anyone else's (administrators included)."""
    if isinstance(pk, Notification):
        pk = pk.pk
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    n = Notification.objects.for_user(user).filter(pk=pk).first()
    if n is None:
        raise NotFound(_("消息不存在或无权查看"))
    return n


def unread_count(user, cap: int | None = None) -> int:
    qs = Notification.objects.for_user(user).current().unread()
    if cap is not None:
        return qs.order_by()[:cap].count()
    return qs.count()


def mark_read(user, notification) -> Notification:
    """Mark ``user``'s ``notification`` (instance or id) read. Already read: unchanged."""
    n = get_notification(user, notification)
    if n.read_at is not None:
        return n
    try:
        return _mark_read(user, n)
    except _NothingToDo:
        n.refresh_from_db()
        return n


@service("core.notification_read")
def _mark_read(user, n: Notification) -> Notification:
    now = timezone.now()
    changed = Notification.objects.for_user(user).filter(pk=n.pk, read_at__isnull=True).update(read_at=now)
    if changed != 1:
        raise _NothingToDo()
    n.read_at = now
    audit.record("notification.read", n, {"read_at": [None, now]}, actor=user)
    return n


def _up_to(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = -1
    if value < 1:
        raise InvalidInput(_("参数无效"), detail={"up_to": _("须为正整数")})
    return value


def mark_all_read(user, up_to=None) -> int:
    """Mark all of ``user``'s unread notifications read (only those with id ≤ ``up_to`` when
    given: the newest one the user saw, so one that arrived since is not swept away).
    Returns how many changed."""
    up_to = _up_to(up_to)
    qs = Notification.objects.for_user(user).unread()
    if up_to is not None:
        qs = qs.filter(pk__lte=up_to)
    if not qs.exists():
        return 0
    try:
        return _mark_all_read(user, up_to)
    except _NothingToDo:
        return 0


@service("core.notification_read_all")
def _mark_all_read(user, up_to: int | None) -> int:
    qs = Notification.objects.for_user(user).unread()
    if up_to is not None:
        qs = qs.filter(pk__lte=up_to)
    newest = qs.aggregate(m=Max("id"))["m"]
    changed = qs.update(read_at=timezone.now())
    if not changed:
        raise _NothingToDo()
    # One entry for the sweep, on the person (cheap); each row keeps its own read_at.
    audit.record("notification.read_all", user, {"unread": [changed, 0]},
                 note=_("%(n)d条消息标为已读(至#%(id)s)") % {"n": changed, "id": newest}, actor=user)
    return changed


def safe_link(n: Notification) -> str:
    """The notification's link if it is still a path within the site, else ""."""
    try:
        return clean_link(n.link)
    except InvalidInput:
        return ""


def object_label(n: Notification) -> str | None:
    if n.content_type_id is None:
        return None
    ct = ContentType.objects.get_for_id(n.content_type_id)
    return f"{ct.app_label}.{ct.model}"


__all__ = [
    "Channel", "ChannelError", "LogChannel", "SmsChannel", "GovMessageChannel", "HttpJsonChannel",
    "notify", "mark_read", "mark_all_read", "deliver_due", "deliver_all_due", "channels", "config", "reset",
    "get_notification", "unread_count", "ensure_send_job", "JOB_KIND",
]
