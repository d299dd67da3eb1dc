"""Every email's HTML part in Chromium, on a phone (390 px) and a desktop (1280 px): nothing
wider than the screen, the logo shown, the text large enough to read. The screenshots are
kept in test-results/emails/ to look at (docs/brand.md)."""

from pathlib import Path

import pytest
from django.conf import settings

from ..emails.samples import KINDS, sample

pytestmark = pytest.mark.browser

SHOTS = Path(settings.BASE_DIR) / "test-results" / "emails"
LOGO = Path(settings.BASE_DIR) / "static" / "brand" / "logo.png"
WIDTHS = [390, 1280]


@pytest.fixture
def email_page(browser):
    pages = []

    def open_email(body_html: str, width: int):
        context = browser.new_context(viewport={"width": width, "height": 800})
        pages.append(context)
        page = context.new_page()
        # The logo's absolute URL (SITE_URL) answered from the static file, as a mail
        # client would load it; nothing else leaves the page.
        page.route(
            "**/*",
            lambda route: (
                route.fulfill(path=LOGO)
                if route.request.url.endswith("/static/brand/logo.png")
                else route.abort()
            ),
        )
        page.set_content(body_html, wait_until="load")
        return page

    yield open_email
    for context in pages:
        context.close()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_each_email_fits_a_phone_and_a_desktop(
    kind, email_page, owner, manager, support_user, plans
):
    email = sample(kind, owner=owner, manager=manager, support_user=support_user, plans=plans)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page = email_page(email.body_html, width)
        page.screenshot(path=SHOTS / f"{kind}-{width}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (kind, width)
        assert page.evaluate("document.querySelector('.header img').naturalWidth") > 0
        container = page.locator(".container").bounding_box()
        assert container["width"] <= min(width, 602)  # 600 px and its border at most
        smallest = page.evaluate(
            "Math.min(...[...document.querySelectorAll('.content p, .content td')]"
            ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
        )
        assert smallest >= 12, (kind, width, smallest)
