"""The audit trail: one append-only row per billing change, written by the services."""

from datetime import date, datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from billing_portal.bulk import rows_insert
from billing_portal.formatting import long_date, long_datetime, money

from .addresses import country_name
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


def audit_record_many(*, events: list[dict]) -> list[AuditEvent]:
    """Several events of a batch (a reminder run) in one INSERT; each dict holds
    audit_record's arguments. Call inside the transaction of the change."""
    return rows_insert(
        AuditEvent,
        [
            AuditEvent(
                organisation=event["organisation"],
                actor=event.get("actor"),
                actor_label=actor_label(event.get("actor"), support=event.get("support", False)),
                action=event["action"],
                before=event.get("before") or {},
                after=event.get("after") or {},
                ip_address=event.get("ip"),
            )
            for event in events
        ],
    )


# What the owner sees of the audit trail on the Contacts tab: billing changes only.
OWNER_VISIBLE_ACTIONS = {
    "ownership.transferred": _("Propriétaire du compte modifié"),
    "contact.added": _("Contact de facturation ajouté"),
    "contact.updated": _("Contact de facturation modifié"),
    "contact.removed": _("Contact de facturation supprimé"),
    "organisation.address_changed": _("Adresse modifiée"),
    "organisation.vat_changed": _("Numéro de TVA modifié"),
    "organisation.siren_changed": _("SIREN modifié"),
    "organisation.delivery_address_changed": _("Adresse de livraison modifiée"),
    "organisation.references_changed": _("Références acheteur modifiées"),
    "upgrade.requested": _("Mise à niveau demandée"),
    "upgrade.confirmed": _("Mise à niveau confirmée"),
    "closure.requested": _("Fermeture du compte demandée"),
    "closure.confirmed": _("Fermeture du compte confirmée"),
    "account.reopened": _("Compte rouvert"),
    # By support or by the host through its API: the event's author says which.
    "plan.changed": _("Forfait modifié"),
    "invoice.issued": _("Facture émise"),
    "credit_note.issued": _("Avoir émis"),
    "renewal.issued": _("Renouvellement facturé"),
    "payment_reminder.sent": _("Relance de paiement envoyée"),
}


# The actions whose summary names plans (stored by code).
PLAN_ACTIONS = {"upgrade.requested", "upgrade.confirmed", "plan.changed", "renewal.issued"}


def action_label(action: str) -> str:
    return str(OWNER_VISIBLE_ACTIONS.get(action, action))


def _displayed(value: str) -> str:
    return value.replace(ANONYMISED, gettext(ANONYMISED))


def actor_display(label: str) -> str:
    """The stored actor label as shown to the owner, in the active language."""
    if label == SYSTEM:
        return gettext("Système")
    return _displayed(label)


def summary(event: AuditEvent, plan_names: dict[str, str] | None = None) -> str:
    """What changed, as a phrase in the active language, from the event's stored values:
    « INV-10682 du 14/11/2026, 1 020,00 € », « Professionnel → Entreprise »...

    `plan_names` maps plan codes to the names shown (codes are what the trail stores).
    Support's internal reasons are not shown. Unknown actions fall back to the values.
    """
    before, after = event.before or {}, event.after or {}
    plans = plan_names or {}
    phrase = _PHRASES.get(event.action)
    try:
        text = phrase(before, after, plans) if phrase else _values(after or before)
    # An older or anonymised row with other keys or values: shown as stored, never a 500.
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError):
        text = _values(after or before)
    return _displayed(text)[:200]


def _values(values: dict) -> str:
    return " · ".join(str(v) for k, v in values.items() if k not in {"reason", "request"} and v)


def _day(value) -> str:
    if "T" in value:  # a moment, stored in UTC: the day it is where the account is shown
        day = timezone.localdate(datetime.fromisoformat(value))
    else:
        day = date.fromisoformat(value)
    return date_format(day, "SHORT_DATE_FORMAT")


def _person(values: dict) -> str:
    name, email = values.get("name"), values.get("email")
    return f"{name} ({email})" if name and email else (name or email or "")


def _change(old, new) -> str:
    none = gettext("Aucun")
    return f"{old or none} → {new or none}"


def _plan(plans: dict, code) -> str:
    return plans.get(code, code) if code else ""


def _invoice_issued(before, after, plans):
    text = gettext("%(number)s du %(date)s, %(total)s") % {
        "number": after["number"],
        "date": _day(after["issue_date"]),
        "total": money(after["total"], after["currency"]),
    }
    if after.get("corrects"):
        text += " · " + gettext("annule %(number)s") % {"number": after["corrects"]}
    return text


