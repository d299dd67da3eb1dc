"""Bounded waiting, an SMTP sink and a worker-process handle, for the integration fixtures."""

import re
import subprocess
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path


def wait_until(predicate, *, timeout: float, interval: float = 0.1, describe=lambda: ""):
    """Poll `predicate` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout}s. {describe()}")
        time.sleep(interval)


class SmtpSink:
    """An aiosmtpd handler that keeps every message it receives, for the test to read."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port: int | None = None
        self._received = []
        self._lock = threading.Lock()  # written by the server's thread, read by the test

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self._lock:
            self._received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        """The EMAIL_URL that points the project's settings at this sink."""
        return f"smtp://{self.host}:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [message for _, _, message in self._received]

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TO list) of each message, as the SMTP client sent them."""
        with self._lock:
            return [(mail_from, rcpt_tos) for mail_from, rcpt_tos, _ in self._received]

    def wait_for(self, count: int, *, timeout: float = 30, describe=lambda: ""):
        """Wait until at least `count` messages arrived; return all of them."""
        return wait_until(
            lambda: len(self.messages) >= count and self.messages,
            timeout=timeout,
            describe=lambda: f"SMTP sink has {len(self.messages)}/{count} messages. {describe()}",
        )


class CeleryWorker:
    """A `celery worker` subprocess; its combined output goes to `log_path`."""

    def __init__(self, process: subprocess.Popen, queue: str, log_path: Path):
        self.process = process
        self.queue = queue
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "worker log (last lines):\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, *, timeout: float = 30) -> re.Match:
        """Wait until the worker logs something matching the regex `pattern`."""
        regex = re.compile(pattern)

        def found():
            match = regex.search(self.log())
            if not match and self.process.poll() is not None:
                raise AssertionError(
                    f"celery worker exited with {self.process.returncode}. {self.log_tail()}"
                )
            return match

        return wait_until(
            found, timeout=timeout, describe=lambda: f"no {pattern!r}. {self.log_tail()}"
        )

    def wait_for_task(self, task_id: str, *, timeout: float = 30) -> str:
        """Wait until the worker has run the task; return its logged return value."""
        # Not anchored to the line's end: the log format may change, Celery's words won't.
        match = self.wait_for_log(
            rf"\[{re.escape(task_id)}\] (?:succeeded in \S+: (?P<value>\w+)|raised)",
            timeout=timeout,
        )
        if match["value"] is None:
            raise AssertionError(f"task {task_id} raised. {self.log_tail()}")
        return match["value"]

    def stop(self, timeout: float = 15):
        if self.process.poll() is None:
            self.process.terminate()  # warm shutdown: lets the current task finish
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
