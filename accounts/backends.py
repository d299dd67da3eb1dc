"""Authentication backend: Django's ModelBackend, with the portal's per-request load."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from .models import User


class PortalBackend(ModelBackend):
    """Signs in by email and password like ModelBackend. On every request, the auth
    middleware's `get_user` also loads the user's membership and account in the same query,
    so that `portal_view` reads them from `request.user` instead of querying again."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        # PASSWORD_SIGN_IN off: no password opens a session, the admin's form included.
        if not settings.PASSWORD_SIGN_IN:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        user = (
            User._default_manager.select_related("membership__organisation")
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None
