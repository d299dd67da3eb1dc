"""In-process measurements against the benchmark database: sessions for the load
generator, SQL queries per page, and the time to render an invoice PDF."""

import io
import statistics
import time

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from accounts.models import User
from invoices import pdf
from invoices.models import Invoice


def session_cookies(user_ids) -> dict[int, str]:
    """A signed-in session per user, as a browser's Cookie header (session + CSRF cookie),
    made the way django.contrib.auth.login() stores it."""
    cookies = {}
    for user in User.objects.filter(pk__in=list(user_ids)):
        store = SessionStore()
        store[SESSION_KEY] = user._meta.pk.value_to_string(user)
        store[BACKEND_SESSION_KEY] = "accounts.backends.PortalBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies[user.pk] = (
            f"{settings.SESSION_COOKIE_NAME}={store.session_key}; "
            f"{settings.CSRF_COOKIE_NAME}={_get_new_csrf_string()}"
        )
    return cookies


def _client(cookie: str) -> Client:
    client = Client(HTTP_HOST="127.0.0.1", HTTP_ACCEPT_LANGUAGE="fr")
    for part in cookie.split("; "):
        name, _, value = part.partition("=")
        client.cookies[name] = value
    return client


def count_queries(path: str, cookie: str) -> dict:
    """SQL queries of one request through the whole stack (the second one: warm)."""
    client = _client(cookie)
    for _attempt in range(2):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            response.close()
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code} in-process")
    return {
        "path": path,
        "queries": len(captured.captured_queries),
        "sql": [q["sql"] for q in captured.captured_queries],
    }


def pdf_render_ms(number: str, *, repeat: int = 50, warmup: int = 3) -> dict:
    """Median and spread of invoices.pdf.render_pdf on one invoice (nothing stored)."""
    invoice = Invoice.objects.get(number=number)
    times = []
    for index in range(warmup + repeat):
        start = time.perf_counter()
        content = pdf.render_pdf(invoice)
        elapsed = (time.perf_counter() - start) * 1000
        if index >= warmup:
            times.append(elapsed)
    pages = len(PdfReader(io.BytesIO(content)).pages)
    return {
        "number": number,
        "lines": invoice.lines.count(),
        "pages": pages,
        "bytes": len(content),
        "median_ms": round(statistics.median(times), 1),
        "p90_ms": round(statistics.quantiles(times, n=10)[-1], 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }
