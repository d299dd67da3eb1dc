from django.http import HttpResponseBadRequest
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
                    return HttpResponseBadRequest(
                        _("Caractère non autorisé dans la requête."),
                        content_type="text/plain; charset=utf-8",
                    )
        if "\x00" in request.path:
            return HttpResponseBadRequest(content_type="text/plain; charset=utf-8")
        return self.get_response(request)
