"""Anonymisation: once a closed account's grace period is over, its people's personal data
is erased, here and, through their own services and hooks, in the other apps."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Organisation
from accounts.services import people_anonymise
from emails.services import emails_anonymise

from .. import hooks
from ..models import AccountClosure
from ._guards import lock_account


@transaction.atomic
def account_anonymise(*, organisation: Organisation, now: datetime | None = None) -> bool:
    """Erase the personal data of a closed account's people once its grace period is over.

    Users: names cleared, email replaced by a unique placeholder, unusable password,
    inactive. Billing contacts: deleted. Invoices (snapshots) are untouched. Returns False
    when there is nothing to do (reopened, not due yet, already done): safe to run twice.
    """
    now = now or timezone.now()
    organisation = lock_account(organisation)
    closure = (
        AccountClosure.objects.select_for_update()
        .filter(organisation=organisation, reopened_at__isnull=True, anonymised_at__isnull=True)
        .first()
    )
    if not organisation.is_closed or closure is None or closure.anonymise_after > now:
        return False
    # Each app erases its own copies: the outbox, the apps above through the hook, then
    # accounts' users, billing contacts and audit trail.
    emails_anonymise(organisation_id=organisation.pk)
    hooks.account_anonymised(organisation=organisation)
    done = people_anonymise(organisation=organisation)
    closure.anonymised_at = now
    closure.save(update_fields=["anonymised_at"])
    audit_record(
        organisation=organisation,
        action="account.anonymised",
        after=done,
    )
    return True
