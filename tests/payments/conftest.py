"""The invoices the test bank files pay (tests/payments/data/), numbered as the files name
them: Lyon (the `owner` fixture's account) owes INV-10680 to INV-10683, Nordic Design
Awards (`other_owner`) owes INV-10690 and INV-10691."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from invoices.models import Invoice
from tests.factories import InvoiceFactory

DATA = Path(__file__).resolve().parent / "data"
SELLER_IBAN = "FR7630006000011234567890189"
LYON_IBAN = "FR1420041010050500013M02606"


def invoice(organisation, number: str, total: str, currency="EUR", **extra) -> Invoice:
    amount = Decimal(total)
    return InvoiceFactory(
        organisation=organisation,
        number=number,
        sequence=int(number.split("-")[1]),
        subtotal=amount,
        vat_rate=Decimal("0.00"),
        vat_amount=Decimal("0.00"),
        total=amount,
        currency=currency,
        issue_date=extra.pop("issue_date", date(2026, 1, 15)),
        **extra,
    )


@pytest.fixture
def lyon(owner):
    organisation = owner.organisation
    return {
        "INV-10680": invoice(organisation, "INV-10680", "1200.00"),
        "INV-10681": invoice(organisation, "INV-10681", "1200.00"),
        "INV-10682": invoice(organisation, "INV-10682", "7200.00", issue_date=date(2026, 1, 20)),
        "INV-10683": invoice(organisation, "INV-10683", "600.00", issue_date=date(2026, 1, 25)),
    }


@pytest.fixture
def nordic(other_owner):
    organisation = other_owner.organisation
    return {
        "INV-10690": invoice(organisation, "INV-10690", "500.00"),
        "INV-10691": invoice(organisation, "INV-10691", "500.00", issue_date=date(2026, 1, 30)),
    }


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def fresh(invoice: Invoice) -> Invoice:
    return Invoice.objects.get(pk=invoice.pk)
