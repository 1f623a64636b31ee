from allauth.account.forms import ResetPasswordForm
from django import forms

from .adapters import enforcement_refusal


class ConnectionForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Shown on the sign-in button, e.g. “Okta”.")
    issuer_url = forms.URLField(
        label="Issuer URL",
        max_length=500,
        help_text="We read its /.well-known/openid-configuration.",
        assume_scheme="https",
    )
    client_id = forms.CharField(label="Client ID", max_length=255)
    client_secret = forms.CharField(
        label="Client secret",
        max_length=1000,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    scopes = forms.CharField(max_length=255, initial="openid email profile")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if any(ord(c) < 32 for c in name):
            raise forms.ValidationError("Use a single line without control characters.")
        return name


class DomainForm(forms.Form):
    name = forms.CharField(label="Domain", max_length=253, help_text="e.g. example.org")


class EnforcementForm(forms.Form):
    enforced = forms.BooleanField(required=False, label="Require SSO for verified domains")
    admin_group = forms.CharField(
        required=False,
        max_length=255,
        label="IdP group for Admin",
        help_text="Members whose “groups” claim contains this join as Admin (optional).",
    )


class SSOEmailForm(forms.Form):
    email = forms.EmailField(label="Work email")


class SSOAwareResetPasswordForm(ResetPasswordForm):
    """No password reset for addresses whose organization enforces SSO (owners excepted)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        refusal = enforcement_refusal(email)
        if refusal:
            raise forms.ValidationError(refusal)
        return email
