"""At home on a phone: no page is wider than the screen, at 390, 768 and 1280 px.

Every page a customer can reach — each tab and its edit states, the invoice page, pricing,
the confirmation pages, sign-in, password reset, the contact form, the closed-account page
and the error pages — is opened once, then measured and photographed at each width (the
viewport is resized in place, so one-shot pages such as a confirmation's outcome are
measured too). The screenshots are kept in the test's temporary directory
(pytest's `tmp_path`, printed on failure) to be looked at.

Short texts that a reader takes in at a glance (an activity's date and author, the error
pages' links, the contact form's heading) must not break across lines at any width.
"""

import re
import time

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.models import BillingContact, Organisation, User
from subscriptions.models import Plan
from subscriptions.services import closure_request, upgrade_request

from ..factories import PASSWORD
from ..two_factor import totp_code
from .conftest import login

pytestmark = pytest.mark.browser

WIDTHS = (390, 768, 1280)
HEIGHT = 800
NORDIC = "Nordic Design Awards"

# How many lines the text inside an element takes: the distinct bottoms of its text's boxes.
LINES_JS = """(element) => {
  const bottoms = [];
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) {
      if (rect.width < 1) continue;
      if (!bottoms.some((bottom) => Math.abs(bottom - rect.bottom) < 4)) bottoms.push(rect.bottom);
    }
  }
  return bottoms.length;
}"""

# How many lines `words`, inside an element's text, take.
WORDS_LINES_JS = """(element, words) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const start = node.textContent.indexOf(words);
    if (start < 0) continue;
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, start + words.length);
    const bottoms = new Set(Array.from(range.getClientRects(), (rect) => Math.round(rect.bottom)));
    return bottoms.size;
  }
  return 0;
}"""

# The elements sticking out of the viewport, to name the culprit in a failure.
OVERFLOWING_JS = """(width) => Array.from(document.querySelectorAll('body *'))
  .filter((e) => e.getBoundingClientRect().right > width + 0.5)
  .filter((e) => !e.closest('.visually-hidden, .skip-link'))
  .slice(0, 5)
  .map((e) => {
    const right = Math.round(e.getBoundingClientRect().right);
    return `${e.tagName.toLowerCase()}.${e.className} (${right} px)`;
  })"""


class Widths:
    """Measures the page at each width and keeps a screenshot of it."""

    def __init__(self, directory):
        self.directory = directory
        self.too_wide = []
        self.seen = []

    def check(self, page, name):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=self.directory / f"{name}-{width}.png", full_page=True)
            self.seen.append((name, width))
            if scroll_width > width:
                culprits = page.evaluate(OVERFLOWING_JS, width)
                self.too_wide.append(f"{name} at {width} px: {scroll_width} px wide {culprits}")
        # The next page loads at the narrowest width, as a phone would open it.
        page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})

    def visit(self, page, url, name, *, status=200):
        response = page.goto(url)
        assert response.status == status, (url, response.status)
        self.check(page, name)


@pytest.fixture
def widths(tmp_path):
    directory = tmp_path / "screenshots"
    directory.mkdir()
    return Widths(directory)


def _phone(new_page, **options):
    return new_page(viewport={"width": WIDTHS[0], "height": HEIGHT}, **options)


