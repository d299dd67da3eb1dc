"""Bounded waiting, an SMTP sink, worker and web-server process handles, and small readers
(HTML forms, Redis's unacknowledged messages) for the integration fixtures and tests."""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
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


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (another process could still take it later)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class SmtpSink:
    """An aiosmtpd handler that keeps every message it receives, for the test to read.

    `reply_delay` makes the first `slow_messages` messages slow to be acknowledged: the
    sink keeps the message as soon as its content is complete (the final "." of DATA), as
    a real server that has queued it does, then waits before answering "250". A client
    that dies during that wait never learns that the message was delivered.
    """

    def __init__(self, host: str = "127.0.0.1", *, reply_delay: float = 0, slow_messages=1):
        self.host = host
        self.port: int | None = None
        self.reply_delay = reply_delay
        self.slow_messages = slow_messages
        # Set when a message's content is complete, before the (possibly delayed) reply.
        self.data_complete = threading.Event()
        self._received = []
        self._lock = threading.Lock()  # written by the server's thread, read by the test

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self._lock:
            self._received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
            slow = self.reply_delay and len(self._received) <= self.slow_messages
        self.data_complete.set()
        if slow:
            # Cancelled by aiosmtpd if the client disconnects meanwhile.
            await asyncio.sleep(self.reply_delay)
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

    def task_ids(self, task_name: str) -> list[str]:
        """Ids of the `task_name` tasks this worker received, in order, each once."""
        found = re.findall(rf"Task {re.escape(task_name)}\[([0-9a-f-]+)\] received", self.log())
        return list(dict.fromkeys(found))

    def pool_children(self) -> list[int]:
        """Pids of the pool's child processes (prefork), read from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended meanwhile
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def kill(self, timeout: float = 10):
        """SIGKILL: no warm shutdown, nothing acknowledged or restored to the queue."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=timeout)

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


# How the web server's database sessions are named (pg_stat_activity.application_name).
WEB_SERVER_APPLICATION_NAME = "itest-gunicorn"


class WebServer:
    """A gunicorn subprocess serving the project; its output goes to `log_path`."""

    def __init__(self, process: subprocess.Popen, base_url: str, log_path: Path):
        self.process = process
        self.base_url = base_url
        self.log_path = log_path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace")
        return "gunicorn log (last lines):\n" + "\n".join(text.splitlines()[-lines:])

    def get(self, path: str, *, cookies: dict[str, str] | None = None, timeout: float = 10):
        """(status, body) of a GET; error statuses are returned, not raised."""
        request = urllib.request.Request(self.base_url + path)  # noqa: S310 - our http server
        if cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
        # No redirect following: a redirect to the sign-in page must show as a 302.
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def stop(self, timeout: float = 10):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# --- Redis: messages a consumer took but never acknowledged -----------------------------

# kombu's Redis transport keeps each delivered, not yet acknowledged message in this hash
# (tag -> [message, exchange, routing key]) and its delivery time in the sorted set, until
# the consumer acks it or, after `visibility_timeout` (1 hour by default), a consumer puts
# it back in its queue.
UNACKED_HASH = "unacked"
UNACKED_INDEX = "unacked_index"


def unacked_tags(client, queue: str) -> list[str]:
    """Delivery tags of the unacknowledged messages routed to `queue`."""
    tags = []
    for tag, raw in client.hscan_iter(UNACKED_HASH):
        _message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            tags.append(tag.decode())
    return tags


def unacked_task_id(client, tag: str) -> str:
    message, _exchange, _routing_key = json.loads(client.hget(UNACKED_HASH, tag))
    return message["headers"]["id"]


# --- HTML forms, submitted as a browser would --------------------------------------------


@dataclass
class HtmlForm:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: str | None = None
        self._in_button = False

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = HtmlForm(attrs.get("method", "get").lower(), attrs.get("action", ""))
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and attrs.get("name"):
            self._form.fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and "selected" in attrs:
            self._form.fields[self._select] = attrs.get("value", "")
        elif tag == "button":
            self._in_button = True
            self._form.buttons.append("")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "button":
            self._in_button = False

    def handle_data(self, data):
        if self._in_button and self._form is not None:
            self._form.buttons[-1] += data.strip()


def page_form(page: str, *, button: str) -> HtmlForm:
    """The form of `page` that has a button labelled `button`, with its fields' values."""
    parser = _FormParser()
    parser.feed(page)
    matching = [form for form in parser.forms if button in form.buttons]
    assert len(matching) == 1, f"{len(matching)} forms with a {button!r} button"
    return matching[0]
