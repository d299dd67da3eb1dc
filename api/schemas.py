"""The API's request and response bodies (they make its OpenAPI schema)."""

from datetime import date, datetime
from typing import Literal

from ninja import Field, Schema

Role = Literal["owner", "manager"]


class Problem(Schema):
    """RFC 9457 problem details (application/problem+json)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: dict[str, list[str]] | None = Field(
        None, description="Messages by field, for invalid input (status 422)."
    )


class AccountOut(Schema):
    id: int
    external_id: str
    name: str
    address_line1: str
    address_line2: str
    postal_code: str
    city: str
    country: str
    vat_number: str
    siren: str
    currency: str
    language: str
    status: Literal["active", "closed"]
    created_at: datetime
    closed_at: datetime | None


class OwnerIn(Schema):
    email: str
    first_name: str
    last_name: str


class AccountCreate(Schema):
    external_id: str = Field("", description="Your own identifier (unique among yours).")
    name: str
    address_line1: str
    address_line2: str = ""
    postal_code: str = ""
    city: str
    country: str = Field(description="ISO 3166-1 alpha-2 code, e.g. FR.")
    vat_number: str = ""
    siren: str = Field("", description="Required in France unless the VAT number gives it.")
    currency: str = Field(description="ISO 4217 code, e.g. EUR; the plan needs a price in it.")
    language: str = Field(description="fr or en: the emails' and invoices' language.")
    plan: str = Field(description="The plan's code, e.g. professionnel.")
    owner: OwnerIn


class AccountUpdate(Schema):
    """Only the fields sent change. The address changes as a whole: fields of it not sent
    keep their current value."""

    external_id: str | None = None
    name: str | None = None
    language: str | None = None
    currency: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None
    vat_number: str | None = None
    siren: str | None = None


class AccountPage(Schema):
    items: list[AccountOut]
    next_cursor: str | None
    next: str | None


class PlanOut(Schema):
    code: str
    name: str


class FeatureOut(Schema):
    code: str
    label: str
    included: bool
    value: str


class SubscriptionOut(Schema):
    plan: PlanOut
    next_plan: PlanOut | None = Field(description="The plan from the next renewal, if it changes.")
    status: Literal["active", "cancelled"]
    period_start: date
    period_end: date = Field(description="End of the paid period, excluded: the renewal date.")
    features: list[FeatureOut]


class PlanChange(Schema):
    plan: str
    effective: Literal["now", "renewal"] | None = Field(
        None,
        description="now: an upgrade, invoiced prorated at once; renewal: from the next "
        "renewal. Default: now for an upgrade, renewal otherwise.",
    )


class MemberOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    role: Role
    created_at: datetime


class MemberIn(Schema):
    email: str
    first_name: str
    last_name: str
    role: Role = "manager"


class MemberUpdate(Schema):
    first_name: str | None = None
    last_name: str | None = None
    role: Role | None = Field(
        None, description="owner hands the account over to this member (ownership transfer)."
    )


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None
    next: str | None


class InvoiceOut(Schema):
    number: str
    kind: Literal["invoice", "credit_note"]
    status: Literal["open", "paid", "void"]
    issue_date: date
    due_date: date
    period_start: date | None
    period_end: date | None
    currency: str
    subtotal: str
    vat_amount: str
    total: str
    amount_paid: str
    paid_on: date | None


class InvoicePage(Schema):
    items: list[InvoiceOut]
    next_cursor: str | None
    next: str | None
