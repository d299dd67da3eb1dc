from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import service_errors
from accounts.permissions import client_ip, portal_view

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
    context = {
        "tab": "subscription",
        "page": page,
        "grace_days": settings.CLOSURE_GRACE_DAYS,
        **extra,
    }
    return render(request, template, context)


def _upgrade_form(request, page, data=None):
    subscription = page.subscription
    choices = upgrade_choices(subscription=subscription)
    return UpgradeForm(
        data,
        plans=choices.plans,
        current=subscription.plan if subscription else None,
        proposed=choices.proposed,
    )


@portal_view(owner_only=True)
def subscription_tab(request):
    return _render_tab(request)


@portal_view(owner_only=True)
def upgrade(request):
    """« Mettre à niveau »: choose a plan (GET ?plan=), then see what it costs. Changes nothing.

    A plan at or below the current one gets the "ask support" message; a higher one the
    prorated amount and the button that sends the confirmation email.
    """
    page = selectors.subscription_page(organisation=request.organisation, user=request.user)
    if page.subscription is None or not page.subscription.is_active:
        return _render_tab(request, "upgrade-section")
    form = _upgrade_form(request, page, request.GET if "plan" in request.GET else None)
    quote = downgrade = None
    if form.is_bound and form.is_valid():
        plan = form.cleaned_data["plan"]
        if plan_change_kind(current=page.subscription.plan, target=plan) != "upgrade":
            downgrade = plan
        else:
            with service_errors(form):
                quote = upgrade_quote(
                    subscription=page.subscription, plan=plan, today=timezone.localdate()
                )
    return _render_tab(
        request,
        "upgrade-section",
        upgrading=True,
        upgrade_form=form,
        quote=quote,
        downgrade=downgrade,
    )


@portal_view(methods=("POST",), owner_only=True)
def upgrade_request(request):
    """« Confirmer et recevoir l'e-mail », and « Renvoyer l'e-mail » (a fresh link)."""
    page = selectors.subscription_page(organisation=request.organisation, user=request.user)
    form = _upgrade_form(request, page, request.POST)
    if form.is_valid():
        with service_errors(form):
            services.upgrade_request(
                organisation=request.organisation,
                plan=form.cleaned_data["plan"],
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
    return _render_tab(request, "upgrade-section", upgrading=True, upgrade_form=form)


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
        {"tab": "subscription", "grace_days": settings.CLOSURE_GRACE_DAYS},
    )


# --- Public pages ---------------------------------------------------------------------


@require_GET
def pricing(request):
    """« Comparer les forfaits »: open to everyone. The owner of an open account (who sees
    the « Abonnement » tab) gets it in the account's currency, with their plan marked, the
    links to upgrade and their VAT; anyone else the public comparison, in their account's
    currency or in euros."""
    organisation = selectors.subscription_account(request.user)
    if organisation is not None:
        currency = organisation.currency
    else:
        currency = selectors.visitor_currency(request.user)
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


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """An emailed confirmation link. The token is the only credential.

    GET shows what will happen and a « Confirmer » button, and changes nothing (mail
    scanners open links); POST applies it, once. Whoever is signed in, or nobody, does not
    matter: the action is the requester's, checked to still be the account's owner.
    """
    confirmation = tokens.confirmation_find(token)
    if confirmation is None:
        return _problem(request, LinkProblem.UNKNOWN)
    signed_in = request.user if request.user.is_authenticated else None
    if request.method == "POST":
        try:
            CONFIRM_SERVICES[confirmation.kind](
                token=token, ip=client_ip(request), signed_in=signed_in
            )
        except LinkError as exc:
            if exc.problem != LinkProblem.USED:
                return _problem(request, exc.problem, exc.confirmation)
            # A double click: the first one did it; show the outcome like a reload would.
        except (ValidationError, PermissionDenied):
            return _problem(request, LinkProblem.STALE, confirmation)
        return redirect("subscription_confirm", token=token)

    problem = tokens.confirmation_problem(confirmation)
    if problem and problem != LinkProblem.USED:
        return _problem(request, problem, confirmation)
    context = {
        "confirmation": confirmation,
        "done": problem == LinkProblem.USED,
        "other_user": signed_in is not None and signed_in.pk != confirmation.requested_by_id,
        "grace_days": settings.CLOSURE_GRACE_DAYS,
    }
    if confirmation.mandate_id:
        context.update(mandate_confirm_context(confirmation))
    if confirmation.kind == Confirmation.Kind.UPGRADE and not context["done"]:
        subscription = confirmation.organisation.subscription
        try:
            context["quote"] = upgrade_quote(
                subscription=subscription, plan=confirmation.plan, today=timezone.localdate()
            )
        except ValidationError:
            return _problem(request, LinkProblem.STALE, confirmation)
    return _link_response(render(request, "subscriptions/confirm.html", context))
