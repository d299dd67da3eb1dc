"""The app's URLs plus two references the benchmark compares the pages with:

- /bench/baseline: plain text through the whole middleware stack, no query, no template:
  the fastest a page can be on this server;
- /bench/signed-in: the same, behind the portal's own permission decorator: the session,
  the user and the account membership are loaded as for every portal page, still no
  template: the floor of any signed-in portal page.
"""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from accounts.permissions import portal_view
from billing_portal.urls import urlpatterns as app_urlpatterns


@require_GET
def baseline(request):
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@portal_view()
def signed_in(request):
    return HttpResponse(f"{request.organisation.pk}\n", content_type="text/plain; charset=utf-8")


urlpatterns = [
    *app_urlpatterns,
    path("bench/baseline", baseline, name="bench_baseline"),
    path("bench/signed-in", signed_in, name="bench_signed_in"),
]
