"""Two-step sign-in: enrolment, the check of a code, recovery codes, turning it off, and
support's reset for a lost phone (docs/security.md).

`two_factor_verify` is the one check of a second factor, wherever one is asked: the second
step of the sign-in, the pages that change the second factor, and the confirmation of an
upgrade or a closure (the step-up, through `accounts.forms.TwoFactorCodeMixin`). A failure
is counted on the device (1, 2, 4, 8… seconds before the next try, at most 5 minutes) in a
transaction of its own, committed before the error is raised: call it outside any other
transaction, or a rollback would forget the failure. A success moves the TOTP
device's last step forward (a code is never accepted twice) or deletes the recovery code.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from emails.services import email_queue

from ..audit import audit_record
from ..models import Membership, User
from ..selectors import MEMBERSHIP_ORDER
from ..two_factor import (
    RECOVERY_CODE_COUNT,
    recovery_code_normalise,
    two_factor_available,
    two_factor_enabled,
)

TOTP = "totp"
RECOVERY = "recovery"
# How long a checked code stands for the action it was asked for (the step-up).
PROOF_MAX_AGE = timedelta(minutes=5)
# The longest wait between two tries after failures (see _wait_until).
THROTTLE_MAX_SECONDS = 300


@dataclass(frozen=True)
class TwoFactorProof:
    """A second factor that checked out: whose, how, when, and the recovery codes left."""

    user_id: int
    method: str  # TOTP or RECOVERY
    at: datetime
    recovery_codes_left: int


class TwoFactorRequired(PermissionDenied):
    """An action that needs the owner's second factor was asked without it (or with
    another user's, or a stale one): nothing is done."""


def _refusal(message: str, code: str) -> ValidationError:
    return ValidationError({"code": message}, code=code)


def _wait_until(device) -> datetime | None:
    """Until when a device refuses tries after failures: 1, 2, 4, 8… seconds after the last
    one, at most THROTTLE_MAX_SECONDS. django-otp's own wait (settings
    OTP_*_THROTTLE_FACTOR = 0) has no ceiling: someone holding the password, or the emailed
    link, could then lock the owner out of their own sign-in for days."""
    count, last = device.throttling_failure_count, device.throttling_failure_timestamp
    if count <= 0 or last is None:
        return None
    until = last + timedelta(seconds=min(2 ** min(count - 1, 32), THROTTLE_MAX_SECONDS))
    return until if until > timezone.now() else None


def _wait_message(locked_until: datetime) -> str:
    seconds = max(1, round((locked_until - timezone.now()).total_seconds()))
    return ngettext(
        "Trop d'essais : patientez %(seconds)s seconde avant de réessayer.",
        "Trop d'essais : patientez %(seconds)s secondes avant de réessayer.",
        seconds,
    ) % {"seconds": seconds}


def _membership(user: User) -> Membership | None:
    # A person with several accounts: the account the portal opens on (the one chosen
    # last, else the first by name), as for the sign-in's own event.
    return (
        Membership.objects.filter(user=user)
        .select_related("organisation")
        .order_by(*MEMBERSHIP_ORDER)
        .first()
    )


def _audit(
    *, user: User, action: str, actor: User | None = None, support=False, after=None, ip=None
):
    membership = _membership(user)
    audit_record(
        organisation=membership.organisation if membership else None,
        action=action,
        actor=actor or user,
        support=support,
        after={"user": user.email, **(after or {})},
        ip=ip,
    )


def _email(*, user: User, template: str, context: dict | None = None) -> None:
    membership = _membership(user)
    organisation = membership.organisation if membership else None
    email_queue(
        to=[user.email],
        template=template,
        context={"user": user, "organisation": organisation, **(context or {})},
        language=organisation.language if organisation else settings.LANGUAGE_CODE,
        organisation=organisation,
    )


def _check(*, user: User, code: str) -> TwoFactorProof | ValidationError:
    """One try, in its own transaction (see the module's docstring): the proof, or the
    refusal to raise once the try is committed."""
    code = (code or "").strip()
    if not code:
        return _refusal(_("Saisissez le code."), "required")
    digits = code.replace(" ", "")
    if digits.isdigit() and len(digits) == 6:
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        method, token = TOTP, digits
    else:
        device = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        method, token = RECOVERY, recovery_code_normalise(code)
    if device is None or not two_factor_available():
        return _refusal(_("Code incorrect."), "invalid")
    wait_until = _wait_until(device)
    if wait_until is not None:
        # Refused unchecked, and not counted: tries during the wait never extend it.
        return _refusal(_wait_message(wait_until), "throttled")
    # The token's length is bounded by the field: a long string is simply wrong.
    if not device.verify_token(token[:16]):
        return _refusal(
            _("Code incorrect. Vérifiez l'heure de votre téléphone et saisissez le code affiché.")
            if method == TOTP
            else _("Code de secours incorrect ou déjà utilisé."),
            "invalid",
        )
    left = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    if method == RECOVERY:
        _audit(user=user, action="two_factor.recovery_used", after={"left": left})
    return TwoFactorProof(
        user_id=user.pk, method=method, at=timezone.now(), recovery_codes_left=left
    )


