"""Renewals: issue the renewal invoice when a period ends, remind the owner before. The
lines come from pricing.renewal_lines, the very lines the Factures tab's estimate previews
(pricing.renewal_estimate)."""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.selectors import account_owner
from emails.services import email_queue
from invoices.services import invoice_issue
from invoices.totals import invoice_preview
from webhooks.services import account_data, webhook_emit

from ..models import Subscription
from ..periods import one_year_after
from ..pricing import renewal_lines
from ._guards import subscriptions_locked


@transaction.atomic
def renewal_issue(*, subscription: Subscription, today: date | None = None):
    """Renew a subscription whose period has ended: issue the invoice, advance one year.

    The subscription row is locked and the period advanced in the same transaction as the
    invoice, so running this twice (two workers, a retried task) issues once. Applies
    `next_plan` (a downgrade support planned). Returns the invoice, or None when not due.
    """
    today = today or timezone.localdate()
    subscription = subscriptions_locked().get(pk=subscription.pk)
    organisation = subscription.organisation
    if not subscription.is_active or organisation.is_closed or subscription.period_end > today:
        return None
    lines = renewal_lines(subscription)
    before = {
        "plan": subscription.plan.code,
        "period": [subscription.period_start.isoformat(), subscription.period_end.isoformat()],
    }
    subscription.plan = subscription.renewal_plan
    subscription.next_plan = None
    subscription.period_start = subscription.period_end
    subscription.period_end = one_year_after(subscription.period_start)
    subscription.save(update_fields=["plan", "next_plan", "period_start", "period_end"])
    invoice = invoice_issue(
        organisation=organisation,
        lines=lines,
        currency=organisation.currency,
    )
    previous_plan = before["plan"]
    account = account_data(organisation)
    if subscription.plan.code != previous_plan:
        # Only a downgrade waits for the renewal (support plans it; an upgrade is at once).
        webhook_emit(
            "subscription.downgraded",
            {"account": account, "previous_plan": previous_plan, "plan": subscription.plan.code},
        )
    webhook_emit(
        "subscription.renewed",
        {
            "account": account,
            "plan": subscription.plan.code,
            "period_start": subscription.period_start,
            "period_end": subscription.period_end,
            "invoice": getattr(invoice, "number", None),
        },
    )
    audit_record(
        organisation=organisation,
        action="renewal.issued",
        before=before,
        after={
            "plan": subscription.plan.code,
            "period": [subscription.period_start.isoformat(), subscription.period_end.isoformat()],
            "invoice": getattr(invoice, "number", None),
        },
    )
    return invoice


@transaction.atomic
def renewal_remind(*, subscription: Subscription, today: date | None = None) -> bool:
    """Email the owner once per period, RENEWAL_REMINDER_DAYS before the renewal."""
    today = today or timezone.localdate()
    subscription = subscriptions_locked().get(pk=subscription.pk)
    organisation = subscription.organisation
    due_from = subscription.period_end - timedelta(days=settings.RENEWAL_REMINDER_DAYS)
    if (
        not subscription.is_active
        or organisation.is_closed
        or not (due_from <= today < subscription.period_end)
        or subscription.renewal_reminder_sent_for == subscription.period_end
    ):
        return False
    owner = account_owner(organisation=organisation)
    subscription.renewal_reminder_sent_for = subscription.period_end
    subscription.save(update_fields=["renewal_reminder_sent_for"])
    if owner is None:
        return False
    lines = renewal_lines(subscription)
    email_queue(
        to=[owner.user.email],
        template="renewal_reminder",
        context={
            "organisation": organisation,
            "user": owner.user,
            "subscription": subscription,
            "plan": subscription.renewal_plan,
            "totals": invoice_preview(
                organisation=organisation, lines=lines, currency=organisation.currency
            ),
            "currency": organisation.currency,
        },
        language=organisation.language,
        organisation=organisation,
    )
    return True
