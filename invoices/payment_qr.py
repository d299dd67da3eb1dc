"""The EPC QR code of an invoice (« QR code de virement », EPC069-12, SEPA credit transfer).

A banking app scanning it fills the transfer in: service tag ``BCD``, version ``002``, the
seller's BIC, name and IBAN, the amount in euros and the invoice's RF reference
(invoices/references.py) in the structured remittance field. The EPC format is for euro
transfers only: an invoice in another currency, a credit note and an invoice with nothing
left to pay have none. An invoice partly credited pays what its credit notes leave.
"""

import io
from decimal import Decimal

from django.utils.translation import gettext as _
from segno import QRCode, helpers

from billing_portal.formatting import money

from .models import Invoice
from .references import rf_reference

EPC_MAX_AMOUNT = Decimal("999999999.99")


def _amount(invoice: Invoice) -> Decimal:
    """What the code pays: what is left to pay on the invoice, its total less its credit
    notes and the payments already recorded (Invoice.amount_due), so a scan never pays
    twice what a partial transfer already settled."""
    return invoice.amount_due


def epc_qr(invoice: Invoice, amount: Decimal | None = None) -> QRCode | None:
    """The QR code for paying what is left of the invoice (or `amount`, what a message
    written earlier asks), or None when there is nothing to transfer."""
    if invoice.is_credit_note or invoice.currency != "EUR":
        return None
    amount = _amount(invoice) if amount is None else amount
    if not Decimal("0.01") <= amount <= EPC_MAX_AMOUNT or not invoice.seller_iban:
        return None
    return helpers.make_epc_qr(
        name=invoice.seller_legal_name[:70],
        iban=invoice.seller_iban,
        amount=amount,
        reference=rf_reference(invoice.number),
        bic=invoice.seller_bic or None,
    )


def epc_qr_svg(invoice: Invoice) -> str:
    """The QR code as inline SVG (sized by the stylesheet), "" when the invoice has none."""
    qr = epc_qr(invoice)
    if qr is None:
        return ""
    title = _("QR code de virement de %(amount)s pour la facture %(number)s") % {
        "amount": money(_amount(invoice), invoice.currency),
        "number": invoice.number,
    }
    svg = qr.svg_inline(scale=1, omitsize=True, svgclass="inv-qr", lineclass=None, title=title)
    return svg.replace("<svg ", '<svg role="img" ', 1)


def epc_qr_png(invoice: Invoice, amount: Decimal | None = None) -> bytes:
    """The QR code as a PNG image (an email attachment), b"" when the invoice has none."""
    qr = epc_qr(invoice, amount)
    if qr is None:
        return b""
    out = io.BytesIO()
    qr.save(out, kind="png", scale=6, border=4)
    return out.getvalue()
