"""Notifications: inbox and outbox rows, dedupe, the personal inbox (pages, API), delivery over
the log channel and an HTTP SMS gateway (a fake one on 127.0.0.1), retries with back-off,
leases, nothing sent before commit, configuration that fails loudly, and the audit trail."""
from __future__ import annotations

import datetime
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import include, path
from django.utils import timezone
from ninja import NinjaAPI

from yingji import urls as root_urls
from yingji.api import api as main_api
from yingji.core import audit, jobs
from yingji.core import notifications as notes
from yingji.core.api_notifications import router as notifications_router
from yingji.core.errors import InvalidInput, NotFound
from yingji.core.models import AuditEntry, Job, JobStatus, Notification, OutboxMessage, OutboxStatus
from yingji.core.scoping import HardDeleteForbidden

# ---------------------------------------------------------------- URLs under test
# The lead mounts the pages and the API router in the root URLconf; until then (and in any case)
# this module serves as the URLconf: the root patterns plus whatever of ours is not mounted yet.

_API_MOUNTED = any(r is notifications_router for _prefix, r in main_api._routers)
_PAGES_MOUNTED = any(getattr(p, "namespace", None) == "notifications" for p in root_urls.urlpatterns)
if _API_MOUNTED:
    API = "/api/v1/notifications"
    _extra = []
else:
    API = "/api/notifications-test/notifications"
    _test_api = NinjaAPI(title="notifications test", version="test", urls_namespace="notifications_test_api",
                         auth=main_api.auth)
    _test_api._exception_handlers.update(main_api._exception_handlers)
    _test_api.add_router("/notifications", notifications_router)
    _extra = [path("api/notifications-test/", _test_api.urls)]
if not _PAGES_MOUNTED:
    _extra.append(path("", include("yingji.core.urls_notifications")))
urlpatterns = _extra + list(root_urls.urlpatterns)


@pytest.fixture(autouse=True)
def _urls_and_config(settings):
    settings.ROOT_URLCONF = __name__
    settings.NOTIFY_CHANNELS = "log"
    settings.NOTIFY_DELIVERY = "job"
    notes.reset()
    yield
    notes.reset()


# ---------------------------------------------------------------- helpers

def entries(obj, action=None) -> list[AuditEntry]:
    qs = AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)), object_id=obj.pk)
    if action:
        qs = qs.filter(action=action)
    return list(qs.order_by("id"))


def make(user, title="隐患整改任务", **kw):
    kw.setdefault("kind", "assignment")
    kw.setdefault("body", "请于三日内完成整改")
    with audit.context(request_id="test-notify"):
        return notes.notify(user, title=title, **kw)


def later(seconds=0):
    return timezone.now() + datetime.timedelta(seconds=seconds)


class FakeGateway:
    """An HTTP gateway on 127.0.0.1 in a thread: records requests, answers from a script."""

    def __init__(self):
        self.requests: list[dict] = []
        self.responses: list[tuple[int, object]] = []
        self.default = (200, {"code": 0, "message_id": "gw-1"})
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gateway.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers.items()),
                                         "json": json.loads(raw.decode("utf-8"))})
                status, payload = gateway.responses.pop(0) if gateway.responses else gateway.default
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(settings):
    gw = FakeGateway()
    settings.NOTIFY_CHANNELS = "log,sms"
    settings.NOTIFY_SMS_URL = gw.url
    settings.NOTIFY_SMS_KEY = "sms-secret"
    settings.NOTIFY_SMS_SIGN = "诸暨应急"
    settings.NOTIFY_HTTP_TIMEOUT = 5
    yield gw
    gw.close()


def with_phone(user, phone="13800000001"):
    type(user).objects.filter(pk=user.pk).update(phone=phone)
    user.phone = phone
    return user


# ================================================================ raising notifications

