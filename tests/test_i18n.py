"""English, the product's second language: pages, emails and the catalogue itself.

French is the source language (every msgid); locale/en/LC_MESSAGES/django.po is the only
catalogue. `make messages` regenerates it; every entry must then be translated.
"""

import gettext
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts import services as account_services
from accounts.audit import audit_record
from emails.models import Email
from emails.services import email_queue

IN_CI = bool(os.environ.get("CI"))
LOCALE = Path(settings.BASE_DIR) / "locale"
PO_PATH = LOCALE / "en" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
# What `make messages` leaves out (its -i options), plus the catalogues themselves.
MAKEMESSAGES_IGNORED_DIRS = (
    "var",
    "bench",
    "tests",
    "staticfiles",
    "locale",
    "media",
    "node_modules",
)

CONTACTS_TAB_EN = ("Account contacts", "Invoices", "Subscription", "Add contact")
CONTACTS_TAB_FR = ("Contacts du compte", "Factures", "Abonnement", "Ajouter un contact")


# --- A small PO reader (no dependency) --------------------------------------------------


def _unquote(text: str) -> str:
    body, out, i = text.strip()[1:-1], [], 0
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
    while i < len(body):
        if body[i] == "\\":
            out.append(escapes[body[i + 1]])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def parse_po(path: Path) -> list[dict]:
    """Entries as dicts: msgctxt, msgid, msgid_plural, msgstr (a list), flags, obsolete."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry and "msgid" in entry:
                entries.append(entry)
            entry = None
            continue
        if entry is None:
            entry = {"flags": set(), "msgstr": [], "obsolete": False}
        if line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$', line):
            key = match[1]
            if key.startswith("msgstr"):
                entry["msgstr"].append(_unquote(match[2]))
            else:
                entry[key] = _unquote(match[2])
        elif key.startswith("msgstr"):
            entry["msgstr"][-1] += _unquote(line)
        else:
            entry[key] += _unquote(line)
    return entries


@pytest.fixture(scope="module")
def catalogue():
    entries = parse_po(PO_PATH)
    header = [e for e in entries if e["msgid"] == "" and "msgctxt" not in e]
    assert len(header) == 1, "the catalogue has no header"
    return header[0], [e for e in entries if e is not header[0]]


# --- Pages ------------------------------------------------------------------------------


def test_contacts_tab_in_english_from_the_browser_language(client_for, owner, manager):
    response = client_for(owner).get(reverse("portal:contacts"), **ENGLISH)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en">' in html
    for text in (*CONTACTS_TAB_EN, "Account owner", "Program managers", "Change account owner"):
        assert text in html
    for text in CONTACTS_TAB_FR:
        assert text not in html


def test_fr_en_switch_keeps_english_for_the_next_pages(client_for, owner):
    client = client_for(owner)
    contacts = reverse("portal:contacts")
    response = client.post(reverse("set_language"), {"language": "en", "next": contacts})
    assert response.status_code == 302 and response["Location"] == contacts
    html = client.get(contacts).content.decode()  # no Accept-Language: the choice sticks
    for text in CONTACTS_TAB_EN:
        assert text in html
    client.post(reverse("set_language"), {"language": "fr", "next": contacts})
    html = client.get(contacts).content.decode()
    for text in CONTACTS_TAB_FR:
        assert text in html


def test_login_page_in_english(client, db):
    html = client.get(reverse("login"), **ENGLISH).content.decode()
    for text in ("Sign in", "Email address", "Password", "Forgot your password?", "Need help?"):
        assert text in html
    for text in ("Connexion", "Mot de passe", "Se connecter"):
        assert text not in html


def test_french_is_the_default_without_a_language_header(client, client_for, owner):
    login = client.get(reverse("login")).content.decode()
    assert '<html lang="fr">' in login
    for text in ("Connexion", "Adresse e-mail", "Mot de passe", "Mot de passe oublié ?"):
        assert text in login
    html = client_for(owner).get(reverse("portal:contacts")).content.decode()
    for text in (*CONTACTS_TAB_FR, "Propriétaire du compte", "Modifier le propriétaire du compte"):
        assert text in html
    for text in CONTACTS_TAB_EN:
        assert text not in html


def test_an_unknown_browser_language_falls_back_to_french(client, db):
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Connexion" in html and "Sign in" not in html


def test_subscription_tab_in_english(client_for, owner):
    html = client_for(owner).get(reverse("portal:subscription"), **ENGLISH).content.decode()
    for text in ("Your subscription", "Compare plans", "Upgrade", "Delete account"):
        assert text in html


def test_activity_is_shown_in_the_page_language(client_for, owner):
    audit_record(organisation=owner.organisation, action="renewal.issued", after={"n": "F-1"})
    client = client_for(owner)
    english = client.get(reverse("portal:contacts"), **ENGLISH).content.decode()
    assert "Renewal invoiced" in english and "<td>System</td>" in english
    # Day-first dates and a 24-hour clock in English too (billing_portal/formats/en).
    assert re.search(r"<td>\d\d/\d\d/20\d\d \d\d:\d\d</td>", english)
    french = client.get(reverse("portal:contacts")).content.decode()
    assert "Renouvellement facturé" in french and "<td>Système</td>" in french


def test_server_error_page_follows_the_language():
    with translation.override("en"):
        english = render_to_string("500.html")
    with translation.override("fr"):
        french = render_to_string("500.html")
    assert "Something went wrong" in english and 'lang="en"' in english
    assert "Une erreur est survenue" in french and "Something" not in french


# --- Emails -----------------------------------------------------------------------------


def test_ownership_email_to_an_english_account_is_in_english(owner, manager):
    context = {
        "organisation": owner.organisation,
        "previous_owner": owner.user,
        "new_owner": manager.user,
    }
    [email] = email_queue(
        to=[manager.user.email], template="ownership_received", context=context, language="en"
    )
    name = "Festival International du Film de Lyon"
    assert email.subject == f"You are now the owner of the account {name}"
    assert email.body_text.startswith("Hello Julien Bernard,")
    for body in (email.body_text, email.body_html):
        assert f"You are now the owner of the account {name}." in body
        assert "Camille Martin has transferred ownership of the account to you." in body
        assert "billing portal" in body
        assert "Bonjour" not in body and "propriétaire" not in body
    [french] = email_queue(
        to=[manager.user.email], template="ownership_received", context=context, language="fr"
    )
    assert french.subject == f"Vous êtes maintenant propriétaire du compte {name}"


def test_the_sender_name_follows_the_message_language(owner, settings):
    """« Facturation » for a French account, « Billing » for an English one; the address
    and a name the catalogue does not know stay as configured."""
    from django.core import mail

    from emails.services import email_send

    settings.DEFAULT_FROM_EMAIL = "Facturation <facturation@example.com>"
    context = {"organisation": owner.organisation, "previous_owner": owner.user}
    context["new_owner"] = owner.user
    rows = {
        language: email_queue(
            to=["a@example.com"], template="ownership_received", context=context, language=language
        )[0]
        for language in ("en", "fr")
    }
    assert rows["en"].from_email == "Billing <facturation@example.com>"
    assert rows["fr"].from_email == "Facturation <facturation@example.com>"
    email_send(email_id=rows["en"].pk)
    assert mail.outbox[-1].from_email == "Billing <facturation@example.com>"

    settings.DEFAULT_FROM_EMAIL = "Palmarès Billing Team <billing@palmares.example>"
    [custom] = email_queue(
        to=["a@example.com"], template="ownership_received", context=context, language="fr"
    )
    assert custom.from_email == "Palmarès Billing Team <billing@palmares.example>"
    email_send(email_id=custom.pk)  # encoded for the wire by Django, not in the outbox
    assert "Palmarès Billing Team" in mail.outbox[-1].message()["From"]
    settings.DEFAULT_FROM_EMAIL = "billing@palmares.example"
    [bare] = email_queue(
        to=["a@example.com"], template="ownership_received", context=context, language="en"
    )
    assert bare.from_email == "billing@palmares.example"


def test_password_reset_email_comes_from_the_page_language_sender(client, owner, settings):
    settings.DEFAULT_FROM_EMAIL = "Facturation <facturation@example.com>"
    client.post(reverse("password_reset"), {"email": "owner@example.com"}, **ENGLISH)
    assert Email.objects.get(kind="password_reset").from_email == (
        "Billing <facturation@example.com>"
    )


def test_ownership_transfer_writes_in_the_account_language(owner, manager):
    owner.organisation.language = "en"
    owner.organisation.save(update_fields=["language"])
    account_services.ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )
    received = Email.objects.get(kind="ownership_received")
    given = Email.objects.get(kind="ownership_given")
    assert received.subject.startswith("You are now the owner of the account")
    assert given.subject.startswith("Ownership of the account")
    assert "You remain a program manager." in given.body_text


def test_link_expiry_dates_are_formatted_for_the_language(owner):
    context = {
        "user": owner.user,
        "organisation": owner.organisation,
        "link": "https://example.com/confirm/x/",
        "grace_days": 30,
        "expires_at": datetime(2026, 3, 5, 13, 30, tzinfo=UTC),
    }
    [english] = email_queue(
        to=["a@example.com"], template="closure_request", context=context, language="en"
    )
    [french] = email_queue(
        to=["a@example.com"], template="closure_request", context=context, language="fr"
    )
    assert "valid until 5 March 2026 at 14:30 and works only once" in english.body_text
    assert "30 days after the closure" in english.body_text
    assert "valable jusqu'au 5 mars 2026 à 14:30" in french.body_text


# --- The catalogue ----------------------------------------------------------------------


def test_there_is_one_catalogue():
    app_catalogues = [
        path
        for path in Path(settings.BASE_DIR).glob("*/locale")
        if path != LOCALE and ".venv" not in path.parts
    ]
    assert app_catalogues == [], "merge app catalogues into locale/ (makemessages splits them)"
    assert [str(path) for path in settings.LOCALE_PATHS] == [str(LOCALE)]


def test_catalogue_header(catalogue):
    header, _ = catalogue
    assert "fuzzy" not in header["flags"]
    text = header["msgstr"][0]
    assert "Language: en\n" in text
    assert "Content-Type: text/plain; charset=UTF-8\n" in text
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in text


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue):
    _, entries = catalogue
    assert len(entries) > 400
    obsolete = [e["msgid"] for e in entries if e["obsolete"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    assert obsolete == [], "run `make messages` (it drops obsolete entries)"
    assert fuzzy == [], "review these translations and remove their fuzzy flag"
    assert untranslated == []
    plurals = [e for e in entries if "msgid_plural" in e]
    assert plurals and all(len(e["msgstr"]) == 2 for e in plurals)


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%%|\{\{ *\w+ *\}\}")


def test_translations_keep_every_placeholder(catalogue):
    _, entries = catalogue
    for entry in entries:
        sources = [entry["msgid"], entry.get("msgid_plural", entry["msgid"])]
        for source, translation_ in zip(sources, entry["msgstr"], strict=False):
            expected = sorted(PLACEHOLDER.findall(source))
            assert sorted(PLACEHOLDER.findall(translation_)) == expected, entry["msgid"]


def test_compiled_catalogue_matches_the_po(catalogue):
    """The committed .mo (make run needs no gettext) says exactly what the .po says."""
    _, entries = catalogue
    with MO_PATH.open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    stale = []
    for entry in entries:
        context = entry.get("msgctxt")
        if "msgid_plural" in entry:
            for n, expected in ((1, entry["msgstr"][0]), (2, entry["msgstr"][1])):
                if context is None:
                    got = mo.ngettext(entry["msgid"], entry["msgid_plural"], n)
                else:
                    got = mo.npgettext(context, entry["msgid"], entry["msgid_plural"], n)
                if got != expected:
                    stale.append(entry["msgid"])
        else:
            if context is None:
                got = mo.gettext(entry["msgid"])
            else:
                got = mo.pgettext(context, entry["msgid"])
            if got != entry["msgstr"][0]:
                stale.append(entry["msgid"])
    assert stale == [], "recompile: make messages (or manage.py compilemessages -l en)"
    assert mo.info().get("language") == "en"


def test_catalogue_covers_the_sources(tmp_path, monkeypatch, settings):
    """`make messages` would neither add nor drop an entry: every marked string is here.

    Runs makemessages on a copy of the sources: in the project itself it would merge into
    (and so rewrite) the committed catalogue.
    """
    if not shutil.which("xgettext") or not shutil.which("msguniq"):
        if IN_CI:
            pytest.fail("GNU gettext (xgettext) is required in CI", pytrace=False)
        pytest.skip("needs GNU gettext (xgettext)")
    sources = tmp_path / "sources"
    shutil.copytree(
        settings.BASE_DIR,
        sources,
        ignore=shutil.ignore_patterns(".*", "__pycache__", *MAKEMESSAGES_IGNORED_DIRS),
    )
    monkeypatch.chdir(sources)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    call_command("makemessages", locale=["en"], no_obsolete=True, verbosity=0)

    def keys(path):
        return {(e.get("msgctxt"), e["msgid"]) for e in parse_po(path) if e["msgid"]}

    fresh = keys(tmp_path / "locale" / "en" / "LC_MESSAGES" / "django.po")
    committed = keys(PO_PATH)
    assert sorted(fresh - committed) == [], "new strings: run `make messages` and translate"
    assert sorted(committed - fresh) == [], "obsolete strings: run `make messages`"
