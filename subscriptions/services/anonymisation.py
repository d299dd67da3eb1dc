"""Anonymisation: once a closed account's grace period is over, its people's personal data
is erased, here and, through their own services and hooks, in the other apps."""

from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_anonymise, audit_record
from accounts.models import BillingContact, Organisation, User
from emails.services import emails_anonymise

from .. import hooks
from ..models import AccountClosure
from ._guards import lock_account


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
    organisation = lock_account(organisation)
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
    emails_anonymise(organisation_id=organisation.pk)
    hooks.account_anonymised(organisation=organisation)
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
