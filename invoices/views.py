from django.shortcuts import render

from accounts.permissions import portal_view


@portal_view(owner_only=True)
def invoices_tab(request):
    return render(request, "invoices/invoices.html", {"tab": "invoices"})
