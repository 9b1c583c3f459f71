"""Notifications: the in-app inbox and the outbox of external messages.

``Notification`` is a personal inbox row. It is not area-scoped: a notification is visible to
its recipient only (not to administrators either), and every read goes through
``Notification.objects.for_user(user)``.

``OutboxMessage`` is one message to send over one channel (log, SMS, government messaging).
Rows are written in the transaction of the event that caused them and sent after commit by
``yingji.core.notifications`` (claimed by a conditional UPDATE, retried with back-off, marked
failed with the error when attempts run out). Neither kind of row is ever deleted.
"""
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..scoping import HardDeleteForbidden


class NotificationKind(models.TextChoices):
    ASSIGNMENT = "assignment", _("任务分派")
    DEADLINE = "deadline", _("期限提醒")
    SEND_BACK = "send_back", _("退回")
    ESCALATION = "escalation", _("升级")
    SYSTEM = "system", _("系统通知")


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        """The notifications addressed to ``user`` (nothing for anonymous or inactive users)."""
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active or user.pk is None:
            return self.none()
        return self.filter(recipient_id=user.pk)

    def unread(self):
        return self.filter(read_at__isnull=True)

    def current(self):
        """Not archived."""
        return self.filter(archived_at__isnull=True)

    def delete(self):
        raise HardDeleteForbidden("notifications are archived, never deleted")


NotificationManager = models.Manager.from_queryset(NotificationQuerySet)


class Notification(models.Model):
    """One inbox entry for one person: an assignment, a deadline, a send-back, an escalation."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications",
                                  verbose_name=_("接收人"))
    kind = models.CharField(_("类型"), max_length=20, choices=NotificationKind.choices,
                            default=NotificationKind.SYSTEM)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True, help_text=_("站内路径,如 /hazards/12/"))
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    archived_at = models.DateTimeField(_("归档时间"), null=True, blank=True)
    # The same event never notifies the same person twice (NULLs never collide).
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)

    objects = NotificationManager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedupe_key"], name="core_notification_dedupe"),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="core_notif_recipient_read"),
            models.Index(fields=["content_type", "object_id"], name="core_notif_object"),
        ]

    def __str__(self) -> str:
        return self.title[:100]

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    def delete(self, *args, **kwargs):
        raise HardDeleteForbidden("notifications are archived, never deleted")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class OutboxQuerySet(models.QuerySet):
    def due(self, now=None):
        """Rows a sender may claim now: pending and due, or sending with an expired lease."""
        now = now or timezone.now()
        return self.filter(Q(status=OutboxStatus.PENDING) | Q(status=OutboxStatus.SENDING),
                           next_attempt_at__lte=now)

    def delete(self):
        raise HardDeleteForbidden("outbox messages are never deleted")


OutboxManager = models.Manager.from_queryset(OutboxQuerySet)


class OutboxMessage(models.Model):
    """One message to deliver over one external channel.

    ``next_attempt_at`` is when a pending row is due; while a row is ``sending`` it is the end
    of the sender's lease (a sender that died leaves the row to be claimed again after it).
    """

    notification = models.ForeignKey(Notification, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="outbox")
    channel = models.CharField(_("渠道"), max_length=20)
    address = models.CharField(_("接收地址"), max_length=200)
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("内容"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("最多尝试次数"), default=5)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), default=timezone.now)
    last_error = models.TextField(_("最近错误"), blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    provider_message_id = models.CharField(_("渠道消息号"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    objects = OutboxManager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("待发消息")
        verbose_name_plural = _("待发消息")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="core_outbox_status_next")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} #{self.pk}"

    def delete(self, *args, **kwargs):
        raise HardDeleteForbidden("outbox messages are never deleted")
