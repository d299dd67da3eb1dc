"""SEPA direct-debit mandates: signed (pending), activated, amended, revoked.

The owner's two-step flow (sign in the portal, confirm from the emailed link) is driven by
subscriptions.services.mandate_links, which owns the confirmation links; these functions
are the changes to the mandates themselves, each audited, called inside its transaction
with the account's row locked. The mandate wording and PDF are in payments.mandate_pdf.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.guards import lock_account, require_open, require_owner
from accounts.models import Organisation, User
from accounts.selectors import account_owner
from emails.services import email_queue

from .. import mandate_pdf, sepa
from ..models import Mandate
from .collections import collections_cancel, collections_plan_for_mandate

# The mandate reference: this prefix, the account's number and the account's counter of
# mandates (PALM-000123-01, PALM-000123-02...). Unique, and never reused: the counter
# counts every mandate the account ever asked for, confirmed or not.
REFERENCE_PREFIX = "PALM"


@dataclass(frozen=True)
class MandateDetails:
    """What the owner fills in to sign a mandate, already validated."""

    scheme: str
    iban: str
    bic: str
    holder_name: str
    holder_address: str
    holder_country: str
    signed_place: str

    @classmethod
    def clean(cls, **values) -> "MandateDetails":
        """Validate the form's values: ValidationError keyed by field otherwise."""
        errors = {}
        iban = bic = ""
        try:
            iban = sepa.iban_clean(values.get("iban", ""))
        except ValidationError as exc:
            errors["iban"] = exc.messages
        if iban:
            try:
                bic = sepa.bic_clean(values.get("bic", ""))
            except ValidationError as exc:
                errors["bic"] = exc.messages
        if values.get("scheme") not in Mandate.Scheme.values:
            errors["scheme"] = [_("Choisissez le schéma : SEPA Core ou SEPA B2B.")]
        texts = {
            key: " ".join((values.get(key) or "").split())
            for key in ("holder_name", "signed_place", "holder_country")
        }
        address = "\n".join(
            line.strip() for line in (values.get("holder_address") or "").splitlines()
        ).strip()
        for key in ("holder_name", "signed_place"):
            if not texts[key]:
                errors[key] = [_("Ce champ est obligatoire.")]
        if not address:
            errors["holder_address"] = [_("Ce champ est obligatoire.")]
        if errors:
            raise ValidationError(errors)
        return cls(
            scheme=values["scheme"],
            iban=iban,
            bic=bic,
            holder_name=texts["holder_name"][:70],
            holder_address=address,
            holder_country=(texts["holder_country"] or iban[:2]).upper()[:2],
            signed_place=texts["signed_place"][:70],
        )

    def amends(self, mandate: Mandate | None) -> bool:
        """True when these details change only the bank account of `mandate` (in force):
        then the mandate keeps its reference and records the amendment."""
        return (
            mandate is not None
            and mandate.status in Mandate.LIVE
            and mandate.scheme == self.scheme
            and mandate.holder_name == self.holder_name
            and mandate.holder_address == self.holder_address
            and (mandate.iban, mandate.bic) != (self.iban, self.bic)
        )

    def same_as(self, mandate: Mandate | None) -> bool:
        """True when signing these details would change nothing on `mandate`."""
        return (
            mandate is not None
            and mandate.scheme == self.scheme
            and mandate.holder_name == self.holder_name
            and mandate.holder_address == self.holder_address
            and (mandate.iban, mandate.bic) == (self.iban, self.bic)
        )

    def audit(self) -> dict:
        return {
            "scheme": self.scheme,
            "iban": sepa.iban_masked(self.iban),
            "bic": self.bic,
            "holder_name": self.holder_name,
            "signed_place": self.signed_place,
        }


def mandate_live(organisation: Organisation, *, for_update: bool = False) -> Mandate | None:
    """The account's mandate in force (active or suspended), if any."""
    qs = Mandate.objects.filter(organisation=organisation, status__in=Mandate.LIVE)
    if for_update:
        qs = qs.select_for_update()
    return qs.first()


