"""Invariants under concurrency, on PostgreSQL with real parallel transactions."""

import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from accounts import services as account_services
from accounts.models import Membership
from accounts.services import ownership as ownership_services
from invoices.models import Invoice
from subscriptions import services as subscription_services
from subscriptions.demo import seed_plans
from subscriptions.models import Subscription
from tests.factories import MembershipFactory, SubscriptionFactory


def _run_together(*calls):
    """Start the calls at the same moment in threads; return their outcomes in order."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what we assert on
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_leave_exactly_one_owner(monkeypatch):
    owner = MembershipFactory(role=Membership.Role.OWNER)
    a = MembershipFactory(organisation=owner.organisation)
    b = MembershipFactory(organisation=owner.organisation)

    # Widen the window between reading the members and writing the roles.
    original = ownership_services.audit_record

    def slow_audit(**kwargs):
        time.sleep(0.3)
        return original(**kwargs)

    monkeypatch.setattr(ownership_services, "audit_record", slow_audit)

    def transfer(target):
        return lambda: account_services.ownership_transfer(
            organisation=owner.organisation, new_owner_membership_id=target.pk, actor=owner.user
        )

    outcomes = _run_together(transfer(a), transfer(b))
    winners = [o for o in outcomes if isinstance(o, Membership)]
    losers = [o for o in outcomes if isinstance(o, PermissionDenied)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    owners = list(Membership.objects.filter(organisation=owner.organisation, role="owner"))
    assert owners == [winners[0]]
    assert Membership.objects.filter(organisation=owner.organisation).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_renewal_run_twice_at_once_issues_once():
    plans = seed_plans()
    owner = MembershipFactory(role=Membership.Role.OWNER)
    subscription = SubscriptionFactory(organisation=owner.organisation, plan=plans["essentiel"])
    due = subscription.period_end

    def renew():
        return subscription_services.renewal_issue(subscription=subscription, today=due)

    outcomes = _run_together(renew, renew)
    issued = [o for o in outcomes if isinstance(o, Invoice)]
    assert len(issued) == 1 and outcomes.count(None) == 1, outcomes
    assert Invoice.objects.filter(organisation=owner.organisation).count() == 1
    subscription.refresh_from_db()
    assert subscription.period_start == due  # advanced once, not twice
    assert Subscription.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_removals_of_one_contact_write_one_audit_event(client):
    """Ten clicks on « Supprimer » at once (two tabs, a double click, a retry): one row
    deleted, one « contact removed » event, every request answered without an error."""
    from django.test import Client
    from django.urls import reverse

    from accounts.models import AuditEvent, BillingContact
    from tests.factories import BillingContactFactory

    owner = MembershipFactory(role=Membership.Role.OWNER)
    contact = BillingContactFactory(organisation=owner.organisation, email="compta@example.com")
    url = reverse("portal:contact_remove", args=[contact.pk])

    def remove():
        browser = Client()
        browser.force_login(owner.user)
        return browser.post(url).status_code

    statuses = _run_together(*[remove] * 10)
    assert all(status in (302, 404) for status in statuses), statuses
    assert statuses.count(302) >= 1
    assert not BillingContact.objects.filter(pk=contact.pk).exists()
    removed = AuditEvent.objects.filter(organisation=owner.organisation, action="contact.removed")
    assert removed.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_contact_posts_accept_exactly_the_limit(monkeypatch):
    """20 posts of the contact form at once from one address: exactly the limit (10) are
    accepted, the others get « try again later », and 10 requests are stored."""
    from django.test import Client
    from django.urls import reverse

    from emails.models import Email
    from support import services as support_services
    from support.models import SupportRequest

    # Widen the window between counting and storing: each accepted request takes a while.
    original = support_services.email_queue

    def slow_email_queue(**kwargs):
        time.sleep(0.1)
        return original(**kwargs)

    monkeypatch.setattr(support_services, "email_queue", slow_email_queue)

    def post(n):
        def call():
            data = {
                "name": f"Visiteur {n}",
                "email": f"v{n}@example.org",
                "topic": "general",
                "subject": "Question",
                "message": "Bonjour",
            }
            return Client().post(reverse("support_contact"), data, REMOTE_ADDR="198.51.100.7")

        return call

    responses = _run_together(*[post(n) for n in range(20)])
    statuses = [getattr(r, "status_code", r) for r in responses]
    limit = support_services.RATE_LIMIT_PER_IP
    assert statuses.count(302) == limit and statuses.count(429) == 20 - limit, statuses
    assert SupportRequest.objects.count() == limit
    assert Email.objects.filter(kind="support_request").count() == limit
