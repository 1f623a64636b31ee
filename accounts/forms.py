from django import forms

from kilo_dashboard.validators import validate_single_line


class SignupDetailsForm(forms.Form):
    """Extra fields on allauth's sign-up form."""

    name = forms.CharField(
        label="Full name",
        max_length=150,
        validators=[validate_single_line],  # shown in invitation email subjects
        widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": "Ada Lovelace"}),
    )

    def signup(self, request, user) -> None:  # noqa: ANN001 - allauth's hook signature
        user.name = self.cleaned_data["name"].strip()
        user.save(update_fields=["name"])
