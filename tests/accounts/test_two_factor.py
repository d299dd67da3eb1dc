"""Two-step sign-in: enrolment on « Sécurité de la connexion », the sign-in's second step
(app code, recovery code, wrong, replayed, expired), recovery codes, turning it off,
support's reset, and none of it with the identity provider's sign-in.

Codes are computed from the device's key and the clock as an authenticator app does
(tests/two_factor.py), and checked by the real verifier."""

import html
import re
from base64 import b32decode
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent
from accounts.services import two_factor_verify
from accounts.two_factor import two_factor_enabled
from emails.models import Email
from tests.factories import PASSWORD
from tests.two_factor import code_for, qr_text, throttle_passes, totp_code, two_factor_on

LOGIN = reverse("login")
LOGIN_CODE = reverse("login_code")
SECURITY = reverse("portal:security")
ENABLE = reverse("portal:two_factor_enable")
CODES = reverse("portal:two_factor_codes")
RECOVERY = reverse("portal:two_factor_recovery")
DISABLE = reverse("portal:two_factor_disable")
HOME = reverse("portal:home")


def text(response) -> str:
    return html.unescape(response.content.decode())


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def password_step(client, email="owner@example.com", password=PASSWORD, address="198.51.100.7"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=address)


def code_step(client, code, *, recovery=False, address="198.51.100.7"):
    url = f"{LOGIN_CODE}?method=recovery" if recovery else LOGIN_CODE
    return client.post(url, {"code": code}, REMOTE_ADDR=address)


def emails(kind):
    return list(Email.objects.filter(kind=kind).order_by("pk"))


# --- Enrolment --------------------------------------------------------------------------


def test_enrolment_shows_the_qr_code_and_the_secret_then_a_first_code_turns_it_on(
    client, owner, clock
):
    client.force_login(owner.user)
    page = text(client.get(SECURITY))
    assert "Sécurité de la connexion" in page
    assert "Vous êtes propriétaire du compte" in page  # why it matters for owners
    assert 'data-testid="two-factor-off"' in page

    assert client.get(ENABLE).status_code == 302  # GET changes nothing
    assert not TOTPDevice.objects.exists()
    response = client.post(ENABLE)
    assert response.status_code == 302
    page = text(client.get(SECURITY))

    # The QR code, read back with a barcode decoder, is the Key URI of an unconfirmed device.
    uri = qr_text(page)
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Palmar%C3%A8s%3Aowner%40example.com"
    params = {key: value[0] for key, value in parse_qs(parts.query).items()}
    assert params | {"secret": "-"} == {
        "secret": "-",
        "issuer": "Palmarès",
        "algorithm": "SHA1",
        "digits": "6",
        "period": "30",
    }
    device = TOTPDevice.objects.get(user=owner.user)
    assert not device.confirmed
    assert b32decode(params["secret"]) == device.bin_key
    # The same secret in text, in groups of four, for typing it by hand.
    shown = re.search(r'data-testid="two-factor-secret">([A-Z2-7 ]+)<', page).group(1)
    assert shown.replace(" ", "") == params["secret"]
    assert all(len(group) == 4 for group in shown.split())
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert not two_factor_enabled(user=owner.user)  # nothing protected yet

    wrong = totp_code(device.bin_key, clock.now + 3600)
    page = text(client.post(ENABLE, {"code": wrong}))
    assert "Code incorrect" in page
    assert not two_factor_enabled(user=owner.user)

    # The code the app computes from the scanned secret.
    code = totp_code(b32decode(params["secret"]), clock.now)
    response = client.post(ENABLE, {"code": code})
    assert response.status_code == 302 and response.url == CODES
    assert two_factor_enabled(user=owner.user)

    codes_page = client.get(CODES)
    shown_codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", text(codes_page))
    assert len(shown_codes) == 10
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert {c.replace("-", "") for c in shown_codes} == stored
    download = client.get(f"{CODES}?format=txt")
    assert download["Content-Type"].startswith("text/plain")
    assert "attachment" in download["Content-Disposition"]
    assert all(c in download.content.decode() for c in shown_codes)
    # Once noted, never shown again.
    assert client.post(CODES).status_code == 302
    assert client.get(CODES).url == SECURITY

    event = AuditEvent.objects.get(action="two_factor.enabled")
    assert (event.actor, event.organisation) == (owner.user, owner.organisation)
    [email] = emails("two_factor_enabled")
    assert email.to == "owner@example.com"
    assert "double authentification est activée" in email.body_text
    page = text(client.get(SECURITY))
    assert 'data-testid="two-factor-on"' in page and "Il vous reste 10 codes" in page