def _next_reference(organisation: Organisation) -> str:
    count = Mandate.objects.filter(organisation=organisation).count()
    while True:
        count += 1
        reference = f"{REFERENCE_PREFIX}-{organisation.pk:06d}-{count:02d}"
        if not Mandate.objects.filter(reference=reference).exists():
            return reference


def mandate_sign(
    *,
    organisation: Organisation,
    details: MandateDetails,
    actor: User,
    ip: str | None = None,
    language: str | None = None,
) -> Mandate:
    """A new mandate, pending until the owner confirms it from the emailed link.

    The pending mandates the account had not confirmed are abandoned (the newest
    signature is the owner's word). The caller holds the account lock and sends the link.
    """
    require_owner(organisation, actor)
    require_open(organisation)
    abandoned = mandates_abandon_pending(organisation=organisation, actor=actor)
    mandate = Mandate.objects.create(
        organisation=organisation,
        reference=_next_reference(organisation),
        status=Mandate.Status.PENDING,
        signed_by=actor,
        language=language or organisation.language,
        scheme=details.scheme,
        iban=details.iban,
        bic=details.bic,
        holder_name=details.holder_name,
        holder_address=details.holder_address,
        holder_country=details.holder_country,
        signed_place=details.signed_place,
    )
    audit_record(
        organisation=organisation,
        action="mandate.signed",
        actor=actor,
        after={"reference": mandate.reference, **details.audit(), "abandoned": abandoned},
        ip=ip,
    )
    return mandate


def mandates_abandon_pending(*, organisation: Organisation, actor: User | None) -> list[str]:
    """The account's mandates still waiting for their link are abandoned (a newer signature,
    or the owner who signed them is no longer the owner); their references stay used."""
    pending = list(
        Mandate.objects.select_for_update().filter(
            organisation=organisation, status=Mandate.Status.PENDING
        )
    )
    now = timezone.now()
    for mandate in pending:
        mandate.status = Mandate.Status.ABANDONED
        mandate.ended_at = now
        mandate.end_reason = "never confirmed"
        mandate.save(update_fields=["status", "ended_at", "end_reason"])
    return [m.reference for m in pending]


def mandate_activate(
    *, mandate: Mandate, actor: User | None, now: datetime, ip: str | None = None
) -> Mandate:
    """The owner confirmed the pending `mandate`: it is in force from today (its signature
    date). The account's previous mandate, if any, ends (replaced); its open collections
    move to nothing (cancelled) and the account's open invoices in euros are planned under
    the new one. The caller holds the account lock."""
    organisation = mandate.organisation
    previous = mandate_live(organisation, for_update=True)
    replaced = None
    if previous is not None and previous.pk != mandate.pk:
        replaced = previous.reference
        collections_cancel(
            mandate=previous, reason=f"mandate replaced by {mandate.reference}", actor=actor
        )
        previous.status = Mandate.Status.REVOKED
        previous.ended_at = now
        previous.end_reason = f"replaced by {mandate.reference}"
        previous.save(update_fields=["status", "ended_at", "end_reason"])
    mandate.status = Mandate.Status.ACTIVE
    mandate.confirmed_at = now
    mandate.signed_on = timezone.localdate(now)
    mandate.save(update_fields=["status", "confirmed_at", "signed_on"])
    mandate_pdf.mandate_pdf_store(mandate)
    planned = collections_plan_for_mandate(mandate=mandate, today=mandate.signed_on)
    audit_record(
        organisation=organisation,
        action="mandate.confirmed",
        actor=actor,
        after={
            "reference": mandate.reference,
            "scheme": mandate.scheme,
            "iban": sepa.iban_masked(mandate.iban),
            "signed_on": mandate.signed_on.isoformat(),
            "replaced": replaced,
            "planned": [c.end_to_end_id for c in planned],
        },
        ip=ip,
    )
    _email_owner(mandate, "mandate_confirmed", actor, planned=planned)
    return mandate


