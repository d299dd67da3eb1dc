import hashlib
import io
import subprocess
import threading
import time
from datetime import date
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.core.files.storage import storages
from django.db import connection
from PIL import Image
from pypdf import PdfReader

from invoices import pdf
from invoices.models import Invoice
from invoices.references import rf_reference_display
from invoices.tasks import invoice_pdf_render_task
from invoices.totals import LineSpec
from tests.factories import OrganisationFactory

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(page.extract_text() for page in reader.pages)
    # Amounts use no-break spaces (1 020,00 €); compare with plain ones.
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def stored_pdf(invoice) -> bytes:
    invoice = pdf.invoice_pdf_ensure(invoice_id=invoice.pk)
    with storages["documents"].open(invoice.pdf_name, "rb") as fh:
        return fh.read()


def test_pdf_shows_number_parties_totals_and_mandatory_mentions(settings, owner, issue):
    invoice = issue(
        owner.organisation,
        lines=[
            LineSpec(
                "Abonnement annuel — forfait Professionnel",
                Decimal(1),
                Decimal("6000.00"),
                date(2026, 3, 1),
                date(2027, 3, 1),
            ),
            LineSpec("Accompagnement au paramétrage (jour)", Decimal("1.5"), Decimal("900.00")),
        ],
    )
    text = pdf_text(stored_pdf(invoice))

    assert "FACTURE" in text
    assert invoice.number in text
    # Seller: name, legal form and capital, address, SIREN, RCS, VAT number.
    for fragment in (
        "Palmarès Logiciels SAS",
        "SAS au capital de 50 000 €",
        "12 rue de la Paix",
        "SIREN 552100554",
        "RCS Paris 552 100 554",
        settings.SELLER["vat_number"],
    ):
        assert fragment in text
    # Buyer: name, address, SIREN (from its VAT number), VAT number.
    for fragment in (
        "Festival International du Film de Lyon",
        "14 quai Saint-Antoine",
        "69002 Lyon",
        "SIREN 732829320",
        "FR44732829320",
    ):
        assert fragment in text
    # Dates, period, lines, totals.
    for fragment in (
        "Date d'émission",
        "Date d'échéance",
        "du 1er mars 2026 au 28 février 2027",
        "Prestations de services",
        "Accompagnement au paramétrage (jour)",
        "1,5",
        "900,00",
        "1 350,00 €",
        "Total HT 7 350,00 €",
        "TVA 20 % 1 470,00 €",
        "Total TTC 8 820,00 €",
    ):
        assert fragment in text
    # Payment terms: IBAN, BIC, reference, discount, penalties, 40 € indemnity.
    for fragment in (
        "FR76 3000 6000 0112 3456 7890 189",
        "AGRIFRPPXXX",
        f"Référence {rf_reference_display(invoice.number)}",
        "Pas d'escompte pour paiement anticipé",
        "majoré de 10 points",
        "indemnité forfaitaire pour frais de recouvrement de 40 €",
    ):
        assert fragment in text
    assert "Autoliquidation" not in text
    assert "TVA non applicable" not in text


@pytest.mark.parametrize(
    ("country", "vat_number", "expected", "absent"),
    [
        (
            "DE",
            "DE136695976",
            [
                "Autoliquidation",
                "article 283-2 du CGI",
                "article 196 de la directive 2006/112/",
                "N° TVA du client : DE136695976",
                "TVA 0 % 0,00 €",
                "Total TTC 850,00 €",
            ],
            ["TVA non applicable"],
        ),
        (
            "DE",
            "",
            ["TVA 20 % 170,00 €", "Total TTC 1 020,00 €"],
            ["Autoliquidation", "TVA non applicable"],
        ),
        (
            "US",
            "",
            ["TVA non applicable, art. 259-1 du CGI", "Total TTC 850,00 €"],
            ["Autoliquidation"],
        ),
    ],
)
def test_pdf_prints_the_mention_of_its_tax_case(db, issue, country, vat_number, expected, absent):
    organisation = OrganisationFactory(country=country, vat_number=vat_number, language="fr")
    text = pdf_text(stored_pdf(issue(organisation)))
    for fragment in expected:
        assert fragment in text
    for fragment in absent:
        assert fragment not in text