def test_notify_creates_inbox_and_outbox_rows_with_audit(world, gateway):
    with_phone(world.town_a)
    created = make([world.town_a, world.town_b, world.town_a], link="/hazards/1/", obj=world.area_a)
    assert [n.recipient for n in created] == [world.town_a, world.town_b]  # duplicates collapsed
    n = Notification.objects.get(recipient=world.town_a)
    assert (n.kind, n.title, n.link, n.read_at) == ("assignment", "隐患整改任务", "/hazards/1/", None)
    assert n.content_type == ContentType.objects.get_for_model(world.area_a) and n.object_id == world.area_a.pk

    rows = {(m.notification.recipient.username, m.channel): m for m in OutboxMessage.objects.all()}
    assert set(rows) == {("town_a", "log"), ("town_a", "sms"), ("town_b", "log")}  # town_b has no phone
    sms = rows[("town_a", "sms")]
    assert (sms.address, sms.status, sms.attempts, sms.max_attempts) == ("13800000001", "pending", 0, 5)
    assert sms.body == "隐患整改任务:请于三日内完成整改"

    [entry] = entries(n, "notification.create")
    assert entry.request_id == "test-notify"
    assert entry.changes["channels"] == [None, ["log", "sms"]]
    assert entry.changes["recipient"] == [None, world.town_a.pk]


def test_notify_skips_inactive_users_and_unusable_channels(world):
    type(world.grid).objects.filter(pk=world.grid.pk).update(is_active=False)
    world.grid.refresh_from_db()
    created = make([world.grid, world.town_a], channels=["sms"])  # sms is not enabled: inbox only
    assert [n.recipient for n in created] == [world.town_a]
    assert not OutboxMessage.objects.exists()
    assert make([world.grid]) == []


def test_notify_rejects_bad_input_in_chinese(world):
    with pytest.raises(InvalidInput, match="未知的通知类型"):
        make(world.town_a, kind="gossip")
    with pytest.raises(InvalidInput, match="通知标题不能为空"):
        make(world.town_a, title="  ")
    for bad in ("https://evil.example/x", "//evil.example/x", "hazards/1/", "/\\evil.example", "javascript:alert(1)"):
        with pytest.raises(InvalidInput, match="通知链接须为本站路径"):
            make(world.town_a, link=bad)
    with pytest.raises(InvalidInput, match="未知的通知渠道"):
        make(world.town_a, channels=["fax"])
    with pytest.raises(InvalidInput, match="去重键不能超过"):
        make(world.town_a, dedupe_key="k" * 201)
    assert not Notification.objects.exists()
    long = make(world.town_a, title="长" * 300)[0]
    assert len(long.title) == 200 and long.title.endswith("…")


def test_dedupe_key_prevents_duplicates(world):
    first = make([world.town_a], dedupe_key="hazard:7:assign")
    again = make([world.town_a, world.town_b], dedupe_key="hazard:7:assign")
    assert len(first) == 1 and [n.recipient for n in again] == [world.town_b]
    assert make([world.town_a, world.town_b], dedupe_key="hazard:7:assign") == []
    assert Notification.objects.filter(dedupe_key="hazard:7:assign").count() == 2
    assert OutboxMessage.objects.count() == 2  # one log message per person, not per call
    # The constraint itself holds (two racing calls: the database decides).
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(recipient=world.town_a, title="x", dedupe_key="hazard:7:assign")
    # No key: every call notifies.
    make(world.town_a)
    make(world.town_a)
    assert Notification.objects.filter(recipient=world.town_a, dedupe_key__isnull=True).count() == 2


def test_dedupe_race_loses_quietly(world):
    """A concurrent call inserted the same key after our pre-check: the unique constraint
    decides; this call skips that person (and, if nobody is left, writes nothing at all)."""
    make([world.town_a], dedupe_key="race")
    args = {"kind": "assignment", "title": "t", "body": "", "link": "", "obj": None, "key": "race",
            "selected": list(notes.channels().values())}
    with audit.context(request_id="race"):
        with pytest.raises(notes._NothingToDo):
            notes._notify([world.town_a], **args)  # past the pre-check, as if it had raced
        created = notes._notify([world.town_a, world.town_b], **args)
    assert [n.recipient for n in created] == [world.town_b]
    assert Notification.objects.filter(dedupe_key="race").count() == 2
    assert OutboxMessage.objects.filter(notification__recipient=world.town_a).count() == 1


