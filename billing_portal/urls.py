from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import sign_in_views, two_factor_views
from accounts import urls as accounts_urls
from accounts.forms import OutboxPasswordResetForm
from api.routes import api
from billing_portal import brand, health
from invoices import urls as invoices_urls
from subscriptions import urls as subscriptions_urls
from support import views as support_views

portal_patterns = accounts_urls.portal_patterns + invoices_urls.portal_patterns
portal_patterns += subscriptions_urls.portal_patterns

password_only = sign_in_views.password_sign_in_required

auth_patterns = [
    path("login/", sign_in_views.SignInView.as_view(), name="login"),
    path("login/code/", two_factor_views.sign_in_code, name="login_code"),
    path("logout/", sign_in_views.sign_out, name="logout"),
    path(
        "password-reset/",
        password_only(auth_views.PasswordResetView.as_view(form_class=OutboxPasswordResetForm)),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        password_only(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        password_only(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        password_only(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    # The identity provider's code flow (accounts/oidc.py). The callback's absolute URL is
    # the redirect URI registered at the provider (docs/integration.md).
    path(
        "oidc/authenticate/",
        sign_in_views.OIDCSignInStart.as_view(),
        name="oidc_authentication_init",
    ),
    path(
        "oidc/callback/",
        sign_in_views.OIDCSignInCallback.as_view(),
        name="oidc_authentication_callback",
    ),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home"), name="root"),
    path("billing/", include((portal_patterns, "portal"))),
    path("accounts/", include(auth_patterns)),
    path("support/contact/", support_views.contact, name="support_contact"),
    path("support/contact/sent/", support_views.contact_sent, name="support_contact_sent"),
    *subscriptions_urls.public_patterns,
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("brand.css", brand.brand_css, name="brand_css"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
