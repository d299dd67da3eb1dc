"""WCAG 2.2 AA: axe-core finds no violation on any page of the portal, in French and in
English, with and without JavaScript.

Each walk opens the pages as a person would (forms opened by their links: with JavaScript
htmx swaps them in, without it the link leads to the plain page) and runs axe on every
state; the violations of the whole walk are reported together. See docs/accessibility.md.
"""

import re
import time

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import override
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.models import BillingContact, User
from emails.models import Email
from subscriptions.models import Plan
from subscriptions.services import closure_request, upgrade_request

from ..factories import PASSWORD
from ..two_factor import throttle_passes, totp_code

pytestmark = pytest.mark.browser

LINK = re.compile(r"/confirm/[A-Za-z0-9_-]+/")
LANGUAGES = {"fr": "fr-FR", "en": "en-GB"}
JAVASCRIPT = pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
LANGUAGE = pytest.mark.parametrize("language", ["fr", "en"])


def emailed_link(kind):
    """The link as the recipient got it (the stored copy is redacted once sent)."""
    from django.core import mail

    email = Email.objects.filter(kind=kind).latest("pk")
    message = next(m for m in reversed(mail.outbox) if email.to in m.to)
    return LINK.search(message.body).group(0)


class Walk:
    """One browser context walking pages; `check()` runs axe on the page as it stands."""

    def __init__(self, new_page, axe, *, language, javascript):
        self.page = new_page(locale=LANGUAGES[language], java_script_enabled=javascript)
        self.language = language
        self.javascript = javascript
        self.axe = axe
        self.violations = []
        self.checked = []

    def goto(self, url):
        self.page.goto(url)
        return self.check()

    def check(self, name=None):
        expect(self.page.locator("html")).to_have_attribute("lang", self.language)
        self.checked.append(name or self.page.url)
        self.violations += self.axe(self.page, javascript=self.javascript)
        return self.page

    def open(self, selector, *, expect_visible):
        """Follow a link (htmx swap with JavaScript, the plain page without) and check."""
        self.page.locator(selector).first.click()
        expect(self.page.locator(expect_visible).first).to_be_visible()
        return self.check(f"{self.page.url} {selector}")

    def report(self):
        if self.violations:
            pytest.fail(
                f"{len(self.violations)} axe-core violations:\n" + "\n".join(self.violations),
                pytrace=False,
            )


@pytest.fixture
def walk(new_page, axe, live_server):
    def start(*, language, javascript):
        return Walk(new_page, axe, language=language, javascript=javascript)

    return start


def sign_in(walk, email):
    page = walk.page
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form[action$='/accounts/login/'] button[type=submit]").click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()


@LANGUAGE
@JAVASCRIPT
def test_public_pages(walk, demo, language, javascript):
    walk = walk(language=language, javascript=javascript)
    page = walk.page

    walk.goto("/accounts/login/")
    page.locator("#id_username").fill("owner@example.com")
    page.locator("#id_password").fill("not the password")
    page.locator("form[action$='/accounts/login/'] button[type=submit]").click()
    expect(page.locator(".error").first).to_be_visible()
    walk.check("sign-in refused")

    walk.goto("/accounts/password-reset/")
    page.locator("#id_email").fill("owner@example.com")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/password-reset/sent/$"))
    walk.check("password reset sent")

    owner = User.objects.get(email="owner@example.com")
    uid = urlsafe_base64_encode(force_bytes(owner.pk))
    walk.goto(f"/accounts/reset/{uid}/{default_token_generator.make_token(owner)}/")
    expect(page.locator("#id_new_password1")).to_be_visible()
    page.locator("#id_new_password1").fill("short")
    page.locator("#id_new_password2").fill("different")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".error").first).to_be_visible()
    walk.check("new password refused")
    page.locator("#id_new_password1").fill(PASSWORD + "-2026-new")
    page.locator("#id_new_password2").fill(PASSWORD + "-2026-new")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/reset/done/$"))
    walk.check("password reset done")
    walk.goto(f"/accounts/reset/{uid}/expired-token/")

    walk.goto("/support/contact/")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".error").first).to_be_visible()
    walk.check("contact form refused")
    page.locator("#id_name").fill("Camille Martin")
    page.locator("#id_email").fill("camille@example.com")
    page.locator("#id_subject").fill("Une question")
    page.locator("#id_message").fill("Bonjour, une question sur ma facture.")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/support/contact/sent/$"))
    walk.check("contact form sent")

    walk.goto("/pricing/")
    walk.goto("/confirm/no-such-link/")
    walk.goto("/no-such-page/")
    walk.goto("/billing/contacts/?q=%00")  # 400
    walk.report()


