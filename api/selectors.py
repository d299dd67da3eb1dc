"""What the API reads: always through the client's own accounts (ClientAccount), so that
another client's account is not found (404)."""

from dataclasses import dataclass

from accounts.models import Membership, Organisation
from invoices.models import Invoice
from subscriptions.models import Feature, PlanFeature, Subscription

from .models import ApiClient, ClientAccount


def client_accounts(*, client: ApiClient, external_id: str | None = None):
    links = ClientAccount.objects.filter(client=client).select_related("organisation")
    if external_id:
        links = links.filter(external_id=external_id)
    return links


def client_account(*, client: ApiClient, organisation_id: int) -> ClientAccount | None:
    return client_accounts(client=client).filter(organisation_id=organisation_id).first()


def account_members(*, organisation: Organisation):
    return Membership.objects.filter(organisation=organisation).select_related("user")


def account_member(*, organisation: Organisation, member_id: int) -> Membership | None:
    return account_members(organisation=organisation).filter(pk=member_id).first()


def account_invoices(*, organisation: Organisation):
    return Invoice.objects.filter(organisation=organisation)


@dataclass(frozen=True)
class Entitlement:
    code: str
    label: str
    included: bool
    value: str


@dataclass(frozen=True)
class SubscriptionView:
    subscription: Subscription
    features: list[Entitlement]


def account_subscription(*, organisation: Organisation) -> SubscriptionView | None:
    """The subscription, its plan and what that plan includes of every feature of the
    pricing page's comparison (subscriptions Feature/PlanFeature), in three queries."""
    subscription = (
        Subscription.objects.select_related("plan", "next_plan")
        .filter(organisation=organisation)
        .first()
    )
    if subscription is None:
        return None
    cells = {
        cell.feature_id: cell for cell in PlanFeature.objects.filter(plan=subscription.plan_id)
    }
    features = []
    for feature in Feature.objects.order_by("position", "pk"):
        cell = cells.get(feature.pk)
        features.append(
            Entitlement(
                code=feature.code,
                label=feature.label,
                included=bool(cell and cell.included),
                value=cell.value if cell and cell.included else "",
            )
        )
    return SubscriptionView(subscription=subscription, features=features)
