import re
from datetime import timedelta

import pytest
from django.utils import timezone

from emails.models import Email
from tests.factories import BillingContactFactory, SubscriptionFactory

LINK = re.compile(r"/confirm/([A-Za-z0-9_-]+)/")


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def subscription(owner, plans, today):
    """The owner's account on Professionnel (6 000 € a year), 100 days into a 365-day year."""
    start = today - timedelta(days=100)
    return SubscriptionFactory(
        organisation=owner.organisation,
        plan=plans["professionnel"],
        period_start=start,
        period_end=start + timedelta(days=365),
    )


@pytest.fixture
def billing_contact(owner):
    return BillingContactFactory(
        organisation=owner.organisation,
        first_name="Claire",
        last_name="Dubois",
        email="compta@example.com",
    )


def link_token(email: Email) -> str:
    """The token of the confirmation link in an email, as the owner would click it."""
    match = LINK.search(email.body_text)
    assert match, email.body_text
    return match.group(1)


def emails_to(address: str, kind: str | None = None):
    qs = Email.objects.filter(to=address).order_by("pk")
    return list(qs.filter(kind=kind) if kind else qs)
