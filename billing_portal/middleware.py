from django.utils.cache import patch_vary_headers


class VaryOnHtmxMiddleware:
    """Every URL answers htmx with a fragment and a browser with a page: caches must know."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_vary_headers(response, ["HX-Request"])
        return response
