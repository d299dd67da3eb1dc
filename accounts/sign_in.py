"""How django-axes counts failed sign-ins: per account and, separately, per client address.

The account is the email typed in the sign-in form's `username` field, normalised as the
user table stores it (trimmed, lower case), so that « Owner@Example.COM » and
« owner@example.com » are one account. The client address is `accounts.permissions.
client_ip`, the one place that knows how many proxies stand in front of the portal.
"""

import unicodedata

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.contrib.auth.signals import user_login_failed

# AccessAttempt.username's length.
_USERNAME_MAX_LENGTH = 255


def sign_in_username(request, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the account a sign-in attempt is for.

    django-axes reads it from three places: the credentials given to `authenticate()` (and
    to its failure signal), those it builds itself on success, and the POST data. All three
    carry it under `username`, the form's field; without this callable axes would look for
    the user model's USERNAME_FIELD (`email`), find nothing and count every failure under
    one shared empty account.
    """
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = getattr(request, "POST", {}).get("username")
    if not value:
        return None
    # As AuthenticationForm cleans the field (NFKC), then as the user table stores it.
    value = unicodedata.normalize("NFKC", str(value)).strip().lower()
    return value[:_USERNAME_MAX_LENGTH] or None


class SignInAttemptHandler(AxesDatabaseHandler):
    """django-axes' database handler, except what a successful sign-in clears.

    Axes clears every failure recorded for the account *or from the address*. From the
    address, that would let anyone with an account of their own wipe the count of the
    account they are guessing: a few guesses, sign in to their own account from the same
    address, and again. Only the failures recorded for the account that signed in go.
    """

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def sign_in_locked(request, email: str) -> bool:
    """Whether django-axes refuses sign-ins to this account (or from this address) now: the
    second step asks it before checking a code, as the backend does before a password."""
    return AxesProxyHandler.is_locked(request, {"username": email})


def sign_in_failed(request, email: str) -> None:
    """A wrong code at the second step: counted by django-axes like a wrong password, for
    the account and the address. When it reaches the limit, axes marks the request and its
    middleware answers with the lockout page."""
    user_login_failed.send(sender=__name__, credentials={"username": email}, request=request)