def test_notify_inside_an_outer_service_shares_its_transaction_and_audit(world):
    @audit.service("tests.notify_outer")
    def outer(fail: bool):
        notes.notify(world.town_a, kind="escalation", title="隐患已升级", body="")
        if fail:
            raise InvalidInput("回滚")

    with audit.context(request_id="outer"):
        outer(False)  # writes no entry of its own: the nested notify's entry counts
        assert Notification.objects.filter(kind="escalation").count() == 1
        with pytest.raises(InvalidInput):
            outer(True)
    assert Notification.objects.filter(kind="escalation").count() == 1
    assert OutboxMessage.objects.count() == 1


def test_nothing_is_sent_before_commit(world, django_capture_on_commit_callbacks, caplog):
    caplog.set_level(logging.INFO, logger="yingji.notifications")
    # A rolled-back business transaction leaves no notification, no outbox row, no callback.
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            make(world.town_a)
            assert OutboxMessage.objects.count() == 1
            raise RuntimeError("business change failed")
    assert callbacks == []
    assert not Notification.objects.exists() and not OutboxMessage.objects.exists()

    # A committed one: the row waits, unsent, until the commit hands it to the worker.
    with django_capture_on_commit_callbacks() as callbacks:
        make(world.town_a)
        message = OutboxMessage.objects.get()
        assert message.status == OutboxStatus.PENDING and message.attempts == 0
    assert len(callbacks) == 1
    assert "notification to town_a" not in caplog.text
    assert not Job.objects.filter(kind=notes.JOB_KIND).exists()

    callbacks[0]()  # the commit happened: a send job is queued (not sent in the request)
    job = Job.objects.get(kind=notes.JOB_KIND)
    assert job.status == JobStatus.QUEUED and job.area == world.county
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    callbacks[0]()  # another commit while that job is still queued: no second job
    assert Job.objects.filter(kind=notes.JOB_KIND).count() == 1

    assert jobs.run_worker(worker_id="w-notify", once=True) == 1
    job.refresh_from_db()
    message.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["sent"] == 1
    assert message.status == OutboxStatus.SENT and message.attempts == 1
    assert "notification to town_a [log]: 隐患整改任务" in caplog.text


def test_inline_delivery_sends_after_commit(world, settings, django_capture_on_commit_callbacks):
    settings.NOTIFY_DELIVERY = "inline"
    with django_capture_on_commit_callbacks(execute=True):
        make(world.town_a)
        assert OutboxMessage.objects.get().status == OutboxStatus.PENDING
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT
    assert not Job.objects.filter(kind=notes.JOB_KIND).exists()


# ================================================================ delivery

def test_log_channel_delivery(world, caplog):
    caplog.set_level(logging.INFO, logger="yingji.notifications")
    [n] = make(world.town_a)
    stats = notes.deliver_due()
    assert stats == {"sent": 1}
    m = OutboxMessage.objects.get()
    assert (m.status, m.attempts, m.provider_message_id) == ("sent", 1, f"log-{m.pk}")
    assert m.sent_at is not None and m.notification == n
    assert "notification to town_a [log]: 隐患整改任务 — 请于三日内完成整改" in caplog.text
    [entry] = entries(m, "outbox.sent")
    assert entry.actor is None and entry.changes == {"status": ["sending", "sent"], "attempts": 1}
    assert notes.deliver_due() == {}  # nothing left


def test_fake_http_sms_request_shape_and_success(world, gateway):
    with_phone(world.town_a, "+86 138-0000-0002")
    make(world.town_a, channels=["sms"], link="/hazards/9/")
    gateway.default = (200, {"code": 0, "message_id": "sms-778"})
    assert notes.deliver_due() == {"sent": 1}
    [req] = gateway.requests
    m = OutboxMessage.objects.get()
    assert req["path"] == "/sms/send"
    assert req["headers"]["Content-Type"].startswith("application/json")
    assert req["headers"]["Authorization"] == "Bearer sms-secret"
    assert req["headers"]["Idempotency-Key"] == f"yingji-outbox-{m.pk}"
    assert req["json"] == {"phone": "13800000002", "content": "隐患整改任务:请于三日内完成整改", "sign": "诸暨应急",
                           "client_msg_id": f"yingji-outbox-{m.pk}"}
    assert (m.status, m.provider_message_id, m.attempts) == ("sent", "sms-778", 1)