def test_no_page_is_wider_than_the_screen(new_page, demo, widths):
    lyon = demo
    owner = User.objects.get(email="owner@example.com")
    contact = BillingContact.objects.filter(organisation=lyon).first()
    # Long unbroken values must wrap, not widen the page.
    BillingContact.objects.create(
        organisation=lyon,
        first_name="Marie-Christine",
        last_name="de La Tour d'Auvergne-Lauraguais",
        email="comptabilite.fournisseurs.internationaux@festival-du-film-de-lyon.example.com",
    )
    upgrade = upgrade_request(
        organisation=lyon, plan=Plan.objects.get(code="entreprise"), actor=owner
    )

    # Signed out.
    page = _phone(new_page)
    widths.visit(page, "/accounts/login/", "sign-in")
    widths.visit(page, "/accounts/password-reset/", "password-reset")
    widths.visit(page, "/accounts/password-reset/sent/", "password-reset-sent")
    uid = urlsafe_base64_encode(force_bytes(owner.pk))
    token = default_token_generator.make_token(owner)
    widths.visit(page, f"/accounts/reset/{uid}/{token}/", "password-reset-new")
    widths.visit(page, "/accounts/reset/done/", "password-reset-done")
    widths.visit(page, "/pricing/", "pricing-signed-out")
    widths.visit(page, "/support/contact/", "contact-signed-out")
    widths.visit(page, "/support/contact/sent/", "contact-sent")
    widths.visit(page, "/confirm/no-such-link/", "confirm-unknown-link", status=404)

    # The owner: every tab, each edit state served at its own URL (the no-JavaScript
    # path, the same fragments htmx swaps in).
    login(page, "owner@example.com")
    for url, name in [
        ("/billing/contacts/", "contacts"),
        ("/billing/contacts/owner/", "contacts-owner-change"),
        ("/billing/contacts/add/", "contacts-add"),
        (f"/billing/contacts/{contact.pk}/edit/", "contacts-edit"),
        (f"/billing/contacts/{contact.pk}/remove/", "contacts-remove"),
        ("/billing/invoices/", "invoices"),
        ("/billing/invoices/address/", "invoices-address"),
        ("/billing/invoices/vat/", "invoices-vat"),
        ("/billing/invoices/siren/", "invoices-siren"),
        ("/billing/invoices/delivery-address/", "invoices-delivery-address"),
        ("/billing/invoices/references/", "invoices-references"),
        ("/billing/invoices/INV-10682/", "invoice"),
        ("/billing/direct-debit/", "direct-debit"),
        ("/billing/subscription/", "subscription"),
        ("/billing/subscription/upgrade/", "subscription-upgrade"),
        ("/billing/subscription/upgrade/?plan=entreprise", "subscription-upgrade-quote"),
        ("/billing/subscription/close/", "subscription-close"),
        ("/pricing/", "pricing"),
        ("/support/contact/", "contact"),
        (f"/confirm/{upgrade.token}/", "confirm-upgrade"),
    ]:
        widths.visit(page, url, name)
    widths.visit(page, "/billing/invoices/INV-0/", "error-404", status=404)
    # The demo owner also manages Nordic's programme: the header's switcher, open.
    page.goto("/billing/contacts/")
    switcher = page.get_by_test_id("account-menu")
    switcher.locator("summary").click()
    expect(switcher.get_by_role("button", name=re.compile(NORDIC))).to_be_visible()
    widths.check(page, "account-switcher")
    # Back at a phone's width: the open list starts inside the screen, not left of it.
    box = switcher.locator("fieldset").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTHS[0]
    # A form sent back with its errors.
    page.goto("/billing/invoices/vat/")
    page.locator("input[name=vat_number]").fill("FR00")
    page.locator("input[name=vat_number]").press("Enter")
    expect(page.locator(".error").first).to_be_visible()
    widths.check(page, "invoices-vat-error")

    # English, the second language, has its own lengths.
    page.goto("/billing/contacts/")
    page.get_by_role("button", name="EN").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for url, name in [
        ("/billing/contacts/", "en-contacts"),
        ("/billing/invoices/", "en-invoices"),
        ("/billing/subscription/", "en-subscription"),
        ("/billing/invoices/INV-10682/", "en-invoice"),
        ("/support/contact/", "en-contact"),
    ]:
        widths.visit(page, url, name)

    # A program manager on an owner's page: the 403 page.
    manager_page = _phone(new_page)
    login(manager_page, "manager@example.com")
    widths.visit(manager_page, "/billing/invoices/", "error-403", status=403)

    # The server error page, as the server sends it (it stands alone: no stylesheet).
    error_page = _phone(new_page)
    html = render_to_string("500.html")
    error_page.route("**/server-error", lambda route: route.fulfill(status=500, body=html))
    widths.visit(error_page, "/server-error", "error-500", status=500)

    # Closing an account: the emailed link's page, its outcome, then the closed account.
    nordic = Organisation.objects.get(name=NORDIC)
    other = User.objects.get(email="other@example.com")
    closure = closure_request(organisation=nordic, actor=other)
    closed_page = _phone(new_page)
    login(closed_page, "other@example.com")
    widths.visit(closed_page, f"/confirm/{closure.token}/", "confirm-closure")
    closed_page.get_by_role("button", name="Confirmer").click()
    closed_page.wait_for_load_state()
    widths.check(closed_page, "confirm-closure-done")
    widths.visit(closed_page, "/billing/contacts/", "closed-account", status=403)
    # Nordic chosen by the owner of Lyon, who manages it: its closed page, with the switcher
    # that leads back to Lyon.
    page.goto("/billing/contacts/")
    page.get_by_test_id("account-menu").locator("summary").click()
    page.get_by_test_id("account-menu").get_by_role("button", name=re.compile(NORDIC)).click()
    expect(page.locator("main h1")).to_have_text(re.compile("closed|fermé"))
    page.get_by_test_id("account-menu").locator("summary").click()
    widths.check(page, "closed-account-switcher")

    assert widths.too_wide == [], f"screenshots in {widths.directory}"


