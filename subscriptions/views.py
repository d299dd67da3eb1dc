from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import TwoFactorCodeForm, service_errors
from accounts.permissions import client_ip, membership_chosen, portal_view
from accounts.two_factor import two_factor_enabled
from invoices.selectors import amount_due_summary

from . import selectors, services, tokens
from .comparison import comparison
from .forms import UpgradeForm
from .mandate_views import mandate_confirm_context
from .models import Confirmation
from .pricing import plan_change_kind, upgrade_choices, upgrade_quote
from .tokens import LinkError, LinkProblem

TAB_TEMPLATE = "subscriptions/subscription.html"


def _render_tab(request, fragment=None, **extra):
    """The whole tab for a browser, or just `fragment` for htmx."""
    template = TAB_TEMPLATE
    if request.htmx and fragment:
        template = f"{TAB_TEMPLATE}#{fragment}"
    page = selectors.subscription_page(organisation=request.organisation, user=request.user)
    form = extra.get("upgrade_form") or _upgrade_form(page)
    context = {
        "tab": "subscription",
        "page": page,
        "can_upgrade": form.can_upgrade,
        "grace_days": settings.CLOSURE_GRACE_DAYS,
        **extra,
    }
    if template == TAB_TEMPLATE:
        # The closure dialog names what the open invoices still ask.
        context["amount_due"] = amount_due_summary(organisation=request.organisation)
    return render(request, template, context)


def _upgrade_form(page, data=None):
    subscription = page.subscription
    choices = upgrade_choices(subscription=subscription)
    form = UpgradeForm(
        data,
        plans=choices.plans,
        current=subscription.plan if subscription else None,
        proposed=choices.proposed,
    )
    # On the top plan there is nothing to upgrade to: « Mettre à niveau » is not offered.
    form.can_upgrade = choices.proposed is not None and (
        subscription is None or choices.proposed.pk != subscription.plan_id
    )
    return form


def _upgrade_preview(page, form) -> dict:
    """What choosing the form's plan means: the prorated amount of a higher plan, or the
    reason a plan is refused ("same": the current plan; "downgrade": ask support)."""
    if page.subscription is None or not form.is_valid():
        return {}
    plan = form.cleaned_data["plan"]
    change = plan_change_kind(current=page.subscription.plan, target=plan)
    if change != "upgrade":
        return {"refused": plan, "refusal": change}
    with service_errors(form):
        return {
            "quote": upgrade_quote(
                subscription=page.subscription, plan=plan, today=timezone.localdate()
            )
        }
    return {}


def _render_upgrade(request, page, form, **extra):
    """The upgrade section (or, for the htmx request of the drop-down, its preview)."""
    fragment = "upgrade-section"
    if request.htmx and request.htmx.target == "upgrade-preview":
        fragment = "upgrade-preview"
    return _render_tab(
        request,
        fragment,
        upgrading=form.can_upgrade,
        upgrade_form=form,
        **_upgrade_preview(page, form),
        **extra,
    )


@portal_view(owner_only=True)
def subscription_tab(request):
    return _render_tab(request)


@portal_view(owner_only=True)
def upgrade(request):
    """« Mettre à niveau »: the drop-down and, at once, what the chosen plan means (GET
    ?plan=, sent by htmx when the choice changes). Changes nothing.

    A higher plan shows the prorated amount, the current plan says so, a lower plan gets
    the "ask support" message. « Sauvegarder » posts to `upgrade_request`.
    """
    page = selectors.subscription_page(organisation=request.organisation, user=request.user)
    if page.subscription is None or not page.subscription.is_active:
        return _render_tab(request, "upgrade-section")
    form = _upgrade_form(page, request.GET if "plan" in request.GET else None)
    if not form.is_bound:
        # The proposed plan's amount shows as soon as the form opens.
        form = _upgrade_form(page, {"plan": form["plan"].value()})
    return _render_upgrade(request, page, form)


@portal_view(methods=("POST",), owner_only=True)
def upgrade_request(request):
    """« Sauvegarder »: email the link that confirms the upgrade (the email and the page of
    the link show the amount again before anything changes). Also « Renvoyer l'e-mail » (a
    fresh link), and « Voir le montant », the preview without JavaScript."""
    page = selectors.subscription_page(organisation=request.organisation, user=request.user)
    form = _upgrade_form(page, request.POST)
    if "preview" in request.POST or not form.is_valid():
        return _render_upgrade(request, page, form)
    plan = form.cleaned_data["plan"]
    subscription = page.subscription
    if subscription and plan_change_kind(current=subscription.plan, target=plan) != "upgrade":
        # The current or a lower plan: say so in place, send nothing.
        return _render_upgrade(request, page, form)
    with service_errors(form):
        services.upgrade_request(
            organisation=request.organisation,
            plan=plan,
            actor=request.user,
            ip=client_ip(request),
        )
        messages.success(
            request,
            _("Nous vous avons envoyé un e-mail pour confirmer la mise à niveau."),
        )
        if request.htmx:
            return _render_tab(request, "upgrade-section")
        return redirect("portal:subscription")
    return _render_upgrade(request, page, form)


@portal_view(methods=("GET", "POST"), owner_only=True)
def closure(request):
    """« Supprimer le compte »: the page behind the dialog (used as is without JavaScript).

    POST only sends the confirmation email; the account closes when the link is confirmed.
    """
    if request.method == "POST":
        services.closure_request(
            organisation=request.organisation, actor=request.user, ip=client_ip(request)
        )
        messages.success(
            request, _("Nous vous avons envoyé un e-mail pour confirmer la fermeture du compte.")
        )
        return redirect("portal:subscription")
    return render(
        request,
        "subscriptions/closure.html",
        {
            "tab": "subscription",
            "grace_days": settings.CLOSURE_GRACE_DAYS,
            "amount_due": amount_due_summary(organisation=request.organisation),
        },
    )


