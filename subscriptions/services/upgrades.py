"""Upgrades: the owner asks (`upgrade_request` emails a confirmation link), then confirms
(`upgrade_confirm` changes the plan now and invoices the prorated difference). Whether a
change is an upgrade is decided by pricing.plan_change_kind, the one downgrade rule."""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation, User
from accounts.services import TwoFactorProof, two_factor_require
from emails.services import email_queue
from invoices.exchange_rates import euro_vat
from invoices.services import invoice_issue
from webhooks.services import account_data, webhook_emit

from ..models import Confirmation, Plan, Subscription
from ..pricing import plan_change_kind, upgrade_quote
from ._guards import lock_account, require_open, require_owner, subscriptions_locked
from .links import IssuedLink, link_audit, link_claim, link_send, link_used


def _upgrade_target(subscription: Subscription, plan: Plan) -> None:
    change = plan_change_kind(current=subscription.plan, target=plan)
    if change == "same":
        raise ValidationError(
            {"plan": _("Vous êtes déjà au forfait %(plan)s.") % {"plan": plan.name}},
            code="same",
        )
    if change != "upgrade":
        raise ValidationError(
            {
                "plan": _(
                    "Pour passer à un forfait inférieur à votre forfait actuel, il sera "
                    "nécessaire de vous rapprocher de notre équipe support."
                )
            },
            code="downgrade",
        )
    if not plan.is_public:
        raise ValidationError({"plan": _("Ce forfait n'est pas disponible.")}, code="private")


@transaction.atomic
def upgrade_request(
    *,
    organisation: Organisation,
    plan: Plan,
    actor: User,
    ip: str | None = None,
    today: date | None = None,
) -> IssuedLink:
    """Store a pending upgrade to a higher plan and email its confirmation link to the owner.

    Nothing changes on the subscription until the link is confirmed. Asking again (or
    "resend") supersedes the previous link. ValidationError for a plan at or below the
    current one: downgrades go through support.
    """
    organisation = lock_account(organisation)
    require_owner(organisation, actor)
    require_open(organisation)
    subscription = (
        Subscription.objects.select_related("plan", "organisation")
        .filter(organisation=organisation)
        .first()
    )
    if subscription is None or not subscription.is_active:
        raise ValidationError(_("Ce compte n'a pas d'abonnement en cours."), code="inactive")
    _upgrade_target(subscription, plan)
    today = today or timezone.localdate()
    quote = upgrade_quote(subscription=subscription, plan=plan, today=today)
    if not quote.is_free:
        # The invoice the confirmation issues would be refused without the exchange rate of
        # its VAT in euros (invoices.exchange_rates): say so now, before the owner confirms.
        euro_vat(currency=quote.currency, vat_amount=quote.totals.vat_amount, day=today)

    return link_send(
        organisation=organisation,
        kind=Confirmation.Kind.UPGRADE,
        actor=actor,
        ip=ip,
        before={"plan": subscription.plan.code},
        after={
            "plan": plan.code,
            "estimate_total": str(quote.totals.total),
            "currency": quote.currency,
        },
        context={"quote": quote},
        from_plan=subscription.plan,
        plan=plan,
    )


def upgrade_apply(
    *,
    subscription: Subscription,
    plan: Plan,
    today: date,
    actor: User,
    by_support: bool = False,
    ip: str | None = None,
):
    """Move to a higher plan now and invoice the prorated difference (the owner's confirmed
    upgrade and support's immediate one). The caller holds the subscription row lock."""
    quote = upgrade_quote(subscription=subscription, plan=plan, today=today)
    previous_plan = subscription.plan
    subscription.plan = plan
    subscription.next_plan = None
    subscription.save(update_fields=["plan", "next_plan"])
    webhook_emit(
        "subscription.upgraded",
        {
            "account": account_data(subscription.organisation),
            "previous_plan": previous_plan.code,
            "plan": plan.code,
            "period_end": subscription.period_end,
            "by_support": by_support,
        },
    )
    invoice = None
    if not quote.is_free:
        invoice = invoice_issue(
            organisation=subscription.organisation,
            lines=quote.lines,
            currency=quote.currency,
            actor=actor,
            by_support=by_support,
            ip=ip,
        )
    return quote, invoice


@transaction.atomic
def upgrade_confirm(
    *,
    token: str,
    ip: str | None = None,
    signed_in: User | None = None,
    second_factor: TwoFactorProof | None = None,
    now: datetime | None = None,
) -> Confirmation:
    """Apply the upgrade a link stands for: change the plan now and issue the prorated invoice.

    LinkError when the link cannot be used (unknown, expired, used, superseded, requester
    no longer owner, subscription changed since): then nothing changes.
    """
    now = now or timezone.now()
    confirmation = link_claim(token, kind=Confirmation.Kind.UPGRADE, now=now)
    # The owner who asked, whoever opened the link: their code if they have a second factor.
    two_factor_require(user=confirmation.requested_by, proof=second_factor)
    organisation = confirmation.organisation
    subscription = subscriptions_locked().get(organisation=organisation)
    old_plan, new_plan = subscription.plan, confirmation.plan
    # An upgrade is the customer's latest word: a downgrade support had planned for the
    # renewal no longer applies.
    cancelled_next_plan = subscription.next_plan.code if subscription.next_plan_id else None
    quote, invoice = upgrade_apply(
        subscription=subscription,
        plan=new_plan,
        today=timezone.localdate(now),
        actor=confirmation.requested_by,
        ip=ip,
    )
    link_used(confirmation, now)
    audit_record(
        organisation=organisation,
        action="upgrade.confirmed",
        actor=confirmation.requested_by,
        before={"plan": old_plan.code, "next_plan": cancelled_next_plan},
        after={
            "plan": new_plan.code,
            "invoice": getattr(invoice, "number", None),
            "total": str(quote.totals.total),
            "currency": quote.currency,
            **link_audit(signed_in, confirmation, second_factor),
        },
        ip=ip,
    )
    email_queue(
        to=[confirmation.requested_by.email],
        template="upgrade_confirmed",
        context={
            "organisation": organisation,
            "user": confirmation.requested_by,
            "quote": quote,
            "subscription": subscription,
            "invoice": invoice,
        },
        language=organisation.language,
        organisation=organisation,
    )
    return confirmation
