from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from . import selectors, services
from .forms import ContactForm, OwnerForm, service_errors
from .models import BillingContact
from .permissions import ACCOUNT_SESSION_KEY, client_ip, portal_view

CONTACTS_TEMPLATE = "accounts/contacts.html"


def _contacts_context(request, **extra):
    page = selectors.contacts_page(organisation=request.organisation)
    is_owner = request.membership.is_owner
    activity = selectors.recent_activity(organisation=request.organisation) if is_owner else []
    return {"tab": "contacts", "page": page, "is_owner": is_owner, "activity": activity, **extra}


def _render_contacts(request, fragment=None, *, changed=False, **extra):
    """The whole tab for a browser, or just `fragment` for htmx. After a change (`changed`),
    the recent activity follows out of band, so the new event shows without a reload."""
    context = _contacts_context(request, **extra)
    if not (request.htmx and fragment):
        return render(request, CONTACTS_TEMPLATE, context)
    html = render_to_string(f"{CONTACTS_TEMPLATE}#{fragment}", context, request=request)
    if changed and context["is_owner"]:
        html += render_to_string(
            f"{CONTACTS_TEMPLATE}#recent-activity", {**context, "oob": True}, request=request
        )
    return HttpResponse(html)


@portal_view(closed_owner=True)
def home(request):
    if request.organisation.is_closed:
        # All the owner of a closed account still has: its invoices.
        return redirect("portal:invoices")
    return redirect("portal:contacts")


# The tabs the switcher returns to, and whether a role may see them (portal_view's rules).
OWNER_TABS = {"invoices", "subscription"}


@login_required
@require_POST
def account_switch(request):
    """The header's switcher: work on another of one's accounts. A form (POST, CSRF),
    usable without JavaScript; the choice goes in the session, so every following request
    is about that account (accounts.permissions.membership_chosen). Back to the same tab,
    or to Contacts when the new role may not see it (a program manager has no Factures).
    Not an outer portal_view: it must work from the closed-account page too."""
    try:
        membership = services.organisation_choose(
            user=request.user, organisation_id=request.POST.get("organisation")
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("portal:home")
    request.session[ACCOUNT_SESSION_KEY] = membership.organisation_id
    organisation = membership.organisation
    messages.success(
        request,
        _("Vous consultez maintenant le compte « %(name)s ».") % {"name": organisation.name},
    )
    tab = request.POST.get("tab", "")
    if organisation.is_closed:
        # Its owner lands on its invoices, anyone else on the closed-account page.
        return redirect("portal:home")
    if tab in OWNER_TABS and membership.is_owner:
        return redirect(f"portal:{tab}")
    return redirect("portal:contacts")


@portal_view()
def contacts(request):
    return _render_contacts(request)


@portal_view(methods=("GET", "POST"), owner_only=True)
def owner_change(request):
    """« Modifier le propriétaire du compte »: search, choose, see what changes, save.

    Choosing a program manager previews the transfer in place (htmx GET with `new_owner`,
    target `owner-preview`): who becomes owner, what the current owner loses. The preview
    carries the chosen one in `previewed`; « Sauvegarder » applies the transfer only when it
    matches, otherwise (no JavaScript, or a choice changed since) it shows the preview and
    changes nothing: nobody loses the account without having read what it means.
    """
    query = request.GET.get("q", "")[:100]
    form = OwnerForm(request.POST or None)
    chosen = request.POST.get("new_owner") or request.GET.get("new_owner") or ""
    if request.method == "POST" and form.is_valid():
        if request.POST.get("previewed", "").strip() == form.cleaned_data["new_owner"]:
            with service_errors(form):
                services.ownership_transfer(
                    organisation=request.organisation,
                    new_owner_membership_id=form.cleaned_data["new_owner"],
                    actor=request.user,
                    ip=client_ip(request),
                )
                # Privileges changed: a new session key, so an old copied cookie is worthless.
                request.session.cycle_key()
                messages.success(request, _("Le propriétaire du compte a été modifié."))
                if request.htmx:
                    return HttpResponseClientRedirect(reverse("portal:contacts"))
                return redirect("portal:contacts")
    preview = None
    if chosen and not form.errors:
        preview = selectors.owner_candidate(organisation=request.organisation, membership_id=chosen)
        if preview is None and form.is_bound:
            form.add_error("new_owner", _("Choisissez un gestionnaire du programme de ce compte."))
    if request.htmx and request.htmx.target == "owner-preview":
        return render(request, f"{CONTACTS_TEMPLATE}#owner-preview", {"preview": preview})
    candidates = selectors.owner_candidates(organisation=request.organisation, query=query)
    if request.htmx and request.htmx.target == "owner-candidates":
        return render(request, f"{CONTACTS_TEMPLATE}#owner-candidates", {"candidates": candidates})
    return _render_contacts(
        request,
        "owner-section",
        owner_form=form,
        candidates=candidates,
        query=query,
        chosen=str(preview.pk) if preview else "",
        preview=preview,
        editing_owner=True,
    )


@portal_view(methods=("GET", "POST"), owner_only=True)
def contact_add(request):
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            services.contact_add(
                organisation=request.organisation,
                actor=request.user,
                ip=client_ip(request),
                **form.cleaned_data,
            )
            return _after_contact_change(request, _("Le contact a été ajouté."))
    return _render_contacts(request, "billing-contacts", contact_form=form, adding=True)


@portal_view(methods=("GET", "POST"), owner_only=True)
def contact_edit(request, pk):
    contact = get_object_or_404(BillingContact, organisation=request.organisation, pk=pk)
    initial = {"first_name": contact.first_name, "last_name": contact.last_name}
    initial["email"] = contact.email
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            services.contact_update(
                contact=contact, actor=request.user, ip=client_ip(request), **form.cleaned_data
            )
            return _after_contact_change(request, _("Le contact a été modifié."))
    return _render_contacts(request, "billing-contacts", contact_form=form, editing=contact.pk)


@portal_view(methods=("GET", "POST"), owner_only=True)
def contact_remove(request, pk):
    contact = get_object_or_404(BillingContact, organisation=request.organisation, pk=pk)
    if request.method == "POST":
        services.contact_remove(contact=contact, actor=request.user, ip=client_ip(request))
        return _after_contact_change(request, _("Le contact a été supprimé."))
    return _render_contacts(request, "billing-contacts", removing=contact.pk)


def _after_contact_change(request, message):
    messages.success(request, message)
    if request.htmx:
        return _render_contacts(request, "billing-contacts", changed=True)
    return redirect("portal:contacts")
