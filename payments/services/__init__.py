"""The only writes to payments, by noun: recording a payment and using the credit balance
(payments.py), undoing an allocation (allocations.py), paying credit back (refunds.py),
importing a bank file and working its reconciliation queue (statements.py). What they
share, allocating money to invoices and the receipt email, is in _ledger.py.
"""

from .allocations import allocation_reverse
from .payments import credit_apply, credit_apply_to_new_invoice, payment_record
from .refunds import refund_record
from .statements import bank_entry_assign, bank_entry_dismiss, statement_import

__all__ = [
    "allocation_reverse",
    "bank_entry_assign",
    "bank_entry_dismiss",
    "credit_apply",
    "credit_apply_to_new_invoice",
    "payment_record",
    "refund_record",
    "statement_import",
]
