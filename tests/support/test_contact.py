import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from emails.models import Email
from support import services
from support.models import SupportRequest


def test_signed_in_request_attaches_account_and_role(client_for, manager, settings):
    client = client_for(manager)
    page = client.get(reverse("support_contact"), {"topic": "ownership"}).content.decode()
    assert 'name="email"' not in page  # identity comes from the session
    assert 'value="ownership" selected' in page
    response = client.post(
        reverse("support_contact"),
        {"topic": "ownership", "subject": "Reprise du compte", "message": "Camille est partie."},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("support_contact_sent")
    request = SupportRequest.objects.get()
    assert (request.organisation, request.role, request.email) == (
        manager.organisation,
        "manager",
        "manager@example.com",
    )
    assert request.status == SupportRequest.Status.OPEN
    recipients = set(Email.objects.values_list("to", flat=True))
    assert recipients == {settings.SUPPORT_EMAIL, "manager@example.com"}
    assert AuditEvent.objects.get(action="support.request_created").organisation == (
        manager.organisation
    )


def test_anonymous_visitor_gives_name_and_email(client, db):
    response = client.post(
        reverse("support_contact"),
        {
            "name": "Zoé",
            "email": "zoe@example.org",
            "topic": "general",
            "subject": "Tarifs",
            "message": "Bonjour",
        },
    )
    assert response.status_code == 302
    request = SupportRequest.objects.get()
    assert (request.name, request.email, request.organisation) == ("Zoé", "zoe@example.org", None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "nope"}, "Saisissez une adresse e-mail valide."),
        ({"name": ""}, "Ce champ est obligatoire."),
        ({"subject": ""}, "Ce champ est obligatoire."),
        ({"topic": "hack"}, "Sélectionnez un choix valide"),
    ],
)
def test_bad_input_shows_an_error_and_stores_nothing(client, db, data, message):
    payload = {
        "name": "Zoé",
        "email": "zoe@example.org",
        "topic": "general",
        "subject": "Tarifs",
        "message": "Bonjour",
        **data,
    }
    response = client.post(reverse("support_contact"), payload)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SupportRequest.objects.exists()
    assert not Email.objects.exists()


def test_rate_limited_per_user_with_a_clear_message(client_for, owner):
    client = client_for(owner)
    data = {"topic": "general", "subject": "Question", "message": "Bonjour"}
    for _ in range(services.RATE_LIMIT_PER_USER):
        assert client.post(reverse("support_contact"), data).status_code == 302
    response = client.post(reverse("support_contact"), data)
    assert response.status_code == 429
    assert "Réessayez dans une heure" in response.content.decode()
    assert SupportRequest.objects.count() == services.RATE_LIMIT_PER_USER


def test_rate_limited_per_ip(db):
    for n in range(services.RATE_LIMIT_PER_IP):
        services.support_request_create(
            subject="Q", message="M", name=f"V{n}", email=f"v{n}@example.org", ip="198.51.100.7"
        )
    with pytest.raises(services.RateLimited):
        services.support_request_create(
            subject="Q", message="M", name="V", email="v@example.org", ip="198.51.100.7"
        )
    services.support_request_create(
        subject="Q", message="M", name="W", email="w@example.org", ip="198.51.100.8"
    )


def test_header_injection_in_subject_is_refused(db):
    with pytest.raises(ValidationError) as excinfo:
        services.support_request_create(
            subject="Hi\r\nBcc: victim@example.com",
            message="M",
            name="V",
            email="v@example.org",
        )
    assert "subject" in excinfo.value.message_dict
    assert not Email.objects.exists()


def test_closing_a_request(db):
    request = services.support_request_create(
        subject="Q", message="M", name="V", email="v@example.org"
    )
    services.support_request_close(support_request=request)
    request.refresh_from_db()
    assert request.status == SupportRequest.Status.CLOSED and request.closed_at