def test_a_new_secret_replaces_an_unfinished_enrolment(client, manager, clock):
    client.force_login(manager.user)
    client.post(ENABLE)
    first = TOTPDevice.objects.get().key
    client.post(ENABLE)
    assert TOTPDevice.objects.get().key != first
    # A program manager may use it too; the owners' paragraph is not theirs.
    assert "Vous êtes propriétaire du compte" not in text(client.get(SECURITY))


# --- The sign-in's second step ----------------------------------------------------------


def test_the_password_alone_does_not_sign_in_then_the_code_does(client, owner, clock):
    two_factor_on(owner.user, clock)

    response = password_step(client)
    assert response.status_code == 302 and response.url == LOGIN_CODE
    assert not signed_in(client)
    assert client.get(HOME).status_code == 302  # still anonymous: to the sign-in page
    page = text(client.get(LOGIN_CODE))
    assert "Vérification en deux étapes" in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page

    response = code_step(client, code_for(owner.user, clock))
    assert response.status_code == 302 and response.url == HOME
    assert int(client.session["_auth_user_id"]) == owner.user.pk
    event = AuditEvent.objects.get(action="user.signed_in")
    assert event.after == {"method": "password", "second_factor": "totp"}


def test_the_next_parameter_survives_the_second_step(client, owner, clock):
    two_factor_on(owner.user, clock)
    target = reverse("portal:invoices")
    client.post(LOGIN, {"username": "owner@example.com", "password": PASSWORD, "next": target})
    assert code_step(client, code_for(owner.user, clock)).url == target


def test_codes_of_the_next_and_previous_steps_are_accepted_not_further(client, owner, clock):
    two_factor_on(owner.user, clock)
    clock.next_step()  # the step before is not the one spent on enabling it
    password_step(client)
    assert "Code incorrect" in text(code_step(client, code_for(owner.user, clock, steps=2)))
    throttle_passes(owner.user)
    assert code_step(client, code_for(owner.user, clock, steps=-1)).status_code == 302
    assert signed_in(client)


def test_a_code_already_used_is_refused(client, owner, clock):
    two_factor_on(owner.user, clock)
    code = code_for(owner.user, clock)
    password_step(client)
    code_step(client, code)
    assert signed_in(client)
    client.logout()

    password_step(client)
    response = code_step(client, code)  # the same code, still on the phone's screen
    assert "Code incorrect" in text(response)
    assert not signed_in(client)
    clock.next_step()
    throttle_passes(owner.user)
    assert code_step(client, code_for(owner.user, clock)).status_code == 302


def test_wrong_codes_count_toward_the_lockout(client, owner, settings, clock):
    two_factor_on(owner.user, clock)
    password_step(client)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = code_step(client, "000000")
        assert response.status_code == 200
        assert not signed_in(client)
        throttle_passes(owner.user)
    assert AccessAttempt.objects.get(username="owner@example.com").failures_since_start == (
        settings.AXES_FAILURE_LIMIT - 1
    )

    locked = code_step(client, "000000")
    assert locked.status_code == 429
    assert "Trop de tentatives" in text(locked)
    # The right code now: the pending sign-in is over, and the password is refused too.
    throttle_passes(owner.user)
    assert code_step(client, code_for(owner.user, clock)).url == LOGIN
    assert password_step(client).status_code == 429
    assert not signed_in(client)


def test_a_locked_account_refuses_even_the_right_code(client, owner, settings, clock):
    """Wrong passwords from elsewhere lock the account while a code step is pending."""
    two_factor_on(owner.user, clock)
    password_step(client)
    for n in range(settings.AXES_FAILURE_LIMIT):
        password_step(client.__class__(), password="wrong", address=f"203.0.113.{n + 1}")
    response = code_step(client, code_for(owner.user, clock))
    assert response.status_code == 429
    assert not signed_in(client)


