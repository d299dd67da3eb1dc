"""Sign-in from the host's identity provider: OpenID Connect, authorization code with PKCE.

mozilla-django-oidc runs the flow (state, nonce, PKCE, the token request, the signature of
the ID token). This module adds what it leaves to us: the endpoints read from the provider's
discovery document instead of one setting each, the ID token's issuer and audience checked,
and the identity mapped to a provisioned user (accounts.services.oidc_user_resolve), never
a new one. docs/integration.md describes the flow and the settings.
"""

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.utils.functional import cached_property
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from .backends import PortalBackend
from .services import OidcIdentity, oidc_user_resolve

# The settings mozilla-django-oidc reads, and the discovery document's name for each.
_DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
# A provider rotates its keys through the JWKS (fetched at each sign-in), not through its
# discovery document: an hour's cache spares a request per sign-in and per page.
_DISCOVERY_CACHE_SECONDS = 3600


def oidc_configured() -> bool:
    return bool(settings.OIDC_DISCOVERY_URL and settings.OIDC_RP_CLIENT_ID)


def provider_metadata() -> dict:
    """The provider's discovery document (OpenID Connect Discovery 1.0), cached.

    Raises requests.RequestException when the provider does not answer or answers
    something else than a document for the configured issuer.
    """
    url = settings.OIDC_DISCOVERY_URL
    key = f"oidc-discovery:{url}"
    metadata = cache.get(key)
    if metadata is None:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        metadata = response.json()
        if not isinstance(metadata, dict) or not metadata.get("issuer"):
            raise requests.RequestException(f"{url} is not an OpenID Connect discovery document")
        if settings.OIDC_ISSUER and metadata["issuer"].rstrip("/") != settings.OIDC_ISSUER:
            raise requests.RequestException(f"{url} describes another issuer")
        cache.set(key, metadata, _DISCOVERY_CACHE_SECONDS)
    return metadata


def oidc_setting(attr, *args):
    """mozilla-django-oidc's settings, the endpoints taken from discovery unless set."""
    if attr in _DISCOVERED and not getattr(settings, attr, None):
        return provider_metadata()[_DISCOVERED[attr]]
    return import_from_settings(attr, *args)


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """Authenticates the callback of the code flow as a provisioned portal user."""

    get_settings = staticmethod(oidc_setting)
    # As the password backend: the membership and account loaded with the user.
    get_user = PortalBackend.get_user

    def __init__(self, *args, **kwargs):
        # Django builds the backend for every request of a signed-in user (get_user): the
        # provider's settings are read when a sign-in needs them, not here.
        self.UserModel = get_user_model()

    @cached_property
    def OIDC_OP_TOKEN_ENDPOINT(self):  # the names mozilla-django-oidc reads
        return self.get_settings("OIDC_OP_TOKEN_ENDPOINT")

    @cached_property
    def OIDC_OP_USER_ENDPOINT(self):
        return self.get_settings("OIDC_OP_USER_ENDPOINT")

    @cached_property
    def OIDC_OP_JWKS_ENDPOINT(self):
        return self.get_settings("OIDC_OP_JWKS_ENDPOINT")

    OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_RP_CLIENT_ID(self):
        return settings.OIDC_RP_CLIENT_ID

    @property
    def OIDC_RP_CLIENT_SECRET(self):
        return settings.OIDC_RP_CLIENT_SECRET

    @property
    def OIDC_RP_SIGN_ALGO(self):
        return settings.OIDC_RP_SIGN_ALGO

    def authenticate(self, request, **kwargs):
        # Only the callback, with the nonce its view passes: a password sign-in (or any
        # request carrying ?code=&state=) never reaches the provider.
        if request is None or "nonce" not in kwargs or not oidc_configured():
            return None
        return super().authenticate(request, **kwargs)

    def _verify_jws(self, payload, key):
        """The ID token's signature, algorithm, expiry, issuer and audience (the library
        leaves the last two unchecked)."""
        try:
            header = jwt.get_unverified_header(payload)
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation("Unreadable ID token.") from exc
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation("The ID token is not signed with OIDC_RP_SIGN_ALGO.")
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=provider_metadata()["issuer"],
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=60,
            )
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"ID token refused: {exc}") from exc

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: the UserInfo response is about the ID token's subject.
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The UserInfo subject is not the ID token's.")
        # Some providers put the email in the ID token only; UserInfo wins where both say.
        claims = {**payload, **userinfo}
        identity = OidcIdentity(
            subject=str(payload["sub"]),
            email=str(claims.get("email") or ""),
            email_verified=claims.get("email_verified") is True,
        )
        user, refusal = oidc_user_resolve(identity=identity)
        # For the callback view, which shows a page for each refusal.
        self.request.oidc_refusal = refusal
        return user
