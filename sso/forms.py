from allauth.account.forms import ResetPasswordForm
from django import forms
from django.db import models

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


class IdPSource(models.TextChoices):
    """The three ways an owner can describe a SAML IdP; the form shows the chosen one's fields."""

    METADATA_URL = "metadata_url", "Its metadata URL (recommended)"
    METADATA_XML = "metadata_xml", "Paste its metadata XML"
    MANUAL = "manual", "Enter the entity ID, SSO URL and certificate by hand"


# The fields each source reads; the fields of the other sources are ignored on save.
SOURCE_FIELDS = {
    IdPSource.METADATA_URL: ("metadata_url",),
    IdPSource.METADATA_XML: ("metadata_xml",),
    IdPSource.MANUAL: ("entity_id", "sso_url", "x509cert", "slo_url"),
}
OPTIONAL_FIELDS = {"slo_url"}
REQUIRED_MESSAGES = {
    "metadata_url": "Enter the URL of your IdP's metadata, or choose another way above.",
    "metadata_xml": "Paste your IdP's metadata XML, or choose another way above.",
    "entity_id": "Enter the IdP's entity ID (its issuer). Entering the IdP by hand needs all "
    "three: entity ID, SSO URL and certificate.",
    "sso_url": "Enter the IdP's single sign-on URL. Entering the IdP by hand needs all three: "
    "entity ID, SSO URL and certificate.",
    "x509cert": "Paste the IdP's signing certificate. Entering the IdP by hand needs all "
    "three: entity ID, SSO URL and certificate.",
}


class SAMLConnectionForm(forms.Form):
    """One of three ways to describe the IdP, chosen with a radio group; only the chosen
    source's fields are checked and passed on (the service reads and checks the IdP on save).
    Every field keeps what was typed when the form comes back with an error."""

    name = forms.CharField(max_length=100, help_text="Shown on the sign-in button, e.g. “Okta”.")
    idp_source = forms.ChoiceField(
        label="How do you want to give us your IdP's details?",
        choices=IdPSource.choices,
        widget=forms.RadioSelect,
        # A client that sends no choice (a script, an older form) gets the choice inferred
        # from the one source it filled in (clean()).
        required=False,
    )
    metadata_url = forms.URLField(
        label="IdP metadata URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="We read it again at sign-in (cached for an hour), so a new IdP certificate "
        "is picked up by itself.",
    )
    metadata_xml = forms.CharField(
        label="IdP metadata XML",
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="The whole document, starting with <EntityDescriptor>. We keep what we read "
        "from it; paste it again when the IdP's certificate changes.",
    )
    entity_id = forms.CharField(label="IdP entity ID (issuer)", max_length=500, required=False)
    sso_url = forms.URLField(
        label="IdP single sign-on URL (HTTP-Redirect)",
        max_length=500,
        required=False,
        assume_scheme="https",
    )
    x509cert = forms.CharField(
        label="IdP signing certificate (PEM)",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----, or the base64 "
        "body alone.",
    )
    slo_url = forms.URLField(
        label="IdP single logout URL (optional)",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="With it, signing out of Kilo also signs people out at the IdP.",
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

    def _inferred_source(self, data: dict) -> str:
        filled = [
            source
            for source, names in SOURCE_FIELDS.items()
            if any(str(data.get(n) or "").strip() for n in names)
            or any(n in self.errors for n in names)
        ]
        if len(filled) > 1:
            raise forms.ValidationError(
                "Use one way to describe the IdP: its metadata URL, or its metadata XML, or "
                "entity ID + SSO URL + certificate."
            )
        return filled[0] if filled else ""

    def clean(self) -> dict:
        data = super().clean()
        source = data.get("idp_source") or self._inferred_source(data)
        data["idp_source"] = source
        if not source:
            return data  # the service says how to describe the IdP
        # Errors of the sources not chosen (a malformed URL left in a hidden field) don't count.
        for other, names in SOURCE_FIELDS.items():
            if other != source:
                for name in names:
                    self.errors.pop(name, None)
                    data[name] = ""
        for name in SOURCE_FIELDS[source]:
            if name in OPTIONAL_FIELDS:
                continue
            if name not in self.errors and not str(data.get(name) or "").strip():
                self.add_error(name, REQUIRED_MESSAGES[name])
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
