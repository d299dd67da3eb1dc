from django.urls import path

from . import views

# Mounted under the portal namespace ("portal:") by billing_portal/urls.py.
portal_patterns = [
    path("invoices/", views.invoices_tab, name="invoices"),
    path("invoices/address/", views.address_edit, name="organisation_address"),
    path("invoices/vat/", views.vat_edit, name="organisation_vat"),
    path("invoices/siren/", views.siren_edit, name="organisation_siren"),
    path(
        "invoices/delivery-address/",
        views.delivery_address_edit,
        name="organisation_delivery_address",
    ),
    path("invoices/references/", views.references_edit, name="organisation_references"),
    path("invoices/export.zip", views.invoices_export_zip, name="invoices_export_zip"),
    path("invoices/export.csv", views.invoices_export_csv, name="invoices_export_csv"),
    path("invoices/<str:number>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<str:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("invoices/<str:number>/factur-x.xml", views.invoice_facturx, name="invoice_facturx"),
    path("invoices/<str:number>/ubl.xml", views.invoice_ubl, name="invoice_ubl"),
]
