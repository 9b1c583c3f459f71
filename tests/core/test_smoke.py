def test_world_builds_and_home_renders(world, client):
    client.force_login(world.town_a)
    r = client.get("/")
    assert r.status_code == 200
    assert "工作台" in r.content.decode()


def test_me_api(world, api_client):
    r = api_client.as_user(world.town_a).get("/api/v1/me")
    assert r.status_code == 200
    assert r.json()["roles"][0]["area"]["name"] == "大唐街道"
