"""Supervision pages: list with filters, new listing from a hazard, detail with only the permitted
actions, action forms with Chinese errors, extension decisions; and the public list without login."""
from __future__ import annotations

import pytest
from django.test import Client

from yingji.hazards import services as hazard_services
from yingji.supervision import services
from yingji.supervision.models import Listing

from tests.hazards.factories import photo

from .factories import in_days, make_listing, make_major_hazard

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_new_listing_page(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a)
    c = as_user(world.town_a)
    page = c.get(f"/supervision/new/?hazard={hazard.pk}")
    html = page.content.decode()
    assert page.status_code == 200 and hazard.title in html
    assert '<option value="town"' in html and '<option value="county"' not in html  # town officer: town only
    data = {"hazard": hazard.pk, "level": "town", "listing_body_name": "大唐街道安委会", "notice_number": "大安督3号",
            "notice_text": "限期整改", "deadline": in_days(500).isoformat(), "shutdown": "none",
            "public_title": hazard.title, "publishable": "on"}
    r = c.post("/supervision/new/", data)
    assert r.status_code == 400 and "整改期限最长为挂牌之日起一年" in r.content.decode()
    r = c.post("/supervision/new/", {**data, "deadline": "", "notice_number": ""})
    assert r.status_code == 400 and "这个字段是必填项" in r.content.decode()
    r = c.post("/supervision/new/", {**data, "deadline": in_days(90).isoformat()})
    listing = Listing.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/supervision/{listing.pk}/"
    assert listing.level == "town" and listing.listed_by == world.town_a
    # listed already: the page answers with a Chinese conflict page
    r = c.get(f"/supervision/new/?hazard={hazard.pk}")
    assert r.status_code == 409 and "该隐患已挂牌督办" in r.content.decode()
    # other personas
    assert as_user(world.town_b).get(f"/supervision/new/?hazard={hazard.pk}").status_code == 404
    other = make_major_hazard(world, None, site=site_a)
    assert as_user(world.grid).get(f"/supervision/new/?hazard={other.pk}").status_code == 403
    assert as_user(world.leader).get(f"/supervision/new/?hazard={other.pk}").status_code == 403
    assert as_user(world.town_a).get("/supervision/new/").status_code == 404
    assert as_user(world.town_a).get("/supervision/new/?hazard=abc").status_code == 422


def test_list_page_filters_and_scope(world, site_a, monkeypatch):
    a = make_listing(world, site=site_a, level="town", actor=world.town_a)
    b = make_listing(world, world.villages["b1"], level="county")
    c = as_user(world.town_a)
    html = c.get("/supervision/").content.decode()
    assert f'href="/supervision/{a.pk}/"' in html and f'href="/supervision/{b.pk}/"' not in html
    html = as_user(world.admin).get("/supervision/?level=county").content.decode()
    assert f'href="/supervision/{b.pk}/"' in html and f'href="/supervision/{a.pk}/"' not in html
    html = as_user(world.admin).get("/supervision/?state=active").content.decode()
    assert f'href="/supervision/{a.pk}/"' in html
    html = as_user(world.admin).get("/supervision/?overdue=on").content.decode()
    assert f'href="/supervision/{a.pk}/"' not in html
    monkeypatch.setattr(services, "today", lambda: in_days(201))
    html = as_user(world.admin).get("/supervision/?overdue=on").content.decode()
    assert f'href="/supervision/{a.pk}/"' in html and f'href="/supervision/{b.pk}/"' in html
    monkeypatch.undo()
    services.request_extension(world.enterprise, a, new_deadline=in_days(250), reason="资金未到位")
    html = as_user(world.admin).get("/supervision/?pending_extension=on").content.decode()
    assert f'href="/supervision/{a.pk}/"' in html and f'href="/supervision/{b.pk}/"' not in html
    html = as_user(world.admin).get(f"/supervision/?q={a.notice_number}").content.decode()
    assert f'href="/supervision/{a.pk}/"' in html and f'href="/supervision/{b.pk}/"' not in html
    assert as_user(world.admin).get("/supervision/?state=bogus").status_code == 400
    assert as_user(world.admin).get("/supervision/?cursor=%%%").status_code == 400
    assert Client().get("/supervision/").status_code == 302   # sign-in required


