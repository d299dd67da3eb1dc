"""The payment reference of an invoice: an ISO 11649 structured creditor reference (« RF »).

Banks carry it from the payer's transfer to the seller's statement in a field of its own
(camt.053 ``<CdtrRefInf>``), where a free-text reference may be cut or retyped; its two check
digits catch a mistyped one. It is derived from the invoice number alone, so it never needs
storing: ``INV-10682`` → ``RF19INV10682`` (printed in groups of four, ``RF19 INV1 0682``),
and a reference read back from a statement names its invoice (payments.matching).
"""

from stdnum import iso11649
from stdnum.iso7064 import mod_97_10


def rf_body(invoice_number: str) -> str:
    """The reference part: the invoice number's letters and digits, upper case
    ("INV-10682" → "INV10682")."""
    return "".join(char for char in invoice_number.upper() if char.isascii() and char.isalnum())


def rf_reference(invoice_number: str) -> str:
    """The compact RF reference of an invoice number (its letters and digits, upper case)."""
    body = rf_body(invoice_number)
    if not 0 < len(body) <= 21:
        raise ValueError(f"No ISO 11649 reference can be made from {invoice_number!r}.")
    # ISO 11649: the check digits make int(body + "RF" + digits, base 36 per character) ≡ 1 mod 97.
    return iso11649.validate(f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}")


def rf_reference_display(invoice_number: str) -> str:
    """The same, in groups of four characters as it is printed and read aloud."""
    return iso11649.format(rf_reference(invoice_number))
