from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _


class VaryOnHtmxMiddleware:
    """Every URL answers htmx with a fragment and a browser with a page: caches must know."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_vary_headers(response, ["HX-Request"])
        return response


class RejectNullBytesMiddleware:
    """A NUL byte in a parameter is never legitimate and PostgreSQL refuses to store or
    compare it: answer 400 up front instead of failing deep in a query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        params = [request.GET]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            params.append(request.POST)
        for query_dict in params:
            for key, values in query_dict.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return _bad_request(request, _("Caractère non autorisé dans la requête."))
        if "\x00" in request.path:
            return _bad_request(request, _("Caractère non autorisé dans la requête."))
        return self.get_response(request)


def _bad_request(request, message):
    """The 400 page, a page of the site like the 403 and 404 ones (templates/400.html)."""
    return render(request, "400.html", {"message": message}, status=400)
