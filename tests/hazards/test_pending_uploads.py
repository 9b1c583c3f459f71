"""The report form keeps its photos when it comes back with an error (core.pending)."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from yingji.core import pending
from yingji.core.attachments import attachments_for
from yingji.hazards.models import Hazard

from .factories import photo

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _token(html: str) -> str:
    found = re.search(r'name="pending_uploads" value="([0-9a-f]{32})"', html)
    assert found, "no pending-uploads token on the page"
    return found.group(1)


def _pending_root() -> Path:
    return Path(settings.MEDIA_ROOT) / pending.PENDING_DIR


BASE = {"level": "general", "category": "fire", "idempotency_key": "pending-key-0001"}


def test_photo_survives_a_validation_error_and_is_attached(world, site_a):
    c = as_user(world.grid)
    r = c.post("/hazards/report/", {**BASE, "site": site_a.pk, "description": "", "files": [photo("现场.png")]})
    html = r.content.decode()
    assert r.status_code == 400 and "这个字段是必填项" in html
    assert "现场.png" in html and 'name="pending_keep" value="files:0"' in html
    token = _token(html)
    assert any((_pending_root() / str(world.grid.pk) / token).iterdir())
    # the phone sends the corrected form: no new file, the kept one ticked
    r = c.post("/hazards/report/", {**BASE, "site": site_a.pk, "description": "消防通道堆物",
                                    "pending_uploads": token, "pending_keep": "files:0"})
    assert r.status_code == 302, r.content.decode()[:3000]
    hazard = Hazard.objects.get()
    files = list(attachments_for(world.grid, hazard))
    assert [a.original_name for a in files] == ["现场.png"] and files[0].size > 0
    assert not (_pending_root() / str(world.grid.pk) / token).exists()  # removed once saved


def test_kept_and_new_photos_together_and_an_unticked_one_is_dropped(world, site_a):
    c = as_user(world.grid)
    r = c.post("/hazards/report/", {**BASE, "site": site_a.pk, "description": "",
                                    "files": [photo("一.png"), photo("二.png")]})
    token = _token(r.content.decode())
    # still an error (no category): one more photo joins the kept ones
    r = c.post("/hazards/report/", {**BASE, "category": "", "site": site_a.pk, "description": "堆物",
                                    "pending_uploads": token, "pending_keep": ["files:0", "files:1"],
                                    "files": [photo("三.png")]})
    html = r.content.decode()
    assert r.status_code == 400 and all(n in html for n in ("一.png", "二.png", "三.png"))
    assert _token(html) == token
    # the user unticks 二.png and submits
    r = c.post("/hazards/report/", {**BASE, "site": site_a.pk, "description": "堆物", "pending_uploads": token,
                                    "pending_keep": ["files:0", "files:2"]})
    assert r.status_code == 302, r.content.decode()[:3000]
    names = sorted(a.original_name for a in attachments_for(world.grid, Hazard.objects.get()))
    assert names == ["一.png", "三.png"]


def test_another_users_token_is_not_found(world, site_a):
    r = as_user(world.grid).post("/hazards/report/", {**BASE, "site": site_a.pk, "description": "",
                                                      "files": [photo("别人的.png")]})
    token = _token(r.content.decode())
    c = as_user(world.town_a)
    r = c.post("/hazards/report/", {**BASE, "site": site_a.pk, "description": "堆物", "pending_uploads": token,
                                    "pending_keep": "files:0"})
    assert r.status_code == 302
    assert list(attachments_for(world.town_a, Hazard.objects.get())) == []
    assert (_pending_root() / str(world.grid.pk) / token).is_dir()  # the grid worker's files untouched


def test_a_file_of_an_unsupported_type_is_not_kept(world, site_a):
    bad = SimpleUploadedFile("说明.exe", b"MZ\x90\x00" + b"\x00" * 100, content_type="application/octet-stream")
    r = as_user(world.grid).post("/hazards/report/", {**BASE, "site": site_a.pk, "description": "",
                                                      "files": [bad, photo("好.png")]})
    html = r.content.decode()
    assert r.status_code == 400 and "说明.exe" in html and "好.png" in html
    assert html.count('name="pending_keep"') == 1


def test_tokens_expire_and_are_bounded_per_user(world):
    tokens = []
    for i in range(pending.MAX_TOKENS_PER_USER + 2):
        token, problems = pending.keep(world.grid, {"files": [photo(f"{i}.png")]})
        assert problems == {}
        tokens.append(token)
        time.sleep(0.01)
    alive = [t for t in tokens if pending.listed(world.grid, t)]
    assert alive == tokens[-pending.MAX_TOKENS_PER_USER:]
    assert pending.listed(world.town_a, tokens[-1]) == []        # another user's
    assert pending.listed(world.grid, "../" + tokens[-1]) == []  # not a token
    assert pending.sweep(now=time.time() + pending.TTL_SECONDS + 1) == pending.MAX_TOKENS_PER_USER
    assert pending.listed(world.grid, tokens[-1]) == []
