"""A whole new account, as the host's provisioning API (api/) creates it: the organisation,
its owner, its subscription on a plan for one year from today, and the invoice of that year;
and the change of an account's currency while nothing was invoiced in it yet."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Membership, Organisation, User
from accounts.services import clean_currency, member_add, organisation_create
from invoices.models import Invoice
from invoices.services import invoice_issue

from ..models import Plan, Subscription
from ..periods import one_year_after
from ..pricing import plan_price, yearly_line
from ._guards import lock_account, require_open, subscriptions_locked


def _priced(plan: Plan, currency: str) -> None:
    try:
        plan_price(plan, currency)
    except ValidationError as exc:
        raise ValidationError({"plan": exc.messages}) from None


@transaction.atomic
def account_create(
    *,
    name: str,
    address_line1: str,
    address_line2: str = "",
    postal_code: str = "",
    city: str,
    country: str,
    vat_number: str = "",
    siren: str = "",
    currency: str,
    language: str,
    plan: Plan,
    owner_email: str,
    owner_first_name: str,
    owner_last_name: str,
    actor: User | None,
    ip: str | None = None,
    today: date | None = None,
) -> Subscription:
    """Create an account with its owner and its subscription to `plan`, [today, +1 year),
    and issue the invoice of that year (as a renewal would: yearly, in advance), emailed to
    the owner. A plan priced 0 issues no invoice.

    Raises ValidationError keyed by field (the organisation's fields, `plan` without a
    price in the currency, the owner's `email`, `first_name`, `last_name`); creates nothing
    then.
    """
    today = today or timezone.localdate()
    errors: dict = {}
    try:
        organisation = organisation_create(
            name=name,
            address_line1=address_line1,
            address_line2=address_line2,
            postal_code=postal_code,
            city=city,
            country=country,
            vat_number=vat_number,
            siren=siren,
            currency=currency,
            language=language,
            actor=actor,
            ip=ip,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
        organisation = None
    if "currency" not in errors:
        try:
            _priced(plan, clean_currency(currency))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    member_add(
        organisation=organisation,
        email=owner_email,
        first_name=owner_first_name,
        last_name=owner_last_name,
        role=Membership.Role.OWNER,
        actor=actor,
        ip=ip,
    )
    subscription = Subscription.objects.create(
        organisation=organisation,
        plan=plan,
        period_start=today,
        period_end=one_year_after(today),
    )
    line = yearly_line(plan=plan, organisation=organisation, start=today)
    invoice = None
    if line.unit_price:
        invoice = invoice_issue(
            organisation=organisation, lines=[line], currency=organisation.currency, actor=actor
        )
    audit_record(
        organisation=organisation,
        action="account.created",
        actor=actor,
        after={
            "plan": plan.code,
            "period": [subscription.period_start.isoformat(), subscription.period_end.isoformat()],
            "invoice": getattr(invoice, "number", None),
        },
        ip=ip,
    )
    return subscription


@transaction.atomic
def account_currency_change(
    *, organisation: Organisation, currency: str, actor: User | None, ip: str | None = None
) -> Organisation:
    """Change the currency an account is invoiced in, while it has no invoice yet (an
    invoice and its credit notes, payments and credit stay in one currency). Its plan, and
    the plan planned for its renewal, need a price in the new one. ValidationError
    (field `currency`) otherwise; nothing changes then."""
    organisation = lock_account(organisation)
    require_open(organisation)
    code = clean_currency(currency)
    if code == organisation.currency:
        return organisation
    if Invoice.objects.filter(organisation=organisation).exists():
        raise ValidationError(
            {"currency": _("La devise ne change plus une fois une facture émise dans ce compte.")},
            code="invoiced",
        )
    subscription = subscriptions_locked().filter(organisation=organisation).first()
    if subscription is not None:
        for plan in filter(None, [subscription.plan, subscription.next_plan]):
            try:
                plan_price(plan, code)
            except ValidationError as exc:
                raise ValidationError({"currency": exc.messages}) from None
    before = {"currency": organisation.currency}
    organisation.currency = code
    organisation.save(update_fields=["currency"])
    audit_record(
        organisation=organisation,
        action="organisation.currency_changed",
        actor=actor,
        before=before,
        after={"currency": code},
        ip=ip,
    )
    return organisation
