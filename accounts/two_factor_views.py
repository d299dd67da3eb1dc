"""Two-step sign-in, its pages: the sign-in's second step, and « Sécurité de la connexion »
where a member turns it on or off and renews their recovery codes (docs/security.md).

With PASSWORD_SIGN_IN off the identity provider owns the second factor: every page here is
a 404 and the user menu does not show the link.
"""

import time
from functools import wraps

from django.conf import settings
from django.contrib import auth, messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import services
from .forms import TwoFactorCodeForm, TwoFactorDisableForm, TwoFactorEnableForm, service_errors
from .models import User
from .permissions import client_ip, portal_view
from .services.two_factor import RECOVERY
from .sign_in import sign_in_failed, sign_in_locked
from .two_factor import (
    enrolment_device,
    otpauth_qr_data_uri,
    recovery_code_display,
    recovery_codes_left,
    secret_groups,
    two_factor_available,
    two_factor_device,
)

# The sign-in between the right password and the code: who, through which backend, the
# password hash's HMAC (a password changed meanwhile ends it), until when, and where to.
PENDING_KEY = "two_factor_pending"
# New recovery codes, until the user says they noted them (shown, downloaded, printed).
CODES_KEY = "two_factor_recovery_codes"


def _available(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not two_factor_available():
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


# --- The sign-in's second step ------------------------------------------------------------


def sign_in_pending_start(request, user: User, redirect_to: str):
    """The password was right and the user has a second factor: not signed in yet. The
    session remembers the user for TWO_FACTOR_PENDING_SECONDS; the code step finishes."""
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "hash": user.get_session_auth_hash(),
        "until": time.time() + settings.TWO_FACTOR_PENDING_SECONDS,
        "next": redirect_to,
    }
    return redirect("login_code")


def _pending(request) -> tuple[User, dict] | None:
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict) or state.get("until", 0) < time.time():
        return None
    user = User.objects.filter(pk=state.get("user"), is_active=True).first()
    if user is None or user.get_session_auth_hash() != state.get("hash"):
        return None
    if two_factor_device(user) is None:  # reset by support meanwhile: sign in again
        return None
    return user, state


def _recovery_message(proof) -> str:
    if proof.recovery_codes_left == 0:
        return _(
            "Vous vous êtes connecté avec votre dernier code de secours. Générez-en de "
            "nouveaux dès maintenant dans Sécurité de la connexion."
        )
    return ngettext(
        "Vous vous êtes connecté avec un code de secours, qui ne servira plus. "
        "Il vous en reste %(count)s.",
        "Vous vous êtes connecté avec un code de secours, qui ne servira plus. "
        "Il vous en reste %(count)s.",
        proof.recovery_codes_left,
    ) % {"count": proof.recovery_codes_left}


