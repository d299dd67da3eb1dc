"""A real Celery worker on Redis and a local SMTP sink, for end-to-end tests.

Tests that use `celery_worker_process` must be marked `postgres` and `redis`: the worker
is another process, so it needs a database it can share (committed rows, hence
`transactional_db`) and a real broker. Every worker consumes a queue of its own, so
parallel runs (xdist, other CI jobs on the same Redis) and messages left over by an
earlier run never meet.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from billing_portal.celery import app as celery_app

from .support import CeleryWorker, SmtpSink

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Every wait in these tests is bounded; this is the backstop for anything that still
# blocks (a socket without timeout, a lock): the test fails instead of hanging the job.
TEST_TIME_LIMIT = 150
WORKER_READY_TIMEOUT = 30


@pytest.fixture(autouse=True)
def _test_time_limit(request):
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread
        return

    def expire(signum, frame):
        raise TimeoutError(f"{request.node.nodeid} exceeded {TEST_TIME_LIMIT}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_TIME_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_sink():
    """An SMTP server on 127.0.0.1 and a free port, accepting and keeping all mail."""
    sink = SmtpSink()
    for attempt in range(3):
        # aiosmtpd cannot start on port 0 (it connects to its own port to check itself).
        sink.port = _free_port(sink.host)
        controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
        try:
            controller.start()
            break
        except OSError:
            # Another process took the port between the probe and the bind.
            if attempt == 2:
                raise
    try:
        yield sink
    finally:
        controller.stop()


def _test_database_url() -> str:
    """DATABASE_URL naming the test database: the worker must read the test's rows."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + quote(connection.settings_dict["NAME"])))


@pytest.fixture
def celery_worker_process(transactional_db, smtp_sink, tmp_path):
    """Run `celery -A billing_portal worker` on a queue of its own, mailing to `smtp_sink`.

    This process publishes to the same queue for the duration of the test, so whatever
    the code under test queues is run by the real worker.
    """
    broker_url = settings.CELERY_BROKER_URL
    if connection.vendor != "postgresql" or not broker_url.startswith("redis"):
        pytest.fail(
            "celery_worker_process needs PostgreSQL (DATABASE_URL) and Redis"
            " (CELERY_BROKER_URL); mark the test postgres and redis"
        )

    queue = f"itest-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings",
        "DATABASE_URL": _test_database_url(),
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker_url,
        # For the tasks the worker queues itself (a periodic run fanning out, a service
        # queueing an email inside a task): they go to this queue only if the settings
        # read CELERY_TASK_DEFAULT_QUEUE, otherwise to "celery", where no worker listens.
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "EMAIL_URL": smtp_sink.url,
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "billing_portal", "worker",
        "--pool=solo", "--concurrency=1", "--loglevel=INFO",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
        "-Q", queue, "--hostname", f"{queue}@%h",
    ]  # fmt: skip
    log_path = tmp_path / "celery-worker.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    worker = CeleryWorker(process, queue, log_path)

    # The settings were read at start-up, so the switch goes on the app's live config;
    # Celery's router reads the default queue at each publish.
    conf = celery_app.conf
    previous = {
        "task_default_queue": conf.task_default_queue,
        "task_always_eager": conf.task_always_eager,
    }
    try:
        conf.task_default_queue = queue
        conf.task_always_eager = False
        worker.wait_for_log(rf"{queue}@\S+ ready\.", timeout=WORKER_READY_TIMEOUT)
        yield worker
    finally:
        conf.update(previous)
        worker.stop()
        print(worker.log_tail(200))  # pytest shows it when the test failed
        _delete_queue(broker_url, queue)


def _delete_queue(broker_url: str, queue: str):
    """Drop the queue's lists and binding tables; the name is never used again."""
    client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # cleanup only: leftovers are inert, nothing consumes or reuses the name
    finally:
        client.close()
