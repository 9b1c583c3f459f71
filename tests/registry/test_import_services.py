"""The import's audited write services, called by name: confirm, chunked writes, summary."""
import pytest

from yingji.core import audit
from yingji.core.models import AuditEntry, JobStatus
from yingji.registry import imports
from yingji.registry.models import Site

from .test_import_pipeline import build_messy_xlsx, do_import, live_count, run_jobs

pytestmark = pytest.mark.django_db


def test_confirm_import_after_a_dry_run_writes_through_the_chunk_and_summary_services(world):
    dry = do_import(world.admin, build_messy_xlsx(), mode=imports.MODE_VALID, dry_run=True)
    assert dry.status == JobStatus.SUCCEEDED and dry.result["written"] is False
    before = live_count()
    chunk_calls = audit.SERVICE_REGISTRY["registry.import_chunk"]["audited"]
    summary_calls = audit.SERVICE_REGISTRY["registry.import_summary"]["audited"]
    with audit.context(actor=world.admin):
        real = imports.confirm_import(world.admin, dry)
    run_jobs()
    real.refresh_from_db()
    assert real.status == JobStatus.SUCCEEDED, real.error
    assert live_count() == before + real.result["created"] > before
    # The rows went through the audited chunk service and the summary service.
    assert audit.SERVICE_REGISTRY["registry.import_chunk"]["audited"] > chunk_calls
    assert audit.SERVICE_REGISTRY["registry.import_summary"]["audited"] == summary_calls + 1
    assert AuditEntry.objects.filter(action="registry.import", object_id=real.pk).count() == 1
    assert Site.objects.filter(source="import").count() == real.result["created"]


def test_only_the_uploader_may_confirm(world):
    dry = do_import(world.admin, build_messy_xlsx(), mode=imports.MODE_VALID, dry_run=True)
    from yingji.core.errors import YingjiError

    with pytest.raises(YingjiError):
        imports.confirm_import(world.town_a, dry)
