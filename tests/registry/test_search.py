"""Site search and filters: Chinese substrings (two characters too), pinyin initials, credit-code
prefixes, every filter, and stable keyset pagination. Runs on SQLite and PostgreSQL alike."""
from __future__ import annotations

import pytest

from yingji.core.errors import InvalidInput
from yingji.core.pagination import keyset_page
from yingji.registry import services
from yingji.registry.queries import site_search

from .conftest import CODES


def names(user, **filters):
    return set(site_search(user, **filters).values_list("name", flat=True))


def test_two_character_chinese_substring(reg):
    admin = reg.world.admin
    assert names(admin, q="袜业") == {"诸暨市大唐袜业有限公司", "诸暨市大江新宇袜业有限公司"}
    assert names(admin, q="管业") == {"浙江店口管业有限公司"}
    assert names(admin, q="店口") == {"浙江店口管业有限公司", "店口便利店"}
    assert names(admin, q="大唐袜业") == {"诸暨市大唐袜业有限公司"}
    assert names(admin, q="不存在的名字") == set()


def test_address_substring(reg):
    admin = reg.world.admin
    assert names(admin, q="湄池路") == {"浙江店口管业有限公司"}
    assert names(admin, q="开元") == {"大唐安置房工程"}


def test_pinyin_initials(reg):
    admin = reg.world.admin
    assert names(admin, q="djxy") == {"诸暨市大江新宇袜业有限公司"}
    assert names(admin, q="dtwy") == {"诸暨市大唐袜业有限公司"}
    assert names(admin, q="DTWY") == {"诸暨市大唐袜业有限公司"}
    assert names(admin, q="dkbld") == {"店口便利店"}
    assert "诸暨市大唐袜业有限公司" in names(admin, q="zjs")   # prefix of 诸暨市…


def test_credit_code_prefix(reg):
    admin = reg.world.admin
    assert names(admin, q=CODES[3][:12]) == {"浙江店口管业有限公司"}
    assert names(admin, q=CODES[3].lower()) == {"浙江店口管业有限公司"}
    assert names(admin, q=CODES[3]) == {"浙江店口管业有限公司"}
    assert "浙江店口管业有限公司" in names(admin, q=CODES[3][:4])  # a short prefix still matches


def test_search_respects_scope(reg):
    w = reg.world
    assert names(w.town_b, q="袜业") == set()
    assert names(w.town_b, q=CODES[0][:12]) == set()
    assert names(w.dept, q="大唐") == {"大唐安置房工程"}


def test_filters(reg):
    w = reg.world
    admin, s = w.admin, w.sectors
    assert names(admin, area=w.area_a.pk) == {"诸暨市大唐袜业有限公司", "诸暨市大江新宇袜业有限公司", "大唐安置房工程",
                                              "诸暨市大唐金属表面处理中心"}
    assert names(admin, area=w.villages["a1"]) == {"诸暨市大唐袜业有限公司", "大唐安置房工程", "诸暨市大唐金属表面处理中心"}
    assert names(admin, area=w.grids["a1g1"].pk) == {"诸暨市大唐袜业有限公司"}
    assert names(admin, sector="hazchem") == {"诸暨市大唐金属表面处理中心"}
    assert names(admin, sector=s["construction"].pk) == {"大唐安置房工程"}
    assert names(admin, industry="17") == {"诸暨市大唐袜业有限公司", "诸暨市大江新宇袜业有限公司"}
    assert names(admin, industry="C") == {"诸暨市大唐袜业有限公司", "诸暨市大江新宇袜业有限公司",
                                          "诸暨市大唐金属表面处理中心", "浙江店口管业有限公司"}
    assert names(admin, industry="E") == {"大唐安置房工程"}
    assert names(admin, trait="metal_surface") == {"诸暨市大唐金属表面处理中心", "浙江店口管业有限公司"}
    assert names(admin, colour="red") == {"浙江店口管业有限公司"}
    assert names(admin, status="suspended") == {"浙江店口管业有限公司"}
    assert names(admin, kind="small_place") == {"店口便利店"}
    assert names(admin, q="大唐", trait="metal_surface", colour="orange", area=w.area_a) == {"诸暨市大唐金属表面处理中心"}


def test_archived_hidden_unless_asked(reg):
    admin = reg.world.admin
    services.archive_site(admin, reg.shop)
    assert "店口便利店" not in names(admin)
    assert "店口便利店" in names(admin, include_archived=True)


@pytest.mark.parametrize("filters,field", [
    ({"colour": "purple"}, "colour"), ({"status": "x"}, "status"), ({"kind": "x"}, "kind"),
    ({"industry": "99"}, "industry"), ({"trait": "nope"}, "trait"), ({"sector": "nope"}, "sector"),
    ({"area": 999999}, "area"), ({"area": "abc"}, "area"),
])
def test_bad_filters_are_chinese_errors(reg, filters, field):
    with pytest.raises(InvalidInput) as exc:
        site_search(reg.world.admin, **filters)
    assert field in exc.value.detail


def test_keyset_pagination_is_stable(reg):
    w = reg.world
    for i in range(7):
        services.create_site(w.admin, kind="small_place", name=f"翻页测试小店{i}", area=w.villages["b2"])
    qs = site_search(w.admin, q="翻页测试")
    seen, cursor, pages = [], None, 0
    while True:
        items, cursor = keyset_page(qs, cursor, limit=3)
        seen += [s.pk for s in items]
        pages += 1
        if pages == 1:
            # a site added while paging does not shift later pages
            services.create_site(w.admin, kind="small_place", name="翻页测试新店", area=w.villages["b2"])
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)


def test_list_page_filters_and_next_page(reg, client):
    w = reg.world
    for i in range(55):
        services.create_site(w.admin, kind="small_place", name=f"分页小店{i:02d}", area=w.villages["b2"])
    client.force_login(w.admin)
    r = client.get("/sites/", {"q": "分页小店", "kind": "small_place"})
    body = r.content.decode()
    assert r.status_code == 200
    assert "分页小店54" in body and "分页小店04" not in body
    assert "下一页" in body
    cursor = body.split("cursor=")[1].split('"')[0]
    body2 = client.get(f"/sites/?q=%E5%88%86%E9%A1%B5%E5%B0%8F%E5%BA%97&kind=small_place&cursor={cursor}").content.decode()
    assert "分页小店04" in body2 and "分页小店54" not in body2 and "下一页" not in body2
    r = client.get("/sites/", {"q": "djxy"})
    assert "诸暨市大江新宇袜业有限公司" in r.content.decode()
    r = client.get("/sites/", {"cursor": "!!bad"})
    assert r.status_code == 400 and "分页游标无效" in r.content.decode()


def test_filter_dropdowns_offer_only_visible_areas(reg, client):
    w = reg.world
    client.force_login(w.town_b)
    body = client.get("/sites/").content.decode()
    assert w.villages["b1"].name in body and w.villages["a1"].name not in body
    assert "金属表面处理" in body  # traits offered
    assert "制造业" in body        # industries offered
