"""The reference a bank transfer carries: an invoice's ISO 11649 structured creditor
reference (« référence structurée du créancier », RF and two check digits).

It is derived from the invoice number alone, so nothing is stored: the same number always
gives the same reference, and a reference read back from a bank statement names its invoice
(payments.matching). python-stdnum checks it; the check digits are ISO 7064 MOD 97-10 over
the reference with "RF00" moved to its end, as ISO 11649 says.
"""

from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

# ISO 11649: at most 21 characters after "RF" and the two check digits.
MAX_BODY = 21


def rf_body(invoice_number: str) -> str:
    """The reference part: the invoice number's letters and digits, upper case
    ("INV-10682" → "INV10682")."""
    return "".join(char for char in invoice_number.upper() if char.isascii() and char.isalnum())


def rf_reference(invoice_number: str) -> str:
    """ "RF" + two check digits + the invoice number's letters and digits, compact (no
    spaces): "INV-10682" → "RF19INV10682". Raises ValueError for a number without letters or
    digits, or longer than ISO 11649 allows (21 characters)."""
    body = rf_body(invoice_number)
    if not body or len(body) > MAX_BODY:
        raise ValueError(f"No ISO 11649 reference can carry {invoice_number!r}.")
    reference = f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"
    return iso11649.validate(reference)


def rf_format(reference: str) -> str:
    """The reference printed in groups of four ("RF19 INV1 0682"), as payers type it."""
    return iso11649.format(reference)
