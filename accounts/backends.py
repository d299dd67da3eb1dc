"""Authentication backend: Django's ModelBackend, with the portal's per-request load."""

from django.contrib.auth.backends import ModelBackend

from .models import User


class PortalBackend(ModelBackend):
    """Signs in by email and password like ModelBackend. On every request, the auth
    middleware's `get_user` also loads the user's membership and account in the same query,
    so that `portal_view` reads them from `request.user` instead of querying again."""

    def get_user(self, user_id):
        user = (
            User._default_manager.select_related("membership__organisation")
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None
