"""SEPA mandates signed and revoked by the owner, each confirmed from an emailed link like
upgrades: `mandate_request` stores the signature (payments.services.mandates: a pending
mandate, or the new bank account of the mandate in force) and emails the link;
`mandate_confirm` makes it active (or records the amendment). `mandate_revoke_request`
and `mandate_revoke_confirm` do the same for the revocation.

The links are subscriptions' Confirmation rows (kinds "mandate" and "mandate_revoke");
what they change is payments'. payments never imports this module (layers).
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation, User
from payments import sepa
from payments.models import Mandate
from payments.services.mandates import (
    MandateDetails,
    mandate_activate,
    mandate_amend,
    mandate_end,
    mandate_live,
    mandate_sign,
    mandates_abandon_pending,
)

from ..models import Confirmation
from ._guards import lock_account, require_open, require_owner
from .links import IssuedLink, link_audit, link_claim, link_send, link_used


@transaction.atomic
def mandate_request(
    *, organisation: Organisation, actor: User, values: dict, ip: str | None = None
) -> IssuedLink:
    """The owner signed the mandate form: validate it (ValidationError keyed by field, and
    nothing stored), store the signature and email the confirmation link.

    When only the bank account of the mandate in force changes, the link will amend that
    mandate (same reference); otherwise a new mandate waits, pending, and will replace it.
    """
    organisation = lock_account(organisation)
    require_owner(organisation, actor)
    require_open(organisation)
    details = MandateDetails.clean(**values)
    live = mandate_live(organisation, for_update=True)
    if details.same_as(live):
        raise ValidationError(
            {"iban": _("Ce mandat est déjà en vigueur, avec ce compte et ce titulaire.")},
            code="unchanged",
        )
    if details.amends(live):
        mandates_abandon_pending(organisation=organisation, actor=actor)
        return link_send(
            organisation=organisation,
            kind=Confirmation.Kind.MANDATE,
            actor=actor,
            ip=ip,
            before={"reference": live.reference, "iban": sepa.iban_masked(live.iban)},
            after={"amendment": True, **details.audit()},
            context=_context(live, amendment=True, iban=details.iban),
            mandate=live,
            details={"iban": details.iban, "bic": details.bic},
        )
    mandate = mandate_sign(organisation=organisation, details=details, actor=actor, ip=ip)
    return link_send(
        organisation=organisation,
        kind=Confirmation.Kind.MANDATE,
        actor=actor,
        ip=ip,
        after={"reference": mandate.reference, **details.audit()},
        context=_context(mandate, amendment=False, iban=mandate.iban),
        mandate=mandate,
    )


def _context(mandate: Mandate, *, amendment: bool, iban: str) -> dict:
    return {"mandate": mandate, "amendment": amendment, "masked_iban": sepa.iban_masked(iban)}


@transaction.atomic
def mandate_confirm(
    *,
    token: str,
    ip: str | None = None,
    signed_in: User | None = None,
    now: datetime | None = None,
) -> Confirmation:
    """Apply the mandate a link stands for: the pending mandate becomes active (signed
    today), or the mandate in force takes its new bank account. LinkError when the link
    cannot be used: then nothing changes."""
    now = now or timezone.now()
    confirmation = link_claim(token, kind=Confirmation.Kind.MANDATE, now=now)
    mandate = Mandate.objects.select_for_update().get(pk=confirmation.mandate_id)
    actor = confirmation.requested_by
    if confirmation.details:
        mandate_amend(
            mandate=mandate,
            iban=confirmation.details["iban"],
            bic=confirmation.details.get("bic", ""),
            actor=actor,
            now=now,
            ip=ip,
        )
    else:
        mandate_activate(mandate=mandate, actor=actor, now=now, ip=ip)
    link_used(confirmation, now)
    if link_audit(signed_in, confirmation):
        # Who happened to be signed in when the link was used, for the record.
        audit_record(
            organisation=mandate.organisation,
            action="mandate.link_used",
            actor=actor,
            after={"reference": mandate.reference, **link_audit(signed_in, confirmation)},
            ip=ip,
        )
    return confirmation


@transaction.atomic
def mandate_revoke_request(
    *, organisation: Organisation, actor: User, ip: str | None = None
) -> IssuedLink:
    """The owner asks to revoke the mandate in force: email the confirmation link."""
    organisation = lock_account(organisation)
    require_owner(organisation, actor)
    require_open(organisation)
    live = mandate_live(organisation)
    if live is None:
        raise ValidationError(_("Ce compte n'a pas de mandat en vigueur."), code="no_mandate")
    return link_send(
        organisation=organisation,
        kind=Confirmation.Kind.MANDATE_REVOKE,
        actor=actor,
        ip=ip,
        after={"reference": live.reference},
        context=_context(live, amendment=False, iban=live.iban),
        mandate=live,
    )


@transaction.atomic
def mandate_revoke_confirm(
    *,
    token: str,
    ip: str | None = None,
    signed_in: User | None = None,
    now: datetime | None = None,
) -> Confirmation:
    """Revoke the mandate the link names: its planned collections are cancelled."""
    now = now or timezone.now()
    confirmation = link_claim(token, kind=Confirmation.Kind.MANDATE_REVOKE, now=now)
    mandate = Mandate.objects.select_for_update().get(pk=confirmation.mandate_id)
    mandate_end(
        mandate=mandate,
        actor=confirmation.requested_by,
        reason="revoked by the owner",
        now=now,
        ip=ip,
    )
    link_used(confirmation, now)
    return confirmation


def mandate_link_resend(*, confirmation: Confirmation, ip: str | None = None) -> IssuedLink:
    """Support sends a pending mandate link again: a new link, same mandate and details,
    to the same requester (re-checked to be the owner)."""
    organisation = lock_account(confirmation.organisation)
    require_owner(organisation, confirmation.requested_by)
    require_open(organisation)
    mandate = confirmation.mandate
    return link_send(
        organisation=organisation,
        kind=confirmation.kind,
        actor=confirmation.requested_by,
        ip=ip,
        after={"reference": mandate.reference, "resent": True},
        context=_context(
            mandate,
            amendment=bool(confirmation.details),
            iban=confirmation.details.get("iban") or mandate.iban,
        ),
        mandate=mandate,
        details=confirmation.details,
    )
