from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import hooks
from .models import BillingContact, Membership, Organisation


@dataclass
class ContactsPage:
    owner: Membership | None
    managers: list[Membership]
    billing_contacts: list[BillingContact]


def contacts_page(*, organisation: Organisation) -> ContactsPage:
    """Owner, program managers and billing contacts in two queries, whatever their number.
    Each member tells whether their sign-in has a second factor (`two_factor`: support's
    console offers to reset it)."""
    members = list(
        Membership.objects.filter(organisation=organisation)
        .select_related("user")
        .annotate(
            two_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True))
        )
        .order_by("user__last_name", "user__first_name", "pk")
    )
    return ContactsPage(
        owner=next((m for m in members if m.is_owner), None),
        managers=[m for m in members if not m.is_owner],
        billing_contacts=list(BillingContact.objects.filter(organisation=organisation)),
    )


# The order of a person's accounts: the one they chose last first (the account a new
# session opens on), then the others by name. The switcher lists them in this order.
MEMBERSHIP_ORDER = (F("chosen_at").desc(nulls_last=True), "organisation__name", "organisation_id")


def user_memberships(user) -> list[Membership]:
    """`user`'s memberships with their accounts, in MEMBERSHIP_ORDER. Loaded with the user
    by accounts.backends.PortalBackend on every request (no query here); read once per
    request otherwise (a user signed in by another backend, a service's own user)."""
    loaded = getattr(user, "loaded_memberships", None)
    if loaded is None:
        loaded = list(
            Membership.objects.filter(user_id=user.pk)
            .select_related("organisation")
            .order_by(*MEMBERSHIP_ORDER)
        )
        for membership in loaded:
            membership.user = user
        user.loaded_memberships = loaded
    return loaded


def account_owner(*, organisation: Organisation) -> Membership | None:
    """The account owner's membership, with its user, in one query (None if it has none)."""
    return (
        Membership.objects.select_related("user")
        .filter(organisation=organisation, role=Membership.Role.OWNER)
        .first()
    )


def billing_recipients(*, owner: Membership) -> ContactsPage:
    """Who receives the invoices, as the Factures tab lists them, in one query: `owner`
    (the signed-in owner's membership, already loaded) and the billing contacts. Program
    managers receive no invoice: they are not loaded."""
    contacts = BillingContact.objects.filter(organisation_id=owner.organisation_id)
    return ContactsPage(owner=owner, managers=[], billing_contacts=list(contacts))


def owner_candidates(*, organisation: Organisation, query: str = "", limit: int = 50):
    """The program managers who may become owner, filtered by name or email."""
    qs = Membership.objects.filter(
        organisation=organisation, role=Membership.Role.MANAGER
    ).select_related("user")
    for word in query.split()[:5]:
        qs = qs.filter(
            Q(user__first_name__icontains=word)
            | Q(user__last_name__icontains=word)
            | Q(user__email__icontains=word)
        )
    return list(qs.order_by("user__last_name", "user__first_name", "pk")[:limit])


def owner_candidate(*, organisation: Organisation, membership_id) -> Membership | None:
    """The program manager `membership_id` names (as the form sends it), if they may become
    owner: what the transfer form previews before « Sauvegarder » (the same rule as
    services.ownership_transfer, which checks it again)."""
    try:
        pk = int(membership_id)
    except (TypeError, ValueError):
        return None
    managers = Membership.objects.filter(
        organisation=organisation, role=Membership.Role.MANAGER
    ).select_related("user")
    return next((m for m in managers if m.pk == pk), None)


def invoice_recipients(*, organisation: Organisation) -> list[str]:
    """Who receives invoices: the account owner and every billing contact."""
    return invoice_recipients_of(organisation_ids=[organisation.pk]).get(organisation.pk, [])


def invoice_recipients_of(*, organisation_ids) -> dict[int, list[str]]:
    """invoice_recipients of many accounts in two queries, whatever their number: account
    id → the owner's address, then the billing contacts' (in their order), each once.
    Accounts with nobody to write to are left out."""
    ids = list(organisation_ids)
    found: dict[int, list[str]] = {}
    owners = Membership.objects.filter(
        organisation_id__in=ids, role=Membership.Role.OWNER
    ).values_list("organisation_id", "user__email")
    contacts = BillingContact.objects.filter(organisation_id__in=ids).values_list(
        "organisation_id", "email"
    )
    for organisation_id, email in [*owners, *contacts]:
        found.setdefault(organisation_id, []).append(email)
    return {pk: list(dict.fromkeys(emails)) for pk, emails in found.items()}


def recent_activity(*, organisation: Organisation, limit: int = 10):
    """The latest owner-relevant billing changes of the account (one query)."""
    from .audit import OWNER_VISIBLE_ACTIONS, PLAN_ACTIONS, action_label, actor_display, summary
    from .models import AuditEvent

    events = list(
        AuditEvent.objects.filter(
            organisation=organisation, action__in=list(OWNER_VISIBLE_ACTIONS)
        ).order_by("-created_at", "-pk")[:limit]
    )
    plan_names = {}
    if any(e.action in PLAN_ACTIONS for e in events):  # plans named, not coded: one query
        for names in hooks.audit_plan_names():  # filled by subscriptions, which owns plans
            plan_names.update(names)
    return [
        {
            "when": e.created_at,
            "who": actor_display(e.actor_label),
            "what": action_label(e.action),
            "detail": summary(e, plan_names),
        }
        for e in events
    ]
