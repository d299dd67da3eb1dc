from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Plan


class UpgradeForm(forms.Form):
    """The « Mettre à niveau » drop-down: plans by code, the current one marked."""

    plan = forms.ModelChoiceField(
        label=_("Forfait souhaité"),
        queryset=Plan.objects.none(),
        to_field_name="code",
        empty_label=None,
        error_messages={"invalid_choice": _("Choisissez un forfait de la liste.")},
    )

    def __init__(self, *args, plans, current=None, proposed=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["plan"]
        field.queryset = Plan.objects.filter(pk__in=[p.pk for p in plans]).order_by("rank")

        def label(plan):
            if current is not None and plan.pk == current.pk:
                return _("%(plan)s (forfait actuel)") % {"plan": plan.name}
            return plan.name

        field.label_from_instance = label
        if not self.is_bound and proposed is not None:
            self.initial.setdefault("plan", proposed.code)
