"""What a new user's trial found (defects numbered as the trial report numbers them), each
shown in a real browser."""

import quopri
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..factories import PASSWORD
from .conftest import login

pytestmark = pytest.mark.browser

BASE_DIR = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "billing-demo"  # noqa: S105 (the demo's published password)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_on_another_port(tmp_path):
    """The demo as `PORT=<n> make run` starts it: SQLite, tasks in-process, emails printed
    on the console, served on a port that is not 8000."""
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEBUG": "1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "EMAIL_URL": "consolemail://",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            manage + command, env=env, cwd=BASE_DIR, check=True, capture_output=True, timeout=120
        )
    console = tmp_path / "console.log"
    with console.open("w") as out:
        server = subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            cwd=BASE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}", console
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_2_emailed_links_follow_the_port_the_demo_serves_on(browser, demo_on_another_port):
    base_url, console = demo_on_another_port
    context = browser.new_context(base_url=base_url, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto("/accounts/password-reset/")
        page.locator("input[name=email]").fill("owner@example.com")
        page.get_by_role("button", name="Envoyer le lien").click()
        deadline = time.monotonic() + 10
        links = []
        while not links and time.monotonic() < deadline:
            # The console prints the email as sent: quoted-printable, long lines folded.
            printed = quopri.decodestring(console.read_bytes()).decode(errors="replace")
            links = re.findall(r"https?://[^\s\"<>]+/reset/[^\s\"<>]+/", printed)
            time.sleep(0.2)
        assert links, "no reset email printed on the console"
        assert links[0].startswith(base_url + "/"), links[0]
        page.goto(links[0])
        expect(page.locator("input[name=new_password1]")).to_be_visible()
    finally:
        context.close()


def test_4_a_wrong_password_says_so_in_correct_french(new_page, owner):
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Adresse e-mail").fill(owner.user.email)
    page.get_by_label("Mot de passe").fill(PASSWORD + "-wrong")
    page.get_by_role("button", name="Se connecter").click()
    message = page.locator(".errorlist, [role=alert]").first
    expect(message).to_contain_text("Adresse e-mail ou mot de passe incorrect")
    body = page.locator("body").inner_text()
    assert "Saisissez un adresse" not in body
    assert "sensible à la casse" not in body


def test_5_a_well_formed_vat_number_with_wrong_check_digits_is_called_that(new_page, demo):
    page = new_page()
    login(page, "owner@example.com")
    page.get_by_role("link", name="Factures", exact=True).click()
    page.get_by_role("link", name="Modifier le numéro de TVA").click()
    page.get_by_role("textbox", name="Numéro de TVA").fill("FR12345678901")
    page.locator("#organisation-vat").get_by_role("button", name="Sauvegarder").click()
    error = page.locator("#organisation-vat .error")
    expect(error).to_contain_text("clé de contrôle ne correspond pas")
    expect(error).not_to_contain_text("Format attendu")
    demo.refresh_from_db()
    assert demo.vat_number == "FR44732829320"  # nothing saved


def test_3_support_answers_a_request_and_the_author_answers_back_to_support(
    new_page, demo, settings
):
    from django.core import mail

    from support.models import SupportRequest

    settings.SUPPORT_EMAIL = "support-inbox@example.com"
    owner = new_page()
    login(owner, "owner@example.com", next_url="/support/contact/")
    owner.get_by_label("Objet").fill("Facture en double ?")
    owner.get_by_label("Message").fill("Nous avons reçu deux fois INV-10682.")
    owner.get_by_role("button", name="Envoyer").click()
    request = SupportRequest.objects.get()
    # Answering the email support receives writes to the author, not to the portal.
    to_support = next(m for m in mail.outbox if settings.SUPPORT_EMAIL in m.to)
    assert to_support.reply_to == ["owner@example.com"]

    support = new_page()
    support.goto(f"/admin/login/?next=/admin/support/supportrequest/{request.pk}/change/")
    support.locator("#id_username").fill("support@example.com")
    support.locator("#id_password").fill(PASSWORD)
    support.get_by_role("button", name="Connexion").click()
    support.get_by_role("link", name="Répondre", exact=True).click()
    support.get_by_label("Réponse").fill("Une seule est due : la seconde est un renvoi.")
    support.get_by_role("button", name="Envoyer la réponse").click()
    expect(support.get_by_text("Réponse envoyée à owner@example.com")).to_be_visible()
    expect(support.get_by_test_id("support-reply")).to_contain_text("la seconde est un renvoi")

    answer = next(m for m in mail.outbox if m.to == ["owner@example.com"] and "Re" in m.subject)
    assert answer.subject == "Re : Facture en double ?"
    assert "la seconde est un renvoi" in answer.body
    assert answer.reply_to == [settings.SUPPORT_EMAIL]
    assert request.replies.get().author.email == "support@example.com"


def test_9_the_first_of_the_month_reads_1er_in_french(new_page, demo):
    from datetime import date

    from subscriptions.models import Subscription

    Subscription.objects.filter(organisation=demo).update(
        period_start=date(2026, 10, 1), period_end=date(2027, 10, 1)
    )
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/subscription/")
    period = page.get_by_text("Annuelle, du")
    expect(period).to_contain_text("du 1er octobre 2026 au 30 septembre 2027")
