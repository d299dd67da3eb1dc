"""Playwright fixtures: Debian's Chromium driving the live server, one browser per session.

Playwright's sync API keeps an asyncio loop in the test thread, and Django refuses ORM
calls from a thread with a running loop. The tests only call the ORM between browser
steps, never concurrently with it, so the check is turned off for this process.
"""

import os

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from ..factories import PASSWORD  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fail fast: every step is a local round trip, a few seconds means something is wrong.
TIMEOUT_MS = 5_000


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=TIMEOUT_MS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server, transactional_db):
    """Open a page in a fresh context (own cookies); `new_page(java_script_enabled=False)`,
    `new_page(locale="en-GB")`."""
    contexts, errors = [], []

    def open_page(**options):
        options.setdefault("locale", "fr-FR")
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda msg: _console_error(msg) and errors.append(msg.text))
        page.on(
            "response",
            lambda response: (
                _broken_asset(response) and errors.append(f"{response.status} {response.url}")
            ),
        )
        return page

    yield open_page
    for context in contexts:
        context.close()
    # A CSP violation or a script error is a broken page even when the flow went through.
    assert errors == [], errors


def _console_error(message):
    # HTTP errors are judged from the responses: a test may open a page it expects refused.
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def _broken_asset(response):
    return response.status >= 400 and response.request.resource_type != "document"


@pytest.fixture
def page(new_page):
    return new_page()


# --- Accessibility: axe-core, from the npm package (package.json pins it; `npm ci`) ---

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.2 AA: the A and AA rules of each WCAG version up to 2.2 (2.2 adds no A rule axe runs).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# With JavaScript turned off in the context, Chromium runs no timer, and axe.run waits on
# setTimeout: in such a page (whose own scripts never ran) timers become microtasks. The
# script runs through the DevTools protocol, which the page's CSP does not restrict.
NO_JS_TIMERS = """() => {
  window.setTimeout = (callback, delay, ...args) => {
    Promise.resolve().then(() => callback(...args));
    return 0;
  };
  window.clearTimeout = () => {};
}"""
AXE_RUN = """async (tags) => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


@pytest.fixture(scope="session")
def axe():
    """`axe(page, javascript=True)`: the WCAG 2.2 A/AA violations axe-core finds in the page,
    as readable lines (empty when none)."""
    if not AXE_JS.exists():
        message = f"{AXE_JS} is missing: run `npm ci` at the repository root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    source = AXE_JS.read_text()

    def check(page, *, javascript=True):
        if not javascript:
            page.evaluate(NO_JS_TIMERS)
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(source)
        violations = page.evaluate(AXE_RUN, AXE_TAGS)
        return [
            f"{page.url}: {v['id']} ({v['impact']}) {v['help']}: {node['target']}"
            f" — {node['summary']}"
            for v in violations
            for node in v["nodes"]
        ]

    return check


LYON = "Festival International du Film de Lyon"


@pytest.fixture
def demo(transactional_db):
    """The demo data (seed_demo): Lyon's owner owner@example.com, its open INV-10682, and
    support@example.com in the Support group; every password is the factories' one."""
    from django.core.management import call_command

    from accounts.models import Organisation

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Organisation.objects.get(name=LYON)


def htmx_settled(page):
    """Wait until htmx has finished: the request, the swap, and the settle that binds the
    new content's hx- attributes (acting before it, a change or a keystroke goes unheard)."""
    busy = page.locator(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added")
    expect(busy).to_have_count(0)


def login(page, email, *, next_url=""):
    """Sign in through the login form, as a person would."""
    page.goto(f"/accounts/login/?next={next_url}" if next_url else "/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()
