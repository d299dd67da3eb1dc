"""The sign-in pages: password (when PASSWORD_SIGN_IN is on) and the identity provider's
code flow (accounts/oidc.py), each refusal on a page of its own rather than a bare error."""

import logging
from functools import wraps
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from . import services
from .forms import SignInForm
from .oidc import PortalOIDCBackend, oidc_configured, oidc_setting, provider_metadata
from .permissions import client_ip
from .services.sign_in import INACTIVE, UNKNOWN
from .two_factor import two_factor_enabled
from .two_factor_views import sign_in_pending_start

logger = logging.getLogger(__name__)

_OIDC_BACKEND = f"{PortalOIDCBackend.__module__}.{PortalOIDCBackend.__qualname__}"


def sign_in_context() -> dict:
    return {
        "password_sign_in": settings.PASSWORD_SIGN_IN,
        "oidc_sign_in": oidc_configured(),
        "oidc_provider_name": settings.OIDC_PROVIDER_NAME,
    }


def _refused(request, template: str, status: int):
    return render(request, f"registration/{template}", sign_in_context(), status=status)


def password_sign_in_required(view):
    """The password pages (sign-in form posts, password reset) when PASSWORD_SIGN_IN is
    off: a page that says how to sign in instead."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.PASSWORD_SIGN_IN:
            return _refused(request, "password_disabled.html", 403)
        return view(request, *args, **kwargs)

    return wrapper


class SignInView(auth_views.LoginView):
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if not settings.PASSWORD_SIGN_IN:
            return _refused(request, "password_disabled.html", 403)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        if two_factor_enabled(user=form.get_user()):
            # Not signed in yet: the code step (accounts/two_factor_views.py) finishes.
            return sign_in_pending_start(self.request, form.get_user(), self.get_success_url())
        response = super().form_valid(form)
        services.sign_in_record(user=form.get_user(), method="password", ip=client_ip(self.request))
        return response

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **sign_in_context()}


class OIDCSignInStart(OIDCAuthenticationRequestView):
    """Sends the browser to the provider with state, nonce and an S256 code challenge."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # The library reads the provider's endpoints here; get() does, where a provider
        # that does not answer can be shown as a page.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        if not oidc_configured():
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except requests.RequestException:
            logger.exception("OpenID Connect discovery failed")
            return _refused(request, "oidc_unavailable.html", 502)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class OIDCSignInCallback(OIDCAuthenticationCallbackView):
    """The provider's answer: the code exchanged (with the PKCE verifier) for tokens, the
    identity mapped to a provisioned user, or a page saying why not."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        if not oidc_configured():
            raise Http404
        try:
            # RFC 9207: a provider that names itself in its answer must be ours (a code
            # from another provider, mixed up into this flow, is refused before any use).
            issuer = request.GET.get("iss")
            if issuer is not None and issuer != provider_metadata()["issuer"]:
                raise SuspiciousOperation("The authorization response names another issuer.")
            return super().get(request)
        except SuspiciousOperation:
            # A state that this browser did not start (forged, replayed, or from another
            # tab's finished sign-in), or a token that does not check out.
            logger.warning("OpenID Connect callback refused", exc_info=True)
            return _refused(request, "oidc_failed.html", 400)
        except requests.RequestException:
            logger.exception("OpenID Connect provider error")
            return _refused(request, "oidc_unavailable.html", 502)

    def login_failure(self):
        request = self.request
        if getattr(request, "axes_locked_out", False):
            return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
        refusal = getattr(request, "oidc_refusal", "")
        if refusal == UNKNOWN:
            return _refused(request, "oidc_unknown.html", 403)
        if refusal == INACTIVE:
            return _refused(request, "oidc_inactive.html", 403)
        return _refused(request, "oidc_failed.html", 400)

    def login_success(self):
        response = super().login_success()
        services.sign_in_record(user=self.user, method="oidc", ip=client_ip(self.request))
        return response


@require_POST
def sign_out(request):
    """Local sign-out; after an OpenID Connect sign-in, then the provider's own sign-out
    (RP-initiated logout) when it advertises one, which comes back to the sign-in page."""
    url = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token")
    signed_in_by_oidc = request.session.get(auth.BACKEND_SESSION_KEY) == _OIDC_BACKEND
    auth.logout(request)
    if signed_in_by_oidc and id_token and oidc_configured():
        try:
            end_session = provider_metadata().get("end_session_endpoint")
        except requests.RequestException:
            end_session = None
        if end_session:
            params = {
                "id_token_hint": id_token,
                "client_id": settings.OIDC_RP_CLIENT_ID,
                "post_logout_redirect_uri": request.build_absolute_uri(url),
            }
            url = f"{end_session}?{urlencode(params)}"
    return HttpResponseRedirect(url)