# --- Public pages ---------------------------------------------------------------------


@require_GET
def pricing(request):
    """« Comparer les forfaits »: open to everyone. The owner of an open account (who sees
    the « Abonnement » tab) gets it in the account's currency, with their plan marked, the
    links to upgrade and their VAT; anyone else the public comparison, in their account's
    currency or in euros."""
    membership = membership_chosen(request)  # the account chosen in the header
    organisation = selectors.subscription_account(membership)
    if organisation is not None:
        currency = organisation.currency
    else:
        currency = selectors.visitor_currency(membership)
    table = comparison(currency=currency, organisation=organisation)
    return render(request, "subscriptions/pricing.html", {"table": table})


PROBLEM_STATUS = {LinkProblem.UNKNOWN: 404}


def _link_response(response):
    # The URL is a credential: no caching, no indexing. The site-wide Referrer-Policy
    # (same-origin) already keeps it from other sites; "no-referrer" would make browsers
    # send "Origin: null" with the Confirmer form, which CSRF protection rightly refuses.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _problem(request, problem, confirmation=None):
    return _link_response(
        render(
            request,
            "subscriptions/confirm_problem.html",
            {
                "problem": problem,
                "confirmation": confirmation,
                "link_hours": settings.CONFIRMATION_LINK_HOURS,
            },
            status=PROBLEM_STATUS.get(problem, 410),
        )
    )


CONFIRM_SERVICES = {
    Confirmation.Kind.UPGRADE: services.upgrade_confirm,
    Confirmation.Kind.CLOSURE: services.closure_confirm,
    Confirmation.Kind.MANDATE: services.mandate_confirm,
    Confirmation.Kind.MANDATE_REVOKE: services.mandate_revoke_confirm,
}


# Confirmations that ask the owner's code again when their sign-in has a second factor.
STEP_UP_KINDS = {Confirmation.Kind.UPGRADE, Confirmation.Kind.CLOSURE}


def _step_up_form(confirmation, data=None) -> TwoFactorCodeForm | None:
    """The code field of an upgrade or a closure whose owner has a second factor: the code
    of the owner who asked (the link's author, checked to still be the owner), whoever
    opened the link, signed in or not."""
    owner = confirmation.requested_by
    if confirmation.kind not in STEP_UP_KINDS or not two_factor_enabled(user=owner):
        return None
    return TwoFactorCodeForm(
        data,
        user=owner,
        help_text=_(
            "La double authentification protège la connexion de %(email)s : saisissez le "
            "code à 6 chiffres de son application d'authentification (ou un code de secours)."
        )
        % {"email": owner.email},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """An emailed confirmation link. The token is the only credential, with, for an upgrade
    or a closure, the owner's code when their sign-in has a second factor (the step-up).

    GET shows what will happen and a « Confirmer » button, and changes nothing (mail
    scanners open links); POST applies it, once. Whoever is signed in, or nobody, does not
    matter: the action is the requester's, checked to still be the account's owner. A
    wrong or missing code shows the page again with the message; the link stays usable.
    """
    confirmation = tokens.confirmation_find(token)
    if confirmation is None:
        return _problem(request, LinkProblem.UNKNOWN)
    signed_in = request.user if request.user.is_authenticated else None
    if request.method == "POST":
        step_up = None
        if tokens.confirmation_problem(confirmation) is None:
            # A dead link says so (below) before any code is asked or counted.
            step_up = _step_up_form(confirmation, request.POST)
            if step_up is not None and not step_up.is_valid():
                return _confirm_page(request, confirmation, signed_in, step_up)
        extra = {"second_factor": step_up.proof} if step_up is not None else {}
        try:
            CONFIRM_SERVICES[confirmation.kind](
                token=token, ip=client_ip(request), signed_in=signed_in, **extra
            )
        except LinkError as exc:
            if exc.problem != LinkProblem.USED:
                return _problem(request, exc.problem, exc.confirmation)
            # A double click: the first one did it; show the outcome like a reload would.
        except (ValidationError, PermissionDenied):
            return _problem(request, LinkProblem.STALE, confirmation)
        return redirect("subscription_confirm", token=token)
    return _confirm_page(request, confirmation, signed_in, _step_up_form(confirmation))


def _confirm_page(request, confirmation, signed_in, step_up):
    problem = tokens.confirmation_problem(confirmation)
    if problem and problem != LinkProblem.USED:
        return _problem(request, problem, confirmation)
    context = {
        "confirmation": confirmation,
        "done": problem == LinkProblem.USED,
        "other_user": signed_in is not None and signed_in.pk != confirmation.requested_by_id,
        "grace_days": settings.CLOSURE_GRACE_DAYS,
        "step_up": step_up,
    }
    if confirmation.mandate_id:
        context.update(mandate_confirm_context(confirmation))
    if confirmation.kind == Confirmation.Kind.CLOSURE and not context["done"]:
        context["amount_due"] = amount_due_summary(organisation=confirmation.organisation)
    if confirmation.kind == Confirmation.Kind.UPGRADE and not context["done"]:
        subscription = confirmation.organisation.subscription
        try:
            context["quote"] = upgrade_quote(
                subscription=subscription, plan=confirmation.plan, today=timezone.localdate()
            )
        except ValidationError:
            return _problem(request, LinkProblem.STALE, confirmation)
    return _link_response(render(request, "subscriptions/confirm.html", context))
