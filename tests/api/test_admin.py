"""Support's side of the API: clients and keys in the admin, through api.services."""

from django.contrib.messages import get_messages

from accounts.models import AuditEvent, User
from api.models import ApiClient, ApiKey


def test_support_makes_a_client_and_a_key_shown_once_then_revokes_it(client, db, api):
    admin = User.objects.create_superuser(email="admin@example.com", password="x")
    client.force_login(admin)
    response = client.post(
        "/admin/api/apiclient/add/", {"name": "Host production", "description": "prod"}
    )
    assert response.status_code == 302
    api_client = ApiClient.objects.get()
    assert api_client.user.get_full_name() == "API Host production"
    assert not api_client.user.is_active and not api_client.user.has_usable_password()

    response = client.post(
        "/admin/api/apikey/add/",
        {"client": api_client.pk, "name": "provisioning", "scopes": ["accounts:read"]},
    )
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    secret = next(word for m in shown for word in m.split() if word.startswith("bpk_"))
    key = ApiKey.objects.get()
    assert key.scopes == ["accounts:read"] and secret not in key.secret_hash
    assert api("GET", "/accounts", secret).status_code == 200

    # The next page shows the key once; then the list shows its prefix, never the key.
    assert secret in client.get("/admin/api/apikey/").content.decode()
    listing = client.get("/admin/api/apikey/").content.decode()
    assert key.prefix in listing and secret not in listing
    page = client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert secret not in page

    response = client.post("/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api("GET", "/accounts", secret).status_code == 401
    assert list(
        AuditEvent.objects.filter(action__startswith="api_")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["api_client.created", "api_key.created", "api_key.revoked"]


def test_a_key_without_scope_is_refused_by_the_form(client, db):
    admin = User.objects.create_superuser(email="admin@example.com", password="x")
    client.force_login(admin)
    client.post("/admin/api/apiclient/add/", {"name": "Host"})
    response = client.post(
        "/admin/api/apikey/add/",
        {"client": ApiClient.objects.get().pk, "name": "k", "scopes": []},
    )
    assert response.status_code == 200 and not ApiKey.objects.exists()
