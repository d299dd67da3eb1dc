"""Liveness and readiness probes for the load balancer and the orchestrator.

Readiness answers within `READINESS_TIMEOUT` seconds whatever its dependencies do: the
database and the broker are asked at the same time, each in a thread of its own, and one
that has not answered by then counts as down. A broker or database that accepts
connections but never answers therefore cannot hold the web threads (and, behind them,
the liveness probe).
"""

import threading
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

# One second, so that a probe answers well inside the 2 s an orchestrator is told to wait
# even on a loaded host (thread start-up, a fresh database connection).
READINESS_TIMEOUT = 1.0


@never_cache
@require_GET
def healthz(request):
    """The process is up and answering (no dependency is checked)."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    finally:
        # This thread's own connection: never left open behind a finished probe.
        connection.close()


def _broker_ok() -> bool:
    from kombu import Connection

    timeouts = {"socket_timeout": READINESS_TIMEOUT, "socket_connect_timeout": READINESS_TIMEOUT}
    with Connection(
        settings.CELERY_BROKER_URL, connect_timeout=READINESS_TIMEOUT, transport_options=timeouts
    ) as conn:
        conn.ensure_connection(max_retries=0, timeout=READINESS_TIMEOUT)
        # Connecting is not answering: a stalled broker accepts the connection. Ask it.
        if conn.transport.driver_type == "redis":
            return conn.default_channel.client.ping() is True
        return conn.connected


def _run_all(checks: dict, timeout: float) -> dict:
    results = dict.fromkeys(checks, False)

    def run(name, check):
        try:
            results[name] = bool(check())
        except Exception:  # noqa: BLE001 - any failure of a dependency means "not ready"
            results[name] = False

    threads = [
        threading.Thread(target=run, args=(name, check), name=f"readyz {name}", daemon=True)
        for name, check in checks.items()
    ]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    # A thread still running has not answered in time: down, whatever it says later.
    return {
        name: results[name] and not thread.is_alive()
        for (name, thread) in zip(checks, threads, strict=True)
    }


@never_cache
@require_GET
def readyz(request):
    """Ready to serve: the database answers and, when one is configured, the broker too."""
    checks = {"database": _database_ok}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _broker_ok
    results = _run_all(checks, READINESS_TIMEOUT)
    # The broker is None when tasks run in-process: there is none to reach.
    results.setdefault("broker", None)
    ready = all(value is not False for value in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
