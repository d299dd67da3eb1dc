"""Two-step sign-in in tests: codes computed as an authenticator app computes them (RFC 6238,
from the device's key and the clock), a clock the tests move, and a user with it on."""

import base64
import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import zxingcpp
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from accounts import two_factor_views
from accounts.services import two_factor_enable, two_factor_enrol_start

STEP = 30


class Clock:
    """The time the TOTP check and the pending sign-in read: the middle of a 30 s step."""

    def __init__(self):
        self.now = (timezone.now().timestamp() // STEP) * STEP + STEP / 2

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def next_step(self) -> None:
        self.advance(STEP)


@pytest.fixture
def clock(monkeypatch):
    """Only the two readers of the clock move: django-otp's TOTP check and the deadline of
    the code step (accounts.two_factor_views); everything else keeps the real time."""
    from django_otp.plugins.otp_totp import models as totp_models

    clock = Clock()
    fake = SimpleNamespace(time=clock.time)
    monkeypatch.setattr(totp_models, "time", fake)
    monkeypatch.setattr(two_factor_views, "time", fake)
    return clock


def totp_code(key: bytes, at: float) -> str:
    """The 6-digit code an app shows at `at` for the secret `key` (SHA-1, 30 s steps)."""
    totp = TOTP(key, step=STEP, t0=0, digits=6, drift=0)
    totp.time = at
    return f"{totp.token():06d}"


def code_for(user, clock: Clock, *, steps: int = 0) -> str:
    """The code of `user`'s app now (or `steps` steps away)."""
    device = TOTPDevice.objects.filter(user=user).order_by("-pk").first()
    return totp_code(device.bin_key, clock.now + steps * STEP)


def two_factor_on(user, clock: Clock) -> list[str]:
    """Turn it on through the services, as the page does; the recovery codes. The clock
    moves to the next step: the code used to enable it is spent."""
    device = two_factor_enrol_start(user=user)
    codes = two_factor_enable(user=user, code=totp_code(device.bin_key, clock.now))
    clock.next_step()
    return codes


def throttle_passes(user) -> None:
    """As if the wait after a wrong code (django-otp's throttling) had passed."""
    long_ago = timezone.now() - timedelta(hours=1)
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).update(throttling_failure_timestamp=long_ago)


def qr_text(page: str) -> str:
    """Read the QR code of a page (a PNG data URI) with a barcode decoder."""
    match = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert match, "no QR code on the page"
    image = Image.open(io.BytesIO(base64.b64decode(match.group(1))))
    (result,) = zxingcpp.read_barcodes(image)
    return result.text
