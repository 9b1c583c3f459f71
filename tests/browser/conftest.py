"""Fixtures for headless-browser journeys: Debian's Chromium driven by Playwright against a live server.

``playwright install`` is never used: the browser is the system Chromium at ``/usr/bin/chromium``
(``YINGJI_CHROMIUM`` points elsewhere); without it the browser tests are skipped with the reason.
Every test gets a fresh browser context (own cookies); ``new_page`` opens further contexts, e.g. a
second user or a phone viewport. Pages fail the test if the browser hits a JavaScript error, a
server error (5xx), a missing static file or a Content-Security-Policy violation (every page is
served with the policy of ``core/security.py``: an inline script, an ``on*=`` attribute or an
outside resource shows up here).
"""
from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import build_world

# The Playwright sync API keeps an asyncio event loop running in this thread, which trips
# Django's async-safety check on ORM calls made by the tests themselves.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("YINGJI_CHROMIUM", "/usr/bin/chromium")  # Debian's package; CI installs it
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
# Generous ceilings: a busy CI runner can be slow; a passing run never waits for them.
NAVIGATION_TIMEOUT_MS = 30_000
TIMEOUT_MS = 15_000

# Reports every Content-Security-Policy violation of a page as a console error with this prefix
# (Playwright's init scripts run outside the page's policy). Chromium's own console message
# ("Refused to … because it violates the following Content Security Policy directive") is caught too.
CSP_MARK = "[csp-violation]"
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", function (e) {
  console.error("%s " + e.effectiveDirective + " blocked " + (e.blockedURI || "inline") +
    " in " + (e.sourceFile || document.location.pathname) + ":" + e.lineNumber +
    (e.sample ? " (" + e.sample + ")" : ""));
}, true);""" % CSP_MARK

HAVE_CHROMIUM = os.path.exists(CHROMIUM)
NO_CHROMIUM_REASON = f"headless-browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"


@pytest.fixture(scope="session")
def browser():
    if not HAVE_CHROMIUM:
        pytest.skip(NO_CHROMIUM_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def warm_live_server(live_server):
    """Load the app once over plain HTTP: the first request imports URL confs, the API schema
    and the static-file index, which can take seconds on a busy machine."""
    urllib.request.urlopen(f"{live_server.url}/login/", timeout=120).read()
    return live_server


@pytest.fixture
def browser_world(transactional_db):
    """The personas of ``tests.conftest.world``, committed so the live server thread sees them."""
    return build_world()


@pytest.fixture
def new_page(browser, live_server, warm_live_server):
    """Factory: ``new_page(**context_options)`` opens a page in a new, isolated browser context.

    Contexts default to a Chinese browser (``zh-CN``), so the UI language is what a local user sees.
    """
    contexts = []
    problems: list[str] = []

    def make(**options):
        opts = {"base_url": live_server.url, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
        opts.update(options)
        ctx = browser.new_context(**opts)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        contexts.append(ctx)
        ctx.add_init_script(CSP_LISTENER)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))

        def on_console(msg):
            if msg.type == "error" and (CSP_MARK in msg.text or "Content Security Policy" in msg.text):
                problems.append(f"CSP violation on {page.url.removeprefix(live_server.url)}: {msg.text}")

        page.on("console", on_console)

        def on_response(resp):
            path = resp.url.removeprefix(live_server.url)
            if resp.status >= 500 or (path.startswith("/static/") and resp.status >= 400):
                problems.append(f"{resp.status} {resp.request.method} {path}")

        page.on("response", on_response)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    if problems:
        pytest.fail("browser saw problems:\n" + "\n".join(problems))


@pytest.fixture
def page(new_page):
    return new_page()


def login(page, live_server, username: str, password: str):
    """Sign in through the real form; returns the response of the page landed on."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    with page.expect_navigation() as navigation:
        page.locator("main").get_by_role("button", name="登录").click()
    return navigation.value


def screenshot(page, name: str) -> Path:
    """Full-page screenshot into ``var/screenshots/`` (git-ignored) for reviewers."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def offscreen_nav_links(page) -> list[str]:
    """Navigation entries a phone user cannot see without sideways scrolling."""
    return page.evaluate("""() => [...document.querySelectorAll('nav.main a')]
        .filter(a => a.getBoundingClientRect().right > window.innerWidth + 1)
        .map(a => a.textContent.trim())""")


def nav_go(page, label: str) -> None:
    """Follow the navigation entry ``label``, opening its drop-down menu first when it sits in one."""
    # a CSS locator also finds links hidden in a closed menu (role locators skip hidden elements)
    menu = page.locator("nav.main details.menu").filter(has=page.locator(f'a:text-is("{label}")'))
    if menu.count() and menu.first.get_attribute("open") is None:
        menu.first.locator("summary").click()
    page.locator("nav.main").get_by_role("link", name=label, exact=True).click()


def nav_labels(page) -> list[str]:
    """Every navigation entry the user has, in the bar or in its menus."""
    return page.evaluate("""() => [...document.querySelectorAll('nav.main a')].map(a => a.textContent.trim())""")
