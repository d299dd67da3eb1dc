"""What the subscription pages show, and what the periodic tasks find due (prices and quotes
are computed in pricing.py)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import Membership, Organisation

from .models import AccountClosure, Confirmation, Plan, PlanPrice, Subscription

CURRENCIES = ("EUR", "USD", "GBP")
DEFAULT_CURRENCY = "EUR"


def renewals_due(*, today: date) -> list[int]:
    """Active subscriptions of open accounts whose period has ended."""
    return list(
        Subscription.objects.filter(
            status=Subscription.Status.ACTIVE,
            organisation__status=Organisation.Status.ACTIVE,
            period_end__lte=today,
        )
        .order_by("period_end", "pk")
        .values_list("pk", flat=True)
    )


def reminders_due(*, today: date) -> list[int]:
    """Subscriptions renewing within RENEWAL_REMINDER_DAYS whose owner was not told yet."""
    horizon = today + timedelta(days=settings.RENEWAL_REMINDER_DAYS)
    return list(
        Subscription.objects.filter(
            status=Subscription.Status.ACTIVE,
            organisation__status=Organisation.Status.ACTIVE,
            period_end__gt=today,
            period_end__lte=horizon,
        )
        .filter(
            Q(renewal_reminder_sent_for__isnull=True)
            | ~Q(renewal_reminder_sent_for=F("period_end"))
        )
        .order_by("period_end", "pk")
        .values_list("pk", flat=True)
    )


def anonymisations_due(*, now: datetime) -> list[int]:
    """Closed accounts whose grace period is over and whose people are not anonymised yet."""
    return list(
        AccountClosure.objects.filter(
            reopened_at__isnull=True,
            anonymised_at__isnull=True,
            anonymise_after__lte=now,
            organisation__status=Organisation.Status.CLOSED,
        )
        .order_by("anonymise_after", "pk")
        .values_list("organisation_id", flat=True)
    )


# --- Pages ----------------------------------------------------------------------------


@dataclass
class SubscriptionPage:
    subscription: Subscription | None
    price: Decimal | None
    currency: str
    pending_upgrade: Confirmation | None
    pending_closure: Confirmation | None


def pending_confirmations(*, organisation: Organisation, user) -> dict[str, Confirmation]:
    """The links `user` asked for and may still confirm, by kind, in one query (at most one
    of each kind is pending: one_pending_confirmation_per_kind)."""
    return {
        confirmation.kind: confirmation
        for confirmation in Confirmation.objects.filter(
            organisation=organisation,
            requested_by_id=user.pk,
            status=Confirmation.Status.PENDING,
            expires_at__gt=timezone.now(),
        ).select_related("plan")
    }


def subscription_page(*, organisation: Organisation, user) -> SubscriptionPage:
    """The Abonnement tab in two queries: the subscription with its plans and its price in
    the account's currency, and the pending confirmation links."""
    price = PlanPrice.objects.filter(plan=OuterRef("plan"), currency=organisation.currency)
    subscription = (
        Subscription.objects.filter(organisation=organisation)
        .select_related("plan", "next_plan")
        .annotate(current_price=Subquery(price.values("yearly_amount")[:1]))
        .first()
    )
    if subscription is not None:
        subscription.organisation = organisation  # the caller's instance: no join
    pending = pending_confirmations(organisation=organisation, user=user)
    return SubscriptionPage(
        subscription=subscription,
        price=subscription.current_price if subscription is not None else None,
        currency=organisation.currency,
        pending_upgrade=pending.get(Confirmation.Kind.UPGRADE),
        pending_closure=pending.get(Confirmation.Kind.CLOSURE),
    )


def visitor_currency(membership: Membership | None) -> str:
    """The currency of the visitor's account (`membership`: the one they chose, see
    accounts.permissions.membership_chosen), EUR for everyone else."""
    if membership is not None and membership.organisation.currency in CURRENCIES:
        return membership.organisation.currency
    return DEFAULT_CURRENCY


def subscription_account(membership: Membership | None) -> Organisation | None:
    """The account whose « Abonnement » tab the visitor sees, or None: the account of
    `membership` (the one they chose), when they are its owner and it is open
    (accounts.permissions.portal_view's rule for owner-only pages). A program manager,
    support staff or an anonymous visitor sees no account's plan."""
    if membership is None or not membership.is_owner or membership.organisation.is_closed:
        return None
    return membership.organisation


def plan_names() -> dict[str, str]:
    """Every plan's name in the active language, by code, in one query (the audit trail
    stores plans by code: accounts.hooks.audit_plan_names)."""
    return {plan.code: plan.name for plan in Plan.objects.all()}
