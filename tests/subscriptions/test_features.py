"""Support maintains the pricing page's comparison: a feature and each plan's cell, saved
through services.feature_save from the admin, audited; bad input changes nothing."""

import html

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from subscriptions import services
from subscriptions.models import Feature, PlanFeature

ADD = reverse("admin:subscriptions_feature_add")


def cells(feature):
    return {
        value.plan.code: (value.included, value.value_fr, value.value_en)
        for value in PlanFeature.objects.filter(feature=feature).select_related("plan")
    }


def form_data(plans, **cells_by_code):
    """The admin form: the row, then per plan « Inclus » and the two values."""
    data = {"label_fr": "Traduction", "label_en": "Translation", "code": "traduction"}
    data["position"] = "20"
    for code, plan in plans.items():
        included, value_fr, value_en = cells_by_code.get(code, (False, "", ""))
        if included:
            data[f"plan_{plan.pk}_included"] = "on"
        data[f"plan_{plan.pk}_value_fr"] = value_fr
        data[f"plan_{plan.pk}_value_en"] = value_en
    return data


def test_support_adds_a_feature_with_its_cells_from_the_admin(client, support_user, plans):
    client.force_login(support_user)
    form = client.get(ADD)
    assert form.status_code == 200
    assert "Forfait Entreprise" in form.content.decode()
    response = client.post(
        ADD,
        form_data(
            plans,
            professionnel=(True, "", ""),
            entreprise=(True, " 12 langues ", "12 languages"),
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    feature = Feature.objects.get(code="traduction")
    assert cells(feature) == {
        "essentiel": (False, "", ""),
        "professionnel": (True, "", ""),
        "entreprise": (True, "12 langues", "12 languages"),
    }
    event = AuditEvent.objects.get(action="feature.saved")
    assert event.actor == support_user and event.organisation is None
    assert event.before == {}
    assert event.after["plans"] == {
        "essentiel": "—",
        "professionnel": "✓",
        "entreprise": "12 langues / 12 languages",
    }


def test_support_changes_a_cell_and_the_journal_keeps_both_versions(client, support_user, plans):
    client.force_login(support_user)
    feature = Feature.objects.get(code="sso")
    change = reverse("admin:subscriptions_feature_change", args=[feature.pk])
    page = client.get(change).content.decode()
    # The form opens with the stored cells.
    assert f'name="plan_{plans["entreprise"].pk}_included" id' in page
    data = form_data(plans, professionnel=(True, "", ""), entreprise=(True, "", ""))
    data.update(label_fr=feature.label_fr, label_en=feature.label_en, code="sso", position="9")
    assert client.post(change, data).status_code == 302
    assert cells(feature)["professionnel"] == (True, "", "")
    event = AuditEvent.objects.get(action="feature.saved")
    assert event.before["plans"]["professionnel"] == "—"
    assert event.after["plans"]["professionnel"] == "✓"


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ((False, "5", "5"), "Une valeur ne s'indique que pour un forfait qui inclut"),
        ((True, "5 000", ""), "Indiquez la valeur en français et en anglais"),
    ],
)
def test_a_cell_that_cannot_be_shown_is_refused_and_nothing_changes(
    client, support_user, plans, cell, message
):
    client.force_login(support_user)
    response = client.post(ADD, form_data(plans, essentiel=cell))
    assert response.status_code == 200
    assert message in html.unescape(response.content.decode())
    assert not Feature.objects.filter(code="traduction").exists()
    assert not AuditEvent.objects.filter(action="feature.saved").exists()


def test_the_service_refuses_a_bad_cell_without_saving_the_row(plans, support_user):
    feature = Feature(code="traduction", label_fr="Traduction", label_en="Translation")
    bad = services.FeatureCell(plan=plans["essentiel"], included=False, value_fr="5")
    with pytest.raises(ValidationError):
        services.feature_save(feature=feature, cells=[bad], actor=support_user)
    assert not Feature.objects.filter(code="traduction").exists()


def test_support_deletes_a_feature_from_every_plan(client, support_user, plans):
    client.force_login(support_user)
    feature = Feature.objects.get(code="api")
    delete = reverse("admin:subscriptions_feature_delete", args=[feature.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Feature.objects.filter(code="api").exists()
    assert not PlanFeature.objects.filter(feature_id=feature.pk).exists()
    event = AuditEvent.objects.get(action="feature.deleted")
    assert event.before["plans"]["entreprise"] == "✓"


def test_a_program_manager_cannot_reach_the_features(client_for, manager, plans):
    response = client_for(manager).get(ADD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
