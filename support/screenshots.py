"""Screenshots of the portal for the documentation (docs/screenshots/, `make screenshots`).

The demo (seed_demo) is loaded into a throwaway SQLite database and served by runserver in
a child process, so the database the command is run with is never touched. Chromium, driven
by Playwright, signs in as the demo's owner and photographs each page in French, at a
desktop and a phone width. The PNGs are reduced to a 256-colour palette: a screenshot is
flat colours and text, and reads the same at a third of the size.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OWNER = "owner@example.com"
DEMO_PASSWORD = "billing-demo"  # noqa: S105 (the demo's published password)
WIDTHS = (1280, 390)
HEIGHT = 800
TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Shot:
    name: str
    url: str  # "" for the newest invoice, found on the Factures tab


SHOTS = [
    Shot("contacts", "/billing/contacts/"),
    Shot("invoices", "/billing/invoices/"),
    Shot("subscription", "/billing/subscription/"),
    Shot("invoice", ""),
    Shot("pricing", "/pricing/"),
]
SHOT_NAMES = [shot.name for shot in SHOTS]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def demo_server(log=print) -> Iterator[str]:
    """Seed the demo into a new SQLite database and serve it; yields the base URL."""
    with tempfile.TemporaryDirectory(prefix="portal-screenshots-") as tmp:
        port = _free_port()
        env = {
            **os.environ,
            "DEBUG": "1",
            "PORT": str(port),
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'demo.sqlite3'}",
            "MEDIA_ROOT": str(Path(tmp) / "media"),
            "EMAIL_URL": "memorymail://",
            "CELERY_BROKER_URL": "",
            "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        for command in (["migrate", "--noinput"], ["seed_demo"]):
            log(f"manage.py {' '.join(command)}")
            subprocess.run(  # noqa: S603 (our own manage.py)
                manage + command,
                env=env,
                cwd=settings.BASE_DIR,
                check=True,
                capture_output=True,
                timeout=300,
            )
        server = subprocess.Popen(  # noqa: S603 (our own manage.py)
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(port)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the demo server did not answer on port {port}")


def capture(
    base_url: str,
    out: Path,
    *,
    names=SHOT_NAMES,
    widths=WIDTHS,
    browser=None,
    chromium: Path = CHROMIUM,
    log=print,
) -> list[Path]:
    """Photograph the named pages at each width into `out`; returns the files written.

    `browser`: a Playwright browser already running (the tests'), else Chromium is started."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
            )
            try:
                return capture(base_url, out, names=names, widths=widths, browser=browser, log=log)
            finally:
                browser.close()

    out.mkdir(parents=True, exist_ok=True)
    written = []
    context = browser.new_context(
        base_url=base_url,
        locale="fr-FR",
        viewport={"width": widths[0], "height": HEIGHT},
        reduced_motion="reduce",
    )
    try:
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        _sign_in(page)
        for shot in (shot for shot in SHOTS if shot.name in names):
            page.goto(shot.url or _newest_invoice_url(page))
            page.wait_for_load_state("networkidle")
            for width in widths:
                page.set_viewport_size({"width": width, "height": HEIGHT})
                path = out / f"{shot.name}-{width}.png"
                page.screenshot(path=path, full_page=True, animations="disabled")
                optimise_png(path)
                written.append(path)
                log(f"{path} ({path.stat().st_size // 1024} KB)")
            page.set_viewport_size({"width": widths[0], "height": HEIGHT})
    finally:
        context.close()
    return written


def _sign_in(page) -> None:
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(OWNER)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("#id_password").press("Enter")
    page.get_by_test_id("user-menu").wait_for()


def _newest_invoice_url(page) -> str:
    page.goto("/billing/invoices/")
    return page.locator(".invoices-table tbody th a").first.get_attribute("href")


def optimise_png(path: Path) -> None:
    """A 256-colour palette, no dithering (flat colours stay flat), maximum compression."""
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    palette.save(path, optimize=True)
