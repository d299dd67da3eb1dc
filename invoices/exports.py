"""Every invoice of a period in one download: a ZIP of the PDFs, their Factur-X XML and
their UBL XML, and a CSV of the list for the accountant (docs/invoices.md, « Exports »).

Both are generators for a StreamingHttpResponse, with flat memory whatever the number of
invoices: the rows come from one server-side cursor (`iterator(chunk_size=...)`, only the
columns needed), one invoice's files at a time, and the ZIP is written by the standard
library's `zipfile` into a sink that hands each piece to the response as soon as it is
written. What grows with the number of files is the ZIP's central directory (about a
hundred bytes a file, written last), nothing else.
"""

import csv
import gc
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.models import Organisation

from . import facturx, pdf, ubl
from .models import Invoice, InvoiceLine

# Rows fetched per round trip of the server-side cursor.
CHUNK_SIZE = 500
# The ZIP's chunks are whole invoices with their lines (for the UBL): smaller ones, so that
# what one chunk holds in memory stays a few megabytes.
ZIP_CHUNK_SIZE = 100
# Reading the XML out of a PDF (pypdf) leaves reference cycles that only the garbage
# collector frees. They outlive the young generation, and the full collection that would
# free them comes later the larger the process: dozens of PDFs (~45 kB each) piled up, so
# the memory grew with the export. Collecting the two younger generations every so many
# files frees them, at no measurable cost (a full collection would cost ~0.2 s each).
COLLECT_EVERY = 50


@dataclass(frozen=True)
class Period:
    """Issue dates from `start` to `end`, both included (as the form shows them)."""

    start: date
    end: date

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls(date(year, 1, 1), date(year, 12, 31))

    @property
    def label(self) -> str:
        """`2026` for a calendar year, `2026-01-01_2026-03-31` otherwise: for file names."""
        if (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31):
            if self.start.year == self.end.year:
                return str(self.start.year)
        return f"{self.start.isoformat()}_{self.end.isoformat()}"


def period_invoices(*, organisation: Organisation, period: Period):
    """The period's invoices and credit notes of this account, in numbering order."""
    return Invoice.objects.filter(
        organisation=organisation,
        issue_date__gte=period.start,
        issue_date__lt=period.end + timedelta(days=1),
    ).order_by("sequence")


def export_filename(*, organisation: Organisation, period: Period, extension: str) -> str:
    """`factures-festival-de-lyon-2026.zip`, in the account's language: who and when."""
    with translation.override(organisation.language):
        word = pgettext("export file name", "factures")
    account = slugify(organisation.name)[:50].strip("-") or str(organisation.pk)
    return f"{word}-{account}-{period.label}.{extension}"


# --- ZIP ---


class _Sink(io.RawIOBase):
    """A write-only, unseekable file: zipfile writes into it, the generator empties it.

    Unseekable, zipfile writes each entry's sizes and CRC after its data (a data
    descriptor) instead of seeking back to its header, so nothing is ever rewritten."""

    def __init__(self):
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _entry(name: str, day: date) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16  # a plain readable file once unpacked
    return info


def _facturx_xml(invoice: Invoice, content: bytes) -> bytes:
    """The XML embedded in the stored PDF (the legal document). It was checked against the
    XSD when it was embedded, and the PDF's SHA-256 is on the invoice: not checked again
    here, a thousand times per export. A PDF stored before Factur-X has none: built from
    the snapshot then, as the single download does (invoices.pdf.invoice_facturx_xml)."""
    xml = facturx.xml_from_pdf(content, check_xsd=False)
    if xml is None:
        xml = pdf.invoice_facturx_xml(invoice)
    return xml


def _in_chunks(invoices, size: int) -> Iterator[tuple[list[Invoice], dict[int, list]]]:
    """The cursor's invoices a chunk at a time, with their lines (one query a chunk), by
    invoice. Not `prefetch_related`: it ties each line back to its invoice, and those
    reference cycles outlive the young collections like pypdf's (COLLECT_EVERY)."""
    chunk: list[Invoice] = []
    for invoice in invoices.iterator(chunk_size=size):
        chunk.append(invoice)
        if len(chunk) == size:
            yield chunk, _lines_of(chunk)
            chunk = []
    if chunk:
        yield chunk, _lines_of(chunk)


def _lines_of(chunk: list[Invoice]) -> dict[int, list]:
    lines: dict[int, list] = {invoice.pk: [] for invoice in chunk}
    for line in InvoiceLine.objects.filter(invoice__in=list(lines)).order_by("position"):
        lines[line.invoice_id].append(line)
    return lines


