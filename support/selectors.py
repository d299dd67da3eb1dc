"""What the support console shows (support.admin)."""

from dataclasses import dataclass

from accounts import hooks as account_hooks
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
    return AccountOverview(
        members=[*filter(None, [contacts.owner]), *contacts.managers],
        billing_contacts=contacts.billing_contacts,
        subscription=Subscription.objects.select_related("plan", "next_plan")
        .filter(organisation=organisation)
        .first(),
        pending_confirmations=list(
            Confirmation.objects.filter(
                organisation=organisation, status=Confirmation.Status.PENDING
            )
            .select_related("plan", "requested_by")
            .order_by("-created_at", "-pk")
        ),
        invoices=list(
            with_credit_sums(Invoice.objects.filter(organisation=organisation)).order_by(
                "-issue_date", "-pk"
            )[:LATEST_INVOICES]
        ),
        support_requests=list(
            SupportRequest.objects.filter(organisation=organisation)[:LATEST_SUPPORT_REQUESTS]
        ),
        audit_events=_audit_journal(organisation),
        money=account_payments(organisation=organisation),
    )


def _audit_journal(organisation: Organisation) -> list[AuditEvent]:
    """The latest events, each with its action and values in words (`action_text`,
    `before_values`, `after_values`: label and value pairs), plans by name."""
    events = list(AuditEvent.objects.filter(organisation=organisation)[:LATEST_AUDIT_EVENTS])
    plan_names = {}
    for names in account_hooks.audit_plan_names():
        plan_names.update(names)
    for event in events:
        event.action_text = journal_action_label(event.action)
        event.actor_text = actor_display(event.actor_label)
        event.before_values = values_display(event.before, plan_names)
        event.after_values = values_display(event.after, plan_names)
    return events
