"""Support changes an account's plan (downgrades included), from the account's admin page;
the host changes it through its provisioning API (api/), by the same rules."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation, User
from accounts.selectors import account_owner
from emails.services import email_queue

from ..models import Plan, Subscription
from ..pricing import plan_change_kind, plan_price
from ._guards import lock_account, require_open, subscriptions_locked
from .upgrades import upgrade_apply


@transaction.atomic
def plan_change_by_support(
    *,
    organisation: Organisation,
    plan: Plan,
    actor: User,
    reason: str,
    immediately: bool = False,
    ip: str | None = None,
) -> Subscription:
    """Support changes an account's plan, downgrades included.

    By default the change takes effect at the next renewal (`next_plan`): nothing is
    invoiced now and the renewal invoices the new plan. `immediately` is for upgrades
    only: the plan changes now and the prorated difference is invoiced, exactly as when
    the owner confirms an upgrade. Downgrades are never immediate (no refund mid-period;
    a specific invoice can be cancelled by a credit note). Choosing the current plan
    cancels a change planned for the renewal.

    The owner is emailed the change planned for the renewal (plan_change_scheduled), in the
    account's language; support's reason stays internal. An immediate upgrade is told by
    its invoice's email.
    """
    if not actor.is_staff:
        raise PermissionDenied(_("Seule l'équipe support peut changer le forfait ainsi."))
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez la raison du changement.")})
    return _plan_change(
        organisation=organisation,
        plan=plan,
        actor=actor,
        by_support=True,
        reason=reason.strip(),
        immediately=immediately,
        ip=ip,
    )


@transaction.atomic
def plan_change_by_host(
    *,
    organisation: Organisation,
    plan: Plan,
    actor: User,
    immediately: bool | None = None,
    ip: str | None = None,
) -> Subscription:
    """The host changes an account's plan through its provisioning API: as support does
    (an upgrade now with its prorated invoice, or any change at the next renewal; never a
    downgrade now), with no reason to give. `immediately=None` chooses: an upgrade now, a
    downgrade at the renewal. The plan needs a price in the account's currency."""
    subscription = Subscription.objects.select_related("plan").filter(organisation=organisation)
    subscription = subscription.first()
    try:
        plan_price(plan, organisation.currency)
    except ValidationError as exc:
        raise ValidationError({"plan": exc.messages}) from None
    if immediately is None and subscription is not None:
        immediately = plan_change_kind(current=subscription.plan, target=plan) == "upgrade"
    return _plan_change(
        organisation=organisation,
        plan=plan,
        actor=actor,
        by_support=False,
        reason="",
        immediately=bool(immediately),
        ip=ip,
    )


def _plan_change(*, organisation, plan, actor, by_support, reason, immediately, ip):
    organisation = lock_account(organisation)
    require_open(organisation)
    subscription = subscriptions_locked().filter(organisation=organisation).first()
    if subscription is None:
        raise ValidationError(_("Ce compte n'a pas d'abonnement."), code="inactive")
    old_plan, old_next = subscription.plan, subscription.next_plan
    invoice = None
    if immediately:
        if plan_change_kind(current=subscription.plan, target=plan) != "upgrade":
            raise ValidationError(
                {
                    "immediately": _(
                        "Un passage à un forfait inférieur prend effet au renouvellement."
                    )
                }
            )
        _quote, invoice = upgrade_apply(
            subscription=subscription,
            plan=plan,
            today=timezone.localdate(),
            actor=actor,
            by_support=by_support,
            ip=ip,
        )
    else:
        subscription.next_plan = None if plan.pk == subscription.plan_id else plan
        subscription.save(update_fields=["next_plan"])
        if subscription.next_plan_id and subscription.next_plan_id != getattr(old_next, "pk", None):
            _tell_owner_of_scheduled_change(organisation, subscription)
    audit_record(
        organisation=organisation,
        action="plan.changed",
        actor=actor,
        support=by_support,
        before={"plan": old_plan.code, "next_plan": old_next.code if old_next else None},
        after={
            "plan": subscription.plan.code,
            "next_plan": subscription.next_plan.code if subscription.next_plan else None,
            "effective": "now" if immediately else subscription.period_end.isoformat(),
            "invoice": getattr(invoice, "number", None),
            **({"reason": reason} if reason else {}),
        },
        ip=ip,
    )
    return subscription


def _tell_owner_of_scheduled_change(organisation: Organisation, subscription: Subscription):
    owner = account_owner(organisation=organisation)
    if owner is None:
        return
    email_queue(
        to=[owner.user.email],
        template="plan_change_scheduled",
        context={
            "organisation": organisation,
            "user": owner.user,
            "from_plan": subscription.plan,
            "plan": subscription.next_plan,
            "date": subscription.period_end,
        },
        language=organisation.language,
        organisation=organisation,
    )
