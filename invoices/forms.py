from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing_portal.formatting import long_date

from .exports import Period, period_invoices

# Invoices are kept ten years (Code de commerce, art. L123-22): the years one may export.
YEARS_KEPT = 10


def _years():
    this_year = timezone.localdate().year
    return [(year, str(year)) for year in range(this_year, this_year - YEARS_KEPT - 1, -1)]


class ExportPeriodForm(forms.Form):
    """A calendar year, or from–to dates (both included) which then take precedence; a
    period without any invoice of `organisation` is refused (rather than an empty file)."""

    year = forms.TypedChoiceField(label=_("Année"), coerce=int, choices=_years)
    date_from = forms.DateField(
        label=_("Du"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("Au"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, data=None, *, organisation, **kwargs):
        kwargs.setdefault("initial", {"year": timezone.localdate().year})
        super().__init__(data, **kwargs)
        self.organisation = organisation

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if self.errors:
            return cleaned
        if (start is None) != (end is None):
            raise ValidationError(
                _("Indiquez les deux dates, ou aucune pour exporter l'année choisie.")
            )
        if start is not None and end < start:
            raise ValidationError(_("La date de début doit précéder la date de fin."))
        period = self.period
        if not period_invoices(organisation=self.organisation, period=period).exists():
            raise ValidationError(
                _("Aucune facture émise du %(start)s au %(end)s.")
                % {
                    "start": long_date(period.start),
                    "end": long_date(period.end),
                }
            )
        return cleaned

    @property
    def period(self) -> Period:
        """The period asked for; the form must be valid."""
        if self.cleaned_data.get("date_from"):
            return Period(self.cleaned_data["date_from"], self.cleaned_data["date_to"])
        return Period.year(self.cleaned_data["year"])
