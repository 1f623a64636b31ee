from django import forms

from organizations.models import Plan

from .plans import Interval
from .services import MAX_SEATS


class StartForm(forms.Form):
    plan = forms.ChoiceField(choices=Plan.choices)
    interval = forms.ChoiceField(choices=Interval.choices)
    seats = forms.IntegerField(min_value=1, max_value=MAX_SEATS)
    request_key = forms.UUIDField(required=False)


class SeatsForm(forms.Form):
    seats = forms.IntegerField(min_value=1, max_value=MAX_SEATS)


class AddSeatsForm(SeatsForm):
    proration_date = forms.IntegerField(min_value=1_500_000_000)
    request_key = forms.UUIDField()
    # The amount the confirming page showed: if Stripe's price differs now, nothing is charged.
    expected_cents = forms.IntegerField(required=False)


class IntervalForm(forms.Form):
    interval = forms.ChoiceField(choices=Interval.choices)


class PlanForm(forms.Form):
    plan = forms.ChoiceField(choices=Plan.choices)
    proration_date = forms.IntegerField(min_value=1_500_000_000, required=False)
    request_key = forms.UUIDField(required=False)
    expected_cents = forms.IntegerField(required=False)


class CancelForm(forms.Form):
    confirm_name = forms.CharField(max_length=100)
