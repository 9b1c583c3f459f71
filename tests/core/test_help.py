"""The in-app guide (/help/): linked from every signed-in page's header, shows the user's own roles'
journeys, any role's on request, and nothing to anonymous visitors."""
from __future__ import annotations

from tests.conftest import login


def test_help_shows_the_users_roles_and_is_linked_from_the_header(client, world):
    login(client, world.grid)
    home = client.get("/").content.decode()
    assert 'href="/help/"' in home
    page = client.get("/help/").content.decode()
    assert 'data-testid="guide-grid_worker"' in page
    assert "上报隐患" in page
    assert 'data-testid="guide-city_admin"' not in page

    login(client, world.admin)
    page = client.get("/help/").content.decode()
    assert 'data-testid="guide-city_admin"' in page and 'data-testid="guide-grid_worker"' not in page
    page = client.get("/help/?role=enterprise").content.decode()
    assert 'data-testid="guide-enterprise"' in page and 'data-testid="guide-city_admin"' not in page
    # an unknown role falls back to the user's own
    assert 'data-testid="guide-city_admin"' in client.get("/help/?role=<x>").content.decode()


def test_help_needs_sign_in(client, db):
    resp = client.get("/help/")
    assert resp.status_code == 302 and "/login/" in resp["Location"]
