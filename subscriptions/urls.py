from django.urls import path

from . import mandate_views, views

# Mounted under the portal namespace ("portal:") by billing_portal/urls.py.
portal_patterns = [
    path("subscription/", views.subscription_tab, name="subscription"),
    path("subscription/upgrade/", views.upgrade, name="upgrade"),
    path("subscription/upgrade/request/", views.upgrade_request, name="upgrade_request"),
    path("subscription/close/", views.closure, name="closure"),
    # The « Prélèvement SEPA » section of the Factures tab (served here: its changes are
    # confirmed by emailed links, which this app owns).
    path("direct-debit/", mandate_views.direct_debit, name="direct_debit"),
    path("direct-debit/sign/", mandate_views.mandate_sign, name="mandate_sign"),
    path("direct-debit/revoke/", mandate_views.mandate_revoke, name="mandate_revoke"),
    path(
        "direct-debit/<str:reference>/pdf/",
        mandate_views.mandate_pdf_download,
        name="mandate_pdf",
    ),
]

# Outside the portal (public or reached from an email link).
public_patterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("confirm/<str:token>/", views.confirm, name="subscription_confirm"),
]
