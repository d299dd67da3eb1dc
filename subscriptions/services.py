"""Every change to a subscription, and the closure of an account, goes through here.

Upgrades and closures take two steps: `*_request` stores a Confirmation and emails its link
to the owner; `*_confirm` applies it when the owner posts the link's form. Renewals,
reminders and anonymisation are run by the periodic tasks in tasks.py.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import ANONYMISED, audit_anonymise, audit_record
from accounts.models import BillingContact, Membership, Organisation, User
from accounts.selectors import invoice_recipients
from emails.models import Email
from emails.services import email_queue
from invoices.services import invoice_issue
from invoices.totals import invoice_preview
from support.models import SupportRequest

from . import selectors, tokens
from .models import AccountClosure, Confirmation, Plan, Subscription
from .periods import one_year_after
from .tokens import LinkError, LinkProblem


@dataclass(frozen=True)
class IssuedLink:
    """A confirmation just created, with the token that only its email carries."""

    confirmation: Confirmation
    token: str

    @property
    def url(self) -> str:
        return tokens.link_url(self.token)


def _lock_account(organisation: Organisation) -> Organisation:
    # Same lock as accounts.services: requests, confirmations and ownership transfers of one
    # account run one after the other.
    return Organisation.objects.select_for_update().get(pk=organisation.pk)


def _require_owner(organisation: Organisation, actor: User) -> None:
    is_owner = Membership.objects.filter(
        organisation=organisation, user_id=actor.pk, role=Membership.Role.OWNER
    ).exists()
    if not is_owner:
        raise PermissionDenied(_("Seul le propriétaire du compte peut faire cette demande."))


def _require_open(organisation: Organisation) -> None:
    if organisation.is_closed:
        raise ValidationError(_("Ce compte est fermé."), code="closed")


def _issue_link(
    *, organisation: Organisation, kind: str, actor: User, **fields
) -> tuple[IssuedLink, list[Confirmation]]:
    """Supersede the pending link of this kind, if any, and create a new one."""
    superseded = list(
        Confirmation.objects.select_for_update().filter(
            organisation=organisation, kind=kind, status=Confirmation.Status.PENDING
        )
    )
    Confirmation.objects.filter(pk__in=[c.pk for c in superseded]).update(
        status=Confirmation.Status.SUPERSEDED
    )
    token, digest = tokens.token_new()
    confirmation = Confirmation.objects.create(
        organisation=organisation,
        kind=kind,
        token_hash=digest,
        requested_by=actor,
        expires_at=tokens.link_expiry(),
        **fields,
    )
    return IssuedLink(confirmation, token), superseded


def confirmations_cancel_for_former_owner(
    *, organisation: Organisation, former_owner: User, actor: User
) -> int:
    """The owner changed: the links the former owner asked for die for good (an upgrade
    link must not come back to life if they become owner again). Called by
    accounts.services.ownership_transfer, in its transaction (see accounts.hooks)."""
    pending = Confirmation.objects.select_for_update().filter(
        organisation=organisation, requested_by=former_owner, status=Confirmation.Status.PENDING
    )
    kinds = list(pending.values_list("kind", flat=True))
    pending.update(status=Confirmation.Status.CANCELLED)
    for kind in kinds:
        audit_record(
            organisation=organisation,
            action="confirmation.cancelled",
            actor=actor,
            before={"kind": kind, "requested_by": former_owner.email},
            after={"reason": "ownership.transferred"},
        )
    return len(kinds)


def _claim(token: str, *, kind: str, now: datetime) -> Confirmation:
    """Lock the account, then the confirmation, and check it may be used now.

    LinkError otherwise. The row lock is what makes a double click or two tabs confirm
    once: the second transaction waits here, then finds the status USED. The account is
    locked first, in the same order as the requests, so the two never deadlock.
    """
    found = tokens.confirmation_find(token)
    if found is None or found.kind != kind:
        raise LinkError(LinkProblem.UNKNOWN)
    _lock_account(found.organisation)
    confirmation = tokens.confirmation_find(token, for_update=True)
    problem = tokens.confirmation_problem(confirmation, now=now)
    if problem:
        raise LinkError(problem, confirmation)
    return confirmation


def _used(confirmation: Confirmation, now: datetime) -> None:
    confirmation.status = Confirmation.Status.USED
    confirmation.used_at = now
    confirmation.save(update_fields=["status", "used_at"])


def _link_audit(signed_in: User | None, confirmation: Confirmation) -> dict:
    # The link is the credential; who happened to be signed in is kept for the record.
    if signed_in is not None and signed_in.pk != confirmation.requested_by_id:
        return {"signed_in_as": signed_in.email}
    return {}


# --- Upgrades -------------------------------------------------------------------------


def _upgrade_target(subscription: Subscription, plan: Plan) -> None:
    if plan.rank <= subscription.plan.rank:
        raise ValidationError(
            {
                "plan": _(
                    "Pour passer à un forfait inférieur ou égal à votre forfait actuel, il "
                    "sera nécessaire de vous rapprocher de notre équipe support."
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
    organisation = _lock_account(organisation)
    _require_owner(organisation, actor)
    _require_open(organisation)
    subscription = (
        Subscription.objects.select_related("plan", "organisation")
        .filter(organisation=organisation)
        .first()
    )
    if subscription is None or not subscription.is_active:
        raise ValidationError(_("Ce compte n'a pas d'abonnement en cours."), code="inactive")
    _upgrade_target(subscription, plan)
    today = today or timezone.localdate()
    quote = selectors.upgrade_quote(subscription=subscription, plan=plan, today=today)

    link, superseded = _issue_link(
        organisation=organisation,
        kind=Confirmation.Kind.UPGRADE,
        actor=actor,
        from_plan=subscription.plan,
        plan=plan,
    )
    audit_record(
        organisation=organisation,
        action="upgrade.requested",
        actor=actor,
        before={"plan": subscription.plan.code},
        after={
            "plan": plan.code,
            "estimate_total": str(quote.totals.total),
            "currency": quote.currency,
            "expires_at": link.confirmation.expires_at.isoformat(),
            "superseded": len(superseded),
        },
        ip=ip,
    )
    email_queue(
        to=[actor.email],
        template="upgrade_request",
        context={
            "organisation": organisation,
            "user": actor,
            "quote": quote,
            "link": link.url,
            "expires_at": link.confirmation.expires_at,
        },
        language=organisation.language,
        organisation=organisation,
        redact_after_send=True,
    )
    return link


def _apply_upgrade(
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
    quote = selectors.upgrade_quote(subscription=subscription, plan=plan, today=today)
    subscription.plan = plan
    subscription.next_plan = None
    subscription.save(update_fields=["plan", "next_plan"])
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
    now: datetime | None = None,
) -> Confirmation:
    """Apply the upgrade a link stands for: change the plan now and issue the prorated invoice.

    LinkError when the link cannot be used (unknown, expired, used, superseded, requester
    no longer owner, subscription changed since): then nothing changes.
    """
    now = now or timezone.now()
    confirmation = _claim(token, kind=Confirmation.Kind.UPGRADE, now=now)
    organisation = confirmation.organisation
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "next_plan", "organisation")
        .get(organisation=organisation)
    )
    old_plan, new_plan = subscription.plan, confirmation.plan
    # An upgrade is the customer's latest word: a downgrade support had planned for the
    # renewal no longer applies.
    cancelled_next_plan = subscription.next_plan.code if subscription.next_plan_id else None
    quote, invoice = _apply_upgrade(
        subscription=subscription,
        plan=new_plan,
        today=timezone.localdate(now),
        actor=confirmation.requested_by,
        ip=ip,
    )
    _used(confirmation, now)
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
            **_link_audit(signed_in, confirmation),
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


# --- Closure --------------------------------------------------------------------------


@transaction.atomic
def closure_request(
    *, organisation: Organisation, actor: User, ip: str | None = None
) -> IssuedLink:
    """Email the owner a link to confirm the closure of the account. Nothing closes yet."""
    organisation = _lock_account(organisation)
    _require_owner(organisation, actor)
    _require_open(organisation)
    link, superseded = _issue_link(
        organisation=organisation, kind=Confirmation.Kind.CLOSURE, actor=actor
    )
    audit_record(
        organisation=organisation,
        action="closure.requested",
        actor=actor,
        after={
            "expires_at": link.confirmation.expires_at.isoformat(),
            "superseded": len(superseded),
        },
        ip=ip,
    )
    email_queue(
        to=[actor.email],
        template="closure_request",
        context={
            "organisation": organisation,
            "user": actor,
            "link": link.url,
            "expires_at": link.confirmation.expires_at,
            "grace_days": settings.CLOSURE_GRACE_DAYS,
        },
        language=organisation.language,
        organisation=organisation,
        redact_after_send=True,
    )
    return link


@transaction.atomic
def closure_confirm(
    *,
    token: str,
    ip: str | None = None,
    signed_in: User | None = None,
    now: datetime | None = None,
) -> AccountClosure:
    """Close the account the link stands for.

    The subscription will not renew, members see the "account closed" page, the owner and
    billing contacts are told by email. Issued invoices stay. People's personal data is
    anonymised after CLOSURE_GRACE_DAYS (see account_anonymise); until then support may
    reopen the account.
    """
    now = now or timezone.now()
    confirmation = _claim(token, kind=Confirmation.Kind.CLOSURE, now=now)
    organisation = confirmation.organisation
    recipients = invoice_recipients(organisation=organisation)

    organisation.status = Organisation.Status.CLOSED
    organisation.closed_at = now
    organisation.save(update_fields=["status", "closed_at"])
    renewal_date = None
    subscription = Subscription.objects.select_for_update().filter(organisation=organisation)
    subscription = subscription.first()
    if subscription is not None:
        renewal_date = subscription.period_end
        subscription.status = Subscription.Status.CANCELLED
        subscription.save(update_fields=["status"])
    _used(confirmation, now)
    # Any other pending link (an upgrade) is moot now.
    Confirmation.objects.filter(
        organisation=organisation, status=Confirmation.Status.PENDING
    ).update(status=Confirmation.Status.CANCELLED)
    closure = AccountClosure.objects.create(
        organisation=organisation,
        requested_by=confirmation.requested_by,
        closed_at=now,
        anonymise_after=now + timedelta(days=settings.CLOSURE_GRACE_DAYS),
    )
    audit_record(
        organisation=organisation,
        action="closure.confirmed",
        actor=confirmation.requested_by,
        before={"status": Organisation.Status.ACTIVE},
        after={
            "status": Organisation.Status.CLOSED,
            "anonymise_after": closure.anonymise_after.isoformat(),
            **_link_audit(signed_in, confirmation),
        },
        ip=ip,
    )
    email_queue(
        to=recipients,
        template="account_closed",
        context={
            "organisation": organisation,
            "closure": closure,
            "renewal_date": renewal_date,
            "grace_days": settings.CLOSURE_GRACE_DAYS,
        },
        language=organisation.language,
        organisation=organisation,
    )
    return closure


@transaction.atomic
def account_reopen(
    *, organisation: Organisation, actor: User, reason: str, ip: str | None = None
) -> Organisation:
    """Support reopens a closed account during its grace period (before anonymisation).

    The subscription becomes active again with its period unchanged: if the period ended
    meanwhile, the next renewal run issues the renewal from the old period's end.
    """
    if not actor.is_staff:
        raise PermissionDenied(_("Seule l'équipe support peut rouvrir un compte."))
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez la raison de la réouverture.")})
    organisation = _lock_account(organisation)
    closure = (
        AccountClosure.objects.select_for_update()
        .filter(organisation=organisation, reopened_at__isnull=True)
        .first()
    )
    if not organisation.is_closed or closure is None:
        raise ValidationError(_("Ce compte n'est pas fermé."), code="not_closed")
    if closure.anonymised_at is not None:
        raise ValidationError(
            _(
                "Les données personnelles de ce compte ont été anonymisées : "
                "il ne peut plus être rouvert."
            ),
            code="anonymised",
        )
    now = timezone.now()
    closed_at = organisation.closed_at
    organisation.status = Organisation.Status.ACTIVE
    organisation.closed_at = None
    organisation.save(update_fields=["status", "closed_at"])
    Subscription.objects.filter(organisation=organisation).update(status=Subscription.Status.ACTIVE)
    closure.reopened_at = now
    closure.reopened_by = actor
    closure.reopen_reason = reason.strip()
    closure.save(update_fields=["reopened_at", "reopened_by", "reopen_reason"])
    audit_record(
        organisation=organisation,
        action="account.reopened",
        actor=actor,
        support=True,
        before={"status": Organisation.Status.CLOSED, "closed_at": closed_at.isoformat()},
        after={"status": Organisation.Status.ACTIVE, "reason": closure.reopen_reason},
        ip=ip,
    )
    return organisation


def _anonymous_email(user: User) -> str:
    # Unique because the pk is; ".invalid" can never be delivered (RFC 2606).
    return f"anonyme-{user.pk}@anonymised.invalid"


@transaction.atomic
def account_anonymise(*, organisation: Organisation, now: datetime | None = None) -> bool:
    """Erase the personal data of a closed account's people once its grace period is over.

    Users: names cleared, email replaced by a unique placeholder, unusable password,
    inactive. Billing contacts: deleted. Invoices (snapshots) are untouched. Returns False
    when there is nothing to do (reopened, not due yet, already done): safe to run twice.
    """
    now = now or timezone.now()
    organisation = _lock_account(organisation)
    closure = (
        AccountClosure.objects.select_for_update()
        .filter(organisation=organisation, reopened_at__isnull=True, anonymised_at__isnull=True)
        .first()
    )
    if not organisation.is_closed or closure is None or closure.anonymise_after > now:
        return False
    users = list(User.objects.select_for_update().filter(membership__organisation=organisation))
    contacts = BillingContact.objects.filter(organisation=organisation)
    personal = {value for user in users for value in (user.email, user.get_full_name())}
    personal |= {value for c in contacts for value in (c.email, c.full_name)}
    # The audit trail, the outbox and support requests keep names and addresses too.
    audit_anonymise(organisation=organisation, personal_values=personal)
    Email.objects.filter(organisation=organisation).delete()
    SupportRequest.objects.filter(organisation=organisation).update(
        name=ANONYMISED, email="anonyme@anonymised.invalid", message=ANONYMISED, user=None
    )
    for user in users:
        user.first_name = ""
        user.last_name = ""
        user.email = _anonymous_email(user)
        user.password = make_password(None)
        user.is_active = False
        user.save(update_fields=["first_name", "last_name", "email", "password", "is_active"])
    contacts_deleted, _by_model = BillingContact.objects.filter(organisation=organisation).delete()
    closure.anonymised_at = now
    closure.save(update_fields=["anonymised_at"])
    audit_record(
        organisation=organisation,
        action="account.anonymised",
        after={"users": len(users), "billing_contacts_deleted": contacts_deleted},
    )
    return True


# --- Renewals -------------------------------------------------------------------------


@transaction.atomic
def renewal_issue(*, subscription: Subscription, today: date | None = None):
    """Renew a subscription whose period has ended: issue the invoice, advance one year.

    The subscription row is locked and the period advanced in the same transaction as the
    invoice, so running this twice (two workers, a retried task) issues once. Applies
    `next_plan` (a downgrade support planned). Returns the invoice, or None when not due.
    """
    today = today or timezone.localdate()
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("organisation", "plan", "next_plan")
        .get(pk=subscription.pk)
    )
    organisation = subscription.organisation
    if not subscription.is_active or organisation.is_closed or subscription.period_end > today:
        return None
    lines = selectors.renewal_lines(subscription)
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
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("organisation", "plan", "next_plan")
        .get(pk=subscription.pk)
    )
    organisation = subscription.organisation
    due_from = subscription.period_end - timedelta(days=settings.RENEWAL_REMINDER_DAYS)
    if (
        not subscription.is_active
        or organisation.is_closed
        or not (due_from <= today < subscription.period_end)
        or subscription.renewal_reminder_sent_for == subscription.period_end
    ):
        return False
    owner = (
        Membership.objects.select_related("user")
        .filter(organisation=organisation, role=Membership.Role.OWNER)
        .first()
    )
    subscription.renewal_reminder_sent_for = subscription.period_end
    subscription.save(update_fields=["renewal_reminder_sent_for"])
    if owner is None:
        return False
    lines = selectors.renewal_lines(subscription)
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


# --- Support --------------------------------------------------------------------------


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
    """
    if not actor.is_staff:
        raise PermissionDenied(_("Seule l'équipe support peut changer le forfait ainsi."))
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez la raison du changement.")})
    organisation = _lock_account(organisation)
    _require_open(organisation)
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "next_plan")
        .filter(organisation=organisation)
        .first()
    )
    if subscription is None:
        raise ValidationError(_("Ce compte n'a pas d'abonnement."), code="inactive")
    old_plan, old_next = subscription.plan, subscription.next_plan
    invoice = None
    if immediately:
        if plan.rank <= subscription.plan.rank:
            raise ValidationError(
                {
                    "immediately": _(
                        "Un passage à un forfait inférieur prend effet au renouvellement."
                    )
                }
            )
        _quote, invoice = _apply_upgrade(
            subscription=subscription,
            plan=plan,
            today=timezone.localdate(),
            actor=actor,
            by_support=True,
            ip=ip,
        )
    else:
        subscription.next_plan = None if plan.pk == subscription.plan_id else plan
        subscription.save(update_fields=["next_plan"])
    audit_record(
        organisation=organisation,
        action="plan.changed",
        actor=actor,
        support=True,
        before={"plan": old_plan.code, "next_plan": old_next.code if old_next else None},
        after={
            "plan": subscription.plan.code,
            "next_plan": subscription.next_plan.code if subscription.next_plan else None,
            "effective": "now" if immediately else subscription.period_end.isoformat(),
            "invoice": getattr(invoice, "number", None),
            "reason": reason.strip(),
        },
        ip=ip,
    )
    return subscription


def confirmation_resend(
    *, confirmation: Confirmation, actor: User, ip: str | None = None
) -> IssuedLink:
    """Support sends a pending confirmation again (the customer never got the email).

    Only a hash of the old link is stored, so a new link is issued to the same requester
    for the same change, through the same request path (which supersedes the old link
    and re-checks that the requester is still the owner).
    """
    if not actor.is_staff:
        raise PermissionDenied(_("Réservé à l'équipe support."))
    if confirmation.status != Confirmation.Status.PENDING:
        raise ValidationError(_("Seule une confirmation en attente peut être renvoyée."))
    with transaction.atomic():
        if confirmation.kind == Confirmation.Kind.UPGRADE:
            link = upgrade_request(
                organisation=confirmation.organisation,
                plan=confirmation.plan,
                actor=confirmation.requested_by,
                ip=ip,
            )
        else:
            link = closure_request(
                organisation=confirmation.organisation,
                actor=confirmation.requested_by,
                ip=ip,
            )
        audit_record(
            organisation=confirmation.organisation,
            action="confirmation.resent",
            actor=actor,
            support=True,
            after={"kind": confirmation.kind, "to": confirmation.requested_by.email},
            ip=ip,
        )
    return link