def _address(before, after, plans):
    lines = [
        after.get("address_line1"),
        after.get("address_line2"),
        " ".join(filter(None, [after.get("postal_code"), after.get("city")])),
        country_name(after["country"]) if after.get("country") else "",
    ]
    return ", ".join(line for line in lines if line)


def _delivery_address(before, after, plans):
    if not (after.get("delivery_line1") or after.get("delivery_city")):
        return gettext("supprimée")
    fields = ("line1", "line2", "postal_code", "city", "country")
    named = {
        ("address_" + name if name.startswith("line") else name): after.get("delivery_" + name)
        for name in fields
    }
    return _address(before, named, plans)


def _references(before, after, plans):
    phrases = {
        "order_reference": gettext("bon de commande : %(change)s"),
        "buyer_reference": gettext("référence acheteur : %(change)s"),
    }
    return " · ".join(
        phrase % {"change": _change(before.get(key), after.get(key))}
        for key, phrase in phrases.items()
        if before.get(key) != after.get(key)
    )


def _contact_updated(before, after, plans):
    old, new = _person(before), _person(after)
    return new if old == new or not old else f"{old} → {new}"


def _upgrade_requested(before, after, plans):
    return gettext("%(change)s, %(total)s TTC, à confirmer au plus tard le %(date)s") % {
        "change": f"{_plan(plans, before['plan'])} → {_plan(plans, after['plan'])}",
        "total": money(after["estimate_total"], after["currency"]),
        "date": _day(after["expires_at"]),
    }


def _upgrade_confirmed(before, after, plans):
    text = f"{_plan(plans, before['plan'])} → {_plan(plans, after['plan'])}"
    if after.get("invoice"):
        text += ", " + gettext("facture %(number)s (%(total)s)") % {
            "number": after["invoice"],
            "total": money(after["total"], after["currency"]),
        }
    return text


def _plan_changed(before, after, plans):
    if after.get("effective") not in (None, "now"):  # a change at the next renewal
        if not after.get("next_plan"):  # the current plan chosen: a planned change undone
            if before.get("next_plan"):
                return gettext("passage au forfait %(plan)s annulé") % {
                    "plan": _plan(plans, before["next_plan"])
                }
            return gettext("forfait %(plan)s maintenu") % {"plan": _plan(plans, after["plan"])}
        return gettext("%(change)s au renouvellement du %(date)s") % {
            "change": f"{_plan(plans, before['plan'])} → {_plan(plans, after['next_plan'])}",
            "date": _day(after["effective"]),
        }
    text = f"{_plan(plans, before['plan'])} → {_plan(plans, after['plan'])}"
    if after.get("invoice"):
        text += ", " + gettext("facture %(number)s") % {"number": after["invoice"]}
    return text


def _renewal_issued(before, after, plans):
    start = after["period"][0]
    return gettext("%(number)s, forfait %(plan)s à partir du %(date)s") % {
        "number": after["invoice"],
        "plan": _plan(plans, after["plan"]),
        "date": _day(start),
    }


_PHRASES = {
    "ownership.transferred": lambda b, a, p: _change(b.get("owner"), a.get("owner")),
    "contact.added": lambda b, a, p: _person(a),
    "contact.updated": _contact_updated,
    "contact.removed": lambda b, a, p: _person(b),
    "organisation.address_changed": _address,
    "organisation.vat_changed": lambda b, a, p: _change(b.get("vat_number"), a["vat_number"]),
    "organisation.siren_changed": lambda b, a, p: _change(b.get("siren"), a["siren"]),
    "organisation.delivery_address_changed": _delivery_address,
    "organisation.references_changed": _references,
    "upgrade.requested": _upgrade_requested,
    "upgrade.confirmed": _upgrade_confirmed,
    "closure.requested": lambda b, a, p: (
        gettext("lien valable jusqu'au %(date)s") % {"date": _day(a["expires_at"])}
    ),
    "closure.confirmed": lambda b, a, p: (
        gettext("effacement des données personnelles prévu le %(date)s")
        % {"date": _day(a["anonymise_after"])}
    ),
    # Reopened during the grace period: the erasure a closure scheduled will not happen.
    "account.reopened": lambda b, a, p: gettext("effacement des données personnelles annulé"),
    "plan.changed": _plan_changed,
    "invoice.issued": _invoice_issued,
    "credit_note.issued": _invoice_issued,
    "renewal.issued": _renewal_issued,
    "payment_reminder.sent": lambda b, a, p: (
        gettext("%(number)s, reste à payer %(amount)s")
        % {"number": a["number"], "amount": money(a["amount_due"], a["currency"])}
    ),
}


# --- The stored values, labelled, for support (the admin's audit journal) ---------------

