"""The brand (BRAND_* settings, docs/brand.md): its colours keep text readable, the system
check refuses what cannot be shown, and the page header, its stylesheet and the invoice PDF
follow the settings. The emails: tests/emails/test_layout.py."""

import io
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from billing_portal import brand
from invoices import pdf
from invoices.services import invoice_issue
from invoices.totals import LineSpec

YELLOW = {"BRAND_NAME": "Festivals Pro", "BRAND_COLOR": "#FC0"}


# --- Colours ---------------------------------------------------------------------------


def test_contrast_ratios_are_wcag_s():
    assert brand.contrast("#000000", "#ffffff") == pytest.approx(21)
    assert brand.contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert brand.readable_on("#2f5bea") == "#ffffff"
    assert brand.readable_on("#ffcc00") == "#000000"


@pytest.mark.parametrize("value", ["blue", "#12345", "2f5bea", "#2f5bez", "", None])
def test_only_hex_colours_are_read(value):
    with pytest.raises(ValueError):
        brand.parse_hex(value)


@given(st.integers(0, 0xFFFFFF))
def test_any_brand_colour_gives_readable_text_everywhere_it_is_used(value):
    colour = f"#{value:06x}"
    b = brand._build("X", colour, "", "", "http://x", "/static/")
    assert brand.contrast(b.text_color, b.color) >= brand.AA  # buttons, email header
    assert brand.contrast(b.text_color, b.hover_color) >= brand.AA  # pressed button
    assert brand.contrast(b.link_color, brand.PAGE_BACKGROUND) >= brand.AA  # links
    assert brand.contrast(b.link_color, "#ffffff") >= brand.AA
    assert brand.contrast(b.dark_color, b.tint_color) >= brand.AA  # text on a tint


def test_the_default_brand_is_today_s_look():
    b = brand.current()
    assert (b.name, b.color, b.text_color, b.link_color) == (
        "Palmarès",
        "#2f5bea",
        "#ffffff",
        "#2f5bea",
    )
    assert b.logo_url == "/static/brand/logo.svg"
    assert b.email_logo_url == "http://127.0.0.1:8000/static/brand/logo.png"


# --- System check ----------------------------------------------------------------------


def check_ids():
    return sorted(error.id for error in brand.brand_check())


def test_the_default_brand_passes_the_check():
    assert check_ids() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"BRAND_COLOR": "bleu"}, ["brand.E001"]),
        ({"BRAND_COLOR": "#2f5be"}, ["brand.E001"]),
        ({"BRAND_NAME": " "}, ["brand.E002"]),
        ({"BRAND_LOGO": "brand/logo.txt"}, ["brand.E003"]),
        ({"BRAND_EMAIL_LOGO": "brand/logo.svg"}, ["brand.E003"]),  # email clients: no SVG
        ({"BRAND_LOGO": "brand/missing.svg"}, ["brand.E004"]),
        ({"BRAND_EMAIL_LOGO": "brand/missing.png"}, ["brand.E004"]),
        ({"BRAND_LOGO": "https://cdn.example.com/logo.svg"}, []),
        ({"BRAND_EMAIL_LOGO": ""}, []),
    ],
)
def test_the_check_refuses_a_brand_that_cannot_be_shown(overrides, expected):
    with override_settings(**overrides):
        assert check_ids() == expected


@override_settings(BRAND_COLOR="#zzzzzz")
def test_manage_py_check_stops_on_an_invalid_colour(db):
    with pytest.raises(SystemCheckError, match="brand.E001"):
        call_command("check", "--deploy")


@override_settings(BRAND_COLOR="#zzzzzz")
def test_an_invalid_colour_that_got_past_the_check_keeps_today_s(client, db):
    assert brand.current().color == brand.DEFAULT_COLOR
    assert client.get(reverse("login")).status_code == 200


# --- Pages -----------------------------------------------------------------------------


