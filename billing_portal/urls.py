from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as account_views
from accounts.forms import OutboxPasswordResetForm
from invoices import views as invoice_views
from subscriptions import views as subscription_views

portal_patterns = [
    path("", account_views.home, name="home"),
    path("contacts/", account_views.contacts, name="contacts"),
    path("contacts/owner/", account_views.owner_change, name="owner_change"),
    path("contacts/add/", account_views.contact_add, name="contact_add"),
    path("contacts/<int:pk>/edit/", account_views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/remove/", account_views.contact_remove, name="contact_remove"),
    path("invoices/", invoice_views.invoices_tab, name="invoices"),
    path("subscription/", subscription_views.subscription_tab, name="subscription"),
]

auth_patterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(form_class=OutboxPasswordResetForm),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home"), name="root"),
    path("billing/", include((portal_patterns, "portal"))),
    path("accounts/", include(auth_patterns)),
    path("support/contact/", account_views.support_contact, name="support_contact"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
