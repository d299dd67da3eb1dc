"""A period's invoices in one download: the ZIP of PDFs and XML, the CSV for the accountant."""

import csv
import io
import math
import tracemalloc
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from lxml import etree

from accounts.models import Membership
from invoices import exports, pdf, ubl
from invoices.models import Invoice
from tests.factories import InvoiceFactory, MembershipFactory, OrganisationFactory

ZIP_URL = reverse("portal:invoices_export_zip")
CSV_URL = reverse("portal:invoices_export_csv")
RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
RSM = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}"


def _credit_note(invoice, **kwargs):
    return InvoiceFactory(
        organisation=invoice.organisation,
        kind=Invoice.Kind.CREDIT_NOTE,
        corrects=invoice,
        status=Invoice.Status.PAID,
        subtotal=-invoice.subtotal,
        vat_amount=-invoice.vat_amount,
        total=-invoice.total,
        vat_rate=invoice.vat_rate,
        tax_treatment=invoice.tax_treatment,
        **kwargs,
    )


@pytest.fixture
def history(owner, other_owner):
    """The owner's account: one invoice in 2025, two and a credit note in 2026, one in
    2027; another account has one in 2026."""
    organisation = owner.organisation
    # Created in date order: numbers follow the issue dates.
    last_year = InvoiceFactory(organisation=organisation, issue_date=date(2025, 12, 31))
    january = InvoiceFactory(
        organisation=organisation,
        issue_date=date(2026, 1, 15),
        buyer_reference="SERVICE-ACHATS",
        order_reference="+PO-2026-001",
    )
    return {
        "2025": last_year,
        "january": january,
        "credit_note": _credit_note(january, issue_date=date(2026, 2, 1)),
        "reverse_charge": InvoiceFactory(
            organisation=organisation,
            issue_date=date(2026, 6, 30),
            status=Invoice.Status.PAID,
            subtotal=Decimal("1234.56"),
            vat_rate=Decimal("0.00"),
            vat_amount=Decimal("0.00"),
            total=Decimal("1234.56"),
            tax_treatment="eu_reverse_charge",
            buyer_vat_number="DE129273398",
            buyer_legal_name="=Festival; « Lumière », Lyon",
        ),
        "2027": InvoiceFactory(organisation=organisation, issue_date=date(2027, 1, 1)),
        "other": InvoiceFactory(organisation=other_owner.organisation, issue_date=date(2026, 3, 1)),
    }


def _zip(response) -> zipfile.ZipFile:
    assert isinstance(response, StreamingHttpResponse)
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _csv(response, delimiter=";") -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def test_zip_holds_the_pdf_and_xml_of_each_invoice_of_the_year(client_for, owner, history):
    response = client_for(owner).get(ZIP_URL, {"year": "2026"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        'attachment; filename="factures-festival-international-du-film-de-lyon-2026.zip"'
    )
    archive = _zip(response)
    assert archive.testzip() is None
    numbers = [history[key].number for key in ("january", "credit_note", "reverse_charge")]
    assert archive.namelist() == [
        name
        for number in numbers
        for name in (f"{number}.pdf", f"{number}.xml", f"{number}-ubl.xml")
    ]
    for number in numbers:
        invoice = Invoice.objects.get(number=number)
        content = archive.read(f"{number}.pdf")
        assert content.startswith(b"%PDF")
        # The stored PDF (rendered once, now), and the XML embedded in it.
        with pdf.invoice_pdf_open(invoice) as fh:
            assert content == fh.read()
        xml = etree.fromstring(archive.read(f"{number}.xml"))
        assert xml.findtext(f"{RSM}ExchangedDocument/{RAM}ID") == number
        assert archive.read(f"{number}.xml") == pdf.invoice_facturx_xml(invoice)
        # The UBL, as the single download gives it (its lines and corrected invoice too).
        assert archive.read(f"{number}-ubl.xml") == ubl.invoice_xml(invoice)
    credit_note_ubl = etree.fromstring(archive.read(f"{numbers[1]}-ubl.xml"))
    assert credit_note_ubl.tag.endswith("}CreditNote")
    assert numbers[0] in etree.tostring(credit_note_ubl).decode()  # the invoice it corrects
    assert history["other"].number not in str(archive.namelist())


def test_zip_of_dates_from_to_both_included(client_for, owner, history):
    response = client_for(owner).get(
        ZIP_URL, {"year": "2024", "date_from": "2025-12-31", "date_to": "2026-01-15"}
    )

    assert response["Content-Disposition"].endswith('-2025-12-31_2026-01-15.zip"')
    names = _zip(response).namelist()
    assert names == [
        f"{history['2025'].number}.pdf",
        f"{history['2025'].number}.xml",
        f"{history['2025'].number}-ubl.xml",
        f"{history['january'].number}.pdf",
        f"{history['january'].number}.xml",
        f"{history['january'].number}-ubl.xml",
    ]


def test_another_accounts_invoices_never_appear(client_for, other_owner, history):
    response = client_for(other_owner).get(ZIP_URL, {"year": "2026"})
    assert _zip(response).namelist() == [
        f"{history['other'].number}.pdf",
        f"{history['other'].number}.xml",
        f"{history['other'].number}-ubl.xml",
    ]
    rows = _csv(client_for(other_owner).get(CSV_URL, {"year": "2026"}))
    assert [row[0] for row in rows[1:]] == [history["other"].number]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"year": "2026", "date_from": "2026-03-31", "date_to": "2026-01-01"},
            "La date de début doit précéder la date de fin.",
        ),
        (
            {"year": "2026", "date_from": "2026-01-01"},
            "Indiquez les deux dates, ou aucune pour exporter l&#x27;année choisie.",
        ),
        ({"year": "2026", "date_from": "2026-02-30", "date_to": "2026-03-01"}, "date valide"),
        ({"year": "1999"}, "Sélectionnez un choix valide"),
        ({"year": "2026<script>"}, "Sélectionnez un choix valide"),
        ({"year": "2024"}, "Aucune facture émise du 1er janvier 2024 au 31 décembre 2024."),
    ],
)
@pytest.mark.parametrize("url", [ZIP_URL, CSV_URL], ids=["zip", "csv"])
def test_a_wrong_period_shows_the_tab_with_the_message(
    client_for, owner, history, url, params, message
):
    response = client_for(owner).get(url, params)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert message in html
    assert "Historique des factures" in html  # the whole tab, the form filled as sent
    assert f'value="{params.get("date_from", "")}"' in html or "date_from" not in params


