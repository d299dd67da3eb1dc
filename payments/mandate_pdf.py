"""The PDF of a signed SEPA mandate: rendered with WeasyPrint when the mandate is confirmed
(and again when its bank account is amended), stored in the "documents" storage under an
unguessable name with its SHA-256 on the mandate, like invoice PDFs (invoices.pdf).

It shows the standard mandate wording of its scheme (templates/payments/mandate_text.html),
the creditor and its identifier, the debtor and the account, the reference, the scheme,
the date and place of signature, and that the payments are recurrent.
"""

import hashlib
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.template.loader import render_to_string
from django.utils import translation

from invoices.pdf import STORAGE, _NoFetch

from . import sepa
from .models import Mandate


def creditor() -> dict:
    """The seller as the creditor of its mandates."""
    seller = settings.SELLER
    return {
        "name": seller["legal_name"],
        "address_lines": seller["address_lines"],
        "creditor_id": seller["creditor_id"],
    }


def mandate_context(mandate: Mandate) -> dict:
    return {
        "mandate": mandate,
        "creditor": creditor(),
        "iban": sepa.iban_format(mandate.iban),
        "amended_from_iban": sepa.iban_format(mandate.amended_from_iban),
    }


def mandate_html(mandate: Mandate) -> str:
    with translation.override(mandate.language):
        return render_to_string("payments/mandate_pdf.html", mandate_context(mandate))


def render_pdf(mandate: Mandate) -> bytes:
    from weasyprint import HTML

    html = HTML(string=mandate_html(mandate), base_url=None, url_fetcher=_NoFetch())
    return html.write_pdf()


def mandate_pdf_store(mandate: Mandate, *, replace: bool = False) -> Mandate:
    """Render and store the mandate's PDF (inside the caller's transaction: a failure rolls
    the confirmation back). `replace` renders it anew after an amendment; the earlier file
    stays in the storage, its name in the audit trail."""
    if mandate.pdf_name and not replace:
        return mandate
    content = render_pdf(mandate)
    name = storages[STORAGE].save(f"mandates/{uuid.uuid4().hex}.pdf", ContentFile(content))
    mandate.pdf_name = name
    mandate.pdf_sha256 = hashlib.sha256(content).hexdigest()
    mandate.save(update_fields=["pdf_name", "pdf_sha256"])
    return mandate


def mandate_pdf_open(mandate: Mandate):
    """The stored PDF as an open binary file (rendered now if it never was)."""
    if not mandate.pdf_name:
        mandate_pdf_store(mandate)
    return storages[STORAGE].open(mandate.pdf_name, "rb")


def mandate_pdf_filename(mandate: Mandate) -> str:
    return f"mandat-sepa-{mandate.reference}.pdf"