def test_after_wrong_codes_the_wait_grows_up_to_five_minutes(owner, clock):
    """Each failure doubles the wait before the next try, up to 5 minutes: someone holding
    the password or the emailed link cannot lock the owner out for days. A try during the
    wait is refused unchecked and does not extend it."""
    two_factor_on(owner.user, clock)
    right = code_for(owner.user, clock)
    with pytest.raises(ValidationError, match="Code incorrect"):
        two_factor_verify(user=owner.user, code="000000")
    with pytest.raises(ValidationError, match="Trop d'essais : patientez 1 seconde"):
        two_factor_verify(user=owner.user, code=right)
    assert TOTPDevice.objects.get().throttling_failure_count == 1

    TOTPDevice.objects.update(
        throttling_failure_count=40,
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=299),
    )
    with pytest.raises(ValidationError, match="Trop d'essais"):
        two_factor_verify(user=owner.user, code=right)
    TOTPDevice.objects.update(throttling_failure_timestamp=timezone.now() - timedelta(seconds=301))
    assert two_factor_verify(user=owner.user, code=right).method == "totp"
    assert TOTPDevice.objects.get().throttling_failure_count == 0


def test_a_recovery_code_signs_in_once(client, owner, clock):
    codes = two_factor_on(owner.user, clock)
    password_step(client)
    page = text(client.get(f"{LOGIN_CODE}?method=recovery"))
    assert "Code de secours" in page and 'inputmode="numeric"' not in page

    typed = f" {codes[0][:4].upper()}-{codes[0][4:]} "  # as written on paper
    response = client.post(f"{LOGIN_CODE}?method=recovery", {"code": typed}, follow=True)
    assert signed_in(client)
    assert "Il vous en reste 9" in text(response)
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    assert AuditEvent.objects.get(action="two_factor.recovery_used").after["left"] == 9
    client.logout()

    password_step(client)
    response = code_step(client, codes[0], recovery=True)
    assert "Code de secours incorrect ou déjà utilisé" in text(response)
    assert not signed_in(client)


def test_the_last_recovery_code_says_to_make_new_ones(client, owner, clock):
    codes = two_factor_on(owner.user, clock)
    StaticToken.objects.exclude(token=codes[0]).delete()
    password_step(client)
    response = client.post(f"{LOGIN_CODE}?method=recovery", {"code": codes[0]}, follow=True)
    assert "votre dernier code de secours" in text(response)


def test_the_pending_sign_in_expires(client, owner, settings, clock):
    two_factor_on(owner.user, clock)
    password_step(client)
    clock.advance(settings.TWO_FACTOR_PENDING_SECONDS + 1)
    response = client.post(LOGIN_CODE, {"code": code_for(owner.user, clock)}, follow=True)
    assert response.redirect_chain[0] == (LOGIN, 302)
    assert "Le délai pour saisir le code est dépassé" in text(response)
    assert not signed_in(client)
    # Without a pending sign-in the page just leads to the sign-in.
    assert client.get(LOGIN_CODE).url == LOGIN


def test_a_password_changed_meanwhile_ends_the_pending_sign_in(client, owner, clock):
    two_factor_on(owner.user, clock)
    password_step(client)
    owner.user.set_password("a-new-password-2026")
    owner.user.save()
    assert code_step(client, code_for(owner.user, clock)).url == LOGIN
    assert not signed_in(client)


def test_a_wrong_password_looks_the_same_with_or_without_a_second_factor(
    client, owner, manager, clock
):
    """The second step shows only after the right password: a wrong one tells nothing."""
    two_factor_on(owner.user, clock)

    def page(email):
        body = text(password_step(client, email=email, password="wrong"))
        body = re.sub(r'(value=|"X-CSRFToken": )"[^"]+"', "-", body)
        return re.sub(r'nonce="[^"]+"', "-", body).replace(email, "EMAIL")

    assert page("owner@example.com") == page("manager@example.com")


def test_without_a_second_factor_the_password_signs_in(client, manager, clock):
    TOTPDevice.objects.create(user=manager.user, confirmed=False)  # an unfinished enrolment
    response = password_step(client, email="manager@example.com")
    assert response.url == HOME and signed_in(client)


# --- Recovery codes, turning it off -----------------------------------------------------


