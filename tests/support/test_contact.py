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
