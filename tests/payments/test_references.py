"""The ISO 11649 reference each invoice carries, checked with python-stdnum."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iso11649

from invoices.references import rf_body, rf_reference, rf_reference_display
from payments.matching import number_of_reference, references_in


@pytest.mark.parametrize(
    ("number", "reference"),
    [
        ("INV-10682", "RF19INV10682"),
        ("INV-1", "RF47INV1"),
        ("INV-10681", "RF46INV10681"),
        ("inv-42", "RF55INV42"),
    ],
)
def test_the_reference_of_an_invoice_number(number, reference):
    assert rf_reference(number) == reference
    assert iso11649.is_valid(reference)


def test_the_published_example_checks_out():
    # ISO 11649's own example: RF18 5390 0754 7034 (the reference part 539007547034).
    assert rf_reference("5390-0754-7034") == "RF18539007547034"


def test_printed_in_groups_of_four():
    assert rf_reference_display("INV-10682") == "RF19 INV1 0682"


def test_a_changed_character_is_caught():
    assert not iso11649.is_valid("RF19INV10683")
    assert not iso11649.is_valid("RF18INV10682")


@pytest.mark.parametrize("number", ["", "---", "INV-" + "9" * 19])
def test_a_number_no_reference_can_carry(number):
    with pytest.raises(ValueError):
        rf_reference(number)


@given(st.integers(min_value=1, max_value=10**12))
def test_every_number_has_a_valid_reference_that_names_it_back(n):
    number = f"INV-{n}"
    reference = rf_reference(number)
    assert iso11649.is_valid(reference) and reference[4:] == rf_body(number)
    assert number_of_reference(reference) == number
    # Typed in a transfer's free text, with or without the printed spaces.
    assert references_in(f"Paiement {rf_reference_display(number)} merci") == [reference]
    assert references_in(f"ref:{reference}.") == [reference]


def test_the_qr_code_of_a_partly_paid_invoice_pays_what_is_left(owner, lyon):
    """A scan after a partial transfer asks for the rest, never the total again."""
    import io
    from datetime import date
    from decimal import Decimal

    import zxingcpp
    from PIL import Image

    from invoices.payment_qr import epc_qr
    from payments.services import payment_record

    invoice = lyon["INV-10680"]

    def amount_asked():
        qr = epc_qr(type(invoice).objects.get(pk=invoice.pk))
        if qr is None:
            return None
        image = io.BytesIO()
        qr.save(image, kind="png", scale=8)
        (result,) = zxingcpp.read_barcodes(Image.open(image))
        return Decimal(result.text.split("\n")[7].removeprefix("EUR"))

    assert amount_asked() == Decimal("1200.00")
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("500.00"),
        currency="EUR",
        received_on=date(2026, 2, 1),
        invoices=[invoice],
        actor=None,
    )
    assert amount_asked() == Decimal("700.00")
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("700.00"),
        currency="EUR",
        received_on=date(2026, 2, 2),
        invoices=[invoice],
        actor=None,
    )
    assert amount_asked() is None