@never_cache
@_available
@require_http_methods(["GET", "POST"])
def sign_in_code(request):
    """« Vérification en deux étapes »: the 6-digit code from the app, or (?method=recovery)
    a recovery code. Only a right code signs in. A wrong one counts with django-axes like a
    wrong password; at the limit, the lockout page, and the pending sign-in ends."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    pending = _pending(request)
    if pending is None:
        if request.session.pop(PENDING_KEY, None) is not None:
            messages.error(
                request,
                _("Le délai pour saisir le code est dépassé : reconnectez-vous."),
            )
        return redirect("login")
    user, state = pending
    recovery = request.GET.get("method") == "recovery"
    form = TwoFactorCodeForm(
        request.POST if request.method == "POST" else None, user=user, recovery=recovery
    )
    if request.method == "POST":
        if sign_in_locked(request, user.email):
            request.session.pop(PENDING_KEY, None)
            return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
        if form.is_valid():
            del request.session[PENDING_KEY]
            auth.login(request, user, backend=state["backend"])
            services.sign_in_record(
                user=user, method="password", ip=client_ip(request), second_factor=form.proof.method
            )
            if form.proof.method == RECOVERY:
                messages.warning(request, _recovery_message(form.proof))
            return redirect(state["next"] or resolve_url(settings.LOGIN_REDIRECT_URL))
        if "code" in form.errors and request.POST.get("code", "").strip():
            sign_in_failed(request, user.email)
            if getattr(request, "axes_locked_out", False):
                # The middleware answers with the lockout page.
                request.session.pop(PENDING_KEY, None)
    return render(
        request,
        "registration/login_code.html",
        {"form": form, "recovery": recovery},
    )


# --- « Sécurité de la connexion » ---------------------------------------------------------


def _security_page(request, **extra):
    user = request.user
    device = two_factor_device(user)
    context = {
        "enabled": device is not None,
        "device": device,
        "recovery_left": recovery_codes_left(user) if device else 0,
        "enrolment": None if device else enrolment_device(user),
        "is_owner": request.membership.is_owner,
        **extra,
    }
    if context["enrolment"] is not None:
        context["qr"] = otpauth_qr_data_uri(context["enrolment"])
        context["secret"] = secret_groups(context["enrolment"])
        context.setdefault("enable_form", TwoFactorEnableForm())
    return render(request, "accounts/security.html", context)


@_available
@portal_view()
def security(request):
    """The page: whether the second step is on, and what can be done from here."""
    return _security_page(request)


@_available
@portal_view(methods=("GET", "POST"))
def two_factor_enable(request):
    """POST without a code starts (or starts again) the enrolment: a new secret, its QR
    code on the page. POST with the first code confirms it: then the recovery codes."""
    if request.method == "GET":
        return redirect("portal:security")
    if two_factor_device(request.user) is not None:
        return redirect("portal:security")
    if "code" not in request.POST:
        services.two_factor_enrol_start(user=request.user)
        return redirect(f"{resolve_url('portal:security')}#enrolment")
    form = TwoFactorEnableForm(request.POST)
    if form.is_valid():
        with service_errors(form):
            codes = services.two_factor_enable(
                user=request.user, code=form.cleaned_data["code"], ip=client_ip(request)
            )
            request.session[CODES_KEY] = codes
            messages.success(request, _("La double authentification est activée."))
            return redirect("portal:two_factor_codes")
    return _security_page(request, enable_form=form)


@never_cache
@_available
@portal_view(methods=("GET", "POST"))
def two_factor_codes(request):
    """The new recovery codes, shown until « J'ai noté mes codes » (POST); `?format=txt`
    downloads them as a text file. After that they are never shown again."""
    codes = request.session.get(CODES_KEY)
    if request.method == "POST" or not codes:
        request.session.pop(CODES_KEY, None)
        return redirect("portal:security")
    display = [recovery_code_display(code) for code in codes]
    if request.GET.get("format") == "txt":
        text = _("Codes de secours de %(email)s (%(site)s) — chacun ne sert qu'une fois :") % {
            "email": request.user.email,
            "site": settings.SITE_URL,
        }
        response = HttpResponse("\n".join([text, "", *display, ""]), content_type="text/plain")
        response["Content-Disposition"] = 'attachment; filename="codes-de-secours.txt"'
        return response
    return render(request, "accounts/recovery_codes.html", {"codes": display})


@_available
@portal_view(methods=("GET", "POST"))
def two_factor_recovery(request):
    """New recovery codes, the old ones revoked: asks a current code first."""
    if two_factor_device(request.user) is None:
        return redirect("portal:security")
    form = TwoFactorCodeForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            codes = services.two_factor_recovery_regenerate(
                user=request.user, proof=form.proof, ip=client_ip(request)
            )
            request.session[CODES_KEY] = codes
            messages.success(request, _("Vos nouveaux codes de secours remplacent les précédents."))
            return redirect("portal:two_factor_codes")
    return render(
        request,
        "accounts/two_factor_recovery.html",
        {"form": form},
    )


@_available
@portal_view(methods=("GET", "POST"))
def two_factor_disable(request):
    """Turn it off: asks the password or a code."""
    if two_factor_device(request.user) is None:
        return redirect("portal:security")
    form = TwoFactorDisableForm(
        request.POST if request.method == "POST" else None, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            services.two_factor_disable(
                user=request.user,
                password=form.cleaned_data["password"],
                proof=form.proof,
                ip=client_ip(request),
            )
            messages.success(request, _("La double authentification est désactivée."))
            return redirect("portal:security")
    return render(
        request,
        "accounts/two_factor_disable.html",
        {"form": form, "is_owner": request.membership.is_owner},
    )
