from django.shortcuts import render

from accounts.permissions import portal_view


@portal_view(owner_only=True)
def subscription_tab(request):
    return render(request, "subscriptions/subscription.html", {"tab": "subscription"})
