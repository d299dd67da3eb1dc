from django.urls import path

from . import two_factor_views, views

# Mounted under the portal namespace ("portal:") by billing_portal/urls.py.
portal_patterns = [
    path("", views.home, name="home"),
    # The header's account switcher (a person with several accounts).
    path("account/", views.account_switch, name="account_switch"),
    path("contacts/", views.contacts, name="contacts"),
    path("contacts/owner/", views.owner_change, name="owner_change"),
    path("contacts/add/", views.contact_add, name="contact_add"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/remove/", views.contact_remove, name="contact_remove"),
    # « Sécurité de la connexion »: two-step sign-in (password sign-in only).
    path("security/", two_factor_views.security, name="security"),
    path("security/enable/", two_factor_views.two_factor_enable, name="two_factor_enable"),
    path("security/codes/", two_factor_views.two_factor_codes, name="two_factor_codes"),
    path("security/recovery/", two_factor_views.two_factor_recovery, name="two_factor_recovery"),
    path("security/disable/", two_factor_views.two_factor_disable, name="two_factor_disable"),
]
