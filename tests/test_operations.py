"""Operations: health probes, request ids in logs, sign-in throttling, deploy checks."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from django.urls import reverse

from billing_portal.logging import JsonFormatter, RequestIdFilter

ROOT = Path(__file__).resolve().parent.parent
APP_FOLDERS = ("billing_portal", "accounts", "emails", "invoices", "payments", "subscriptions")
APP_FOLDERS += ("support", "webhooks", "api")
APP_FOLDERS += ("templates", "locale", "static")


def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] is True


def test_readyz_reports_an_unreachable_broker(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] is False


def test_every_response_carries_a_request_id_and_logs_do_too(client, db):
    response = client.get(reverse("login"), headers={"X-Request-ID": "abc-123"})
    assert response["X-Request-ID"] == "abc-123"
    generated = client.get(reverse("login"), headers={"X-Request-ID": "bad id\n"})
    assert generated["X-Request-ID"] != "bad id\n" and len(generated["X-Request-ID"]) == 32

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "mail to %s", ("a@b.fr",), None)
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "mail to [email]"  # no personal data in logs
    assert line["request_id"] == "-"


def test_failed_sign_ins_are_throttled_per_account(client, owner, settings):
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "owner@example.com", "password": "wrong"})
        assert response.status_code == 200
    response = client.post(url, {"username": "owner@example.com", "password": "wrong"})
    assert response.status_code == 429
    assert "Trop de tentatives" in response.content.decode()
    # Locked even with the right password, from the same account.
    response = client.post(url, {"username": "owner@example.com", "password": "billing-demo"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failed_sign_ins_are_throttled_per_ip(client, owner, manager, settings):
    url = reverse("login")
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            url, {"username": f"nobody{n}@example.com", "password": "x"}, REMOTE_ADDR="192.0.2.9"
        )
    response = client.post(
        url,
        {"username": "manager@example.com", "password": "billing-demo"},
        REMOTE_ADDR="192.0.2.9",
    )
    assert response.status_code == 429


def test_sign_in_is_case_insensitive_and_rotates_the_session(client, owner):
    client.get(reverse("login"))
    before = client.session.session_key
    response = client.post(
        reverse("login"), {"username": "Owner@Example.COM", "password": "billing-demo"}
    )
    assert response.status_code == 302
    assert client.session.session_key != before
    assert int(client.session["_auth_user_id"]) == owner.user.pk


def test_password_reset_does_not_reveal_whether_an_account_exists(client, owner):
    from emails.models import Email

    known = client.post(reverse("password_reset"), {"email": "owner@example.com"})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert list(Email.objects.values_list("to", flat=True)) == ["owner@example.com"]


def test_deploy_checks_pass_with_production_settings():
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DEBUG", "SECURE_", "SESSION_", "DJANGO_ALLOW_ASYNC", "CSRF_"))
        },
        "DEBUG": "0",
        "SECRET_KEY": "p" * 20 + "-production-like-secret-key-with-enough-entropy-9f8e7d6c",
        "ALLOWED_HOSTS": "billing.example.com",
        "STATIC_MANIFEST": "1",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        # Nothing listens there: no deploy check may need the database.
        "DATABASE_URL": "postgres://billing:secret@127.0.0.1:1/billing",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _manage(args, env, cwd=ROOT):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_names_each_missing_production_variable_in_one_line(tmp_path):
    """From a fresh clone (no var/), with DATABASE_URL and EMAIL_URL unset: one line that
    names them, no traceback, and nothing created or opened."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEBUG", "DATABASE_URL", "EMAIL_URL", "DJANGO_ALLOW_ASYNC"))
    }
    env.update(DEBUG="0", SECRET_KEY="s" * 50)
    result = _manage(["check", "--deploy"], env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "DATABASE_URL" in line and "EMAIL_URL" in line and "SECRET_KEY" not in line
    assert list(tmp_path.iterdir()) == []


def test_demo_check_works_on_a_fresh_clone_without_var(tmp_path):
    """DEBUG on, no DATABASE_URL, no var/ yet (a fresh clone): the check passes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC"))
    }
    env["DEBUG"] = "1"
    clone = tmp_path / "clone"
    for name in APP_FOLDERS:
        shutil.copytree(ROOT / name, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", clone)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_probes_are_not_redirected_to_https(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get(reverse("login")).status_code == 301


def test_the_reset_link_comes_from_site_url_not_the_host_header(client, owner, settings):
    from emails.models import Email

    settings.SITE_URL = "https://billing.example.com"
    settings.ALLOWED_HOSTS = ["billing.example.com", "evil.example.net"]
    client.post(
        reverse("password_reset"),
        {"email": "owner@example.com"},
        HTTP_HOST="evil.example.net",
        HTTP_X_FORWARDED_HOST="evil.example.net",
    )
    body = Email.objects.get(kind="password_reset").body_text
    assert "evil.example.net" not in body
    assert "https://billing.example.com/accounts/reset/" in body
