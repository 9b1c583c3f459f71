"""English UI: the language cookie switches pages to English through the compiled catalogue
(src/yingji/locale/en), Chinese stays the default, and the catalogue is complete and compiled."""
from __future__ import annotations

import gettext
import html as htmllib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from yingji.core import roles

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "src/yingji/locale/en/LC_MESSAGES/django.po"
MO = PO.with_suffix(".mo")
CHECK_SCRIPT = ROOT / "scripts/translate_check.py"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load_check_module():
    spec = importlib.util.spec_from_file_location("translate_check", CHECK_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def visible_text(html: str) -> str:
    """The page text a user reads: no scripts/styles, no tags, the language switch button removed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<button[^>]*name="language"[^>]*>.*?</button>', " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def nav_html(html: str) -> str:
    found = re.search(r'<nav class="main">(.*?)</nav>', html, re.S)
    assert found, "no main navigation on the page"
    return found.group(1)


def nav_labels(html: str) -> list[str]:
    links = re.findall(r"<a [^>]*>(.*?)</a>", nav_html(html), re.S)
    return [htmllib.unescape(re.sub(r"\s+", " ", t).strip()) for t in links]


def use_language(client, code):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = code
    return client


# ================================================================ pages

def test_login_page_in_english_has_no_chinese_left(db, client):
    r = use_language(client, "en").get("/login/")
    assert r.status_code == 200
    html = r.content.decode()
    assert '<html lang="en">' in html
    assert "<title>Sign in · Zhuji Emergency</title>" in html
    text = visible_text(html)
    for phrase in ("Sign in", "Username", "Password", "Emergency management platform",
                   "Zhuji Emergency Management Bureau"):
        assert phrase in text, phrase
    assert not CJK.findall(text), CJK.findall(text)
    # The switch back to Chinese is labelled in Chinese on purpose.
    assert 'value="zh-hans">中文</button>' in html


def test_login_page_defaults_to_chinese(db, client):
    html = client.get("/login/").content.decode()
    assert '<html lang="zh-CN">' in html
    assert "登录" in html and "用户名" in html and "Sign in" not in html
    assert 'value="en">English</button>' in html


def test_wrong_password_error_is_english_in_english_ui(world, client):
    r = use_language(client, "en").post("/login/", {"username": "town_a", "password": "wrong-password"})
    text = visible_text(r.content.decode())
    assert "Incorrect username or password" in text
    assert "用户名或密码错误" not in text


def test_home_and_navigation_in_english(world, client):
    client.force_login(world.admin)
    r = use_language(client, "en").get("/")
    assert r.status_code == 200
    html = r.content.decode()
    labels = nav_labels(html)
    assert labels[0] == "Home"
    for label in ("Supervised sites", "Hazard management", "Risk grading rules", "Administrative areas",
                  "Users & roles", "Organisations & sectors", "Background jobs", "Audit log"):
        assert label in labels, (label, labels)
    assert not any(CJK.search(label) for label in labels), labels
    assert not CJK.search(nav_html(html))
    text = visible_text(html)
    for phrase in ("Dashboard", "My roles and jurisdiction", "Change password", "Sign out", "City administrator"):
        assert phrase in text, phrase
    for chinese in ("工作台", "修改密码", "退出", "首页", "市级管理员"):
        assert chinese not in text, chinese


@pytest.mark.parametrize("persona", ["town_a", "grid", "enterprise", "leader", "inspector", "dept"])
def test_every_persona_gets_an_english_navigation(world, client, persona):
    client.force_login(world.users[persona])
    html = use_language(client, "en").get("/").content.decode()
    labels = nav_labels(html)
    assert labels and labels[0] == "Home"
    assert not CJK.search(nav_html(html)), labels


def test_home_and_navigation_in_chinese_by_default(world, client):
    client.force_login(world.admin)
    html = client.get("/").content.decode()
    labels = nav_labels(html)
    assert labels[0] == "首页"
    assert "隐患排查治理" in labels and "审计日志" in labels
    assert not any(re.search(r"[A-Za-z]{3,}", label) for label in labels), labels
    assert "工作台" in html and "Dashboard" not in html


def test_switching_language_changes_the_same_page(world, client):
    client.force_login(world.town_a)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert nav_labels(client.get("/").content.decode())[0] == "Home"
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert nav_labels(client.get("/").content.decode())[0] == "首页"


# ================================================================ Python strings (gettext / gettext_lazy)

def test_lazy_python_strings_follow_the_active_language():
    label = roles.ROLE_LABELS[roles.GRID_WORKER]
    with translation.override("en"):
        assert str(label) == "Village/community grid worker"
        assert translation.gettext("记录不存在或无权访问") == "Record not found or access denied"
        assert translation.gettext("第%(n)d次尝试成功") % {"n": 2} == "Attempt 2 succeeded"
    with translation.override("zh-hans"):
        assert str(label) == "村社/网格员"


def test_plural_entry_is_translated():
    with translation.override("en"):
        assert translation.ngettext("%(n)s条未读", "%(n)s条未读", 1) % {"n": 1} == "1 unread"
        assert translation.ngettext("%(n)s条未读", "%(n)s条未读", 5) % {"n": 5} == "5 unread"


# ================================================================ the catalogue itself

def test_catalogue_has_no_empty_or_fuzzy_entries():
    check = _load_check_module()
    entries = [e for e in check.parse_po(PO.read_text(encoding="utf-8")) if not e.obsolete]
    assert len(entries) > 500
    header = entries[0]
    assert header.msgid == "" and not header.fuzzy
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header.msgstr[0]
    empty = [e.msgid for e in entries[1:] if e.untranslated]
    fuzzy = [e.msgid for e in entries[1:] if e.fuzzy]
    assert not empty, f"untranslated: {empty[:20]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:20]}"
    assert not [e.msgid for e in entries[1:] if any(CJK.search(s) for s in e.msgstr.values())
                and not re.search(r"allowed values", e.msgstr[0])], "Chinese left in an English msgstr"


def test_placeholders_survive_translation():
    check = _load_check_module()
    ph = re.compile(r"%\(\w+\)[sd]|<[^>]+>")
    bad = []
    for e in check.parse_po(PO.read_text(encoding="utf-8")):
        if e.msgid and not e.obsolete:
            for s in e.msgstr.values():
                if sorted(ph.findall(e.msgid)) != sorted(ph.findall(s)):
                    bad.append((e.msgid, s))
    assert not bad, bad


def test_compiled_mo_matches_the_po():
    """The .mo is committed (CI does not compile), so it must hold exactly the .po's translations.
    (Compared by content rather than file times: a git checkout does not preserve mtimes.)"""
    check = _load_check_module()
    with MO.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)._catalog
    for e in check.parse_po(PO.read_text(encoding="utf-8")):
        if e.obsolete or not e.msgid:
            continue
        key = e.msgid if e.msgctxt is None else f"{e.msgctxt}\x04{e.msgid}"
        if e.msgid_plural is None:
            assert catalog.get(key) == e.msgstr[0], f"{e.msgid!r}: .mo is stale, run compilemessages"
        else:
            for i, s in e.msgstr.items():
                assert catalog.get((key, i)) == s, f"{e.msgid!r}[{i}]: .mo is stale, run compilemessages"
    assert check.problems(PO) == []


def test_check_script_reports_untranslated_and_fuzzy(tmp_path):
    bad = tmp_path / "django.po"
    bad.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#: core/x.py:1\nmsgid "首页"\nmsgstr "Home"\n\n'
        '#: core/x.py:2\nmsgid "退出"\nmsgstr ""\n\n'
        '#: core/x.py:3\n#, fuzzy\n#| msgid "登出"\nmsgid "登录"\nmsgstr "Sign out"\n\n'
        '#: core/x.py:4\nmsgid "%(n)s条"\nmsgid_plural "%(n)s条"\nmsgstr[0] "%(n)s item"\nmsgstr[1] ""\n\n'
        '#: core/x.py:5\nmsgid ""\n"多行"\n"文本"\nmsgstr ""\n"multi-line "\n"text"\n',
        encoding="utf-8")
    run = subprocess.run([sys.executable, str(CHECK_SCRIPT), str(bad)], capture_output=True, text=True)
    assert run.returncode == 1
    out = run.stdout
    assert "untranslated (core/x.py:2): '退出'" in out
    assert "fuzzy (core/x.py:3): '登录'" in out
    assert "untranslated (core/x.py:4): '%(n)s条'" in out
    assert "django.mo: missing" in out
    assert "首页" not in out and "多行文本" not in out
    ok = subprocess.run([sys.executable, str(CHECK_SCRIPT), str(PO)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