def zip_stream(*, organisation: Organisation, period: Period) -> Iterator[bytes]:
    """The ZIP of the period: `INV-10682.pdf`, its Factur-X XML and its UBL XML
    (`INV-10682-ubl.xml`, the same data for the tools that read UBL) for each invoice and
    credit note, yielded piece by piece. A PDF not rendered yet is rendered now, once (as
    the single download does). The UBL is built from the invoice's snapshot, as the single
    download builds it: the whole rows and their corrected invoice come with the cursor,
    their lines with one query per chunk of it, never one per invoice."""
    invoices = period_invoices(organisation=organisation, period=period).select_related("corrects")
    sink = _Sink()
    count = 0
    with zipfile.ZipFile(sink, mode="w") as archive:
        for chunk, lines in _in_chunks(invoices, ZIP_CHUNK_SIZE):
            for invoice in chunk:
                count += 1
                if count % COLLECT_EVERY == 0:
                    gc.collect(1)
                with pdf.invoice_pdf_open(invoice) as fh:
                    content = fh.read()
                day = invoice.issue_date
                archive.writestr(_entry(invoice.pdf_filename, day), content)
                yield sink.take()
                xml = _facturx_xml(invoice, content)
                archive.writestr(_entry(invoice.facturx_filename, day), xml)
                yield sink.take()
                xml = ubl.invoice_xml(invoice, lines=lines[invoice.pk])
                archive.writestr(_entry(invoice.ubl_filename, day), xml)
                yield sink.take()
    yield sink.take()  # the central directory, written on close


# --- CSV ---


def csv_dialect(language: str) -> str:
    """French Excel splits columns on « ; », English Excel on « , »."""
    return ";" if (language or "fr").startswith("fr") else ","


class _Echo:
    """csv.writer's file: writerow() returns the line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _amount(value: Decimal) -> str:
    """`1234.56`, `-1234.56`: no grouping, a point, two decimals, for machines."""
    return f"{value:.2f}"


def _rate(value: Decimal) -> str:
    """20.00 → `20`, 5.50 → `5.5`."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text(value: str) -> str:
    """A text cell a spreadsheet will not run: a leading = + - @ makes it a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _headers(rates: list[Decimal]) -> list[str]:
    head = [
        _("Numéro"),
        _("Type"),
        _("Facture corrigée"),
        _("Date d'émission"),
        _("Date d'échéance"),
        _("Client"),
        _("N° TVA du client"),
        _("Référence acheteur"),
        _("Numéro de bon de commande"),
        _("Montant HT"),
    ]
    vat = [_("TVA %(rate)s %%") % {"rate": _rate(rate)} for rate in rates]
    return [*head, *vat, _("Total TTC"), _("Devise"), _("Statut")]


def csv_stream(*, organisation: Organisation, period: Period) -> Iterator[str]:
    """The period's invoices and credit notes, one row each, in the account's language.

    Columns: number, kind, the invoice a credit note corrects, issue and due dates (ISO
    8601), buyer, its VAT number, its references (BT-10, BT-13), amount excluding VAT, then
    one « TVA <rate> % » column per VAT rate present in the period holding the VAT at that
    rate (empty for an invoice at another rate), total including VAT, currency, status.
    Amounts with a point and two decimals, a credit note's negative. UTF-8 with a byte order
    mark, so Excel reads the accents right.
    """
    invoices = period_invoices(organisation=organisation, period=period)
    rates = sorted(
        set(invoices.order_by().values_list("vat_rate", flat=True).distinct()), reverse=True
    )
    rows = (
        invoices.select_related("corrects")
        .only(
            "number",
            "kind",
            "status",
            "issue_date",
            "due_date",
            "buyer_legal_name",
            "buyer_vat_number",
            "buyer_reference",
            "order_reference",
            "subtotal",
            "vat_rate",
            "vat_amount",
            "total",
            "currency",
            "corrects__number",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )
    writer = csv.writer(_Echo(), delimiter=csv_dialect(organisation.language))
    with translation.override(organisation.language):
        yield "\ufeff" + writer.writerow(_headers(rates))
        for invoice in rows:
            vat = [
                "" if rate != invoice.vat_rate else _amount(invoice.vat_amount) for rate in rates
            ]
            yield writer.writerow(
                [
                    invoice.number,
                    invoice.kind_label,
                    invoice.corrects.number if invoice.corrects_id else "",
                    invoice.issue_date.isoformat(),
                    invoice.due_date.isoformat(),
                    _text(invoice.buyer_legal_name),
                    invoice.buyer_vat_number,
                    _text(invoice.buyer_reference),
                    _text(invoice.order_reference),
                    _amount(invoice.subtotal),
                    *vat,
                    _amount(invoice.total),
                    invoice.currency,
                    str(invoice.status_label),
                ]
            )
