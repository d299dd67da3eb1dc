"""A real OpenID Connect provider for the sign-in tests: the npm package oidc-provider
(tests/oidc_provider/), started on a free loopback port, with the portal registered as a
confidential client whose redirect URI is the test client's callback URL.

A browser's part is played by two clients: `requests` at the provider (its cookies, its
login form), Django's test client at the portal; the provider's redirect to the portal's
callback is handed from one to the other. Everything else (discovery, the token request
with the PKCE verifier, the JWKS, the UserInfo endpoint) is real HTTP to the provider.
"""

import json
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc_provider"
CLIENT_ID = "palmares-portal"
CLIENT_SECRET = "test-client-secret"
PORTAL = "http://testserver"
REDIRECT_URI = f"{PORTAL}/accounts/oidc/callback/"
POST_LOGOUT_REDIRECT_URI = f"{PORTAL}/accounts/login/"


def _unavailable(reason: str):
    # In CI the sign-in tests must run: a missing node or provider fails them.
    if os.environ.get("CI"):
        pytest.fail(f"OpenID Connect provider unavailable: {reason}")
    pytest.skip(f"OpenID Connect provider unavailable: {reason}")


@dataclass
class Provider:
    issuer: str
    accounts_file: Path

    def people(self, people: dict[str, dict]) -> None:
        """The provider's people: {subject: {"email": ..., "email_verified": ...}}."""
        self.accounts_file.write_text(json.dumps(people))


def start_provider(tmp_dir: Path):
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("run `npm ci` in tests/oidc_provider (make test does)")
    accounts_file = tmp_dir / "oidc-accounts.json"
    accounts_file.write_text("{}")
    process = subprocess.Popen(
        [node, "provider.mjs"],
        cwd=PROVIDER_DIR,
        env={
            **os.environ,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_REDIRECT_URI": REDIRECT_URI,
            "OIDC_POST_LOGOUT_REDIRECT_URI": POST_LOGOUT_REDIRECT_URI,
            "OIDC_ACCOUNTS": str(accounts_file),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    first_line: list[str] = []
    reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()))
    reader.start()
    reader.join(timeout=30)
    issuer = first_line[0].strip() if first_line else ""
    if not issuer.startswith("http://127.0.0.1:"):
        process.kill()
        _unavailable("the provider did not start")
    return process, Provider(issuer=issuer, accounts_file=accounts_file)


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def provider_sign_in(
    client, subject: str, *, start_url: str = "/accounts/oidc/authenticate/", start=None
):
    """Click « Se connecter avec … » (or follow `start`, the portal's redirect to the
    provider), sign in at the provider as `subject`, come back.

    Returns the portal's response to the callback, and the callback URL the provider sent.
    """
    response = start if start is not None else client.get(start_url)
    assert response.status_code == 302, response.status_code
    callback = provider_callback_url(response["Location"], subject)
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}"), callback


def provider_callback_url(location: str, subject: str) -> str:
    """Sign in at the provider as `subject` from its authorization URL `location`; the URL
    of the portal's callback the provider then sends the browser to."""
    browser = requests.Session()
    for _step in range(10):
        if location.startswith(PORTAL):
            return location
        answer = browser.get(location, allow_redirects=False, timeout=10)
        if answer.is_redirect:
            location = urljoin(location, answer.headers["Location"])
            continue
        assert answer.status_code == 200, (answer.status_code, answer.text[:500])
        action = _FORM_ACTION.search(answer.text)
        assert action, answer.text[:500]
        answer = browser.post(
            urljoin(location, unescape(action.group(1))),
            data={"prompt": "login", "login": subject, "password": "any"},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.is_redirect, (answer.status_code, answer.text[:500])
        location = urljoin(location, answer.headers["Location"])
    raise AssertionError("the provider never sent the browser back to the portal")
