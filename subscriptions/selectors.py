"""What the subscription pages show, and the invoice lines of renewals and upgrades."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Membership, Organisation
from invoices.totals import LineSpec, Totals, invoice_preview

from . import proration
from .models import AccountClosure, Confirmation, Plan, PlanPrice, Subscription
from .periods import one_year_after

CURRENCIES = ("EUR", "USD", "GBP")
DEFAULT_CURRENCY = "EUR"


def plan_price(plan: Plan, currency: str) -> Decimal:
    """The plan's yearly price excl. VAT in `currency`; ValidationError when it has none."""
    amount = (
        PlanPrice.objects.filter(plan=plan, currency=currency)
        .values_list("yearly_amount", flat=True)
        .first()
    )
    if amount is None:
        raise ValidationError(
            _(
                "Le forfait %(plan)s n'a pas de prix en %(currency)s. "
                "Contactez notre équipe support."
            )
            % {"plan": plan.name, "currency": currency},
            code="no_price",
        )
    return amount


# --- Renewals -------------------------------------------------------------------------


def yearly_line(*, plan: Plan, organisation: Organisation, start: date) -> LineSpec:
    """One year of `plan` from `start`, described in the account's language."""
    with translation.override(organisation.language):
        description = _("Abonnement annuel — forfait %(plan)s") % {"plan": plan.name}
    return LineSpec(
        description=description,
        quantity=Decimal("1"),
        unit_price=plan_price(plan, organisation.currency),
        period_start=start,
        period_end=one_year_after(start),
    )


def renewal_lines(subscription: Subscription) -> list[LineSpec]:
    """The lines of the next renewal invoice: the renewal plan for [period_end, +1 year).

    The renewal task issues exactly these lines and the Factures tab estimates with them,
    so the estimate always equals what the renewal will issue.
    """
    return [
        yearly_line(
            plan=subscription.renewal_plan,
            organisation=subscription.organisation,
            start=subscription.period_end,
        )
    ]


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


# --- Upgrades -------------------------------------------------------------------------


@dataclass
class UpgradeQuote:
    """What an upgrade costs today: the two invoice lines and their totals with VAT."""

    from_plan: Plan
    to_plan: Plan
    currency: str
    proration: proration.Proration
    period_start: date  # today: the new plan starts now
    period_end: date
    lines: list = field(default_factory=list)
    totals: Totals | None = None

    @property
    def is_free(self) -> bool:
        return self.proration.credit == 0 and self.proration.charge == 0


def upgrade_lines(
    *, subscription: Subscription, plan: Plan, today: date
) -> tuple[proration.Proration, list[LineSpec]]:
    """The credit for the current plan's unused days and the charge for the new plan's.

    ValidationError when the period is over (the renewal is being issued) or when the new
    plan costs less than the current one (that is a downgrade, whatever its rank).
    """
    organisation = subscription.organisation
    currency = organisation.currency
    if today >= subscription.period_end:
        raise ValidationError(
            _("Votre abonnement est en cours de renouvellement. Réessayez dans quelques heures."),
            code="renewing",
        )
    old_price = plan_price(subscription.plan, currency)
    new_price = plan_price(plan, currency)
    if new_price < old_price:
        raise ValidationError(
            _(
                "Pour passer à un forfait moins cher, il sera nécessaire de vous rapprocher "
                "de notre équipe support."
            ),
            code="downgrade",
        )
    amounts = proration.plan_change(
        old_price=old_price,
        new_price=new_price,
        period_start=subscription.period_start,
        period_end=subscription.period_end,
        today=today,
    )
    start = max(today, subscription.period_start)
    end = subscription.period_end
    with translation.override(organisation.language):
        credit = _("Crédit pour la période non utilisée — forfait %(plan)s") % {
            "plan": subscription.plan.name
        }
        charge = _("Mise à niveau au prorata — forfait %(plan)s") % {"plan": plan.name}
    lines = [
        LineSpec(credit, Decimal("1"), -amounts.credit, start, end),
        LineSpec(charge, Decimal("1"), amounts.charge, start, end),
    ]
    return amounts, lines


def upgrade_quote(*, subscription: Subscription, plan: Plan, today: date) -> UpgradeQuote:
    amounts, lines = upgrade_lines(subscription=subscription, plan=plan, today=today)
    organisation = subscription.organisation
    return UpgradeQuote(
        from_plan=subscription.plan,
        to_plan=plan,
        currency=organisation.currency,
        proration=amounts,
        period_start=max(today, subscription.period_start),
        period_end=subscription.period_end,
        lines=lines,
        totals=invoice_preview(
            organisation=organisation, lines=lines, currency=organisation.currency
        ),
    )


def upgrade_choices(*, subscription: Subscription | None) -> list[Plan]:
    """The plans the drop-down offers: every public plan, and the current one."""
    current = subscription.plan_id if subscription else None
    return list(Plan.objects.filter(Q(is_public=True) | Q(pk=current)).order_by("rank"))


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


@dataclass
class PricingRow:
    plan: Plan
    price: Decimal | None
    is_current: bool


def visitor_currency(user) -> str:
    """The signed-in visitor's account currency, EUR for everyone else."""
    if user.is_authenticated:
        currency = (
            Membership.objects.filter(user_id=user.pk)
            .values_list("organisation__currency", flat=True)
            .first()
        )
        if currency in CURRENCIES:
            return currency
    return DEFAULT_CURRENCY


def is_owner_of_open_account(user) -> bool:
    return (
        user.is_authenticated
        and Membership.objects.filter(
            user_id=user.pk,
            role=Membership.Role.OWNER,
            organisation__status=Organisation.Status.ACTIVE,
        ).exists()
    )


def pricing_table(*, currency: str, user=None) -> list[PricingRow]:
    """Every public plan with its yearly price in `currency` (None when it has none)."""
    current_plan_id = None
    if user is not None and user.is_authenticated:
        current_plan_id = (
            Subscription.objects.filter(organisation__memberships__user_id=user.pk)
            .values_list("plan_id", flat=True)
            .first()
        )
    plans = Plan.objects.filter(is_public=True).order_by("rank")
    prices = dict(
        PlanPrice.objects.filter(plan__in=plans, currency=currency).values_list(
            "plan_id", "yearly_amount"
        )
    )
    return [PricingRow(plan, prices.get(plan.pk), plan.pk == current_plan_id) for plan in plans]


def plan_names() -> dict[str, str]:
    """Every plan's name in the active language, by code, in one query (the audit trail
    stores plans by code: accounts.hooks.audit_plan_names)."""
    return {plan.code: plan.name for plan in Plan.objects.all()}
