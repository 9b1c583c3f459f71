"""Hazard pages: list, report form (photos, idempotent resubmission), detail with only the
actions the user may take, action forms with Chinese errors."""
from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from yingji.hazards import services
from yingji.hazards.models import Hazard, HazardEvent

from .factories import make_hazard, photo

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def in_days(n):
    return (timezone.localdate() + datetime.timedelta(days=n)).isoformat()


def test_report_page_with_photo_and_idempotent_resubmit(world, site_a):
    c = as_user(world.grid)
    page = c.get("/hazards/report/")
    assert page.status_code == 200
    assert f'href="?site={site_a.pk}"' in page.content.decode()  # the grid worker's visible site
    page = c.get(f"/hazards/report/?site={site_a.pk}")
    html = page.content.decode()
    assert "大唐某袜厂" in html and 'name="idempotency_key"' in html and 'name="latitude"' in html
    data = {"site": site_a.pk, "level": "general", "category": "fire", "description": "消防栓被遮挡",
            "idempotency_key": "form-key-00000001", "latitude": "29.7", "longitude": "120.2"}
    r = c.post("/hazards/report/", {**data, "files": [photo()]})
    assert r.status_code == 302, r.content.decode()[:2000]
    hazard = Hazard.objects.get()
    assert r["Location"] == f"/hazards/{hazard.pk}/"
    assert hazard.reported_by == world.grid and hazard.site == site_a and str(hazard.latitude) == "29.700000"
    # the phone resends the same form (double tap, flaky network): same hazard, no duplicate
    r = c.post("/hazards/report/", {**data, "files": [photo()]})
    assert r.status_code == 302 and r["Location"] == f"/hazards/{hazard.pk}/"
    assert Hazard.objects.count() == 1
    # a bad submission shows a Chinese error on the form
    r = c.post("/hazards/report/", {"site": site_a.pk, "level": "general", "category": "fire",
                                    "description": "", "idempotency_key": "form-key-00000002"})
    assert r.status_code == 400 and "这个字段是必填项" in r.content.decode()


def test_report_page_fix_on_spot_for_officers_only(world, site_a):
    # a grid worker's form has no 当场整改: only supervising officers close on the spot
    assert 'name="fixed_on_spot"' not in as_user(world.grid).get(f"/hazards/report/?site={site_a.pk}").content.decode()
    c = as_user(world.town_a)
    assert 'name="fixed_on_spot"' in c.get(f"/hazards/report/?site={site_a.pk}").content.decode()
    data = {"site": site_a.pk, "level": "general", "category": "fire", "description": "灭火器过期",
            "fixed_on_spot": "on", "rectification_description": "已当场更换灭火器", "cost": "120",
            "idempotency_key": "spot-key-000000001"}
    # evidence is required: no photo of the fix, no closing
    r = c.post("/hazards/report/", data)
    assert r.status_code == 400 and "当场整改须上传整改后的照片或材料" in r.content.decode()
    assert not Hazard.objects.exists()
    # a major hazard is never closed on the spot
    r = c.post("/hazards/report/", {**data, "level": "major", "rectification_files": [photo()]})
    assert r.status_code == 400 and "重大隐患不能当场整改销号" in r.content.decode()
    r = c.post("/hazards/report/", {**data, "rectification_files": [photo()], "files": [photo("现场.png")]})
    assert r.status_code == 302, r.content.decode()[:2000]
    hazard = Hazard.objects.get()
    assert hazard.state == "closed" and hazard.fixed_on_spot and hazard.closed_by == world.town_a
    assert hazard.rectifications.get().description == "已当场更换灭火器"
    assert "已登记当场整改并销号" in c.get(r["Location"]).content.decode()


def test_detail_offers_only_permitted_actions(world, site_a):
    hazard = make_hazard(world, None, site=site_a, actor=world.grid)
    url = f"/hazards/{hazard.pk}/"
    html = as_user(world.grid).get(url).content.decode()
    assert 'data-testid="hazard-actions"' not in html and "消防通道" in html
    html = as_user(world.enterprise).get(url).content.decode()
    # found by the grid worker: the enterprise rectifies but does not accept; the page says who does
    assert 'data-testid="hazard-actions"' not in html
    assert "待属地镇街或行业监管部门受理" in html and "监管部门发现(网格巡查)" in html
    html = as_user(world.town_a).get(url).content.decode()
    assert 'data-testid="action-accept"' in html and 'data-testid="action-archive"' in html
    assert 'data-testid="action-verify"' not in html
    assert as_user(world.town_b).get(url).status_code == 404
    assert as_user(world.leader).get(url).status_code == 200