def two_factor_verify(*, user: User, code: str) -> TwoFactorProof:
    """Check a 6-digit code from the user's app (the previous and next 30-second steps are
    accepted, never a step already used) or one of their recovery codes (used up).

    ValidationError keyed `code` otherwise: wrong, already used, or too many tries (the
    device's throttling). Call outside a transaction: see the module's docstring.
    """
    with transaction.atomic():
        outcome = _check(user=user, code=code)
    if isinstance(outcome, ValidationError):
        raise outcome
    return outcome


def two_factor_require(*, user: User, proof: TwoFactorProof | None) -> None:
    """For an action that needs `user`'s second factor when they have one: `proof` must be
    theirs and fresh. TwoFactorRequired otherwise. Callers check the code first with
    `two_factor_verify` (through accounts.forms.TwoFactorCodeMixin); this is the guard that
    no caller can forget it."""
    if not two_factor_enabled(user=user):
        return
    if proof is None or proof.user_id != user.pk or timezone.now() - proof.at > PROOF_MAX_AGE:
        raise TwoFactorRequired(_("Le code de double authentification est requis."))


def _require_available():
    if not two_factor_available():
        raise PermissionDenied(
            _("La double authentification est gérée par votre fournisseur d'identité.")
        )


@transaction.atomic
def two_factor_enrol_start(*, user: User) -> TOTPDevice:
    """A new secret for the user's app: an unconfirmed TOTP device (any earlier unconfirmed
    one goes), which protects nothing until `two_factor_enable` checks a first code."""
    _require_available()
    if two_factor_enabled(user=user):
        raise ValidationError(_("La double authentification est déjà activée."), code="enabled")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="totp", confirmed=False)


def _recovery_codes_new(user: User) -> list[str]:
    """Replace the user's recovery codes by RECOVERY_CODE_COUNT new ones, returned once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
    codes = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(StaticToken.random_token())
    codes = sorted(codes)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def two_factor_enable(*, user: User, code: str, ip: str | None = None) -> list[str]:
    """Confirm the enrolment with a first code from the app: from now on the sign-in asks
    for a code. Returns the recovery codes, shown once. ValidationError keyed `code` for a
    wrong code (the enrolment stays, to try again)."""
    _require_available()
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("-pk")
        .first()
    )
    if device is None:
        raise ValidationError(
            _("Aucune activation en cours : recommencez depuis la page Sécurité de la connexion."),
            code="no_enrolment",
        )
    if not device.verify_token("".join((code or "").split())[:16]):
        raise _refusal(
            _("Code incorrect. Vérifiez l'heure de votre téléphone et saisissez le code affiché."),
            "invalid",
        )
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_new(user)
    _audit(user=user, action="two_factor.enabled", after={"recovery_codes": len(codes)}, ip=ip)
    _email(user=user, template="two_factor_enabled")
    return codes


@transaction.atomic
def two_factor_recovery_regenerate(
    *, user: User, proof: TwoFactorProof, ip: str | None = None
) -> list[str]:
    """New recovery codes (the old ones stop working), after a code checked out."""
    _require_available()
    two_factor_require(user=user, proof=proof)
    if not two_factor_enabled(user=user):
        raise ValidationError(_("La double authentification n'est pas activée."), code="off")
    codes = _recovery_codes_new(user)
    _audit(
        user=user,
        action="two_factor.recovery_regenerated",
        after={"recovery_codes": len(codes)},
        ip=ip,
    )
    _email(user=user, template="two_factor_recovery_regenerated")
    return codes


def _devices_delete(user: User) -> bool:
    had = two_factor_enabled(user=user)
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    return had


@transaction.atomic
def two_factor_disable(
    *,
    user: User,
    password: str = "",
    proof: TwoFactorProof | None = None,
    ip: str | None = None,
) -> None:
    """Turn the second step off, proving it is the user again: their password, or a code
    (`proof`, from `two_factor_verify`). Every device and recovery code goes.
    ValidationError for a wrong password or neither."""
    _require_available()
    if proof is not None:
        two_factor_require(user=user, proof=proof)
    elif not (password and user.check_password(password)):
        raise ValidationError({"password": _("Mot de passe incorrect.")}, code="invalid_password")
    if not _devices_delete(user):
        raise ValidationError(_("La double authentification n'est pas activée."), code="off")
    _audit(user=user, action="two_factor.disabled", ip=ip)
    _email(user=user, template="two_factor_disabled")


@transaction.atomic
def two_factor_reset(*, user: User, actor: User, reason: str, ip: str | None = None) -> None:
    """Support turns a user's second step off: a lost phone and no recovery code left.

    Support checks who is asking first (docs/support.md); the reason stays in the audit
    trail and the user is told by email, so a reset they did not ask for does not go
    unnoticed. They sign in with their password alone, and may enable it again.
    """
    if not actor.is_staff:
        raise PermissionDenied(
            _("Seule l'équipe support peut réinitialiser la double authentification.")
        )
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez la raison de la réinitialisation.")})
    User.objects.select_for_update().filter(pk=user.pk).first()
    if not _devices_delete(user):
        raise ValidationError(_("Cet utilisateur n'a pas de double authentification."), code="off")
    _audit(
        user=user,
        action="two_factor.reset",
        actor=actor,
        support=True,
        after={"reason": reason.strip()},
        ip=ip,
    )
    _email(user=user, template="two_factor_reset")
