"""Two confirmations of one link at the same moment (double click, two tabs): one change."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from accounts.models import AuditEvent, Membership
from invoices.models import Invoice
from subscriptions import services, tokens
from subscriptions.demo import seed_plans
from subscriptions.models import Subscription
from subscriptions.tokens import LinkError
from tests.factories import MembershipFactory, SubscriptionFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_confirming_one_link_change_the_plan_once(monkeypatch):
    plans = seed_plans()
    owner = MembershipFactory(role=Membership.Role.OWNER)
    subscription = SubscriptionFactory(organisation=owner.organisation, plan=plans["essentiel"])
    subscription.period_start -= timedelta(days=10)
    subscription.save()
    link = services.upgrade_request(
        organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
    )

    # Widen the window between the check and the change: without the row locks both
    # threads would pass the check before either writes.
    check = tokens.confirmation_problem

    def slow_check(*args, **kwargs):
        problem = check(*args, **kwargs)
        time.sleep(0.3)
        return problem

    monkeypatch.setattr(tokens, "confirmation_problem", slow_check)

    barrier = threading.Barrier(2)
    outcomes = []

    def confirm():
        try:
            barrier.wait()
            services.upgrade_confirm(token=link.token)
            outcomes.append("confirmed")
        except LinkError as exc:
            outcomes.append(exc.problem)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["confirmed", "used"]
    subscription.refresh_from_db()
    assert subscription.plan == plans["entreprise"]
    assert Invoice.objects.count() == 1
    assert AuditEvent.objects.filter(action="upgrade.confirmed").count() == 1
    assert Subscription.objects.count() == 1