def test_the_sign_in_security_pages_fit_a_phone(new_page, demo, widths):
    """« Sécurité de la connexion » in each state, the recovery codes, the sign-in's code
    step and the confirmation page with the owner's code field."""
    owner = User.objects.get(email="owner@example.com")
    page = _phone(new_page)
    login(page, "owner@example.com")
    widths.visit(page, "/billing/security/", "security-off")
    page.locator("form[action$='/security/enable/'] button[type=submit]").first.click()
    expect(page.get_by_test_id("two-factor-qr")).to_be_visible()
    widths.check(page, "security-enrolment")
    key = TOTPDevice.objects.get(user=owner).bin_key
    page.locator("#id_code").fill(totp_code(key, time.time()))
    page.locator("form:has(#id_code) button[type=submit]").click()
    expect(page.get_by_test_id("recovery-codes")).to_be_visible()
    widths.check(page, "security-recovery-codes")
    for url, name in [
        ("/billing/security/", "security-on"),
        ("/billing/security/recovery/", "security-recovery"),
        ("/billing/security/disable/", "security-disable"),
    ]:
        widths.visit(page, url, name)
    closure = closure_request(organisation=demo, actor=owner)
    widths.visit(page, f"/confirm/{closure.token}/", "confirm-closure-step-up")

    signed_out = _phone(new_page)
    signed_out.goto("/accounts/login/")
    signed_out.locator("#id_username").fill("owner@example.com")
    signed_out.locator("#id_password").fill(PASSWORD)
    signed_out.locator("main form button[type=submit]").click()
    expect(signed_out.locator("#id_code")).to_be_visible()
    widths.check(signed_out, "sign-in-code")
    widths.visit(signed_out, "/accounts/login/code/?method=recovery", "sign-in-recovery-code")

    assert widths.too_wide == [], f"screenshots in {widths.directory}"


def test_short_texts_stay_on_one_line(new_page, demo, widths):
    """The activity's dates and authors, the error page's links and the contact form's
    « Contactez-nous » are read at a glance: never broken across two lines."""
    owner = User.objects.get(email="owner@example.com")
    # An event by a person, beside the demo's events by the system.
    upgrade_request(organisation=demo, plan=Plan.objects.get(code="entreprise"), actor=owner)
    page = _phone(new_page)
    login(page, "owner@example.com")
    page.goto("/billing/contacts/")
    rows = page.locator("table.activity tbody tr")
    expect(rows.first).to_contain_text("Camille Martin")
    manager_page = _phone(new_page)
    login(manager_page, "manager@example.com")
    manager_page.goto("/billing/invoices/")
    error_links = manager_page.locator("main .card a")
    expect(error_links).to_have_count(2)
    contact_page = _phone(new_page)
    contact_page.goto("/support/contact/")
    heading = contact_page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Besoin d'aide ? Contactez-nous.")
    broken = []
    for width in WIDTHS:
        for each in (page, manager_page, contact_page):
            each.set_viewport_size({"width": width, "height": HEIGHT})
        for index in range(rows.count()):
            for column in (1, 2):  # the date, who did it
                cell = rows.nth(index).locator(f"td:nth-child({column})")
                if cell.evaluate(LINES_JS) != 1:
                    broken.append(f"activity « {cell.inner_text()} » at {width} px")
        for index in range(error_links.count()):
            link = error_links.nth(index)
            if link.evaluate(LINES_JS) != 1:
                broken.append(f"403 link « {link.inner_text()} » at {width} px")
        # The words may go to a second line together, never split at the hyphen.
        if heading.evaluate(WORDS_LINES_JS, "Contactez-nous.") != 1:
            broken.append(f"contact heading at {width} px")
        page.screenshot(path=widths.directory / f"activity-{width}.png", full_page=True)
        contact_page.screenshot(path=widths.directory / f"contact-{width}.png")
    assert broken == [], f"screenshots in {widths.directory}"