def test_page_lifecycle_with_send_back_and_errors(world, site_a):
    hazard = make_hazard(world, None, site=site_a, actor=world.grid)
    base = f"/hazards/{hazard.pk}"
    ent, town = as_user(world.enterprise), as_user(world.town_a)
    # a grid worker cannot accept: a Chinese message, nothing changes
    r = as_user(world.grid).post(f"{base}/accept/", {"responsible_person": "王五", "deadline": in_days(5)},
                                 follow=True)
    assert "您无权受理该隐患:须由属地镇街或行业监管部门受理" in r.content.decode()
    # nor can the enterprise: the government side found it
    r = ent.post(f"{base}/accept/", {"responsible_person": "王五", "deadline": in_days(5), "version": 2},
                 follow=True)
    assert "须由属地镇街或行业监管部门受理并确定整改期限" in r.content.decode()
    r = town.post(f"{base}/accept/", {"responsible_person": "王五", "deadline": in_days(5), "version": 2})
    assert r.status_code == 302
    r = ent.post(f"{base}/submit_rectification/", {"description": "已清理", "version": 3})
    assert r.status_code == 400 and "没有整改证据不能提交" in r.content.decode()
    r = ent.post(f"{base}/submit_rectification/", {"description": "已清理", "version": 3, "files": [photo()],
                                                    "idempotency_key": "page-rect-000001"})
    assert r.status_code == 302
    r = town.post(f"{base}/send_back/", {"reason": "", "version": 4})
    assert r.status_code == 400 and "这个字段是必填项" in r.content.decode()
    r = town.post(f"{base}/send_back/", {"reason": "通道仍有杂物", "version": 4}, follow=True)
    assert "已退回" in r.content.decode()
    ent.post(f"{base}/submit_rectification/", {"description": "全部清空", "files": [photo()]})
    # a stale page: someone acted since it was loaded
    r = town.post(f"{base}/verify/", {"version": 4}, follow=True)
    assert "该隐患已被他人处理,请刷新后重试" in r.content.decode()
    r = town.post(f"{base}/verify/", {"note": "合格", "idempotency_key": "page-verify-0001"}, follow=True)
    assert "已验收销号" in r.content.decode()
    r = town.post(f"{base}/verify/", {"note": "合格", "idempotency_key": "page-verify-0001"}, follow=True)
    assert "已验收销号" in r.content.decode()  # the resubmitted form: same result, no second event
    hazard.refresh_from_db()
    assert hazard.state == "closed"
    assert HazardEvent.objects.filter(hazard=hazard, action="verify").count() == 1
    html = town.get(f"{base}/").content.decode()
    for action in ("report", "accept", "submit_rectification", "send_back", "verify"):
        assert f'data-testid="event-{action}"' in html
    assert "通道仍有杂物" in html
    assert as_user(world.town_a).post(f"{base}/bogus/", {}).status_code == 404


def test_list_page_filters(world, site_a):
    h1 = make_hazard(world, None, site=site_a, level="major")
    h2 = make_hazard(world, world.area_b, world.sectors["industry_trade"])
    html = as_user(world.admin).get("/hazards/").content.decode()
    assert f'href="/hazards/{h1.pk}/"' in html and f'href="/hazards/{h2.pk}/"' in html
    html = as_user(world.admin).get("/hazards/?level=major").content.decode()
    assert f'href="/hazards/{h1.pk}/"' in html and f'href="/hazards/{h2.pk}/"' not in html
    html = as_user(world.town_a).get("/hazards/").content.decode()
    assert f'href="/hazards/{h1.pk}/"' in html and f'href="/hazards/{h2.pk}/"' not in html
    services.accept(world.town_a, h1, responsible_person="x", deadline=timezone.localdate())
    Hazard.objects.filter(pk=h1.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=2))
    services.escalate_overdue()
    html = as_user(world.admin).get("/hazards/?overdue=on").content.decode()
    assert f'href="/hazards/{h1.pk}/"' in html and f'href="/hazards/{h2.pk}/"' not in html
    assert as_user(world.admin).get("/hazards/?state=bogus").status_code == 400
    # the area drop-down offers one level below the user's area, yet any visible area filters
    village = world.villages["a1"]
    html = as_user(world.admin).get("/hazards/").content.decode()
    assert f'<option value="{world.area_a.pk}">' in html and f'<option value="{village.pk}">' not in html
    html = as_user(world.town_a).get("/hazards/").content.decode()
    assert f'<option value="{village.pk}">' in html
    html = as_user(world.admin).get(f"/hazards/?area={village.pk}").content.decode()
    assert f'<option value="{village.pk}" selected>' in html
    assert f'href="/hazards/{h1.pk}/"' in html and f'href="/hazards/{h2.pk}/"' not in html
    assert as_user(world.town_b).get(f"/hazards/?area={village.pk}").status_code == 400  # not theirs
    nav = as_user(world.grid).get("/").content.decode()
    assert 'href="/hazards/"' in nav


def test_list_rows_show_what_the_record_says(world, site_a):
    """The list reads plain rows; each cell must still say what the record says."""
    import re

    with_site = make_hazard(world, None, site=site_a, level="major")
    services.accept(world.town_a, with_site, responsible_person="x", deadline=timezone.localdate())
    Hazard.objects.filter(pk=with_site.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=2))
    services.escalate_overdue()
    no_site = make_hazard(world, world.area_b, world.sectors["industry_trade"])
    with_site.refresh_from_db()
    html = as_user(world.admin).get("/hazards/").content.decode()
    rows = {}
    for tr in html.split("<tr>")[1:]:
        link = re.search(r'href="/hazards/(\d+)/"', tr)
        if link:
            rows[int(link.group(1))] = tr
    row = rows[with_site.pk]
    assert 'class="tag red">重大隐患<' in row and "超期" in row and site_a.name in row and site_a.area.name in row
    assert with_site.deadline.isoformat() in row and with_site.title in row
    assert timezone.localtime(with_site.reported_at).strftime("%Y-%m-%d %H:%M") in row
    row = rows[no_site.pk]
    assert 'class="tag">一般隐患<' in row and "超期" not in row and world.area_b.name in row and "已上报" in row
    assert "—" in row  # no deadline yet
