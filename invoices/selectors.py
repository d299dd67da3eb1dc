"""What the Factures tab and the invoice pages show, each in a fixed number of queries."""

from urllib.parse import quote

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from accounts.models import Organisation

from .models import Invoice, InvoiceStatusEvent

INVOICES_PER_PAGE = 25


def invoices_page(*, organisation: Organisation, page_number=1) -> Page:
    """Newest first, 25 a page: a COUNT and one SELECT of the listed columns, whatever the
    number of invoices. Only columns of the invoice_account_list index: keep them in step.
    Each invoice of the page comes with its `detail_url` and `pdf_url`."""
    invoices = (
        Invoice.objects.filter(organisation=organisation)
        .only("number", "kind", "status", "issue_date", "total", "currency")
        .order_by("-sequence")
    )
    page = Paginator(invoices, INVOICES_PER_PAGE).get_page(page_number)
    page.object_list = list(page.object_list)
    detail_url = _url_maker("portal:invoice_detail")
    pdf_url = _url_maker("portal:invoice_pdf")
    for invoice in page.object_list:
        invoice.detail_url = detail_url(invoice.number)
        invoice.pdf_url = pdf_url(invoice.number)
    return page


_PLACEHOLDER = "NUMBER"


def _url_maker(name: str):
    """The URL of `name` for any invoice number, from one reverse() a page instead of one a
    row: `{% url %}` costs ~15 µs, twice a row, ~0.7 ms of the Factures tab
    (docs/performance.md). The number is quoted as reverse() quotes it; a test compares
    both for every row."""
    prefix, suffix = reverse(name, args=[_PLACEHOLDER]).split(_PLACEHOLDER)

    def url(number: str) -> str:
        return f"{prefix}{quote(number, safe=RFC3986_SUBDELIMS + '/~:@')}{suffix}"

    return url


def invoice_document(*, organisation: Organisation, number: str) -> Invoice | None:
    """One invoice of this account with its lines, the invoice it corrects (a credit note),
    its credit note (a void invoice) and its status history, oldest first (`history`), or
    None (another account's is None too)."""
    return (
        Invoice.objects.filter(organisation=organisation, number=number)
        .select_related("corrects")
        .prefetch_related(
            "lines",
            Prefetch(
                "corrections",
                queryset=Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).only(
                    "number", "issue_date", "corrects_id"
                ),
                to_attr="credit_notes",
            ),
            Prefetch(
                "status_events",
                queryset=InvoiceStatusEvent.objects.order_by("occurred_at", "id").only(
                    "invoice_id", "code", "occurred_at", "source", "note"
                ),
                to_attr="history",
            ),
        )
        .first()
    )


def invoice_file(*, organisation: Organisation, number: str) -> Invoice | None:
    """One invoice of this account with only what a download needs (its number and its
    stored PDF's name), or None (another account's is None too)."""
    return (
        Invoice.objects.filter(organisation=organisation, number=number)
        .only("number", "pdf_name")
        .first()
    )
