"""The support console's mandates: read-only list, signed PDF, revocation with a reason."""

from django.urls import reverse

from accounts.models import AuditEvent
from payments.models import Collection, Mandate

from .conftest import invoice
from .mandates import pdf_text, sign_and_confirm


def test_support_lists_mandates_and_downloads_the_pdf(client, owner, support_user):
    sign_and_confirm(owner)
    mandate = Mandate.objects.get()
    client.force_login(support_user)
    listing = client.get(reverse("admin:payments_mandate_changelist")).content.decode()
    assert mandate.reference in listing and "FR14 **** " in listing
    assert "FR1420041010050500013M02606" not in listing
    response = client.get(reverse("admin:payments_mandate_pdf", args=[mandate.pk]))
    assert response.status_code == 200
    assert mandate.reference in pdf_text(b"".join(response.streaming_content))
    page = client.get(reverse("admin:payments_mandate_change", args=[mandate.pk]))
    assert page.status_code == 200 and "Révoquer le mandat" in page.content.decode()


def test_support_revokes_with_a_reason_through_the_service(client, owner, support_user):
    invoice(owner.organisation, "INV-20400", "90.00")
    sign_and_confirm(owner)
    mandate = Mandate.objects.get()
    client.force_login(support_user)
    url = reverse("admin:payments_mandate_revoke", args=[mandate.pk])
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200
    assert Mandate.objects.get().status == "active"
    assert client.post(url, {"reason": "The customer called"}).status_code == 302
    assert Mandate.objects.get().status == "revoked"
    assert Collection.objects.get().status == "cancelled"
    assert AuditEvent.objects.get(action="mandate.revoked").after["reason"] == "The customer called"


def test_collections_are_listed_read_only(client, owner, support_user):
    invoice(owner.organisation, "INV-20401", "90.00")
    sign_and_confirm(owner)
    client.force_login(support_user)
    listing = client.get(reverse("admin:payments_collection_changelist")).content.decode()
    assert "INV-20401-1" in listing
    collection = Collection.objects.get()
    change = client.post(
        reverse("admin:payments_collection_change", args=[collection.pk]), {"amount": "1"}
    )
    assert change.status_code == 403
    assert Collection.objects.get().amount == 90
