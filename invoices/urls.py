from django.urls import path

from . import views

# Mounted under the portal namespace ("portal:") by billing_portal/urls.py.
portal_patterns = [
    path("invoices/", views.invoices_tab, name="invoices"),
]