# The keys the services store, by the label support reads. A key not listed here is shown
# as stored, its underscores as spaces: a new key is readable before it is named.
VALUE_LABELS = {
    "address_line1": _("Adresse"),
    "address_line2": _("Complément d'adresse"),
    "postal_code": _("Code postal"),
    "city": _("Ville"),
    "country": _("Pays"),
    "delivery_line1": _("Adresse de livraison"),
    "delivery_line2": _("Complément d'adresse de livraison"),
    "delivery_postal_code": _("Code postal de livraison"),
    "delivery_city": _("Ville de livraison"),
    "delivery_country": _("Pays de livraison"),
    "vat_number": _("Numéro de TVA"),
    "siren": _("SIREN"),
    "order_reference": _("Bon de commande"),
    "buyer_reference": _("Référence acheteur"),
    "name": _("Nom"),
    "first_name": _("Prénom"),
    "last_name": _("Nom"),
    "email": _("Adresse e-mail"),
    "is_active": _("Peut se connecter"),
    "owner": _("Propriétaire du compte"),
    "status": _("Statut"),
    "reason": _("Raison"),
    "plan": _("Forfait"),
    "next_plan": _("Forfait au renouvellement"),
    "effective": _("Prend effet"),
    "number": _("Numéro"),
    "invoice": _("Facture"),
    "invoices": _("Factures"),
    "credit_note": _("Avoir"),
    "corrects": _("Facture corrigée"),
    "kind": _("Type"),
    "issue_date": _("Date d'émission"),
    "period": _("Période"),
    "total": _("Total"),
    "estimate_total": _("Total estimé"),
    "amount": _("Montant"),
    "amount_due": _("Reste à payer"),
    "credit": _("Avoir disponible"),
    "returned_to_credit": _("Ajouté à l'avoir"),
    "currency": _("Devise"),
    "method": _("Mode de paiement"),
    "payer": _("Payeur"),
    "payment": _("Paiement"),
    "received_on": _("Reçu le"),
    "paid_on": _("Payée le"),
    "bank_reference": _("Référence bancaire"),
    "bank_entry": _("Écriture bancaire"),
    "expires_at": _("Lien valable jusqu'au"),
    "closed_at": _("Fermé le"),
    "anonymise_after": _("Effacement prévu le"),
    "superseded": _("Liens remplacés"),
    "requested_by": _("Demandé par"),
    "iban": _("IBAN"),
    "bic": _("BIC"),
    "mandate": _("Mandat"),
    "collect_on": _("Prélevé le"),
    "date": _("Date"),
    "note": _("Note"),
    "subject": _("Objet"),
    "topic": _("Sujet de la demande"),
    "to": _("Destinataire"),
    "role": _("Rôle"),
    "language": _("Langue"),
    "description": _("Description"),
    "client": _("Client de l'API"),
    "prefix": _("Préfixe de la clé"),
    "scopes": _("Droits"),
    "user": _("Utilisateur"),
    "second_factor": _("Double authentification"),
    "recovery_codes": _("Codes de secours"),
    "left": _("Codes de secours restants"),
}
# The journal names the events the owner does not see too (support's view of the trail).
JOURNAL_ACTIONS = {
    "payment.recorded": _("Paiement enregistré"),
    "refund.recorded": _("Remboursement enregistré"),
    "allocation.reversed": _("Affectation de paiement annulée"),
    "credit.applied": _("Avoir imputé sur une facture"),
    "credit.returned": _("Avoir rendu disponible"),
    "invoice.paid": _("Facture payée"),
    "invoice.unpaid": _("Facture de nouveau à payer"),
    "invoice.voided": _("Facture annulée"),
    "invoice.rejected": _("Facture rejetée par la plateforme"),
    "invoice.emailed": _("Facture envoyée par e-mail"),
    "invoice.lifecycle": _("Statut de facture transmis"),
    "confirmation.resent": _("Lien de confirmation renvoyé"),
    "confirmation.cancelled": _("Lien de confirmation annulé"),
    "account.anonymised": _("Données personnelles effacées"),
    "mandate.signed": _("Mandat SEPA signé"),
    "mandate.confirmed": _("Mandat SEPA confirmé"),
    "mandate.amended": _("Mandat SEPA modifié"),
    "mandate.revoked": _("Mandat SEPA révoqué"),
    "mandate.suspended": _("Mandat SEPA suspendu"),
    "collection.planned": _("Prélèvement prévu"),
    "collection.notified": _("Prélèvement annoncé"),
    "collection.paid": _("Prélèvement encaissé"),
    "collection.returned": _("Prélèvement rejeté"),
    "collection.cancelled": _("Prélèvement annulé"),
    "payment_reminders.paused": _("Relances suspendues"),
    "payment_reminders.resumed": _("Relances reprises"),
    "support.request_created": _("Demande de support reçue"),
    "support.request_answered": _("Réponse du support envoyée"),
    "account.created": _("Compte créé"),
    "organisation.created": _("Organisation enregistrée"),
    "organisation.profile_changed": _("Nom ou langue du compte modifié"),
    "organisation.currency_changed": _("Devise du compte modifiée"),
    "member.added": _("Membre ajouté"),
    "member.updated": _("Membre modifié"),
    "member.removed": _("Membre retiré"),
    "user.updated": _("Personne modifiée par le support"),
    "api_client.created": _("Client de l'API créé"),
    "api_client.changed": _("Client de l'API modifié"),
    "api_key.created": _("Clé d'API créée"),
    "api_key.revoked": _("Clé d'API révoquée"),
    "user.signed_in": _("Connexion au portail"),
    "two_factor.enabled": _("Double authentification activée"),
    "two_factor.disabled": _("Double authentification désactivée"),
    "two_factor.recovery_regenerated": _("Codes de secours renouvelés"),
    "two_factor.recovery_used": _("Code de secours utilisé"),
    "two_factor.reset": _("Double authentification réinitialisée par le support"),
}


