"""The only writes to invoices, by noun: issuing an invoice (issuing.py), crediting one in
full or in part with a credit note (credit_notes.py), changing a status and recording what
payments settled (status.py), the dated status history and the platform's statuses
(lifecycle.py), what both kinds of document share, numbering, snapshots, email
(documents.py), and the exchange rates their VAT in euros is converted at
(exchange_rates.py). The amounts come from invoices.totals, which previews them without
writing.
"""

from .credit_notes import credit_note_issue
from .documents import buyer_address_lines, buyer_siren, buyer_street_lines, invoice_email_resend
from .exchange_rates import (
    exchange_rate_clean,
    exchange_rate_delete,
    exchange_rate_set,
    exchange_rates_import,
)
from .issuing import PAYMENT_TERM, invoice_issue
from .lifecycle import invoice_lifecycle_import, invoice_lifecycle_record
from .status import (
    invoice_mark_paid,
    invoice_payments_record,
    invoice_settled_by,
    invoices_payments_record,
)

__all__ = [
    "PAYMENT_TERM",
    "buyer_address_lines",
    "buyer_siren",
    "buyer_street_lines",
    "credit_note_issue",
    "exchange_rate_clean",
    "exchange_rate_delete",
    "exchange_rate_set",
    "exchange_rates_import",
    "invoice_email_resend",
    "invoice_issue",
    "invoice_lifecycle_import",
    "invoice_lifecycle_record",
    "invoice_mark_paid",
    "invoice_payments_record",
    "invoice_settled_by",
    "invoices_payments_record",
]
