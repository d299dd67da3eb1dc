"""Support answers a request from the admin: the answer is emailed to the author in the
request's language, kept with the request, audited; the author's answer comes back to
support (Reply-To), as does an answer to the email support received."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.audit import ANONYMISED
from accounts.models import AuditEvent
from emails.models import Email
from support import services
from support.models import SupportReply, SupportRequest


@pytest.fixture
def request_of(owner):
    return services.support_request_create(
        subject="Facture en double ?", message="Reçue deux fois.", user=owner.user
    )


def test_the_email_to_support_replies_to_the_author(request_of, settings):
    to_support = Email.objects.get(to=settings.SUPPORT_EMAIL)
    assert to_support.reply_to == request_of.email


def test_an_answer_is_emailed_kept_and_audited(request_of, support_user, settings):
    reply = services.support_request_reply(
        support_request=request_of, message="Une seule est due.", actor=support_user
    )
    email = Email.objects.get(kind="support_reply")
    assert email.to == request_of.email and email.reply_to == settings.SUPPORT_EMAIL
    assert email.subject == "Re : Facture en double ?"
    assert "Une seule est due." in email.body_text and "Reçue deux fois." in email.body_text
    assert SupportReply.objects.get() == reply and reply.author == support_user
    event = AuditEvent.objects.get(action="support.request_answered")
    assert event.actor == support_user and event.after["request"] == request_of.pk


def test_an_english_account_is_answered_in_english(owner, support_user):
    owner.organisation.language = "en"
    owner.organisation.save(update_fields=["language"])
    request = services.support_request_create(subject="Twice?", message="M", user=owner.user)
    services.support_request_reply(support_request=request, message="Fine.", actor=support_user)
    email = Email.objects.get(kind="support_reply")
    assert email.subject == "Re: Twice?"
    assert "Hello" in email.body_text


@pytest.mark.parametrize("message", ["", "   ", "x" * 5001, "a\x00b"])
def test_a_bad_answer_is_refused_and_sends_nothing(request_of, support_user, message):
    with pytest.raises(ValidationError):
        services.support_request_reply(
            support_request=request_of, message=message, actor=support_user
        )
    assert not SupportReply.objects.exists()
    assert not Email.objects.filter(kind="support_reply").exists()


def test_an_anonymised_request_cannot_be_answered(request_of, support_user, owner):
    services.support_requests_anonymise(organisation=owner.organisation)
    request_of.refresh_from_db()
    assert request_of.name == ANONYMISED
    with pytest.raises(ValidationError):
        services.support_request_reply(
            support_request=request_of, message="Bonjour", actor=support_user
        )


def test_anonymisation_erases_the_answers_too(request_of, support_user, owner):
    services.support_request_reply(
        support_request=request_of, message="Camille, voici.", actor=support_user
    )
    services.support_requests_anonymise(organisation=owner.organisation)
    assert SupportReply.objects.get().message == ANONYMISED


def test_support_answers_from_the_admin(client, request_of, support_user):
    client.force_login(support_user)
    change = reverse("admin:support_supportrequest_change", args=[request_of.pk])
    page = client.get(change).content.decode()
    url = reverse("admin:support_supportrequest_reply", args=[request_of.pk])
    assert url in page
    response = client.post(url, {"message": ""})
    assert response.status_code == 200 and not SupportReply.objects.exists()
    response = client.post(url, {"message": "Une seule est due."})
    assert response.status_code == 302 and response["Location"] == change
    assert SupportReply.objects.get().message == "Une seule est due."
    assert "Une seule est due." in client.get(change).content.decode()


def test_only_support_staff_may_answer(client, request_of, owner):
    client.force_login(owner.user)
    url = reverse("admin:support_supportrequest_reply", args=[request_of.pk])
    response = client.post(url, {"message": "Hack"})
    assert response.status_code in (302, 403)
    assert not SupportReply.objects.exists()
    assert SupportRequest.objects.get().status == SupportRequest.Status.OPEN
