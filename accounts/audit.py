"""The audit trail: one append-only row per billing change, written by the services."""

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent

# Stored untranslated in the audit trail (it is a record); shown translated by
# `actor_display` and `summary`.
SYSTEM = "system"


def actor_label(actor, *, support: bool = False) -> str:
    if actor is None:
        return SYSTEM
    name = actor.get_full_name() or actor.email
    return f"support: {name}" if support else name


def audit_record(
    *,
    organisation,
    action: str,
    actor=None,
    support: bool = False,
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Call inside the transaction of the change, so the row commits or rolls back with it."""
    return AuditEvent.objects.create(
        organisation=organisation,
        actor=actor,
        actor_label=actor_label(actor, support=support),
        action=action,
        before=before or {},
        after=after or {},
        ip_address=ip,
    )


# What the owner sees of the audit trail on the Contacts tab: billing changes only.
OWNER_VISIBLE_ACTIONS = {
    "ownership.transferred": _("Propriétaire du compte modifié"),
    "contact.added": _("Contact de facturation ajouté"),
    "contact.updated": _("Contact de facturation modifié"),
    "contact.removed": _("Contact de facturation supprimé"),
    "organisation.address_changed": _("Adresse modifiée"),
    "organisation.vat_changed": _("Numéro de TVA modifié"),
    "upgrade.requested": _("Mise à niveau demandée"),
    "upgrade.confirmed": _("Mise à niveau confirmée"),
    "closure.requested": _("Fermeture du compte demandée"),
    "closure.confirmed": _("Fermeture du compte confirmée"),
    "account.reopened": _("Compte rouvert"),
    "plan.changed": _("Forfait modifié par le support"),
    "invoice.issued": _("Facture émise"),
    "credit_note.issued": _("Avoir émis"),
    "renewal.issued": _("Renouvellement facturé"),
}


def action_label(action: str) -> str:
    return str(OWNER_VISIBLE_ACTIONS.get(action, action))


def _displayed(value: str) -> str:
    return value.replace(ANONYMISED, gettext(ANONYMISED))


def actor_display(label: str) -> str:
    """The stored actor label as shown to the owner, in the active language."""
    if label == SYSTEM:
        return gettext("Système")
    return _displayed(label)


def summary(event: AuditEvent) -> str:
    """A one-line description of what changed, from the event's after/before values."""
    values = event.after or event.before or {}
    parts = [str(v) for k, v in values.items() if k not in {"reason", "request"} and v]
    return _displayed(" · ".join(parts))[:200]


# The stored value stays French whatever the language; gettext_noop only marks it.
ANONYMISED = gettext_noop("[anonymisé]")


def audit_anonymise(*, organisation, personal_values: set[str]) -> int:
    """Erase people's names and addresses from an account's audit trail (GDPR erasure).

    The one exception to append-only: the events stay (what happened, when), but values
    that identify a person are replaced. Uses update(), not save(), deliberately.
    """
    personal = {value.strip().lower() for value in personal_values if value and value.strip()}

    def scrub(data):
        if isinstance(data, dict):
            return {key: scrub(value) for key, value in data.items()}
        if isinstance(data, list):
            return [scrub(value) for value in data]
        if isinstance(data, str) and any(p in data.lower() for p in personal):
            return ANONYMISED
        return data

    changed = 0
    for event in AuditEvent.objects.filter(organisation=organisation).iterator():
        before, after = scrub(event.before), scrub(event.after)
        label = event.actor_label
        if any(p in label.lower() for p in personal):
            label = "support: " + ANONYMISED if label.startswith("support:") else ANONYMISED
        if (before, after, label) != (event.before, event.after, event.actor_label):
            AuditEvent.objects.filter(pk=event.pk).update(
                before=before, after=after, actor_label=label
            )
            changed += 1
    return changed
