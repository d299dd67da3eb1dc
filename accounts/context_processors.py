from django.conf import settings


def portal(request):
    """The header needs the signed-in user's membership (set by `portal_view` when known);
    the sign-in pages offer the password links only where password sign-in is on."""
    return {
        "membership": getattr(request, "membership", None),
        "password_sign_in": settings.PASSWORD_SIGN_IN,
    }
