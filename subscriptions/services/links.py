"""Confirmation links: issue one (superseding the pending link of its kind), claim it when
its form is posted, and cancel the links of a former owner.

Only a hash of a link's token is stored (tokens.py); the token travels in the email alone.
"""

from dataclasses import dataclass
from datetime import datetime

from accounts.audit import audit_record
from accounts.models import Organisation, User
from emails.services import email_queue
from payments.services.mandates import mandates_abandon_pending

from .. import tokens
from ..models import Confirmation
from ..tokens import LinkError, LinkProblem
from ._guards import lock_account


@dataclass(frozen=True)
class IssuedLink:
    """A confirmation just created, with the token that only its email carries."""

    confirmation: Confirmation
    token: str

    @property
    def url(self) -> str:
        return tokens.link_url(self.token)


def link_issue(
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


def link_send(
    *,
    organisation: Organisation,
    kind: str,
    actor: User,
    ip: str | None,
    before: dict | None = None,
    after: dict,
    context: dict,
    **fields,
) -> IssuedLink:
    """The second half of every `*_request`: issue the link, record "<kind>.requested" and
    email the link to the owner who asked (the email is redacted once sent)."""
    link, superseded = link_issue(organisation=organisation, kind=kind, actor=actor, **fields)
    expires_at = link.confirmation.expires_at
    audit_record(
        organisation=organisation,
        action=f"{kind}.requested",
        actor=actor,
        before=before,
        after={**after, "expires_at": expires_at.isoformat(), "superseded": len(superseded)},
        ip=ip,
    )
    email_queue(
        to=[actor.email],
        template=f"{kind}_request",
        context={
            "organisation": organisation,
            "user": actor,
            **context,
            "link": link.url,
            "expires_at": expires_at,
        },
        language=organisation.language,
        organisation=organisation,
        redact_after_send=True,
    )
    return link


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
    if Confirmation.Kind.MANDATE in kinds:
        # The mandate the former owner signed waits for a link that is now dead.
        mandates_abandon_pending(organisation=organisation, actor=actor)
    for kind in kinds:
        audit_record(
            organisation=organisation,
            action="confirmation.cancelled",
            actor=actor,
            before={"kind": kind, "requested_by": former_owner.email},
            after={"reason": "ownership.transferred"},
        )
    return len(kinds)


def link_claim(token: str, *, kind: str, now: datetime) -> Confirmation:
    """Lock the account, then the confirmation, and check it may be used now.

    LinkError otherwise. The row lock is what makes a double click or two tabs confirm
    once: the second transaction waits here, then finds the status USED. The account is
    locked first, in the same order as the requests, so the two never deadlock.
    """
    found = tokens.confirmation_find(token)
    if found is None or found.kind != kind:
        raise LinkError(LinkProblem.UNKNOWN)
    lock_account(found.organisation)
    confirmation = tokens.confirmation_find(token, for_update=True)
    problem = tokens.confirmation_problem(confirmation, now=now)
    if problem:
        raise LinkError(problem, confirmation)
    return confirmation


def link_used(confirmation: Confirmation, now: datetime) -> None:
    confirmation.status = Confirmation.Status.USED
    confirmation.used_at = now
    confirmation.save(update_fields=["status", "used_at"])


def link_audit(signed_in: User | None, confirmation: Confirmation, second_factor=None) -> dict:
    # The link is the credential; who happened to be signed in is kept for the record, and
    # the owner's second factor when it was asked (accounts.services.two_factor_require).
    extra = {"second_factor": second_factor.method} if second_factor is not None else {}
    if signed_in is not None and signed_in.pk != confirmation.requested_by_id:
        return {"signed_in_as": signed_in.email, **extra}
    return extra
