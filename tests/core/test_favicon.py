"""The site has an icon: linked from every page and answered at /favicon.ico (no sign-in)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_is_linked_and_served(client):
    html = client.get("/login/").content.decode()
    assert '<link rel="icon" type="image/png" href="/static/core/favicon.png">' in html
    r = client.get("/favicon.ico")
    assert r.status_code == 302 and r["Location"] == "/static/core/favicon.ico"
    icon = client.get(r["Location"])
    assert icon.status_code == 200
    body = b"".join(icon.streaming_content) if icon.streaming else icon.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    png = client.get("/static/core/favicon.png")
    body = b"".join(png.streaming_content) if png.streaming else png.content
    assert png.status_code == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
