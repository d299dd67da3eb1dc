"""The checks every subscription service starts with: lock the account (accounts.guards) and
the subscription, then check who asks and that the account is open."""

from accounts.guards import lock_account, require_open, require_owner

from ..models import Subscription

__all__ = ["lock_account", "require_open", "require_owner", "subscriptions_locked"]


def subscriptions_locked():
    """Subscriptions whose rows a service locks as it reads them (their plans and account
    are read along, not locked: the account has its own lock, taken first)."""
    return Subscription.objects.select_for_update(of=("self",)).select_related(
        "organisation", "plan", "next_plan"
    )
