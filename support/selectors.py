"""What the support console shows (support.admin)."""

from dataclasses import dataclass

from accounts.audit import actor_display, journal_action_label, values_display
from accounts.models import AuditEvent, BillingContact, Membership, Organisation
from accounts.selectors import contacts_page
from invoices.models import Invoice
from invoices.selectors import with_credit_sums
from payments.selectors import AccountPayments, account_payments
from subscriptions.models import Confirmation, Subscription

from .models import SupportRequest

LATEST_INVOICES = 25
LATEST_SUPPORT_REQUESTS = 10
LATEST_AUDIT_EVENTS = 20


@dataclass
class AccountOverview:
    members: list[Membership]  # the owner first, then the program managers
    billing_contacts: list[BillingContact]
    subscription: Subscription | None
    pending_confirmations: list[Confirmation]
    invoices: list[Invoice]
    support_requests: list[SupportRequest]
    audit_events: list[AuditEvent]
    money: AccountPayments  # balance, open and overdue invoices, payments, credit, refunds


def account_overview(*, organisation: Organisation) -> AccountOverview:
    """Everything about one account on the page support works from, in thirteen queries
    whatever the number of members, contacts, links, invoices, requests, events, payments
    and refunds (payments.selectors.account_payments: six)."""
    contacts = contacts_page(organisation=organisation)  # two queries
    subscription = (
        Subscription.objects.select_related("plan", "next_plan")
        .filter(organisation=organisation)
        .first()
    )
    pending = list(
        Confirmation.objects.filter(organisation=organisation, status=Confirmation.Status.PENDING)
        .select_related("plan", "requested_by")
        .order_by("-created_at", "-pk")
    )
    # The plans the page already holds name the journal's plan codes, without a query.
    plans = [c.plan for c in pending] + (
        [subscription.plan, subscription.next_plan] if subscription else []
    )
    plan_names = {plan.code: plan.name for plan in plans if plan is not None}
    return AccountOverview(
        members=[*filter(None, [contacts.owner]), *contacts.managers],
        billing_contacts=contacts.billing_contacts,
        subscription=subscription,
        pending_confirmations=pending,
        invoices=list(
            with_credit_sums(Invoice.objects.filter(organisation=organisation)).order_by(
                "-issue_date", "-pk"
            )[:LATEST_INVOICES]
        ),
        support_requests=list(
            SupportRequest.objects.filter(organisation=organisation)[:LATEST_SUPPORT_REQUESTS]
        ),
        audit_events=_audit_journal(organisation, plan_names),
        money=account_payments(organisation=organisation),
    )


def _audit_journal(organisation: Organisation, plan_names: dict) -> list[AuditEvent]:
    """The latest events, each with its action, actor and values in words (`action_text`,
    `actor_text`, `before_values`, `after_values`: label and value pairs); the plans of
    `plan_names` by name, others by code."""
    events = list(AuditEvent.objects.filter(organisation=organisation)[:LATEST_AUDIT_EVENTS])
    for event in events:
        event.action_text = journal_action_label(event.action)
        event.actor_text = actor_display(event.actor_label)
        event.before_values = values_display(event.before, plan_names)
        event.after_values = values_display(event.after, plan_names)
    return events
