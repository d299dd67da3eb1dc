from django.urls import path

from . import views

# Mounted under the portal namespace ("portal:") by billing_portal/urls.py.
portal_patterns = [
    path("subscription/", views.subscription_tab, name="subscription"),
]

# Outside the portal (public or reached from an email link).
public_patterns = []
