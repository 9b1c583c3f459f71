"""Archiving an attachment through the service: kept, hidden from lists, audited, scoped."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yingji.core import attachments
from yingji.core.errors import NotFound
from yingji.core.models import Attachment, AuditEntry

from .test_attachments import image_bytes


def test_archive_attachment_keeps_the_file_and_audits(world):
    area = world.area_a
    att = attachments.add_attachment(world.admin, area, SimpleUploadedFile("现场.png", image_bytes()))
    with pytest.raises(NotFound):
        attachments.archive_attachment(world.town_b, att)
    attachments.archive_attachment(world.admin, att)
    att.refresh_from_db()
    assert att.archived_at is not None and Attachment.objects.filter(pk=att.pk).exists()
    assert att not in attachments.attachments_for(world.admin, area)
    assert AuditEntry.objects.filter(action="attachment.archive", object_id=att.pk).exists()