def test_no_period_is_the_current_year(client_for, owner, today):
    invoice = InvoiceFactory(organisation=owner.organisation, issue_date=today)
    response = client_for(owner).get(CSV_URL)
    assert response["Content-Disposition"].endswith(f'-{today.year}.csv"')
    assert [row[0] for row in _csv(response)[1:]] == [invoice.number]


def test_csv_lists_the_period_for_the_accountant(client_for, owner, history):
    response = client_for(owner).get(CSV_URL, {"year": "2026"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].endswith('-2026.csv"')
    header, *rows = _csv(response)
    assert header == [
        "Numéro",
        "Type",
        "Facture corrigée",
        "Date d'émission",
        "Date d'échéance",
        "Client",
        "N° TVA du client",
        "Référence acheteur",
        "Numéro de bon de commande",
        "Montant HT",
        "TVA 20 %",
        "TVA 0 %",
        "Total TTC",
        "Devise",
        "Statut",
    ]
    january, credit_note, reverse_charge = (
        history[key] for key in ("january", "credit_note", "reverse_charge")
    )
    lyon = "Festival International du Film de Lyon"
    assert rows == [
        [
            january.number, "Facture", "", "2026-01-15", "2026-02-14", lyon,
            # A leading « + » would make Excel compute the reference.
            "FR44732829320", "SERVICE-ACHATS", "'+PO-2026-001",
            "100.00", "20.00", "", "120.00", "EUR", "À payer",
        ],
        [
            credit_note.number, "Avoir", january.number, "2026-02-01", "2026-03-03", lyon,
            "FR44732829320", "", "", "-100.00", "-20.00", "", "-120.00", "EUR", "Imputé",
        ],
        [
            reverse_charge.number, "Facture", "", "2026-06-30", "2026-07-30",
            # A leading « = » would make Excel run the name as a formula.
            "'=Festival; « Lumière », Lyon",
            "DE129273398", "", "", "1234.56", "", "0.00", "1234.56", "EUR", "Payée",
        ],
    ]  # fmt: skip
    # The amounts are the invoices', to the cent.
    for row in rows:
        invoice = Invoice.objects.get(number=row[0])
        assert Decimal(row[9]) == invoice.subtotal
        assert Decimal(row[10] or row[11]) == invoice.vat_amount
        assert Decimal(row[12]) == invoice.total


def test_csv_of_an_english_account(client_for, other_owner):
    organisation = other_owner.organisation
    organisation.language = "en"
    organisation.save()
    invoice = InvoiceFactory(organisation=organisation, issue_date=date(2026, 5, 4))

    response = client_for(other_owner).get(CSV_URL, {"year": "2026"})

    assert response["Content-Disposition"].endswith('"invoices-nordic-design-awards-2026.csv"')
    header, row = _csv(response, delimiter=",")
    assert header[:3] == ["Number", "Type", "Corrected invoice"]
    assert header[6:9] == ["Customer VAT number", "Buyer reference", "Purchase order number"]
    assert header[10:] == ["VAT 20%", "Total incl. VAT", "Currency", "Status"]
    assert row[:2] == [invoice.number, "Invoice"]
    assert row[-1] == "Open"


# --- Flat memory ---


def _account_with(count: int, stored_pdf: str):
    """An account with `count` invoices of 2026, all pointing at one small stored PDF."""
    owner = MembershipFactory(organisation=OrganisationFactory(), role=Membership.Role.OWNER)
    Invoice.objects.bulk_create(
        InvoiceFactory.build(organisation=owner.organisation, pdf_name=stored_pdf)
        for _ in range(count)
    )
    return owner


def _download(client, owner, url, path):
    """Download into `path` and count: queries, pieces yielded, peak memory meanwhile."""
    client.force_login(owner.user)
    pieces = 0
    tracemalloc.start()
    with CaptureQueriesContext(connection) as queries, open(path, "wb") as out:
        response = client.get(url, {"year": "2026"})
        assert isinstance(response, StreamingHttpResponse)
        for piece in response.streaming_content:
            pieces += 1
            out.write(piece)
        _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(queries), pieces, peak


def test_exports_stream_with_flat_memory(client, organisation, tmp_path):
    first = InvoiceFactory(organisation=organisation, issue_date=date(2026, 1, 2))
    stored = pdf.invoice_pdf_ensure(invoice_id=first.pk).pdf_name
    with pdf.invoice_pdf_open(first) as fh:
        pdf_size = len(fh.read())
    small, large = _account_with(200, stored), _account_with(2_000, stored)
    path = tmp_path / "export"

    queries_small, _pieces, peak_small = _download(client, small, ZIP_URL, path)
    queries_large, pieces, peak = _download(client, large, ZIP_URL, path)

    # One cursor, and one query per chunk of it for the lines (the UBL): 2,000 invoices
    # are eighteen chunks more than 200, never one query per invoice.
    size = exports.ZIP_CHUNK_SIZE
    chunks = math.ceil(2_000 / size) - math.ceil(200 / size)
    assert queries_large - queries_small == chunks == 18
    # Handed out as it is written: three pieces per invoice, then the central directory.
    assert pieces == 3 * 2_000 + 1
    with zipfile.ZipFile(path) as archive:
        assert len(archive.namelist()) == 6_000
        assert archive.read(archive.namelist()[-3]).startswith(b"%PDF")
    # Everything at once would be 2,000 PDFs (~90 MB). What grows is the ZIP's directory,
    # written last: under 1 kB a file (5,400 more files here), never a PDF's ~46 kB.
    assert peak - peak_small < 5_400 * 1_000, (peak_small, peak)
    assert peak < 8_000_000 < 2_000 * pdf_size, peak

    queries_small, _pieces, peak_small = _download(client, small, CSV_URL, path)
    queries_large, pieces, peak = _download(client, large, CSV_URL, path)
    assert queries_large == queries_small
    # One chunk of the cursor's rows (CHUNK_SIZE) at most, however many rows there are.
    assert peak < 2_000_000, peak
    assert pieces == 1 + 2_000  # the header, then one row at a time
    assert len(path.read_text(encoding="utf-8-sig").splitlines()) == 1 + 2_000


@pytest.mark.django_db(transaction=True)
def test_zip_renders_missing_pdfs_between_committed_transactions(client_for):
    """Outside a test transaction, as in production: the cursor stays open (WITH HOLD on
    PostgreSQL) while each missing PDF is rendered and stored in its own transaction."""
    owner = MembershipFactory(organisation=OrganisationFactory(), role=Membership.Role.OWNER)
    invoices = [
        InvoiceFactory(organisation=owner.organisation, issue_date=date(2026, 4, day))
        for day in (1, 2)
    ]

    archive = _zip(client_for(owner).get(ZIP_URL, {"year": "2026"}))

    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.pdf_name  # stored once, for the next download
        with pdf.invoice_pdf_open(invoice) as fh:
            assert archive.read(invoice.pdf_filename) == fh.read()
