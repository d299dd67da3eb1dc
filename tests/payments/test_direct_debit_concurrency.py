"""Direct debits under real parallel transactions on PostgreSQL: the pre-notification run
twice at once, and a statement with a return imported twice at once, each do their work
once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from emails.models import Email
from invoices.models import Invoice
from payments.models import BankStatement, Collection, Refund
from payments.services import collections_prenotify, statement_import
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.test_concurrency import _run_together

from .conftest import invoice
from .direct_debit import collected, collection, mandate, returned, statement

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lyon():
    return MembershipFactory(
        user=UserFactory(email="owner@example.com"),
        organisation=OrganisationFactory(name="Festival International du Film de Lyon"),
        role=Membership.Role.OWNER,
    ).organisation


def test_two_prenotification_runs_at_once_notify_once(lyon):
    debit = mandate(lyon)
    for number in ("INV-10680", "INV-10681", "INV-10682"):
        collection(
            invoice(lyon, number, "100.00"),
            debit,
            collect_on=timezone.localdate() + timedelta(days=10),
        )

    def run():
        return collections_prenotify(organisation=lyon)

    outcomes = _run_together(run, run)
    assert sorted(outcomes) == [0, 3], outcomes
    assert Collection.objects.filter(status="notified").count() == 3
    assert Email.objects.filter(kind="direct_debit_notice").count() == 3


def test_a_return_imported_twice_at_once_is_undone_once(lyon):
    sent = collection(invoice(lyon, "INV-10682", "7200.00"), mandate(lyon), status="exported")
    statement_import(data=statement(collected(sent), message_id="D1"), file_name="a", actor=None)
    assert Invoice.objects.get(number="INV-10682").status == Invoice.Status.PAID
    data = statement(returned(sent, "AM04"), message_id="D2")

    def run():
        return statement_import(data=data, file_name="releve.xml", actor=None)

    outcomes = _run_together(run, run)
    assert all(isinstance(o, BankStatement) for o in outcomes), outcomes
    assert sorted(o.matched for o in outcomes) == [0, 1]
    assert Invoice.objects.get(number="INV-10682").status == Invoice.Status.OPEN
    assert Refund.objects.count() == 1
    assert Email.objects.filter(kind="direct_debit_returned").count() == 1
