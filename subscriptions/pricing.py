"""What plans cost: prices, the lines and totals of renewals and upgrades, and the one rule
that tells an upgrade from a downgrade (the pricing page's comparison is comparison.py).

Every amount the subscription pages, emails and invoices show is computed here, through
invoices.totals (line specs, rounding, VAT): the renewal task issues `renewal_lines`, and
the Factures tab's estimate previews the same lines, so the two cannot drift.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Organisation
from invoices.totals import LineSpec, Totals, invoice_preview

from . import proration
from .models import Plan, PlanPrice, Subscription
from .periods import one_year_after

PlanChange = Literal["upgrade", "downgrade", "same"]


def plan_change_kind(
    *,
    current: Plan,
    target: Plan,
    current_price: Decimal | None = None,
    target_price: Decimal | None = None,
) -> PlanChange:
    """The one downgrade rule: is moving from `current` to `target` an upgrade?

    A plan ranked above the current one is an upgrade, which the owner may ask for and
    which applies at once with a prorated invoice; the same plan is "same"; anything else
    is a downgrade, which only support applies, at the renewal. Given the two yearly
    prices in the account's currency, a higher-ranked plan that costs less is a downgrade
    too (an upgrade never refunds).
    """
    if target.pk == current.pk:
        return "same"
    if target.rank <= current.rank:
        return "downgrade"
    if current_price is not None and target_price is not None and target_price < current_price:
        return "downgrade"
    return "upgrade"


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

    The renewal (services.renewals.renewal_issue) issues exactly these lines, and its
    reminder and the Factures tab's estimate preview them, so the estimate always equals
    what the renewal will issue.
    """
    return [
        yearly_line(
            plan=subscription.renewal_plan,
            organisation=subscription.organisation,
            start=subscription.period_end,
        )
    ]


@dataclass(frozen=True)
class RenewalEstimate:
    subscription: Subscription | None
    plan: Plan | None = None
    renewal_date: date | None = None
    line: LineSpec | None = None
    totals: Totals | None = None

    @property
    def will_renew(self) -> bool:
        return self.subscription is not None and self.subscription.status == "active"


def renewal_estimate(*, organisation: Organisation) -> RenewalEstimate:
    """What the next renewal will invoice, with today's address, VAT number and prices.

    The renewal's own lines (renewal_lines) previewed by invoice_preview, so it applies
    exactly the tax rule the issued invoice will. `totals` is None without a subscription,
    when it will not renew, or when the plan has no price in the account's currency. The
    Factures tab gets it through the invoices.hooks.renewal_estimate hook (apps.py).
    """
    subscription = (
        Subscription.objects.filter(organisation=organisation)
        .select_related("plan", "next_plan")
        .first()
    )
    if subscription is None or subscription.status != Subscription.Status.ACTIVE:
        return RenewalEstimate(subscription=subscription)
    plan = subscription.renewal_plan
    subscription.organisation = organisation  # already loaded: no second query
    try:
        (line,) = renewal_lines(subscription)
    except ValidationError:  # no price in the account's currency
        return RenewalEstimate(
            subscription=subscription, plan=plan, renewal_date=subscription.period_end
        )
    return RenewalEstimate(
        subscription=subscription,
        plan=plan,
        renewal_date=subscription.period_end,
        line=line,
        totals=invoice_preview(organisation=organisation, lines=[line]),
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

    ValidationError when the period is over (the renewal is being issued) or when the
    change is a downgrade by price (plan_change_kind: the new plan costs less).
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
    kind = plan_change_kind(
        current=subscription.plan, target=plan, current_price=old_price, target_price=new_price
    )
    if kind == "downgrade":
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


@dataclass(frozen=True)
class UpgradeChoices:
    """The plans the « Mettre à niveau » drop-down offers, and the one it proposes first."""

    plans: list[Plan]
    proposed: Plan | None


def upgrade_choices(*, subscription: Subscription | None) -> UpgradeChoices:
    """Every public plan and the current one; proposed first: the lowest upgrade, or the
    current plan when there is none (the choice of a downgrade gets the support message)."""
    current = subscription.plan if subscription else None
    plans = list(
        Plan.objects.filter(Q(is_public=True) | Q(pk=getattr(current, "pk", None))).order_by("rank")
    )
    if current is None:
        return UpgradeChoices(plans, None)
    upgrades = [p for p in plans if plan_change_kind(current=current, target=p) == "upgrade"]
    return UpgradeChoices(plans, upgrades[0] if upgrades else current)