def test_the_header_shows_the_logo_and_the_name_and_links_the_brand_stylesheet(client, db):
    page = client.get(reverse("login")).content.decode()
    assert '<img class="brand-logo" src="/static/brand/logo.svg" alt=""' in page
    assert '<span class="brand-name">Palmarès</span>' in page
    assert f'href="/brand.css?v={brand.current().version}"' in page
    assert " style=" not in page  # the Content-Security-Policy forbids inline styles


@override_settings(**YELLOW, BRAND_LOGO="https://cdn.example.com/festivals.svg")
def test_the_brand_settings_change_the_header_and_its_colours(client, db):
    page = client.get(reverse("login")).content.decode()
    assert "· Festivals Pro</title>" in page
    assert '<span class="brand-name">Festivals Pro</span>' in page
    assert 'src="https://cdn.example.com/festivals.svg"' in page
    assert "Palmarès" not in page
    version = re.search(r'href="/brand\.css\?v=(\w+)"', page).group(1)

    css = client.get(f"/brand.css?v={version}")
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert "immutable" in css["Cache-Control"]
    text = css.content.decode()
    assert "--brand: #ffcc00;" in text and "--brand-text: #000000;" in text
    # Yellow is unreadable as text on the page: links get a darker shade of it.
    link = re.search(r"--brand-link: (#\w+);", text).group(1)
    assert link != "#ffcc00" and brand.contrast(link, brand.PAGE_BACKGROUND) >= 4.5


def test_a_stale_stylesheet_link_is_cached_briefly_only(client, db):
    css = client.get("/brand.css?v=old")
    assert css.status_code == 200 and "immutable" not in css["Cache-Control"]


def test_a_logo_url_is_allowed_by_the_content_security_policy():
    # Read when the settings load: a fresh process with the variable set.
    env = {**os.environ, "BRAND_LOGO": "https://cdn.example.com/a/logo.svg", "DEBUG": "1"}
    code = "from django.conf import settings; print(settings.SECURE_CSP['img-src'])"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "billing_portal.settings"},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    ).stdout
    assert "https://cdn.example.com'" in out and "/a/logo.svg" not in out
    assert settings.SECURE_CSP["img-src"] == ["'self'", "data:"]  # none by default


# --- Invoice PDF -----------------------------------------------------------------------


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(page.extract_text() for page in reader.pages)


def _images(content: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def invoice(owner):
    lines = [LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal("850.00"))]
    return invoice_issue(organisation=owner.organisation, lines=lines)


def test_the_invoice_pdf_carries_the_brand(invoice):
    html = pdf.invoice_html(invoice)
    assert 'class="inv-logo" src="data:image/svg+xml;base64,' in html
    assert "--brand: #2f5bea;" in html
    assert _pdf_text(pdf.render_document(invoice)).startswith("Palmarès")


@override_settings(**YELLOW, BRAND_LOGO="brand/logo.png")
def test_the_brand_settings_change_the_invoice_pdf(invoice):
    html = pdf.invoice_html(invoice)
    assert 'class="inv-logo" src="data:image/png;base64,' in html
    assert "--brand: #ffcc00;" in html
    content = pdf.render_document(invoice)
    assert _pdf_text(content).startswith("Festivals Pro")
    assert _images(content) >= 1  # the PNG logo, decoded from the document itself


@override_settings(BRAND_LOGO="https://cdn.example.com/logo.svg")
def test_a_logo_url_is_not_fetched_by_the_pdf_which_shows_the_name(invoice):
    html = pdf.invoice_html(invoice)
    assert "inv-logo" not in html and "cdn.example.com" not in html
    assert _pdf_text(pdf.render_document(invoice)).startswith("Palmarès")


def test_the_pdf_reads_only_images_written_in_the_document():
    with pytest.raises(ValueError):
        pdf._NoFetch()("data:text/html,<script>")
    response = pdf._NoFetch()("data:image/svg+xml,%3Csvg%2F%3E")
    assert response.read() == b"<svg/>" and response.content_type == "image/svg+xml"