def test_pdf_is_in_the_invoice_language(swedish_owner, issue):
    invoice = issue(swedish_owner.organisation)
    text = pdf_text(stored_pdf(invoice))
    for fragment in (
        "INVOICE",
        invoice.number,
        "Nordic Design Awards",
        "Sweden",
        "Autoliquidation (reverse charge): VAT to be accounted for",
        "Customer VAT number: SE556677889901",
        "Total incl. VAT €850.00",
        "No discount for early payment",
        "€40 for recovery costs",
    ):
        assert fragment in text
    assert "Facture" not in text


def test_pdf_is_pdf_a_3b_a4_with_embedded_fonts(owner, issue):
    reader = PdfReader(io.BytesIO(stored_pdf(issue(owner.organisation))))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    root = ElementTree.fromstring(xmp)  # noqa: S314 - our own renderer's output
    ids = {}
    for element in root.iter():
        for name in ("part", "conformance"):
            if PDFAID + name in element.attrib:
                ids[name] = element.attrib[PDFAID + name]
            if element.tag == PDFAID + name:
                ids[name] = element.text
    assert ids == {"part": "3", "conformance": "B"}
    assert "/OutputIntents" in reader.trailer["/Root"]

    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4 in points

    fonts = page["/Resources"]["/Font"]
    assert fonts
    for font in fonts.values():
        font = font.get_object()
        descendant = (
            font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        )
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "DejaVu" in str(font["/BaseFont"])
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), "font not embedded"


