"""Authentication backend: Django's ModelBackend, with the portal's per-request load."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from .models import Membership, User
from .selectors import MEMBERSHIP_ORDER


class PortalBackend(ModelBackend):
    """Signs in by email and password like ModelBackend. On every request, the auth
    middleware's `get_user` also loads the user's memberships and their accounts in the same
    query, so that `portal_view` reads them from `request.user` instead of querying again."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        # PASSWORD_SIGN_IN off: no password opens a session, the admin's form included.
        if not settings.PASSWORD_SIGN_IN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        # One query from the memberships' side, joining the user and the accounts (a user
        # row per membership: a person has a handful of accounts); a user without any
        # (support staff) costs a second query, for the user alone.
        memberships = list(
            Membership.objects.select_related("user", "organisation")
            .filter(user_id=user_id)
            .order_by(*MEMBERSHIP_ORDER)
        )
        if memberships:
            user = memberships[0].user
        else:
            user = User._default_manager.filter(pk=user_id).first()
        if user is None or not self.user_can_authenticate(user):
            return None
        for membership in memberships:
            membership.user = user
        user.loaded_memberships = memberships  # read by accounts.selectors.user_memberships
        return user
