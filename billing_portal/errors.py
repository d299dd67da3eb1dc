"""Error pages Django would otherwise draw itself, outside the site's layout."""

from django.shortcuts import render


def csrf_failure(request, reason=""):
    """A form posted without its valid CSRF token (it expired, cookies were cleared): a page
    of the site that says what to do, instead of Django's English page with its inline style,
    which the CSP refuses."""
    return render(request, "403_csrf.html", status=403)