def test_new_recovery_codes_need_a_current_code_and_revoke_the_old_ones(client, owner, clock):
    old = two_factor_on(owner.user, clock)
    client.force_login(owner.user)
    page = text(client.get(RECOVERY))
    assert 'autocomplete="one-time-code"' in page

    assert "Code incorrect" in text(client.post(RECOVERY, {"code": "123456"}))
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(old)
    throttle_passes(owner.user)

    response = client.post(RECOVERY, {"code": code_for(owner.user, clock)})
    assert response.url == CODES
    new = set(StaticToken.objects.values_list("token", flat=True))
    assert len(new) == 10 and not new & set(old)
    assert AuditEvent.objects.filter(action="two_factor.recovery_regenerated").count() == 1
    assert len(emails("two_factor_recovery_regenerated")) == 1


@pytest.mark.parametrize("how", ["password", "code", "recovery"])
def test_turning_it_off_asks_the_password_or_a_code(client, owner, clock, how):
    codes = two_factor_on(owner.user, clock)
    client.force_login(owner.user)
    page = text(client.post(DISABLE, {}))
    assert "Saisissez votre mot de passe ou un code" in page
    page = text(client.post(DISABLE, {"password": "wrong"}))
    assert "Mot de passe incorrect" in page
    assert two_factor_enabled(user=owner.user)

    data = {
        "password": {"password": PASSWORD},
        "code": {"code": code_for(owner.user, clock)},
        "recovery": {"code": codes[3]},
    }[how]
    response = client.post(DISABLE, data, follow=True)
    assert "La double authentification est désactivée" in text(response)
    assert not TOTPDevice.objects.exists() and not StaticDevice.objects.exists()
    assert AuditEvent.objects.filter(action="two_factor.disabled").count() == 1
    assert len(emails("two_factor_disabled")) == 1
    client.logout()
    assert password_step(client).url == HOME  # the password alone again


def test_guessing_the_password_to_turn_it_off_is_limited(client, owner, clock):
    two_factor_on(owner.user, clock)
    client.force_login(owner.user)
    for _ in range(5):
        client.post(DISABLE, {"password": "wrong"})
    page = text(client.post(DISABLE, {"password": PASSWORD}))
    assert "Trop d'essais" in page
    assert two_factor_enabled(user=owner.user)


# --- Support's reset --------------------------------------------------------------------


def test_support_resets_a_lost_phone(client, owner, manager, support_user, clock):
    two_factor_on(owner.user, clock)
    url = reverse(
        "admin:accounts_organisation_two_factor_reset", args=[owner.organisation.pk, owner.pk]
    )

    client.force_login(manager.user)
    assert client.post(url, {"reason": "x"}).status_code == 302  # to the admin's sign-in
    assert two_factor_enabled(user=owner.user)

    client.force_login(support_user)
    account_page = text(
        client.get(reverse("admin:accounts_organisation_change", args=[owner.organisation.pk]))
    )
    assert url in account_page
    assert "Vérifiez d'abord l'identité" in text(client.get(url))
    assert "Ce champ est obligatoire" in text(client.post(url, {"reason": ""}))
    assert two_factor_enabled(user=owner.user)

    response = client.post(url, {"reason": "Téléphone perdu, identité vérifiée par rappel"})
    assert response.status_code == 302
    assert not two_factor_enabled(user=owner.user)
    assert not StaticToken.objects.exists()
    event = AuditEvent.objects.get(action="two_factor.reset")
    assert event.actor == support_user and event.actor_label.startswith("support: ")
    assert event.after["reason"] == "Téléphone perdu, identité vérifiée par rappel"
    [email] = emails("two_factor_reset")
    assert email.to == "owner@example.com"
    # django-otp's own admin pages (secrets, codes, no audit) are not there.
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404
    # Nothing left to reset.
    assert "pas de double authentification" in text(client.post(url, {"reason": "encore"}))
    client.logout()
    assert password_step(client).url == HOME


# --- With the identity provider's sign-in -----------------------------------------------


def test_with_the_identity_providers_sign_in_there_is_no_second_step_here(
    client, owner, settings, clock
):
    two_factor_on(owner.user, clock)
    settings.PASSWORD_SIGN_IN = False
    client.force_login(owner.user)
    for url in (SECURITY, ENABLE, CODES, RECOVERY, DISABLE, LOGIN_CODE):
        assert client.get(url).status_code == 404, url
        assert client.post(url).status_code == 404, url
    assert SECURITY not in text(client.get(reverse("portal:contacts")))
    assert not two_factor_enabled(user=owner.user)

    settings.PASSWORD_SIGN_IN = True
    assert SECURITY in text(client.get(reverse("portal:contacts")))
