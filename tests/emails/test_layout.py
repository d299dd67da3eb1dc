"""Every email the product sends: an HTML part in the brand's layout and a plain-text part
that says the same (links, amounts), sent with its attachments (docs/brand.md)."""

import re

import pytest
from django.core import mail
from django.test import override_settings
from lxml import html as lxml_html

from emails.services import email_send

from .samples import KINDS, sample, template_kinds

URL = re.compile(r"https?://[^\s<>\"']+")
# An amount or a rate as the templates print them: 1 200,00 / 1,200.00 / 12,15.
AMOUNT = re.compile(r"\d{1,3}(?:[\u202f\xa0 ,.]\d{3})*[.,]\d{2}\b")
# What the flows attach: an invoice's PDF, the EPC QR code of a payment reminder.
ATTACHED = {
    "invoice_issued": {"application/pdf"},
    "credit_note_issued": {"application/pdf"},
    "payment_reminder": {"image/png"},
}

# The emails that name an amount: the check of the amounts must have something to check.
WITH_AMOUNTS = {
    "credit_note_issued",
    "direct_debit_notice",
    "direct_debit_returned",
    "invoice_issued",
    "payment_received",
    "payment_reminder",
    "renewal_reminder",
    "upgrade_confirmed",
    "upgrade_request",
}


@pytest.fixture
def make(owner, manager, support_user, plans):
    def make(kind):
        return sample(kind, owner=owner, manager=manager, support_user=support_user, plans=plans)

    return make


def parse(body_html: str):
    return lxml_html.document_fromstring(body_html)


def style(element) -> dict[str, str]:
    declarations = (d.partition(":") for d in element.get("style", "").split(";") if d.strip())
    return {name.strip(): value.strip() for name, _colon, value in declarations}


def html_links(body_html: str) -> set[str]:
    return {a.get("href") for a in parse(body_html).iter("a")}


def text_links(body_text: str) -> set[str]:
    return {url.rstrip(".,;:)") for url in URL.findall(body_text)}


def amounts(text: str) -> set[str]:
    return {" ".join(re.split(r"[\u202f\xa0 ]", found)) for found in AMOUNT.findall(text)}


def test_every_email_of_the_templates_has_a_sample():
    # A new email must be added to tests/emails/samples.py: the tests below then cover it.
    assert set(KINDS) == template_kinds()


@pytest.mark.parametrize("kind", KINDS)
def test_every_email_has_an_html_part_in_the_layout_and_a_complete_text_part(kind, make):
    email = make(kind)
    body_text, body_html = email.body_text, email.body_html
    assert body_text.strip() and body_html.strip()

    document = parse(body_html)
    # The brand's header: its colour copied into a style attribute (most clients drop
    # <style>), the logo from an absolute URL, the name.
    header = document.find_class("header")[0]
    assert style(header)["background"] == "#2f5bea"
    (logo,) = header.iter("img")
    assert logo.get("src") == "http://127.0.0.1:8000/static/brand/logo.png"
    assert header.text_content().strip() == "Palmarès"
    assert style(document.find_class("container")[0])["max-width"] == "600px"
    assert "@media (max-width: 480px)" in body_html  # kept for the clients that read it

    # The text part has the same links and every amount of the HTML part.
    assert html_links(body_html) == text_links(body_text)
    assert amounts(document.text_content()) <= amounts(body_text)
    if kind in WITH_AMOUNTS:
        assert amounts(document.text_content())
    assert "/support/contact/" in body_text  # the layout's footer, in text too

    # Sent as text with an HTML alternative, attachments included.
    mail.outbox.clear()
    email_send(email_id=email.pk)
    (message,) = mail.outbox
    assert message.body == body_text
    assert [(a.content, a.mimetype) for a in message.alternatives] == [(body_html, "text/html")]
    assert [a[0] for a in message.attachments] == [a["filename"] for a in email.attachments]
    assert ATTACHED.get(kind, set()) <= {a[2] for a in message.attachments}


@override_settings(
    BRAND_NAME="Festivals Pro",
    BRAND_COLOR="#FFCC00",
    BRAND_EMAIL_LOGO="https://cdn.example.com/festivals-pro.png",
)
@pytest.mark.parametrize("kind", ["invoice_issued", "upgrade_request", "password_reset"])
def test_the_brand_settings_change_the_emails(kind, make):
    email = make(kind)
    header = parse(email.body_html).find_class("header")[0]
    # A light colour gets black text: 13.9:1 instead of 1.5:1 with white.
    assert (style(header)["background"], style(header)["color"]) == ("#ffcc00", "#000000")
    assert header.text_content().strip() == "Festivals Pro"
    assert [img.get("src") for img in header.iter("img")] == [
        "https://cdn.example.com/festivals-pro.png"
    ]
    assert "Palmarès" not in email.body_html
    assert "\nFestivals Pro · " in email.body_text


@override_settings(BRAND_EMAIL_LOGO="")
def test_without_an_email_logo_the_header_shows_the_name_alone(make):
    header = parse(make("invoice_issued").body_html).find_class("header")[0]
    assert list(header.iter("img")) == []
    assert header.text_content().strip() == "Palmarès"


def test_a_confirmation_button_takes_the_brand_colour_and_keeps_its_text_readable(make):
    with override_settings(BRAND_COLOR="#00ff00"):
        email = make("upgrade_request")
    (button,) = parse(email.body_html).find_class("button")
    assert (style(button)["background"], style(button)["color"]) == ("#00ff00", "#000000")


def test_the_layout_speaks_the_language_of_the_email(make, owner):
    owner.organisation.language = "en"
    owner.organisation.save(update_fields=["language"])
    email = make("invoice_issued")
    assert parse(email.body_html).get("lang") == "en"
    assert "Need help? Contact us." in email.body_html
    assert email.body_text.endswith(
        "Palmarès · Need help? Contact us. http://127.0.0.1:8000/support/contact/\n"
    )
