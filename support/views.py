from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.permissions import client_ip, membership_chosen

from . import services
from .forms import SupportRequestForm
from .models import SupportRequest


@require_http_methods(["GET", "POST"])
def contact(request):
    """« Besoin d'aide ? Contactez-nous » — open to everyone, signed in or not."""
    signed_in = request.user.is_authenticated
    topic = request.GET.get("topic", "")
    initial = {"topic": topic if topic in SupportRequest.Topic.values else "general"}
    form = SupportRequestForm(request.POST or None, signed_in=signed_in, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.support_request_create(
                user=request.user if signed_in else None,
                membership=membership_chosen(request),
                ip=client_ip(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except services.RateLimited:
            form.add_error(
                None,
                _(
                    "Vous avez envoyé beaucoup de messages en peu de temps. "
                    "Réessayez dans une heure, ou écrivez-nous directement par e-mail."
                ),
            )
            status = 429
        else:
            return redirect("support_contact_sent")
    return render(request, "support/contact.html", {"form": form}, status=status)


@require_http_methods(["GET"])
def contact_sent(request):
    return render(request, "support/contact_sent.html")
