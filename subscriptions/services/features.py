"""Support maintains the pricing page's comparison: its rows (features) and what each plan
offers of them. From the admin (subscriptions.admin.FeatureAdmin); audited."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import audit_record

from ..models import Feature, Plan, PlanFeature


@dataclass(frozen=True)
class FeatureCell:
    """What `plan` offers of a feature: included or not, and the value printed in place of
    the check mark (both languages, or neither)."""

    plan: Plan
    included: bool
    value_fr: str = ""
    value_en: str = ""


def feature_cell_clean(cell: FeatureCell) -> FeatureCell:
    """The cell as stored (values trimmed); ValidationError when it cannot be shown."""
    value_fr, value_en = cell.value_fr.strip(), cell.value_en.strip()
    if (value_fr or value_en) and not cell.included:
        raise ValidationError(
            _("Une valeur ne s'indique que pour un forfait qui inclut la fonctionnalité."),
            code="value_not_included",
        )
    if bool(value_fr) != bool(value_en):
        raise ValidationError(
            _("Indiquez la valeur en français et en anglais, ou ni l'une ni l'autre."),
            code="value_one_language",
        )
    return FeatureCell(cell.plan, cell.included, value_fr, value_en)


def _snapshot(feature: Feature) -> dict:
    cells = {
        value.plan.code: (
            " / ".join(filter(None, (value.value_fr, value.value_en))) or "✓"
            if value.included
            else "—"
        )
        for value in feature.plan_values.select_related("plan")
    }
    return {
        "code": feature.code,
        "label_fr": feature.label_fr,
        "label_en": feature.label_en,
        "position": feature.position,
        "plans": cells,
    }


@transaction.atomic
def feature_save(
    *, feature: Feature, cells: Sequence[FeatureCell], actor, ip: str | None = None
) -> Feature:
    """Create or change a row of the comparison and the cells of the plans given (the
    others keep theirs; a plan with no cell does not include the feature). Audited
    `feature.saved` with the row before and after."""
    cleaned, errors = [], []
    for cell in cells:
        try:
            cleaned.append(feature_cell_clean(cell))
        except ValidationError as exc:
            errors.extend(exc.error_list)
    feature.full_clean()
    if errors:
        raise ValidationError(errors)
    before = _snapshot(Feature.objects.get(pk=feature.pk)) if feature.pk else {}
    feature.save()
    for cell in cleaned:
        PlanFeature.objects.update_or_create(
            feature=feature,
            plan=cell.plan,
            defaults={
                "included": cell.included,
                "value_fr": cell.value_fr,
                "value_en": cell.value_en,
            },
        )
    audit_record(
        organisation=None,
        action="feature.saved",
        actor=actor,
        support=True,
        before=before,
        after=_snapshot(feature),
        ip=ip,
    )
    return feature


@transaction.atomic
def feature_delete(*, feature: Feature, actor, ip: str | None = None) -> None:
    """Remove a row from the comparison, for every plan. Audited `feature.deleted`."""
    audit_record(
        organisation=None,
        action="feature.deleted",
        actor=actor,
        support=True,
        before=_snapshot(feature),
        ip=ip,
    )
    Feature.objects.filter(pk=feature.pk).delete()