def mandate_amend(
    *,
    mandate: Mandate,
    iban: str,
    bic: str,
    actor: User | None,
    now: datetime,
    ip: str | None = None,
) -> Mandate:
    """The owner confirmed a change of bank account on the mandate in force: same reference,
    new IBAN/BIC; the account the bank knows the mandate by is kept in `amended_from_*`
    until the next collection tells the bank (the export clears it). An account changed
    twice before any collection keeps the first one: it is what the bank knows."""
    before = {"iban": sepa.iban_masked(mandate.iban), "bic": mandate.bic}
    if not mandate.amended_from_iban:
        mandate.amended_from_iban = mandate.iban
        mandate.amended_from_bic = mandate.bic
    mandate.iban, mandate.bic = iban, bic
    mandate.save(update_fields=["iban", "bic", "amended_from_iban", "amended_from_bic"])
    mandate_pdf.mandate_pdf_store(mandate, replace=True)
    audit_record(
        organisation=mandate.organisation,
        action="mandate.amended",
        actor=actor,
        before=before,
        after={
            "reference": mandate.reference,
            "iban": sepa.iban_masked(iban),
            "bic": bic,
            "confirmed_at": now.isoformat(),
        },
        ip=ip,
    )
    _email_owner(mandate, "mandate_confirmed", actor, amended=True)
    return mandate


def mandate_end(
    *,
    mandate: Mandate,
    actor: User | None,
    reason: str,
    now: datetime,
    support: bool = False,
    ip: str | None = None,
) -> Mandate:
    """Revoke the mandate in force: no new collection; the planned and pre-notified ones
    are cancelled (those already sent to the bank are the bank's now). The caller holds
    the account lock (mandate_revoke_by_support, or the owner's confirmed link)."""
    if mandate.status not in Mandate.LIVE:
        raise ValidationError(_("Ce mandat n'est plus en vigueur."), code="not_live")
    status_before = mandate.status
    cancelled = collections_cancel(
        mandate=mandate, reason=f"mandate revoked: {reason}", actor=actor
    )
    mandate.status = Mandate.Status.REVOKED
    mandate.ended_at = now
    mandate.end_reason = reason
    mandate.save(update_fields=["status", "ended_at", "end_reason"])
    audit_record(
        organisation=mandate.organisation,
        action="mandate.revoked",
        actor=actor,
        support=support,
        before={"reference": mandate.reference, "status": status_before},
        after={"reason": reason, "cancelled": [c.end_to_end_id for c in cancelled]},
        ip=ip,
    )
    _email_owner(mandate, "mandate_revoked", actor, cancelled=cancelled, by_support=support)
    return mandate


@transaction.atomic
def mandate_revoke_by_support(
    *, mandate: Mandate, actor: User, reason: str, ip: str | None = None
) -> Mandate:
    """Support revokes a mandate (the customer asked by phone, the bank said so...), with
    a reason: the same effects as the owner's revocation, the audit event naming support."""
    if not actor.is_staff:
        raise PermissionDenied(_("Réservé à l'équipe support."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Indiquez la raison de la révocation.")})
    lock_account(mandate.organisation)
    mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
    return mandate_end(
        mandate=mandate, actor=actor, reason=reason, now=timezone.now(), support=True, ip=ip
    )


def _email_owner(mandate: Mandate, template: str, actor: User | None, **context) -> None:
    organisation = mandate.organisation
    owner = account_owner(organisation=organisation)
    if owner is None:
        return
    email_queue(
        to=[owner.user.email],
        template=template,
        context={
            "organisation": organisation,
            "user": owner.user,
            "mandate": mandate,
            "masked_iban": sepa.iban_masked(mandate.iban),
            "creditor_id": settings.SELLER["creditor_id"],
            **context,
        },
        language=organisation.language,
        organisation=organisation,
    )
