from django.urls import path

from . import views

# Mounted under the portal namespace ("portal:") by billing_portal/urls.py.
portal_patterns = [
    path("subscription/", views.subscription_tab, name="subscription"),
    path("subscription/upgrade/", views.upgrade, name="upgrade"),
    path("subscription/upgrade/request/", views.upgrade_request, name="upgrade_request"),
    path("subscription/close/", views.closure, name="closure"),
]

# Outside the portal (public or reached from an email link).
public_patterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("confirm/<str:token>/", views.confirm, name="subscription_confirm"),
]