def test_detail_and_actions(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a)
    listing = make_listing(world, hazard=hazard, level="town", actor=world.town_a)
    url = f"/supervision/{listing.pk}/"
    assert as_user(world.town_b).get(url).status_code == 404
    html = as_user(world.leader).get(url).content.decode()
    assert 'data-testid="listing-actions"' not in html and hazard.title in html
    html = as_user(world.grid).get(url).content.decode()
    assert 'data-testid="listing-actions"' not in html
    ent = as_user(world.enterprise)
    html = ent.get(url).content.decode()
    assert 'data-testid="action-file_plan"' in html and 'data-testid="action-publish_notice"' not in html
    # a plan with missing parts: every missing part is named on the form
    r = ent.post(f"{url}file_plan/", {"measures": "更换泄爆片", "version": listing.version})
    html = r.content.decode()
    assert r.status_code == 400 and "请填写整改资金(资金落实)" in html and "请填写应急预案(预案落实)" in html
    r = ent.post(f"{url}file_plan/", {"measures": "更换泄爆片", "funds": "50000", "responsible_people": "厂长",
                                      "plan_deadline": in_days(100).isoformat(), "contingency": "专项预案"})
    assert r.status_code == 302
    listing.refresh_from_db()
    assert listing.state == "rectifying"
    # the enterprise may not publish (a message, nothing changes)
    r = ent.post(f"{url}publish_notice/", {}, follow=True)
    assert "您无权对该挂牌督办执行" in r.content.decode()
    assert as_user(world.grid).post(f"{url}publish_notice/", {}).status_code == 302
    assert ent.post(f"{url}bogus/", {}).status_code == 404
    assert as_user(world.town_b).post(f"{url}publish_notice/", {}).status_code == 404
    town = as_user(world.town_a)
    assert town.post(f"{url}publish_notice/", {}).status_code == 302
    listing.refresh_from_db()
    assert listing.published_at is not None
    # shutdown, public settings
    r = town.post(f"{url}shutdown/", {"shutdown": "full", "note": "全部停产"})
    assert r.status_code == 302 and Listing.objects.get(pk=listing.pk).shutdown == "full"
    r = town.post(f"{url}set_public/", {"public_title": "请联系13900001111", "publishable": "on"})
    assert r.status_code == 400 and "公开标题不能包含电话号码" in r.content.decode()
    # an extension through the page, decided through the page
    r = ent.post(f"{url}request_extension/", {"new_deadline": in_days(250).isoformat(), "reason": "设备采购"})
    assert r.status_code == 302
    ext = listing.extensions.get()
    html = town.get(url).content.decode()
    assert f'data-testid="decide-{ext.pk}"' in html
    assert f'data-testid="decide-{ext.pk}"' not in ent.get(url).content.decode()
    r = town.post(f"/supervision/extensions/{ext.pk}/decide/", {"approve": "0", "note": ""})
    assert r.status_code == 400 and "请填写审批意见" in r.content.decode()
    r = town.post(f"/supervision/extensions/{ext.pk}/decide/", {"approve": "1", "note": "同意"})
    assert r.status_code == 302 and Listing.objects.get(pk=listing.pk).deadline == in_days(250)
    r = town.post(f"/supervision/extensions/{ext.pk}/decide/", {"approve": "1"}, follow=True)
    assert "该延期申请已审批" in r.content.decode()
    assert as_user(world.town_b).post(f"/supervision/extensions/{ext.pk}/decide/", {"approve": "1"}).status_code == 404
    # acceptance before the hazard's rectification: a message
    r = ent.post(f"{url}request_acceptance/", {"note": ""}, follow=True)
    assert "请先在隐患整改中提交整改材料后再申请验收" in r.content.decode()
    hazard_services.accept(world.admin, hazard, responsible_person="王厂长", deadline=in_days(100))
    hazard_services.submit_rectification(world.enterprise, hazard, description="已整改", files=[photo()])
    assert ent.post(f"{url}request_acceptance/", {"note": "已完成"}).status_code == 302
    r = town.post(f"{url}acceptance/", {"passed": "0", "note": ""})
    assert r.status_code == 400 and "请填写验收意见" in r.content.decode()
    assert town.post(f"{url}acceptance/", {"passed": "1", "note": "合格"}).status_code == 302
    hazard_services.verify(world.town_a, hazard)
    assert town.post(f"{url}delist/", {"note": ""}).status_code == 302
    assert town.post(f"{url}publish_delisting/", {}).status_code == 302
    html = town.get(url).content.decode()
    for action in ("list", "publish_notice", "file_plan", "shutdown", "request_extension", "decide_extension",
                   "request_acceptance", "acceptance", "delist", "publish_delisting"):
        assert f'data-testid="event-{action}"' in html, action
    assert "已摘牌销号" in html
    # archive through the page
    r = town.post(f"{url}archive/", {"reason": ""})
    assert r.status_code == 400 and "请填写归档理由" in r.content.decode()
    assert Listing.objects.get(pk=listing.pk).archived_at is None


