"""The « Factures » tab in a browser, on the demo data: address, VAT number, INV-10682."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import Organisation
from invoices.models import Invoice

from .conftest import login

pytestmark = pytest.mark.browser

LYON = "Festival International du Film de Lyon"


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Organisation.objects.get(name=LYON)


def _open_invoices_tab(page):
    login(page, "owner@example.com")
    page.get_by_role("link", name="Factures", exact=True).click()
    expect(page.get_by_role("heading", name="Historique des factures")).to_be_visible()


def test_owner_edits_the_address_in_place(new_page, demo):
    page = new_page()
    _open_invoices_tab(page)
    estimate = page.get_by_test_id("renewal-estimate")
    expect(estimate).to_contain_text("Professionnel")
    page.get_by_role("link", name="Modifier l'adresse").click()
    page.get_by_role("textbox", name="Adresse", exact=True).fill("3 place Bellecour")
    page.get_by_label("Code postal").fill("69002")
    page.get_by_label("Ville").fill("Lyon")
    page.locator("#organisation-address").get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_test_id("organisation-address")).to_contain_text("3 place Bellecour")
    demo.refresh_from_db()
    assert demo.address_line1 == "3 place Bellecour"
    # Issued invoices keep the address they were issued with.
    assert "14 quai Saint-Antoine" in Invoice.objects.get(number="INV-10682").buyer_address_lines


def test_invalid_then_valid_vat_number(new_page, demo):
    page = new_page()
    _open_invoices_tab(page)
    page.get_by_role("link", name="Modifier le numéro de TVA").click()
    field = page.get_by_role("textbox", name="Numéro de TVA")
    field.fill("FR00123")
    page.locator("#organisation-vat").get_by_role("button", name="Sauvegarder").click()
    error = page.locator("#organisation-vat .error")
    expect(error).to_contain_text("FR + 11 chiffres")
    demo.refresh_from_db()
    assert demo.vat_number == "FR44732829320"  # nothing saved

    page.get_by_role("textbox", name="Numéro de TVA").fill("FR 96 552100554")
    page.locator("#organisation-vat").get_by_role("button", name="Sauvegarder").click()
    expect(page.get_by_test_id("organisation-vat")).to_have_text("FR96552100554")
    demo.refresh_from_db()
    assert demo.vat_number == "FR96552100554"


def test_open_inv_10682_online_and_download_its_pdf(new_page, demo, tmp_path):
    page = new_page(accept_downloads=True)
    _open_invoices_tab(page)
    page.get_by_role("link", name="INV-10682", exact=True).click()
    expect(page.get_by_role("heading", name="FACTURE")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Festival International du Film de Lyon")
    expect(page.locator("main")).to_contain_text("Palmarès Logiciels SAS")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF").first.click()
    download = download_info.value
    assert download.suggested_filename == "INV-10682.pdf"
    path = tmp_path / "INV-10682.pdf"
    download.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(path).pages)
    assert "INV-10682" in text