def test_pdf_is_rendered_once_and_stored_with_its_hash(owner, issue, monkeypatch):
    invoice = issue(owner.organisation)
    calls = []
    real_render = pdf.render_pdf
    monkeypatch.setattr(pdf, "render_pdf", lambda inv: calls.append(inv.pk) or real_render(inv))

    first = pdf.invoice_pdf_ensure(invoice_id=invoice.pk)
    second = pdf.invoice_pdf_ensure(invoice_id=invoice.pk)
    assert calls == [invoice.pk]
    assert first.pdf_name == second.pdf_name
    # invoices/<32 hex>.pdf: nothing in the name to guess from the number or the account.
    assert first.pdf_name.startswith("invoices/")
    assert len(first.pdf_name) == len("invoices/") + 32 + len(".pdf")
    assert invoice.number not in first.pdf_name
    stored = Invoice.objects.get(pk=invoice.pk)
    with storages["documents"].open(stored.pdf_name, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == stored.pdf_sha256
    assert stored.pdf_rendered_at is not None


def test_task_renders_and_stores(owner, issue):
    invoice = issue(owner.organisation)
    assert not Invoice.objects.get(pk=invoice.pk).pdf_name  # not before commit
    name = invoice_pdf_render_task.delay(invoice.pk).get()
    assert Invoice.objects.get(pk=invoice.pk).pdf_name == name
    assert storages["documents"].exists(name)


def test_pdf_loads_no_external_resource():
    with pytest.raises(ValueError):
        pdf._NoFetch()("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(ValueError):
        pdf._NoFetch()("file:///etc/passwd")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_downloads_render_once(monkeypatch):
    from emails import tasks as email_tasks
    from invoices import tasks as invoice_tasks
    from invoices.services import invoice_issue

    from .conftest import one_line

    monkeypatch.setattr(invoice_tasks.invoice_pdf_render_task, "apply_async", lambda **kw: None)
    monkeypatch.setattr(email_tasks.email_send_task, "apply_async", lambda **kw: None)
    invoice = invoice_issue(organisation=OrganisationFactory(), lines=one_line())
    calls = []
    real_render = pdf.render_pdf

    def slow_render(inv):
        calls.append(inv.pk)
        time.sleep(0.3)  # both requests are in flight while the first renders
        return real_render(inv)

    monkeypatch.setattr(pdf, "render_pdf", slow_render)
    names = []

    def download():
        try:
            names.append(pdf.invoice_pdf_ensure(invoice_id=invoice.pk).pdf_name)
        finally:
            connection.close()

    threads = [threading.Thread(target=download) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [invoice.pk]
    assert len(set(names)) == 1 and names[0]
    _dirs, files = storages["documents"].listdir("invoices")
    assert len(files) == 1


def test_deploy_check_warns_when_harfbuzz_subset_is_missing(monkeypatch):
    """Without libharfbuzz-subset WeasyPrint falls back to fontTools (PDFs ~2× slower):
    `check --deploy` says so; the deploy-checks test in test_operations fails on it."""
    from weasyprint.text import ffi

    from invoices.checks import harfbuzz_subset_check

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    warnings = harfbuzz_subset_check()
    assert [w.id for w in warnings] == ["invoices.W001"]
    assert "libharfbuzz-subset0" in warnings[0].hint

    monkeypatch.setattr(ffi, "harfbuzz_subset", object())
    assert harfbuzz_subset_check() == []


def test_deploy_check_fails_when_weasyprint_cannot_load_pango(monkeypatch):
    import builtins

    from invoices.checks import harfbuzz_subset_check

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint.text.ffi":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    errors = harfbuzz_subset_check()
    assert [e.id for e in errors] == ["invoices.E001"]
    assert "libpango" in errors[0].msg


def test_deploy_check_accepts_the_default_seller():
    from invoices.checks import seller_check

    assert seller_check() == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("siren", "552100555", "invoices.E002"),
        ("vat_number", "FR00552100554", "invoices.E003"),
        ("iban", "FR7630006000011234567890188", "invoices.E004"),
        ("address_lines", ["12 rue de la Paix", "Paris", "France"], "invoices.W002"),
        ("address_lines", ["75002 Paris"], "invoices.W002"),
    ],
)
def test_deploy_check_names_a_mistyped_seller_detail(settings, key, value, expected):
    from invoices.checks import seller_check

    settings.SELLER = {**settings.SELLER, key: value}
    assert [problem.id for problem in seller_check()] == [expected]


def _pages_as_images(content: bytes, tmp_path, dpi: int = 150):
    source = tmp_path / "invoice.pdf"
    source.write_bytes(content)
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), source, tmp_path / "page"], check=True)
    return [Image.open(path).convert("L") for path in sorted(tmp_path.glob("page*.png"))]


def _longest_rule(image, band: float = 0.15) -> int:
    """The longest horizontal run of inked pixels in one row of the page's bottom band."""
    width, height = image.size
    pixels = image.load()
    longest = 0
    for y in range(int(height * (1 - band)), height):
        run = 0
        for x in range(width):
            run = run + 1 if pixels[x, y] < 250 else 0
            longest = max(longest, run)
    return longest


def test_every_pdf_page_has_the_footer_above_one_unbroken_rule(owner, issue, tmp_path):
    lines = [
        LineSpec(f"Accompagnement, séance {n}", Decimal(1), Decimal("100.00")) for n in range(40)
    ]
    invoice = issue(owner.organisation, lines=lines)
    content = stored_pdf(invoice)
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        text = " ".join(page.extract_text().replace("\xa0", " ").split())
        assert "Palmarès Logiciels SAS · SAS au capital de 50 000 € · SIREN 552100554" in text

    # The rule under the page's text spans its width (A4 less two 16 mm margins) in one
    # line: the footer's box and the page number's box draw it end to end.
    dpi = 150
    text_width = (210 - 2 * 16) / 25.4 * dpi
    for image in _pages_as_images(content, tmp_path, dpi):
        assert _longest_rule(image) >= 0.97 * text_width
