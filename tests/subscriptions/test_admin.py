import pytest
from django.urls import reverse

from subscriptions import services
from subscriptions.models import Confirmation, Plan, Subscription


# AccountClosure joins this list once accounts.demo.SUPPORT_PERMISSIONS grants its view.
@pytest.mark.parametrize("model", [Plan, Subscription, Confirmation])
def test_support_can_read_the_subscription_admin(client, support_user, owner, subscription, model):
    link = services.closure_request(organisation=owner.organisation, actor=owner.user)
    services.closure_confirm(token=link.token)
    client.force_login(support_user)
    opts = model._meta
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    obj = model.objects.first()
    change = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert change.status_code == 200
    # The link's hash is not shown, and nothing here deletes.
    assert Confirmation.objects.get().token_hash not in change.content.decode()
    assert b"deletelink" not in change.content or model is Plan
