"""Two-step sign-in, what reads it: whether a user has it, the enrolment's secret and QR
code, the recovery codes left. The changes are in accounts/services/two_factor.py.

A user's second factor is django-otp's: one TOTP device (RFC 6238: 6 digits, 30-second
steps, SHA-1, as every authenticator app reads them) and one static device holding the
recovery codes. The TOTP device is "confirmed" once a first code from the app checked out;
until then it is an enrolment in progress and protects nothing. With PASSWORD_SIGN_IN off,
the identity provider signs people in and owns their second factor: the portal's is off.
"""

from base64 import b32encode
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from billing_portal import brand

from .models import User

RECOVERY_CODE_COUNT = 10


def two_factor_available() -> bool:
    """The portal's own second factor exists only with its own password sign-in."""
    return settings.PASSWORD_SIGN_IN


def two_factor_device(user: User) -> TOTPDevice | None:
    """The user's confirmed TOTP device: what makes the second step asked."""
    if not two_factor_available() or user.pk is None:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def two_factor_enabled(*, user: User | None) -> bool:
    return user is not None and two_factor_device(user) is not None


def enrolment_device(user: User) -> TOTPDevice | None:
    """The TOTP device of an enrolment started and not yet confirmed by a first code."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def recovery_code_display(token: str) -> str:
    """« abcd-efgh »: halves are easier to copy and to read out."""
    return f"{token[:4]}-{token[4:]}"


def recovery_code_normalise(value: str) -> str:
    """What the user typed, as stored: lower case, without spaces or dashes."""
    return "".join(value.split()).replace("-", "").lower()


def secret_base32(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode()


def secret_groups(device: TOTPDevice) -> str:
    """The secret for typing it into the app by hand, in groups of four."""
    secret = secret_base32(device)
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def otpauth_uri(device: TOTPDevice) -> str:
    """The Key URI every authenticator app reads (otpauth://totp/Issuer:email?...)."""
    issuer = brand.current().name.replace(":", "")
    label = quote(f"{issuer}:{device.user.email}")
    params = urlencode(
        {
            "secret": secret_base32(device),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{params}"


def otpauth_qr_data_uri(device: TOTPDevice) -> str:
    """The QR code of the Key URI, as a PNG data URI: the CSP's img-src allows data:, and
    an <img> needs no script and takes an alt text."""
    return segno.make(otpauth_uri(device), error="m").png_data_uri(scale=5, border=4)
