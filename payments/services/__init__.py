"""The only writes to payments, by noun: recording payments, one or a bank statement's chunk
at a time, and using the credit balance (payments.py), undoing an allocation
(allocations.py), giving back what a credit note credits of money already paid
(credit_notes.py), paying credit back (refunds.py), importing a bank file and working its
reconciliation queue (statements.py), sending payment reminders and pausing them
(reminders.py), SEPA mandates (mandates.py: the owner's confirmation links that drive them
are subscriptions') and the collections they plan and cancel (collections.py), then
collect: prenotifications.py (the owner told ahead), exports.py (the pain.008 file for the
bank), direct_debits.py (what the statement says of a collection, booked or returned). What
they share, allocating money to invoices and the receipt email, is in _ledger.py.
"""

from .allocations import allocation_reverse
from .collections import collection_plan, collections_cancel, collections_plan_for_mandate
from .credit_notes import credit_return
from .direct_debits import collection_confirm, collection_return
from .exports import direct_debit_export
from .mandates import mandate_revoke_by_support
from .payments import (
    Received,
    credit_apply,
    credit_apply_to_new_invoice,
    payment_record,
    payments_record,
)
from .prenotifications import collections_prenotify
from .refunds import refund_record
from .reminders import reminders_pause, reminders_resume, reminders_send
from .statements import bank_entry_assign, bank_entry_dismiss, statement_import

__all__ = [
    "Received",
    "allocation_reverse",
    "bank_entry_assign",
    "bank_entry_dismiss",
    "collection_confirm",
    "collection_plan",
    "collection_return",
    "collections_cancel",
    "collections_plan_for_mandate",
    "collections_prenotify",
    "credit_apply",
    "credit_apply_to_new_invoice",
    "credit_return",
    "direct_debit_export",
    "mandate_revoke_by_support",
    "payment_record",
    "payments_record",
    "refund_record",
    "reminders_pause",
    "reminders_resume",
    "reminders_send",
    "statement_import",
]
