from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from . import selectors, services
from .forms import ContactForm, OwnerForm, service_errors
from .models import BillingContact
from .permissions import client_ip, portal_view

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


@portal_view()
def home(request):
    return redirect("portal:contacts")


@portal_view()
def contacts(request):
    return _render_contacts(request)


@portal_view(methods=("GET", "POST"), owner_only=True)
def owner_change(request):
    query = request.GET.get("q", "")[:100]
    form = OwnerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
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
    candidates = selectors.owner_candidates(organisation=request.organisation, query=query)
    if request.htmx and request.htmx.target == "owner-candidates":
        return render(request, f"{CONTACTS_TEMPLATE}#owner-candidates", {"candidates": candidates})
    return _render_contacts(
        request,
        "owner-section",
        owner_form=form,
        candidates=candidates,
        query=query,
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