@LANGUAGE
@JAVASCRIPT
def test_contacts_tab_and_its_forms(walk, demo, language, javascript):
    walk = walk(language=language, javascript=javascript)
    page = walk.page
    sign_in(walk, "owner@example.com")
    walk.goto("/billing/contacts/")
    contact = BillingContact.objects.filter(organisation=demo).first()

    walk.open("a[href$='/contacts/add/']", expect_visible="#billing-contacts form")
    page.locator("#billing-contacts form button[type=submit]").click()
    expect(page.locator("#billing-contacts .error").first).to_be_visible()
    walk.check("contact add refused")
    walk.goto("/billing/contacts/")
    walk.open(f"a[href$='/contacts/{contact.pk}/edit/']", expect_visible="#billing-contacts form")
    walk.goto("/billing/contacts/")
    walk.open(f"a[href$='/contacts/{contact.pk}/remove/']", expect_visible="#billing-contacts form")
    walk.goto("/billing/contacts/")
    page.get_by_test_id("owner").focus()
    walk.open("a[href$='/contacts/owner/']", expect_visible="#owner-search")
    page.locator("main form.owner-form button[type=submit]:visible").last.click()
    expect(page.locator("#owner-section .error").first).to_be_visible()
    walk.check("ownership transfer refused")
    # The demo owner also manages Nordic's programme: the header's switcher, open, then
    # the other account chosen (a program manager's Contacts tab, with the message).
    walk.goto("/billing/contacts/")
    switcher = page.get_by_test_id("account-menu")
    switcher.locator("summary").click()
    expect(switcher.locator("button.account-choice")).to_be_visible()
    walk.check("account switcher open")
    switcher.locator("button.account-choice").click()
    expect(page.locator(".messages")).to_be_visible()
    expect(page.locator("main h1")).to_contain_text("Nordic Design Awards")
    walk.check("another account chosen")
    walk.report()


@LANGUAGE
@JAVASCRIPT
def test_invoices_tab_its_forms_and_an_invoice(walk, demo, language, javascript):
    walk = walk(language=language, javascript=javascript)
    page = walk.page
    sign_in(walk, "owner@example.com")
    for section, field in [
        ("address", "#organisation-address form"),
        ("vat", "#organisation-vat form"),
        ("siren", "#organisation-siren form"),
        ("delivery-address", "#organisation-delivery-address form"),
        ("references", "#organisation-references form"),
    ]:
        walk.goto("/billing/invoices/")
        walk.open(f"a[href$='/billing/invoices/{section}/']", expect_visible=field)
    walk.goto("/billing/invoices/")
    walk.open("a[href$='/billing/invoices/vat/']", expect_visible="#organisation-vat form")
    page.locator("#organisation-vat form input:visible").first.fill("FR12345678901")
    page.locator("#organisation-vat form button[type=submit]").click()
    expect(page.locator("#organisation-vat .error").first).to_be_visible()
    walk.check("VAT number refused")

    walk.goto("/billing/invoices/INV-10682/")
    walk.goto("/billing/direct-debit/")
    sign = page.locator("form[action$='/direct-debit/sign/']")
    sign.locator("button[type=submit]").click()
    expect(page.locator(".error").first).to_be_visible()
    walk.check("mandate refused")
    sign.locator("input[name=scheme]").first.check()
    sign.locator("textarea").first.fill("1 place Bellecour\n69002 Lyon")
    sign.locator("input[name=iban]").fill("FR14 2004 1010 0505 0001 3M02 606")
    sign.locator("input[name=signed_place]").fill("Lyon")
    sign.locator("input[type=checkbox]").check()
    sign.locator("button[type=submit]").click()
    expect(page.locator(".message").first).to_be_visible()
    walk.check("mandate signed")
    walk.goto(emailed_link("mandate_request"))
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("main h1")).to_be_visible()
    walk.check("mandate confirmed")
    walk.goto("/billing/direct-debit/")  # the mandate in force
    page.locator("form[action$='/direct-debit/revoke/'] button[type=submit]").click()
    expect(page.locator(".message").first).to_be_visible()
    walk.check("mandate revocation requested")
    walk.goto(emailed_link("mandate_revoke_request"))
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("main h1")).to_be_visible()
    walk.check("mandate revoked")
    walk.report()


@LANGUAGE
@JAVASCRIPT
def test_subscription_tab_confirmations_and_the_closed_account(walk, demo, language, javascript):
    walk = walk(language=language, javascript=javascript)
    page = walk.page
    sign_in(walk, "owner@example.com")
    walk.goto("/billing/subscription/")
    walk.open("a[href$='/subscription/upgrade/']", expect_visible="#upgrade-section form")
    walk.goto("/pricing/")
    walk.goto("/billing/subscription/")
    page.locator("a[href$='/subscription/close/']").click()
    if javascript:
        expect(page.locator("#closure-dialog")).to_be_visible()
        walk.check("closure dialog")
        page.keyboard.press("Escape")
    else:
        expect(page).to_have_url(re.compile(r"/subscription/close/$"))
        walk.check()

    owner = User.objects.get(email="owner@example.com")
    top = Plan.objects.order_by("-rank").first()
    if demo.subscription.plan != top:
        upgrade_request(organisation=demo, plan=top, actor=owner)
        walk.goto(emailed_link("upgrade_request"))
    walk.goto("/billing/subscription/")  # pending upgrade
    closure_request(organisation=demo, actor=owner)
    walk.goto("/billing/subscription/")  # pending closure
    walk.goto(emailed_link("closure_request"))
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("main h1")).to_be_visible()
    walk.check("closure confirmed")
    walk.goto("/billing/contacts/")  # the closed account
    walk.goto("/billing/invoices/")
    walk.report()


