"""The ISO 11649 reference each invoice carries, checked with python-stdnum."""

import pytest
from stdnum import iso11649

from invoices.references import rf_format, rf_reference


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
    assert rf_format(rf_reference("INV-10682")) == "RF19 INV1 0682"


def test_a_changed_character_is_caught():
    assert not iso11649.is_valid("RF19INV10683")
    assert not iso11649.is_valid("RF18INV10682")


@pytest.mark.parametrize("number", ["", "---", "INV-" + "9" * 19])
def test_a_number_no_reference_can_carry(number):
    with pytest.raises(ValueError):
        rf_reference(number)
