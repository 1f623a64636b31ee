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


class SAMLConnectionForm(forms.Form):
    """One of three ways to describe the IdP; the service reads and checks it on save."""

    name = forms.CharField(max_length=100, help_text="Shown on the sign-in button, e.g. “Okta”.")
    metadata_url = forms.URLField(
        label="IdP metadata URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="Preferred: we read it again (cached for an hour), so a new IdP certificate is "
        "picked up by itself.",
    )
    metadata_xml = forms.CharField(
        label="Or paste the IdP metadata XML",
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    entity_id = forms.CharField(label="Or: IdP entity ID (issuer)", max_length=500, required=False)
    sso_url = forms.URLField(
        label="IdP SSO URL (HTTP-Redirect)", max_length=500, required=False, assume_scheme="https"
    )
    x509cert = forms.CharField(
        label="IdP signing certificate (PEM)",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )
    email_attribute = forms.CharField(
        label="Email attribute",
        max_length=255,
        required=False,
        help_text="Empty: the usual names (urn:oid:0.9.2342.19200300.100.1.3, the "
        "…/claims/emailaddress claim, email, mail), then an email-format NameID.",
    )
    name_attribute = forms.CharField(
        label="Name attribute",
        max_length=255,
        required=False,
        help_text="Empty: displayName (urn:oid:2.16.840.1.113730.3.1.241 and the usual names).",
    )
    groups_attribute = forms.CharField(
        label="Groups attribute",
        max_length=255,
        required=False,
        help_text="For “IdP group for Admin”. Empty: the usual names (…/claims/groups, "
        "isMemberOf, groups, memberOf).",
    )

    def clean_name(self) -> str:
        return ConnectionForm.clean_name(self)

    def clean(self) -> dict:
        data = super().clean()
        manual = [data.get(k) for k in ("entity_id", "sso_url", "x509cert")]
        sources = [bool(data.get("metadata_url")), bool(data.get("metadata_xml")), any(manual)]
        if sum(sources) > 1:
            raise forms.ValidationError(
                "Use one way to describe the IdP: its metadata URL, or its metadata XML, or "
                "entity ID + SSO URL + certificate."
            )
        if any(manual) and not all(manual):
            raise forms.ValidationError(
                "Entering the IdP by hand needs all three: entity ID, SSO URL and certificate."
            )
        return data


class DomainForm(forms.Form):
    name = forms.CharField(label="Domain", max_length=253, help_text="e.g. example.org")


class EnforcementForm(forms.Form):
    enforced = forms.BooleanField(required=False, label="Require SSO for verified domains")
    admin_group = forms.CharField(
        required=False,
        max_length=255,
        label="IdP group for Admin",
        help_text="People whose groups (the OIDC “groups” claim, or the SAML groups attribute) "
        "contain this one join as Admin (optional).",
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