def test_public_page_shows_only_published_fields(world, site_a):
    hazard = make_major_hazard(world, None, site=site_a, title="除尘系统未设泄爆装置")
    hazard_services.accept(world.admin, hazard, responsible_person="李四", responsible_phone="13900001111",
                           deadline=in_days(100))
    published = make_listing(world, hazard=hazard, notice_text="内部督办要求:责成李四整改")
    services.publish_notice(world.admin, published)
    services.file_plan(world.enterprise, published, measures="更换泄爆片", funds="10000", responsible_people="王五",
                       plan_deadline=in_days(100), contingency="专项预案")
    unpublished = make_listing(world, site=site_a, public_title="未公布的督办")
    hidden = make_listing(world, site=site_a, public_title="不公开的督办")
    services.publish_notice(world.admin, hidden)
    services.set_public(world.admin, hidden, publishable=False, public_title="不公开的督办")
    archived = make_listing(world, site=site_a, public_title="已归档的督办")
    services.publish_notice(world.admin, archived)
    services.archive(world.admin, archived, reason="误挂牌")

    anon = Client()
    r = anon.get("/public/major-hazards/")
    html = r.content.decode()
    assert r.status_code == 200 and "重大事故隐患挂牌督办名单" in html
    assert "除尘系统未设泄爆装置" in html and "大唐某铝制品厂" in html and "大唐街道" in html
    assert "挂牌督办中" in html
    for secret in ("李四", "13900001111", "王五", "内部督办要求", "未公布的督办", "不公开的督办", "已归档的督办",
                   "整改中", "更换泄爆片"):
        assert secret not in html, secret
    r = anon.get(f"/public/major-hazards/{published.pk}/")
    html = r.content.decode()
    assert r.status_code == 200 and published.notice_number in html and "李四" not in html and "王五" not in html
    for other in (unpublished, hidden, archived):
        assert anon.get(f"/public/major-hazards/{other.pk}/").status_code == 404
    assert anon.get("/public/major-hazards/999999/").status_code == 404
    assert anon.get("/public/major-hazards/?cursor=%%%").status_code == 404
    # the public page opens nothing else
    assert anon.get(f"/supervision/{published.pk}/").status_code == 302
    assert anon.get("/supervision/").status_code == 302
    assert anon.get(f"/hazards/{hazard.pk}/").status_code == 302


def test_public_list_pages_by_keyset(world, site_a, monkeypatch):
    from yingji.supervision import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    first = make_listing(world, site=site_a, public_title="第一条公开督办")
    second = make_listing(world, site=site_a, public_title="第二条公开督办")
    for x in (first, second):
        services.publish_notice(world.admin, x)
    anon = Client()
    html = anon.get("/public/major-hazards/").content.decode()
    assert "第二条公开督办" in html and "第一条公开督办" not in html and "cursor=" in html
    cursor = html.split("cursor=")[1].split('"')[0]
    html = anon.get(f"/public/major-hazards/?cursor={cursor}").content.decode()
    assert "第一条公开督办" in html and "第二条公开督办" not in html


def test_hazard_panel_tag(world, site_a):
    """The snippet the hazard page includes: a button for those who may list, the listing once listed."""
    from django.template import Context, Template

    hazard = make_major_hazard(world, None, site=site_a)
    tpl = Template("{% load supervision %}{% supervision_panel hazard %}")
    html = tpl.render(Context({"hazard": hazard, "user": world.town_a}))
    assert f"/supervision/new/?hazard={hazard.pk}" in html
    assert "/supervision/new/" not in tpl.render(Context({"hazard": hazard, "user": world.grid}))
    listing = make_listing(world, hazard=hazard, level="town", actor=world.town_a)
    html = tpl.render(Context({"hazard": hazard, "user": world.grid}))
    assert f"/supervision/{listing.pk}/" in html and "已挂牌" in html
    assert tpl.render(Context({"hazard": hazard, "user": world.town_b})).strip() == ""