def journal_action_label(action: str) -> str:
    """The event's name for support: the owner's wording when there is one."""
    return str(OWNER_VISIBLE_ACTIONS.get(action) or JOURNAL_ACTIONS.get(action) or action)


# Codes some keys store, in words.
VALUE_CODES = {
    "method": {
        "transfer": _("Virement"),
        "direct_debit": _("Prélèvement"),
        "other": _("Autre"),
        "bank_transfer": _("Virement bancaire"),
    },
    "kind": {"invoice": _("Facture"), "credit_note": _("Avoir")},
    "effective": {"now": _("tout de suite")},
    "second_factor": {"totp": _("code de l'application"), "recovery": _("code de secours")},
}
# Amounts stored as strings ("1020.00") beside a "currency" key: printed like any amount.
AMOUNT_KEYS = {"total", "estimate_total", "amount", "amount_due", "credit", "returned_to_credit"}


# Invoice number → amount maps (what a payment settled, what a credit went to).
AMOUNT_MAPS = {"invoices"}


def _label(key: str) -> str:
    label = VALUE_LABELS.get(key)
    return str(label) if label else key.replace("_", " ")


def _value(value, *, key: str, currency: str | None, plans: dict) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return gettext("oui") if value else gettext("non")
    if isinstance(value, list):
        return ", ".join(_value(v, key=key, currency=currency, plans=plans) for v in value)
    if isinstance(value, dict):
        if key in AMOUNT_MAPS and currency:  # {"INV-10681": "650.00"}
            return ", ".join(
                f"{k} ({_value(v, key='amount', currency=currency, plans=plans)})"
                for k, v in value.items()
            )
        pairs = ", ".join(
            f"{_label(k)} : {_value(v, key=k, currency=currency, plans=plans)}"
            for k, v in value.items()
        )
        return f"({pairs})"
    text = str(value)
    if key == "country" and len(text) == 2:
        return country_name(text)
    if text in VALUE_CODES.get(key, {}):
        return str(VALUE_CODES[key][text])
    if key in AMOUNT_KEYS and currency:
        try:
            return money(text, currency)
        except ArithmeticError:
            return text
    try:
        if len(text) == 10:
            return long_date(date.fromisoformat(text))
        if len(text) > 10 and text[10] == "T":
            return long_datetime(datetime.fromisoformat(text))
    except ValueError:
        pass
    return plans.get(text, text) if key in {"plan", "next_plan"} else text


def values_display(values: dict | None, plan_names: dict[str, str] | None = None):
    """An event's stored values as (label, value) pairs in the active language:
    [("Numéro", "INV-10682"), ("Total", "1 020,00 €")…], never a Python dict."""
    values = values or {}
    currency = values.get("currency") if isinstance(values.get("currency"), str) else None
    plans = plan_names or {}
    return [
        (_label(key), _displayed(_value(value, key=key, currency=currency, plans=plans)))
        for key, value in values.items()
    ]


# The stored value stays French whatever the language; gettext_noop only marks it.
ANONYMISED = gettext_noop("[anonymisé]")


def audit_anonymise(
    *, organisation, personal_values: set[str], unlink_actor_ids: set[int] = frozenset()
) -> int:
    """Erase people's names and addresses from an account's audit trail (GDPR erasure).

    The one exception to append-only: the events stay (what happened, when), but values
    that identify a person are replaced. Uses update(), not save(), deliberately. The
    events of `unlink_actor_ids` (people who keep their user for another account) lose
    their actor too: the anonymised trail must not lead back to a live user.
    """
    if unlink_actor_ids:
        AuditEvent.objects.filter(organisation=organisation, actor_id__in=unlink_actor_ids).update(
            actor=None
        )
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
