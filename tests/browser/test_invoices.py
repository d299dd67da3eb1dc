"""The « Factures » tab in a browser, on the demo data: address, VAT number, INV-10682."""

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import Organisation
from invoices.models import Invoice

from .conftest import login

pytestmark = pytest.mark.browser


def _open_invoices_tab(page):
    login(page, "owner@example.com")
    page.get_by_role("link", name="Factures", exact=True).click()
    expect(page.get_by_role("heading", name="Historique des factures")).to_be_visible()


def test_owner_edits_the_address_in_place(new_page, demo):
    page = new_page()
    _open_invoices_tab(page)
    estimate = page.get_by_test_id("renewal-estimate")
    expect(estimate).to_contain_text("Professionnel")
    page.get_by_role("link", name="Modifier l'adresse", exact=True).click()
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

    # Another company's number: it does not contain the account's SIREN.
    page.get_by_role("textbox", name="Numéro de TVA").fill("FR 96 552100554")
    page.locator("#organisation-vat").get_by_role("button", name="Sauvegarder").click()
    expect(error).to_contain_text("contient le SIREN 552100554, et non celui de votre")
    # Once the SIREN is cleared (an account that never entered one), the number is taken.
    Organisation.objects.filter(pk=demo.pk).update(siren="")
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


def _lyon_numbers(demo, start, end):
    return list(
        Invoice.objects.filter(organisation=demo, issue_date__gte=start, issue_date__lte=end)
        .order_by("sequence")
        .values_list("number", flat=True)
    )


@pytest.mark.parametrize("java_script_enabled", [True, False], ids=["js", "no-js"])
def test_download_a_period_as_zip_and_as_csv(new_page, demo, tmp_path, java_script_enabled):
    page = new_page(accept_downloads=True, java_script_enabled=java_script_enabled)
    _open_invoices_tab(page)
    issued = Invoice.objects.get(number="INV-10682").issue_date
    export = page.get_by_test_id("invoice-export")

    # From-to dates: the day INV-10682 was issued, both ends included.
    export.get_by_label("Du").fill(issued.isoformat())
    export.get_by_label("Au").fill(issued.isoformat())
    with page.expect_download() as download_info:
        export.get_by_role("button", name="Télécharger les factures (ZIP)").click()
    download = download_info.value
    assert download.suggested_filename == (
        f"factures-festival-international-du-film-de-lyon-{issued}_{issued}.zip"
    )
    path = tmp_path / "export.zip"
    download.save_as(path)
    numbers = _lyon_numbers(demo, issued, issued)
    assert "INV-10682" in numbers
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [
            f"{n}{suffix}" for n in numbers for suffix in (".pdf", ".xml", "-ubl.xml")
        ]
        assert archive.read("INV-10682.pdf").startswith(b"%PDF")
        xml = etree.fromstring(archive.read("INV-10682.xml"))
        assert "INV-10682" in xml.xpath("string(//*[local-name()='ExchangedDocument'])")

    # The whole year, as a list for the accountant.
    export.get_by_label("Du").fill("")
    export.get_by_label("Au").fill("")
    export.get_by_label("Année").select_option(str(issued.year))
    with page.expect_download() as download_info:
        export.get_by_role("button", name="Télécharger la liste (CSV)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(f"-{issued.year}.csv")
    path = tmp_path / "export.csv"
    download.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeffNuméro;Type;")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    year = _lyon_numbers(demo, date(issued.year, 1, 1), date(issued.year, 12, 31))
    assert [row[0] for row in rows[1:]] == year
    row = next(row for row in rows if row[0] == "INV-10682")
    invoice = Invoice.objects.get(number="INV-10682")
    assert row[3] == invoice.issue_date.isoformat()
    column = dict(zip(rows[0], row, strict=True))
    assert Decimal(column["Montant HT"]) == invoice.subtotal
    assert Decimal(column["TVA 20 %"]) == invoice.vat_amount
    assert Decimal(column["Total TTC"]) == invoice.total
    assert column["Statut"] == "À payer"


def test_export_with_reversed_dates_says_why(new_page, demo):
    page = new_page()
    _open_invoices_tab(page)
    export = page.get_by_test_id("invoice-export")
    export.get_by_label("Du").fill("2026-03-31")
    export.get_by_label("Au").fill("2026-01-01")
    export.get_by_role("button", name="Télécharger la liste (CSV)").click()
    expect(page.get_by_test_id("invoice-export").get_by_role("alert")).to_have_text(
        "La date de début doit précéder la date de fin."
    )
    expect(page.get_by_test_id("invoice-export").get_by_label("Du")).to_have_value("2026-03-31")


def test_owner_sets_the_buyer_references_in_place(new_page, demo):
    page = new_page()
    _open_invoices_tab(page)
    page.get_by_role("link", name="Modifier vos références").click()
    form = page.locator("#organisation-references")
    expect(form).to_contain_text("votre numéro d'engagement")
    form.get_by_role("textbox", name="Numéro de bon de commande").fill("EJ-2027-0001")
    form.get_by_role("textbox", name="Référence acheteur").fill("x" * 101)
    form.get_by_role("button", name="Sauvegarder").click()
    # The browser stops at the field's maxlength: 100 characters are sent, and saved.
    expect(page.get_by_test_id("organisation-references")).to_contain_text("EJ-2027-0001")
    demo.refresh_from_db()
    assert (demo.order_reference, demo.buyer_reference) == ("EJ-2027-0001", "x" * 100)
