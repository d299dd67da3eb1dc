"""Invoice PDFs: rendered once with WeasyPrint (A4, PDF/A-3b, fonts embedded), made a
Factur-X document (the EN 16931 XML attached as factur-x.xml, invoices.facturx), stored in
the "documents" storage under an unguessable name, with their SHA-256 on the invoice.

The HTML is the same template as the online view (templates/invoices/document.html) and
the same stylesheet (invoices/static/invoices/css/invoice.css), read from disk: WeasyPrint
fetches nothing, so nothing in an invoice can make the renderer open a URL or a file.
"""

import hashlib
import logging
import uuid
from base64 import b64decode
from functools import cache
from urllib.parse import unquote_to_bytes

from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing_portal import brand

from . import facturx
from .models import Invoice

logger = logging.getLogger(__name__)

STORAGE = "documents"
STYLESHEET = "invoices/css/invoice.css"
PDF_VARIANT = "pdf/a-3b"


class _NoFetch:
    """WeasyPrint URL fetcher that fetches nothing. It only decodes the images written into
    the document itself as data: URLs (the brand's logo, billing_portal.brand)."""

    # A refused URL stops the rendering (WeasyPrint reads this attribute of its fetchers).
    _fail_on_errors = True

    def __call__(self, url, *args, **kwargs):
        if url.startswith("data:image/"):
            from weasyprint.urls import URLFetcherResponse

            header, _comma, payload = url.removeprefix("data:").partition(",")
            mimetype, *params = header.split(";")
            body = b64decode(payload) if "base64" in params else unquote_to_bytes(payload)
            return URLFetcherResponse(url, body, headers={"Content-Type": mimetype})
        raise ValueError(f"Invoice PDFs load no external resource: {url}")

    fetch = __call__


@cache
def _stylesheet() -> str:
    path = finders.find(STYLESHEET)
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def invoice_html(invoice: Invoice) -> str:
    with translation.override(invoice.language):
        return render_to_string(
            "invoices/pdf.html",
            {"invoice": invoice, "lines": list(invoice.lines.all()), "brand": brand.current()},
        )


def render_document(invoice: Invoice) -> bytes:
    """The printable document alone: PDF/A-3b, in the invoice's language."""
    from weasyprint import CSS, HTML

    html = HTML(string=invoice_html(invoice), base_url=None, url_fetcher=_NoFetch())
    css = CSS(string=_stylesheet(), url_fetcher=_NoFetch())
    return html.write_pdf(stylesheets=[css], pdf_variant=PDF_VARIANT)


def _title(invoice: Invoice) -> str:
    with translation.override(invoice.language):
        kind = _("Avoir") if invoice.is_credit_note else _("Facture")
    return f"{kind} {invoice.number}"


def render_pdf(invoice: Invoice) -> bytes:
    """The invoice as a Factur-X PDF/A-3b: the document, with its XML attached.

    An XML that fails the XSD raises: better no PDF yet (nothing is stored, the next call
    tries again) than one stored for good without its structured data."""
    return facturx.embed(
        render_document(invoice),
        facturx.invoice_xml(invoice),
        invoice,
        title=_title(invoice),
    )


def invoice_pdf_ensure(*, invoice_id: int) -> Invoice:
    """Get or render-and-store the invoice's PDF, exactly once.

    Called by the task after issue, and by a download or an email that arrives first. The
    invoice row is locked while rendering, so concurrent callers wait and then find it.
    """
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.pdf_name:
        return invoice
    storage = storages[STORAGE]
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        if invoice.pdf_name:
            return invoice
        content = render_pdf(invoice)
        name = storage.save(f"invoices/{uuid.uuid4().hex}.pdf", ContentFile(content))
        try:
            fields = {
                "pdf_name": name,
                "pdf_sha256": hashlib.sha256(content).hexdigest(),
                "pdf_rendered_at": timezone.now(),
            }
            Invoice.objects.filter(pk=invoice.pk).update(**fields)
        except Exception:
            # Never leave a stored file that no invoice points to. (If the commit itself
            # fails the file stays: unreferenced and harmless, the next call renders anew.)
            storage.delete(name)
            raise
        logger.info("rendered %s (%d bytes) to %s", invoice.number, len(content), name)
    for key, value in fields.items():
        setattr(invoice, key, value)
    return invoice


def invoice_pdf_open(invoice: Invoice):
    """The stored PDF as an open binary file (rendering it first if needed)."""
    if not invoice.pdf_name:  # written once, when the file is stored: a loaded name is final
        invoice = invoice_pdf_ensure(invoice_id=invoice.pk)
    return storages[STORAGE].open(invoice.pdf_name, "rb")


def invoice_pdf_bytes(*, invoice_id: int) -> bytes:
    """The stored PDF's content, for an email attachment."""
    invoice = invoice_pdf_ensure(invoice_id=invoice_id)
    with storages[STORAGE].open(invoice.pdf_name, "rb") as fh:
        return fh.read()


def invoice_facturx_xml(invoice: Invoice) -> bytes:
    """The Factur-X XML of the invoice, as embedded in its stored PDF (the legal document).

    A PDF stored before Factur-X has none: its XML is then built from the snapshot."""
    xml = facturx.xml_from_pdf(invoice_pdf_bytes(invoice_id=invoice.pk))
    return xml if xml is not None else facturx.invoice_xml(invoice)
