from decimal import Decimal

import pytest

from accounts.models import Membership
from invoices.services import invoice_issue
from invoices.totals import LineSpec
from tests.factories import MembershipFactory, OrganisationFactory


@pytest.fixture
def swedish_owner(db):
    """An account in another EU country, with a valid VAT number, invoiced in English."""
    return MembershipFactory(
        organisation=OrganisationFactory(
            name="Nordic Design Awards",
            address_line1="Sveavägen 24",
            postal_code="111 57",
            city="Stockholm",
            country="SE",
            vat_number="SE556677889901",
            language="en",
        ),
        role=Membership.Role.OWNER,
    )


def one_line(amount="850.00", description="Pack de 1 000 candidatures supplémentaires"):
    return [LineSpec(description=description, quantity=Decimal(1), unit_price=Decimal(amount))]


@pytest.fixture
def issue():
    """Issue an invoice through the service (the only way one comes to exist)."""

    def _issue(organisation, amount="850.00", **kwargs):
        kwargs.setdefault("lines", one_line(amount))
        return invoice_issue(organisation=organisation, **kwargs)

    return _issue
