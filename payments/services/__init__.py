"""The only writes to payments, by noun: recording a payment and using the credit balance
(payments.py), undoing an allocation (allocations.py), paying credit back (refunds.py).
What they share, allocating money to invoices and the receipt email, is in _ledger.py.
"""

from .allocations import allocation_reverse
from .payments import credit_apply, credit_apply_to_new_invoice, payment_record
from .refunds import refund_record

__all__ = [
    "allocation_reverse",
    "credit_apply",
    "credit_apply_to_new_invoice",
    "payment_record",
    "refund_record",
]
