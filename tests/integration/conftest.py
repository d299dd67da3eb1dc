"""Real Celery workers on Redis, local SMTP sinks and a gunicorn server, for end-to-end and
fault tests.

Tests that use these fixtures must be marked `postgres` and `redis`: the worker and the
web server are other processes, so they need a database they can share (committed rows,
hence `transactional_db`) and a real broker. Every test's workers consume a queue of its
own, so parallel runs (xdist, other CI jobs on the same Redis) and messages left over by
an earlier run never meet.
"""

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from billing_portal.celery import app as celery_app

from .support import (
    UNACKED_HASH,
    UNACKED_INDEX,
    WEB_SERVER_APPLICATION_NAME,
    CeleryWorker,
    SmtpSink,
    WebServer,
    free_port,
    unacked_tags,
    wait_until,
)

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


def _require_services():
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.fail(
            "integration fixtures need PostgreSQL (DATABASE_URL) and Redis"
            " (CELERY_BROKER_URL); mark the test postgres and redis"
        )


@pytest.fixture
def smtp_server():
    """Start an SMTP sink on demand: `smtp_server(sink, port=None)`; stopped at teardown.

    With `port`, the sink takes that port (one a test reserved and pointed a worker at, to
    bring the mail server "back"); otherwise a free one.
    """
    controllers = []

    def start(sink: SmtpSink, port: int | None = None) -> SmtpSink:
        for attempt in range(1 if port else 3):
            # aiosmtpd cannot start on port 0 (it connects to its own port to check itself).
            sink.port = port or free_port(sink.host)
            controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
            try:
                controller.start()
                break
            except OSError:
                # Another process took the port between the probe and the bind.
                if port or attempt == 2:
                    raise
        controllers.append(controller)
        return sink

    try:
        yield start
    finally:
        for controller in reversed(controllers):
            controller.stop()


@pytest.fixture
def smtp_sink(smtp_server):
    """An SMTP server on 127.0.0.1 and a free port, accepting and keeping all mail."""
    return smtp_server(SmtpSink())


def _test_database_url(**options) -> str:
    """DATABASE_URL naming the test database: the subprocess must read the test's rows."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    parts = parts._replace(path="/" + quote(connection.settings_dict["NAME"]))
    if options:
        parts = parts._replace(query=urlencode(options))
    return urlunsplit(parts)


def _subprocess_env(tmp_path: Path, **extra) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings",
        "DATABASE_URL": _test_database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        # Invoice PDFs land in the test's folder (documents = MEDIA_ROOT/documents), the
        # same one this process uses (tests/conftest.py), never in var/.
        "MEDIA_ROOT": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class CeleryWorkers:
    """Starts `celery -A billing_portal worker` processes on this test's queue."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.queue = f"itest-{uuid.uuid4().hex[:12]}"
        self.started: list[CeleryWorker] = []

    def start(self, *, email_url: str, pool: str = "solo") -> CeleryWorker:
        """A worker mailing to `email_url`, ready to consume when this returns.

        `pool="prefork"` runs the task in a child process (concurrency 1): killing that
        child is the "worker lost" case that `task_reject_on_worker_lost` covers.
        """
        env = _subprocess_env(
            self.tmp_path,
            CONN_MAX_AGE="0",
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            # For the tasks the worker queues itself (a periodic run fanning out, a service
            # queueing an email inside a task): they go to this queue only if the settings
            # read CELERY_TASK_DEFAULT_QUEUE, otherwise to "celery", where no worker listens.
            CELERY_TASK_DEFAULT_QUEUE=self.queue,
            EMAIL_URL=email_url,
        )
        number = len(self.started) + 1
        command = [
            sys.executable, "-m", "celery", "-A", "billing_portal", "worker",
            f"--pool={pool}", "--concurrency=1", "--loglevel=INFO",
            "--without-heartbeat", "--without-gossip", "--without-mingle",
            "-Q", self.queue, "--hostname", f"{self.queue}-{number}@%h",
        ]  # fmt: skip
        log_path = self.tmp_path / f"celery-worker-{number}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command, cwd=PROJECT_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
        worker = CeleryWorker(process, self.queue, log_path)
        self.started.append(worker)
        worker.wait_for_log(rf"{self.queue}-{number}@\S+ ready\.", timeout=WORKER_READY_TIMEOUT)
        return worker

    def stop_all(self):
        for worker in self.started:
            worker.stop()
            print(f"[{worker.log_path.name}]", worker.log_tail(200))  # shown when a test fails


@pytest.fixture
def celery_workers(transactional_db, tmp_path):
    """Start real workers on demand (`celery_workers.start(email_url=...)`), all on one
    queue of this test's; stopped, and the queue dropped, at teardown.

    This process publishes to that queue for the duration of the test, so whatever the
    code under test queues is run by the real workers.
    """
    _require_services()
    workers = CeleryWorkers(tmp_path)
    # The settings were read at start-up, so the switch goes on the app's live config;
    # Celery's router reads the default queue at each publish.
    conf = celery_app.conf
    previous = {
        "task_default_queue": conf.task_default_queue,
        "task_always_eager": conf.task_always_eager,
    }
    try:
        conf.task_default_queue = workers.queue
        conf.task_always_eager = False
        yield workers
    finally:
        conf.update(previous)
        workers.stop_all()
        _delete_queue(settings.CELERY_BROKER_URL, workers.queue)


@pytest.fixture
def celery_worker_process(celery_workers, smtp_sink):
    """One real worker (solo pool) on the test's queue, mailing to `smtp_sink`."""
    return celery_workers.start(email_url=smtp_sink.url)


def _delete_queue(broker_url: str, queue: str):
    """Drop the queue's lists and binding tables, and the messages a killed worker left
    unacknowledged (they would come back to the queue in an hour); the name is never used
    again."""
    client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
        for tag in unacked_tags(client, queue):
            client.pipeline().hdel(UNACKED_HASH, tag).zrem(UNACKED_INDEX, tag).execute()
    except redis.RedisError:
        pass  # cleanup only: leftovers are inert, nothing consumes or reuses the name
    finally:
        client.close()


@pytest.fixture
def web_server(transactional_db, tmp_path):
    """gunicorn serving the project on a free port, against the test database.

    Configured as in production: persistent database connections (CONN_MAX_AGE=60) with
    health checks (the settings), one sync worker so every request uses the same
    connection. Its sessions tell it apart in pg_stat_activity (application_name).
    """
    _require_services()
    port = free_port()
    env = _subprocess_env(
        tmp_path,
        DATABASE_URL=_test_database_url(application_name=WEB_SERVER_APPLICATION_NAME),
        CONN_MAX_AGE="60",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    command = [
        sys.executable, "-m", "gunicorn", "billing_portal.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
        "--timeout", "30", "--graceful-timeout", "5", "--access-logfile", "-",
    ]  # fmt: skip
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: master and worker stop together
        )
    server = WebServer(process, f"http://127.0.0.1:{port}", log_path)

    def up():
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}. {server.log_tail()}")
        try:
            return server.get("/healthz", timeout=2)[0] == 200
        except OSError:
            return False  # not listening yet

    try:
        wait_until(up, timeout=30, interval=0.2, describe=server.log_tail)
        yield server
    finally:
        server.stop()
        print(server.log_tail(100))
