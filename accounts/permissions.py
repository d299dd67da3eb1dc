"""The one place that decides who may see and do what in the portal."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .models import Membership


def portal_view(*, methods=("GET",), owner_only: bool = False):
    """Sign-in required; the request gets `membership` and `account` (the user's own).

    Anyone without an account membership (support staff included) gets 403, a program
    manager gets 403 on owner-only views, a member of a closed account the closed page.
    Views then look objects up scoped to `request.account`, so another tenant's is a 404.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            # Loaded with the user by accounts.backends.PortalBackend (no query here).
            try:
                membership = request.user.membership
            except Membership.DoesNotExist:
                raise PermissionDenied from None
            if membership.organisation.is_closed:
                return render(
                    request,
                    "accounts/closed.html",
                    {"organisation": membership.organisation},
                    status=403,
                )
            if owner_only and not membership.is_owner:
                raise PermissionDenied
            request.membership = membership
            request.account = membership.organisation
            return view(request, *args, **kwargs)

        return login_required(require_http_methods(list(methods))(wrapper))

    return decorator


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