@LANGUAGE
@JAVASCRIPT
def test_sign_in_security_the_code_step_and_the_step_up(walk, demo, language, javascript):
    """« Sécurité de la connexion » in each state, the sign-in's code step (app code and
    recovery code, refused), and the confirmation page asking the owner's code."""
    walk = walk(language=language, javascript=javascript)
    page = walk.page
    owner = User.objects.get(email="owner@example.com")
    sign_in(walk, "owner@example.com")
    page.get_by_test_id("user-menu").click()
    page.locator("a[href$='/billing/security/']").click()
    expect(page.get_by_test_id("two-factor-off")).to_be_visible()
    walk.check("security: off")

    page.locator("form[action$='/security/enable/'] button[type=submit]").first.click()
    expect(page.get_by_test_id("two-factor-qr")).to_be_visible()
    walk.check("security: enrolment")
    enable = page.locator("form:has(#id_code)")
    enable.locator("#id_code").fill("000000")
    enable.locator("button[type=submit]").click()
    expect(page.locator("main .error").first).to_be_visible()
    walk.check("security: first code refused")
    key = TOTPDevice.objects.get(user=owner).bin_key
    page.locator("#id_code").fill(totp_code(key, time.time()))
    page.locator("form:has(#id_code) button[type=submit]").click()
    expect(page.get_by_test_id("recovery-codes")).to_be_visible()
    walk.check("security: recovery codes")
    codes = list(StaticToken.objects.values_list("token", flat=True))
    page.locator("form[action$='/security/codes/'] button[type=submit]").click()
    expect(page.get_by_test_id("two-factor-on")).to_be_visible()
    walk.check("security: on")
    for path in ("recovery", "disable"):
        walk.goto(f"/billing/security/{path}/")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("main .error").first).to_be_visible()
        walk.check(f"security: {path} refused")

    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.locator("#id_username").fill("owner@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form[action$='/accounts/login/'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/code/$"))
    walk.check("code step")
    page.locator("#id_code").fill("000000")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main .error").first).to_be_visible()
    walk.check("code step: refused")
    page.locator("a[href$='?method=recovery']").click()
    expect(page).to_have_url(re.compile(r"method=recovery$"))
    walk.check("code step: recovery code")
    throttle_passes(owner)
    page.locator("#id_code").fill(codes[0])
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()
    walk.check("signed in with a recovery code")

    closure_request(organisation=demo, actor=owner)
    walk.goto(emailed_link("closure_request"))
    page.locator("#id_code").fill("000000")
    page.locator("main form button[type=submit]").first.click()
    expect(page.get_by_test_id("step-up-error")).to_be_visible()
    walk.check("step-up: code refused")
    walk.report()


@LANGUAGE
def test_error_pages(walk, demo, language):
    walk = walk(language=language, javascript=True)
    page = walk.page
    sign_in(walk, "manager@example.com")
    walk.goto("/billing/contacts/")  # a program manager's read-only view
    response = page.goto("/billing/subscription/close/")
    assert response.status == 403
    walk.check()
    response = page.goto("/billing/no-such-page/")
    assert response.status == 404
    walk.check()
    response = page.goto("/billing/contacts/?q=%00")
    assert response.status == 400
    walk.check()

    # A form whose CSRF token is gone (cookies cleared): 403, the site's own page.
    page.goto("/support/contact/")
    page.context.clear_cookies()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("main form button[type=submit]").click()
    assert posted.value.status == 403
    walk.check("CSRF failure")

    # A 500 cannot be reached on purpose: its template is served as the server would.
    with override(language):
        body = render_to_string("500.html")
    page.route(
        "**/server-error/",
        lambda route: route.fulfill(status=500, body=body, content_type="text/html"),
    )
    page.goto("/server-error/")
    walk.check("500")
    walk.report()


def test_axe_reports_an_image_without_text_and_a_field_without_label(page, axe, live_server):
    """The check can fail: a page with a nameless image and an unlabelled field is caught."""
    page.goto("/accounts/login/")
    assert axe(page) == []
    page.evaluate(
        """() => {
          const image = document.createElement("img");
          image.src = "/static/favicon.svg";
          document.querySelector("main").append(image);
          document.querySelector("label[for=id_password]").remove();
        }"""
    )
    found = "\n".join(axe(page))
    assert "image-alt" in found
    assert "label" in found and "#id_password" in found
