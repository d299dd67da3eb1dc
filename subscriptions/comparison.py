"""The pricing page's comparison: one column per plan with its price, one row per feature
with what each plan offers of it, and for an owner their current plan, the plans they may
upgrade to and the VAT their invoices will carry.

Prices come from pricing.py (the one module that computes money) and the upgrade rule is
pricing.plan_change_kind; the VAT treatment is the invoices' own (invoices.totals).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from invoices.tax import TaxRule
from invoices.totals import organisation_tax_rule, round_money

from .models import Feature, Plan, PlanFeature, PlanPrice, Subscription
from .pricing import PlanChange, plan_change_kind

MONTHS_A_YEAR = Decimal(12)
# In a sentence: « Prix hors taxes, en euros (EUR) ».
CURRENCY_NAMES = {
    "EUR": _("euros"),
    "GBP": _("livres sterling"),
    "USD": _("dollars américains"),
}


@dataclass(frozen=True)
class PlanColumn:
    plan: Plan
    yearly_price: Decimal | None  # excl. VAT, in the comparison's currency; None: on request
    is_current: bool = False
    # From the account's current plan (plan_change_kind, prices included); None without one.
    change: PlanChange | None = None

    @property
    def monthly_price(self) -> Decimal | None:
        """What a year costs per month (plans are billed yearly), rounded half up."""
        if self.yearly_price is None:
            return None
        return round_money(self.yearly_price / MONTHS_A_YEAR)

    @property
    def is_upgrade(self) -> bool:
        return self.change == "upgrade"

    @property
    def is_downgrade(self) -> bool:
        return self.change == "downgrade"


@dataclass(frozen=True)
class Cell:
    """What one plan offers of one feature: a value (« 5 000 ») or just included or not."""

    included: bool
    value: str = ""


@dataclass(frozen=True)
class FeatureRow:
    feature: Feature
    cells: list[tuple[PlanColumn, Cell]]  # in the columns' order


@dataclass(frozen=True)
class Comparison:
    currency: str
    columns: list[PlanColumn]
    rows: list[FeatureRow]
    # Set only for the owner of an open account, who sees the « Abonnement » tab.
    organisation: Organisation | None = None
    tax_rule: TaxRule | None = None

    @property
    def current(self) -> PlanColumn | None:
        return next((column for column in self.columns if column.is_current), None)

    @property
    def currency_name(self) -> str:
        return str(CURRENCY_NAMES.get(self.currency, self.currency))

    @property
    def seller_vat_rate(self) -> Decimal:
        """The VAT rate of a customer taxed like the seller's own country's."""
        return Decimal(settings.SELLER["vat_rate"])


NOT_INCLUDED = Cell(included=False)


def comparison(*, currency: str, organisation: Organisation | None = None) -> Comparison:
    """Every public plan (and the account's own, even hidden), cheapest rank first, with
    its yearly price in `currency` and its cell in each feature row.

    Give `organisation` only for a viewer who may see its subscription (its owner): the
    comparison then marks its current plan, tells upgrades from downgrades and carries the
    account's VAT treatment. Five queries, whatever the number of plans and features.
    """
    current_plan_id = None
    if organisation is not None:
        current_plan_id = (
            Subscription.objects.filter(organisation=organisation)
            .values_list("plan_id", flat=True)
            .first()
        )
    plans = list(
        Plan.objects.filter(Q(is_public=True) | Q(pk=current_plan_id))
        .order_by("rank")
        .prefetch_related(
            Prefetch("feature_values", queryset=PlanFeature.objects.all(), to_attr="cells")
        )
    )
    prices = dict(
        PlanPrice.objects.filter(plan__in=plans, currency=currency).values_list(
            "plan_id", "yearly_amount"
        )
    )
    current = next((plan for plan in plans if plan.pk == current_plan_id), None)
    columns = [
        PlanColumn(
            plan=plan,
            yearly_price=prices.get(plan.pk),
            is_current=plan is current,
            change=None
            if current is None
            else plan_change_kind(
                current=current,
                target=plan,
                current_price=prices.get(current.pk),
                target_price=prices.get(plan.pk),
            ),
        )
        for plan in plans
    ]
    by_plan = {
        plan.pk: {value.feature_id: Cell(value.included, value.value) for value in plan.cells}
        for plan in plans
    }
    rows = [
        FeatureRow(
            feature=feature,
            cells=[
                (column, by_plan[column.plan.pk].get(feature.pk, NOT_INCLUDED))
                for column in columns
            ],
        )
        for feature in Feature.objects.order_by("position", "pk")
    ]
    return Comparison(
        currency=currency,
        columns=columns,
        rows=rows,
        organisation=organisation,
        tax_rule=organisation_tax_rule(organisation) if organisation is not None else None,
    )
