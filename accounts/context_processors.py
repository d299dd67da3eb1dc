from django.conf import settings

from .permissions import membership_chosen
from .selectors import user_memberships


def portal(request):
    """The header needs the signed-in user's membership (set by `portal_view` when known)
    and, for a person with several accounts, the switcher's list; the sign-in pages offer
    the password links only where password sign-in is on."""
    membership = getattr(request, "membership", None)
    accounts = []
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        memberships = user_memberships(user)  # loaded with the user: no query
        if len(memberships) > 1:
            accounts = memberships
            membership = membership or membership_chosen(request)
    return {
        "membership": membership,
        "account_choices": accounts,
        "password_sign_in": settings.PASSWORD_SIGN_IN,
    }