RELAY_ATTEMPT = {
    "name": "Service client <a href='https://phish.example/x'>Votre banque</a>",
    "email": "victim@example.org",
    "topic": "general",
    "subject": "Votre compte est suspendu : https://phish.example/login",
    "message": "Confirmez vos identifiants ici : https://phish.example/login\nMerci",
}


def _typed_text_in(email):
    text = " ".join([email.subject, email.body_text, email.body_html])
    fragments = ["phish.example", "Votre banque", "Service client", "suspendu", "identifiants"]
    return [fragment for fragment in fragments if fragment in text]


def test_an_unverified_address_gets_none_of_the_typed_text(client, db, settings):
    response = client.post(reverse("support_contact"), RELAY_ATTEMPT)
    assert response.status_code == 302

    ack = Email.objects.get(to="victim@example.org")
    assert ack.kind == "support_received"
    assert _typed_text_in(ack) == []
    assert ack.subject == "Nous avons bien reçu votre message"
    assert "Merci pour votre message." in ack.body_text
    # Support itself gets the whole request.
    to_support = Email.objects.get(to=settings.SUPPORT_EMAIL)
    assert "https://phish.example/login" in to_support.body_text
    assert SupportRequest.objects.get().message == RELAY_ATTEMPT["message"]


def test_the_fixed_acknowledgement_is_in_the_pages_language(client, db):
    client.post(reverse("support_contact"), RELAY_ATTEMPT, HTTP_ACCEPT_LANGUAGE="en")
    ack = Email.objects.get(to="victim@example.org")
    assert ack.subject == "We have received your message"
    assert "Thank you for your message." in ack.body_text
    assert _typed_text_in(ack) == []


def test_a_signed_in_user_keeps_the_full_acknowledgement(client_for, manager):
    client = client_for(manager)
    data = {"topic": "general", "subject": "Facture de mars", "message": "Voir https://x.example"}
    assert client.post(reverse("support_contact"), data).status_code == 302
    ack = Email.objects.get(to="manager@example.com")
    assert ack.kind == "support_acknowledgement"
    assert "Facture de mars" in ack.subject
    assert "Voir https://x.example" in ack.body_text


def test_an_unverified_address_gets_few_acknowledgements_whoever_types_it(client, db):
    """From many addresses, one victim's address typed again and again: every request
    reaches support, the victim's mailbox gets at most the per-address limit."""
    for n in range(8):
        response = client.post(
            reverse("support_contact"), RELAY_ATTEMPT, REMOTE_ADDR=f"198.51.100.{n + 1}"
        )
        assert response.status_code == 302
    assert SupportRequest.objects.count() == 8
    sent = Email.objects.filter(to="victim@example.org").count()
    assert sent == services.ACKNOWLEDGEMENTS_PER_UNVERIFIED_ADDRESS


def _visitor_post(client, n, **extra):
    data = {**RELAY_ATTEMPT, "email": f"v{n}@example.org", "name": f"V{n}", "subject": "Q"}
    return client.post(reverse("support_contact"), data, **extra)


def test_behind_a_load_balancer_the_limit_is_per_client(client, db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    alice = {**balancer, "HTTP_X_FORWARDED_FOR": "203.0.113.10"}
    for n in range(services.RATE_LIMIT_PER_IP):
        assert _visitor_post(client, n, **alice).status_code == 302
    assert _visitor_post(client, 100, **alice).status_code == 429
    # Entries added on the left by the client herself change nothing.
    spoofed = {**balancer, "HTTP_X_FORWARDED_FOR": "192.0.2.55, 203.0.113.10"}
    assert _visitor_post(client, 101, **spoofed).status_code == 429
    # Another client behind the same balancer is not held back.
    bob = {**balancer, "HTTP_X_FORWARDED_FOR": "192.0.2.55, 203.0.113.11"}
    assert _visitor_post(client, 102, **bob).status_code == 302

    stored = SupportRequest.objects.values_list("ip_address", flat=True)
    assert set(stored) == {"203.0.113.10", "203.0.113.11"}
    assert SupportRequest.objects.count() == services.RATE_LIMIT_PER_IP + 1