def test_failing_channel_is_retried_with_backoff_then_failed_with_error(world, gateway, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    with_phone(world.town_a)
    make(world.town_a, channels=["sms"])
    gateway.default = (503, {"code": 503, "message": "gateway busy"})

    before = timezone.now()
    assert notes.deliver_due() == {"pending": 1}
    m = OutboxMessage.objects.get()
    assert (m.status, m.attempts) == ("pending", 1)
    assert "HTTP 503" in m.last_error and "gateway busy" in m.last_error
    delay = (m.next_attempt_at - before).total_seconds()
    assert 59 <= delay <= 61
    assert notes.deliver_due() == {}  # not due yet: not retried at once

    before = timezone.now()
    assert notes.deliver_due(now=later(61)) == {"pending": 1}
    m.refresh_from_db()
    assert m.attempts == 2 and 119 <= (m.next_attempt_at - before).total_seconds() <= 121  # back-off doubles

    gateway.default = (200, {"code": 7, "message": "签名未报备"})  # a refusal in the body
    assert notes.deliver_due(now=later(400)) == {"failed": 1}
    m.refresh_from_db()
    assert (m.status, m.attempts) == ("failed", 3)
    assert "code=7" in m.last_error and "签名未报备" in m.last_error
    assert len(gateway.requests) == 3
    assert notes.deliver_due(now=later(100000)) == {}  # failed rows stay, never retried nor lost
    assert [e.action for e in entries(m)] == ["outbox.pending", "outbox.pending", "outbox.failed"]
    assert "第3次尝试失败,不再重试" in entries(m)[-1].note


def test_permanent_errors_and_connection_failures(world, gateway):
    with_phone(world.town_a)
    make(world.town_a, channels=["sms"])
    gateway.default = (400, {"code": 400, "message": "bad phone"})
    assert notes.deliver_due() == {"failed": 1}  # a 4xx is not retried
    assert OutboxMessage.objects.get().attempts == 1

    # Nobody listening: a connection error is retried.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    channel = notes.SmsChannel(f"http://127.0.0.1:{port}/x", timeout=2)
    message = OutboxMessage(pk=1, channel="sms", address="13800000001", body="x")
    with pytest.raises(notes.ChannelError) as exc:
        channel.send(message)
    assert not exc.value.permanent and "连接失败" in str(exc.value)

    gateway.default = (200, b"<html>not json</html>")
    with pytest.raises(notes.ChannelError, match="响应不是有效的JSON"):
        notes.SmsChannel(gateway.url).send(message)


def test_a_broken_adapter_or_disabled_channel_does_not_lose_the_message(world, settings, monkeypatch):
    make(world.town_a)

    def explode(self, message):
        raise ValueError("adapter bug")

    monkeypatch.setattr(notes.LogChannel, "send", explode)
    assert notes.deliver_due() == {"pending": 1}
    m = OutboxMessage.objects.get()
    assert "ValueError: adapter bug" in m.last_error
    monkeypatch.undo()

    settings.NOTIFY_CHANNELS = "govmsg"
    settings.NOTIFY_GOVMSG_URL = "http://127.0.0.1:9/"
    assert notes.deliver_due(now=later(3600)) == {"pending": 1}
    m.refresh_from_db()
    assert m.attempts == 2 and "通知渠道“log”未启用" in m.last_error


def test_message_stuck_in_sending_is_retried_after_its_lease(world, caplog):
    make(world.town_a)
    m = OutboxMessage.objects.get()
    # A sender claimed it and died (attempt 1, lease until the past).
    OutboxMessage.objects.filter(pk=m.pk).update(status=OutboxStatus.SENDING, attempts=1,
                                                 next_attempt_at=later(-5))
    assert notes.deliver_due() == {"sent": 1}
    m.refresh_from_db()
    assert (m.status, m.attempts) == ("sent", 2)

    # A live lease is respected.
    make(world.town_b)
    m2 = OutboxMessage.objects.get(address="town_b")
    OutboxMessage.objects.filter(pk=m2.pk).update(status=OutboxStatus.SENDING, attempts=1, next_attempt_at=later(60))
    assert notes.deliver_due() == {}

    # The last allowed attempt's sender died: failed, with the reason kept.
    OutboxMessage.objects.filter(pk=m2.pk).update(attempts=5, next_attempt_at=later(-1))
    assert notes.deliver_due() == {"failed": 1}
    m2.refresh_from_db()
    assert m2.status == "failed" and "租约期内" in m2.last_error


def test_claim_is_compare_and_set(world):
    make(world.town_a)
    m = OutboxMessage.objects.get()
    now = timezone.now()
    assert notes._claim(m.pk, "pending", 0, now) is not None
    assert notes._claim(m.pk, "pending", 0, now) is None  # a second sender loses
    assert notes.deliver_one(m.pk, "pending", 0, 5, now) == "skipped"
    # An outcome recorded by a sender that lost its lease is discarded.
    m.refresh_from_db()
    OutboxMessage.objects.filter(pk=m.pk).update(attempts=2)
    with pytest.raises(notes._LeaseLost):
        notes._record_outcome(m, 1, provider_id="late")
    m.refresh_from_db()
    assert m.status == "sending" and m.provider_message_id == ""


def test_send_job_schedules_a_follow_up_for_retries(world, gateway):
    with_phone(world.town_a)
    make(world.town_a, channels=["sms"])
    gateway.default = (500, {"code": 1})
    notes.ensure_send_job()
    assert jobs.run_worker(worker_id="w", once=True) == 1
    follow = Job.objects.filter(kind=notes.JOB_KIND, status=JobStatus.QUEUED).get()
    m = OutboxMessage.objects.get()
    assert follow.run_after == m.next_attempt_at and m.status == "pending"


def test_send_notifications_command(world, capsys):
    make([world.town_a, world.town_b])
    call_command("send_notifications", "--once")
    assert OutboxMessage.objects.filter(status="sent").count() == 2
    assert "已发送 2 条" in capsys.readouterr().out


def test_configuration_fails_loudly(settings, monkeypatch):
    settings.NOTIFY_CHANNELS = "log,fax"
    with pytest.raises(ImproperlyConfigured, match="unknown channel"):
        notes.channels()
    settings.NOTIFY_CHANNELS = "log,sms"
    with pytest.raises(ImproperlyConfigured, match="YINGJI_SMS_URL is not set"):
        notes.channels()
    settings.NOTIFY_SMS_URL = "ftp://gateway"
    with pytest.raises(ImproperlyConfigured, match="http"):
        notes.channels()
    settings.NOTIFY_SMS_URL = "https://gw.example/sms"
    settings.NOTIFY_MAX_ATTEMPTS = "many"
    with pytest.raises(ImproperlyConfigured, match="integer"):
        notes.channels()
    settings.NOTIFY_MAX_ATTEMPTS = 3
    settings.NOTIFY_DELIVERY = "carrier-pigeon"
    with pytest.raises(ImproperlyConfigured, match="DELIVERY"):
        notes.channels()
    settings.NOTIFY_DELIVERY = "off"
    assert list(notes.channels()) == ["log", "sms"]
    # From the environment when the setting is absent; disabled channels are not registered.
    del settings.NOTIFY_CHANNELS
    del settings.NOTIFY_SMS_URL
    monkeypatch.setenv("YINGJI_NOTIFY_CHANNELS", "govmsg")
    monkeypatch.setenv("YINGJI_GOVMSG_URL", "http://127.0.0.1:9/gov")
    notes.reset()
    assert list(notes.channels()) == ["govmsg"]
    monkeypatch.delenv("YINGJI_NOTIFY_CHANNELS")
    notes.reset()
    assert list(notes.channels()) == ["log"]


def test_govmsg_payload(world, gateway, settings):
    settings.NOTIFY_CHANNELS = "govmsg"
    settings.NOTIFY_GOVMSG_URL = gateway.url
    settings.NOTIFY_GOVMSG_KEY = ""
    make(world.town_a, link="/hazards/3/", kind="escalation")
    assert notes.deliver_due() == {"sent": 1}
    m = OutboxMessage.objects.get()
    [req] = gateway.requests
    assert "Authorization" not in req["headers"]
    assert req["json"] == {"account": "town_a", "title": "隐患整改任务", "content": "请于三日内完成整改",
                           "link": "/hazards/3/", "client_msg_id": f"yingji-outbox-{m.pk}"}


def test_notifications_and_outbox_are_never_deleted(world):
    make(world.town_a)
    with pytest.raises(HardDeleteForbidden):
        Notification.objects.all().delete()
    with pytest.raises(HardDeleteForbidden):
        OutboxMessage.objects.get().delete()
    with pytest.raises(HardDeleteForbidden):
        Notification.objects.get().delete()


# ================================================================ the inbox: services

def test_only_the_recipient_reads_and_marks(world):
    [n] = make(world.town_a)
    assert list(Notification.objects.for_user(world.town_a)) == [n]
    for other in (world.town_b, world.admin, None):
        assert not Notification.objects.for_user(other).exists()
        with pytest.raises(NotFound):
            notes.mark_read(other, n.pk)
    with pytest.raises(NotFound):
        notes.mark_read(world.town_a, "abc")
    n.refresh_from_db()
    assert n.read_at is None

    assert notes.mark_read(world.town_a, n).read_at is not None
    [entry] = entries(n, "notification.read")
    assert entry.actor == world.town_a
    notes.mark_read(world.town_a, n.pk)  # already read: nothing changes, nothing written
    assert len(entries(n, "notification.read")) == 1


def test_mark_all_read_up_to_and_audit(world):
    older = make(world.town_a, title="一")[0]
    middle = make(world.town_a, title="二")[0]
    newer = make(world.town_a, title="三")[0]
    make(world.town_b, title="别人的")
    with pytest.raises(InvalidInput, match="参数无效"):
        notes.mark_all_read(world.town_a, "x")
    assert notes.mark_all_read(world.town_a, up_to=middle.pk) == 2
    assert notes.unread_count(world.town_a) == 1
    assert Notification.objects.get(pk=newer.pk).read_at is None
    assert Notification.objects.get(pk=older.pk).read_at is not None
    [entry] = entries(world.town_a, "notification.read_all")
    assert entry.changes == {"unread": [2, 0]} and entry.actor == world.town_a
    assert notes.mark_all_read(world.town_a) == 1
    assert notes.mark_all_read(world.town_a) == 0
    assert notes.unread_count(world.town_b) == 1
    assert len(entries(world.town_a, "notification.read_all")) == 2


def test_services_are_registered_and_audited(world):
    make(world.town_a)
    notes.deliver_due()
    notes.mark_all_read(world.town_a)
    [n] = make(world.town_b)
    notes.mark_read(world.town_b, n)
    for name in ("core.notify", "core.deliver_notification", "core.notification_read", "core.notification_read_all"):
        stats = audit.SERVICE_REGISTRY[name]
        assert stats["calls"] >= 1 and stats["audited"] == stats["calls"], name


# ================================================================ pages

def test_inbox_page_lists_only_my_notifications_with_unread_emphasis(world, client):
    mine = make(world.town_a, title="我的任务", link="/areas/")[0]
    make(world.town_a, title="已读的")
    notes.mark_all_read(world.town_a, up_to=mine.pk + 1)
    fresh = make(world.town_a, title="新升级", kind="escalation")[0]
    make(world.town_b, title="店口镇的消息")
    client.force_login(world.town_a)
    page = client.get("/inbox/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "我的任务" in html and "新升级" in html and "店口镇的消息" not in html
    assert 'class="unread" data-testid="notification" data-id="%d"' % fresh.pk in html
    assert 'class="read" data-testid="notification" data-id="%d"' % mine.pk in html
    assert "1条未读" in html
    only = client.get("/inbox/?unread=1").content.decode()
    assert "新升级" in only and "我的任务" not in only
    assert client.get("/inbox/?cursor=%%%").status_code == 422


def test_inbox_keyset_pages(world, client):
    for i in range(35):
        make(world.town_a, title=f"消息{i:02d}")
    client.force_login(world.town_a)
    first = client.get("/inbox/")
    assert first.context["next_cursor"] and len(first.context["items"]) == 30
    second = client.get("/inbox/", {"cursor": first.context["next_cursor"]})
    titles = [n.title for n in second.context["items"]]
    assert titles == [f"消息{i:02d}" for i in range(4, -1, -1)] and second.context["next_cursor"] is None


def test_go_read_and_read_all_pages(world, client):
    [n] = make(world.town_a, link="/areas/")
    [other] = make(world.town_b)
    client.force_login(world.town_b)
    for url in (f"/inbox/{n.pk}/go/", f"/inbox/{n.pk}/read/"):
        response = client.post(url)
        assert response.status_code == 404 and "不存在或无权" in response.content.decode()
    client.force_login(world.admin)
    assert client.get(f"/inbox/{n.pk}/go/").status_code == 404  # not even the administrator
    n.refresh_from_db()
    assert n.read_at is None

    client.force_login(world.town_a)
    response = client.get(f"/inbox/{n.pk}/go/")
    assert response.status_code == 302 and response["Location"] == "/areas/"
    n.refresh_from_db()
    assert n.read_at is not None

    client.force_login(world.town_b)
    assert client.get(f"/inbox/{other.pk}/read/").status_code == 405
    response = client.post(f"/inbox/{other.pk}/read/", {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    other.refresh_from_db()
    assert other.read_at is not None
    make(world.town_b, title="甲")
    make(world.town_b, title="乙")
    response = client.post("/inbox/read-all/", follow=True)
    assert "已将2条消息标为已读" in response.content.decode()
    assert client.post("/inbox/read-all/", {"up_to": "abc"}).status_code == 422


def test_go_without_a_safe_link_opens_the_inbox(world, client):
    [n] = make(world.town_a)
    Notification.objects.filter(pk=n.pk).update(link="https://evil.example/")  # e.g. written by hand
    client.force_login(world.town_a)
    response = client.get(f"/inbox/{n.pk}/go/")
    assert response["Location"] == "/inbox/"


def test_unread_badge_tag_and_refresh(world, client):
    make(world.town_a)
    make(world.town_a)
    request = RequestFactory().get("/")
    request.user = world.town_a
    html = Template("{% load notifications %}{% unread_badge %}").render(Context({"request": request}))
    assert 'data-count="2"' in html and ">2</span>" in html and 'href="/inbox/"' in html
    request.user = world.town_b
    html = Template("{% load notifications %}{% unread_badge %}").render(Context({"request": request}))
    assert 'data-count="0"' in html and "</span>" not in html
    client.force_login(world.town_a)
    assert 'data-count="2"' in client.get("/inbox/badge/").content.decode()
    for _i in range(100):
        Notification.objects.create(recipient=world.town_a, title="批量")
    assert ">99+</span>" in client.get("/inbox/badge/").content.decode()
    client.logout()
    assert client.get("/inbox/").status_code == 302  # sign in first


# ================================================================ API

def test_api_list_read_and_scope(world, api_client):
    a1 = make(world.town_a, title="一", link="/areas/", obj=world.area_a)[0]
    a2 = make(world.town_a, title="二")[0]
    a3 = make(world.town_a, title="三")[0]
    b1 = make(world.town_b, title="别人的")[0]

    client = api_client.as_user(world.town_a)
    page = client.get(API, limit=2).json()
    assert [i["id"] for i in page["items"]] == [a3.pk, a2.pk] and page["unread_count"] == 3
    rest = client.get(API, limit=2, cursor=page["next_cursor"]).json()
    assert [i["id"] for i in rest["items"]] == [a1.pk] and rest["next_cursor"] is None
    item = rest["items"][0]
    assert item["object_type"] == "core.area" and item["object_id"] == world.area_a.pk
    assert item["link"] == "/areas/" and item["kind"] == "assignment" and item["is_read"] is False

    response = client.post(f"{API}/{a2.pk}/read")
    assert response.status_code == 200 and response.json()["is_read"] is True
    unread = client.get(API, unread="true").json()
    assert [i["id"] for i in unread["items"]] == [a3.pk, a1.pk]

    response = client.post(f"{API}/{b1.pk}/read")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    admin = api_client.as_user(world.admin)
    assert admin.post(f"{API}/{b1.pk}/read").status_code == 404
    assert admin.get(API).json()["items"] == []
    b1.refresh_from_db()
    assert b1.read_at is None

    client = api_client.as_user(world.town_a)
    response = client.post(f"{API}/read-all", {"up_to": a1.pk})
    assert response.json() == {"count": 1, "unread_count": 1}
    assert client.post(f"{API}/read-all").json() == {"count": 1, "unread_count": 0}
    assert client.get(API, limit=0).status_code == 422
    assert client.get(API, cursor="@@").json()["code"] == "invalid_input"
    assert api_client.as_user(world.town_b).get(API).json()["unread_count"] == 1
