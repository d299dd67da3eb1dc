"""Confirmation links: make a token, store only its hash, find and check it later.

The token (256 random bits, URL-safe) travels in the emailed link and nowhere else; the
database keeps its SHA-256, so a copy of the table confirms nothing. Everything a link does
(account, action, target plan, requesting user, expiry) is on the Confirmation row, so
altering any part of the URL gives an unknown token.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from payments.models import Mandate

from .models import Confirmation
from .pricing import plan_change_kind

TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 64


class LinkProblem:
    """Why a link cannot be confirmed. The values name the message the page shows."""

    UNKNOWN = "unknown"  # never issued, or altered
    EXPIRED = "expired"
    USED = "used"
    SUPERSEDED = "superseded"  # a newer request of the same kind replaced it
    CANCELLED = "cancelled"  # the account was closed, or the request became moot
    NOT_OWNER = "not_owner"  # the requester is no longer the account's owner
    CLOSED = "closed"  # the account is closed
    STALE = "stale"  # the subscription changed since the request (plan, status)


class LinkError(Exception):
    def __init__(self, problem: str, confirmation: Confirmation | None = None):
        super().__init__(problem)
        self.problem = problem
        self.confirmation = confirmation


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_new() -> tuple[str, str]:
    """A fresh token and the hash to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def link_expiry(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(hours=settings.CONFIRMATION_LINK_HOURS)


def link_url(token: str) -> str:
    return settings.SITE_URL + reverse("subscription_confirm", args=[token])


def _well_formed(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH


def confirmation_find(token: str, *, for_update: bool = False) -> Confirmation | None:
    """The confirmation a token designates, or None. `for_update` locks the row."""
    if not _well_formed(token):
        return None
    qs = Confirmation.objects.select_related(
        "organisation", "requested_by", "plan", "from_plan", "mandate"
    )
    if for_update:
        # `of=("self",)`: lock the confirmation only, not the joined rows.
        qs = qs.select_for_update(of=("self",))
    return qs.filter(token_hash=token_hash(token)).first()


def confirmation_problem(confirmation: Confirmation, *, now: datetime | None = None) -> str | None:
    """None when the link may be confirmed now, otherwise a LinkProblem value."""
    now = now or timezone.now()
    status_problems = {
        Confirmation.Status.USED: LinkProblem.USED,
        Confirmation.Status.SUPERSEDED: LinkProblem.SUPERSEDED,
        Confirmation.Status.CANCELLED: LinkProblem.CANCELLED,
    }
    organisation = confirmation.organisation

    def requester_is_owner():
        return (
            confirmation.requested_by_id is not None
            and Membership.objects.filter(
                organisation=organisation,
                user_id=confirmation.requested_by_id,
                role=Membership.Role.OWNER,
            ).exists()
        )

    if confirmation.status == Confirmation.Status.CANCELLED and not requester_is_owner():
        # Cancelled by the transfer of ownership: say why, while it is still true.
        return LinkProblem.NOT_OWNER
    if confirmation.status in status_problems:
        return status_problems[confirmation.status]
    if now >= confirmation.expires_at:
        return LinkProblem.EXPIRED
    if organisation.is_closed:
        return LinkProblem.CLOSED
    if not requester_is_owner():
        return LinkProblem.NOT_OWNER
    if confirmation.kind == Confirmation.Kind.UPGRADE:
        subscription = getattr(organisation, "subscription", None)
        if (
            subscription is None
            or not subscription.is_active
            or subscription.plan_id != confirmation.from_plan_id
            or plan_change_kind(current=subscription.plan, target=confirmation.plan) != "upgrade"
        ):
            return LinkProblem.STALE
    if confirmation.kind in (Confirmation.Kind.MANDATE, Confirmation.Kind.MANDATE_REVOKE):
        return _mandate_problem(confirmation)
    return None


def _mandate_problem(confirmation: Confirmation) -> str | None:
    """A mandate link is stale once its mandate moved on: a new mandate no longer pending,
    an amendment or a revocation of a mandate no longer in force."""
    mandate = confirmation.mandate
    if mandate is None:
        return LinkProblem.STALE
    if confirmation.kind == Confirmation.Kind.MANDATE and not confirmation.details:
        expected = (Mandate.Status.PENDING,)
    else:
        expected = Mandate.LIVE
    return None if mandate.status in expected else LinkProblem.STALE
