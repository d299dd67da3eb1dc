"""The one place that decides who may see and do what in the portal."""

import ipaddress
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from .models import Membership
from .selectors import user_memberships

# The session key naming the account a person chose in the header's switcher.
ACCOUNT_SESSION_KEY = "account_id"
# The account a page was shown for, sent back with its forms (a hidden field) and its htmx
# requests (a header on <body>): a change is refused if another one has been chosen since.
ACCOUNT_FIELD = "account"
ACCOUNT_HEADER = "X-Portal-Account"

# What the owner of a closed account may still do, until its people are anonymised: read
# and pay its invoices. Nothing that changes anything.
READ_METHODS = ("GET", "HEAD")


def membership_chosen(request) -> Membership | None:
    """The signed-in person's membership of the account the request is about: the one
    chosen in the session (ACCOUNT_SESSION_KEY), else the one they chose last, else their
    first account by name (accounts.selectors.MEMBERSHIP_ORDER). An id in the session that
    is not one of their accounts (left since, or never theirs) counts as no choice: the
    request falls back to one of their own accounts, never another tenant's. None for an
    anonymous visitor or a user without any account."""
    if not request.user.is_authenticated:
        return None
    memberships = user_memberships(request.user)
    if not memberships:
        return None
    chosen = request.session.get(ACCOUNT_SESSION_KEY)
    return next((m for m in memberships if m.organisation_id == chosen), memberships[0])


def portal_view(*, methods=("GET",), owner_only: bool = False, closed_owner: bool = False):
    """Sign-in required; the request gets `membership` and `organisation`: the user's
    membership of the account chosen in the session (`membership_chosen`).

    Anyone without an account membership (support staff included) gets 403, a program
    manager gets 403 on owner-only views, a member of a closed account the closed page —
    except the owner on the views marked `closed_owner` (the invoices: list, page, PDF,
    XML, exports), which stay open to them for reading until the account is anonymised
    (anonymisation makes every member inactive: they can no longer sign in at all).
    Views then look objects up scoped to `request.organisation`, so another tenant's is a 404.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            # Loaded with the user by accounts.backends.PortalBackend (no query here).
            membership = membership_chosen(request)
            if membership is None:
                raise PermissionDenied
            organisation = membership.organisation
            # Set before the closed page too: its header offers the person's other accounts.
            request.membership = membership
            request.organisation = organisation
            if request.method not in READ_METHODS and _shown_for_another_account(request):
                return _account_changed(request)
            if organisation.is_closed and not (
                closed_owner and membership.is_owner and request.method in READ_METHODS
            ):
                return render(
                    request,
                    "accounts/closed.html",
                    {"organisation": organisation, "invoices_open": membership.is_owner},
                    status=403,
                )
            if owner_only and not membership.is_owner:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(require_http_methods(list(methods))(wrapper))

    return decorator


def _shown_for_another_account(request) -> bool:
    """A form (or htmx request) from a page shown for another account than the one now
    chosen: another tab switched accounts meanwhile. Without the field or header (a client
    of its own, the tests' plain POSTs) the session's account stands."""
    shown = request.headers.get(ACCOUNT_HEADER) or request.POST.get(ACCOUNT_FIELD)
    return bool(shown) and shown != str(request.organisation.pk)


def _account_changed(request):
    """Nothing is done: the change was meant for another account. The person is shown the
    account now chosen, and told why (the whole page, for htmx too: its header changed)."""
    messages.warning(
        request,
        _(
            "Vous avez changé de compte dans un autre onglet : rien n'a été enregistré. "
            "Vous consultez maintenant le compte « %(name)s »."
        )
        % {"name": request.organisation.name},
    )
    if request.htmx:
        return HttpResponseClientRedirect(reverse("portal:home"))
    return redirect("portal:home")


def client_ip(request) -> str | None:
    """The address of the client, as far as the portal can trust it.

    With TRUSTED_PROXY_COUNT = 0 (the default) the portal faces the clients and the
    connecting address (REMOTE_ADDR) is the client's. Behind N trusted proxies, each of
    which appends the address it received the request from to X-Forwarded-For, the client
    is the N-th entry from the right: anything further left was written by the client and
    proves nothing. When the header holds fewer than N entries (or a value that is not an
    address), REMOTE_ADDR is all there is. The audit trail, the contact form's limits, the
    password reset's limits and django-axes (AXES_CLIENT_IP_CALLABLE) all use this.
    """
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        forwarded = [
            entry.strip()
            for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if entry.strip()
        ]
        if len(forwarded) >= proxies:
            address = _ip_address(forwarded[-proxies])
            if address is not None:
                return address
    return _ip_address(request.META.get("REMOTE_ADDR", ""))


def _ip_address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
