"""Per-organization SSO: identity-provider connections, claimed domains, enforcement.

A connection is served to django-allauth as one app of its own (provider_id `kilo-<uuid>`): an
`openid_connect` app, or a `saml` app whose allauth "organization slug" is that same id (URLs
/accounts/saml/kilo-<uuid>/acs/ ...). sso.adapters builds the apps from these rows; secrets and
private keys are stored encrypted (sso.crypto) and never shown again.
"""

import uuid

from allauth.socialaccount.models import SocialApp
from django.db import models
from django.db.models import Q
from django.urls import reverse

from organizations.models import Organization, Role


class Protocol(models.TextChoices):
    OIDC = "oidc", "OpenID Connect"
    SAML = "saml", "SAML 2.0"


class Connection(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="sso_connections"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.OIDC)
    name = models.CharField(max_length=100)
    # OpenID Connect (blank on SAML connections).
    issuer_url = models.URLField(max_length=500, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret_encrypted = models.TextField(blank=True)
    client_secret_last4 = models.CharField(max_length=4, blank=True)
    scopes = models.CharField(max_length=255, default="openid email profile", blank=True)
    # SAML: the IdP from its metadata URL (read again at login, cached, so a certificate the IdP
    # rolls over is picked up), or as read from pasted metadata / entered by hand when no URL.
    saml_metadata_url = models.URLField(max_length=500, blank=True)
    saml_entity_id = models.CharField(max_length=500, blank=True)
    saml_sso_url = models.URLField(max_length=500, blank=True)
    saml_x509cert = models.TextField(blank=True)
    # The IdP's single logout service (HTTP-Redirect), blank when it has none (sso.saml_logout).
    saml_slo_url = models.URLField(max_length=500, blank=True)
    # Attribute names (blank: the usual names of Okta, Entra ID, Google, Shibboleth; sso.saml).
    saml_email_attribute = models.CharField(max_length=255, blank=True)
    saml_name_attribute = models.CharField(max_length=255, blank=True)
    saml_groups_attribute = models.CharField(max_length=255, blank=True)
    # Our own (SP) key pair for this connection, made on creation: it signs our AuthnRequests and
    # its certificate is in our SP metadata. The private key is encrypted like a client secret.
    saml_sp_private_key_encrypted = models.TextField(blank=True)
    saml_sp_x509cert = models.TextField(blank=True)
    # The last successful "Test connection": when, and what the IdP said about the tester.
    tested_at = models.DateTimeField(null=True, blank=True)
    test_identity = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["organization", "created_at"], name="sso_conn_org")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_protocol_display()})"

    @property
    def provider_id(self) -> str:
        """allauth's id for this connection: its URLs are /accounts/oidc/<provider_id>/... or
        /accounts/saml/<provider_id>/..."""
        return f"kilo-{self.public_id.hex}"

    @property
    def is_saml(self) -> bool:
        return self.protocol == Protocol.SAML

    @property
    def login_path(self) -> str:
        """Where a sign-in through this connection starts (POST, allauth's login view)."""
        if self.is_saml:
            return reverse("saml_login", kwargs={"organization_slug": self.provider_id})
        return reverse("openid_connect_login", kwargs={"provider_id": self.provider_id})


class ConnectionApp(SocialApp):
    """allauth's SocialApp as sso.adapters builds it from a Connection (never saved): it hands
    allauth our provider class (OIDC nonce, SAML replay store; sso.allauth_providers), set by
    the adapter as `provider_class`, instead of allauth's own."""

    provider_class: type | None = None

    class Meta:
        proxy = True

    def get_provider(self, request):  # noqa: ANN001, ANN201
        if self.provider_class is None:
            return super().get_provider(request)
        return self.provider_class(request=request, app=self)


class DomainStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the DNS record"
    VERIFIED = "verified", "Verified"
    EXPIRED = "expired", "Expired (not verified in time)"


class Domain(models.Model):
    """A domain an organization claims; proven by a DNS TXT record before it counts."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="sso_domains"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=253)
    verification_token = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=DomainStatus.choices, default=DomainStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # A verified domain belongs to one organization only; claims may compete until then.
            models.UniqueConstraint(
                fields=["name"], condition=Q(status="verified"), name="sso_domain_verified_once"
            ),
            models.UniqueConstraint(fields=["organization", "name"], name="sso_domain_per_org"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def record_name(self) -> str:
        return f"_kilo-verification.{self.name}"

    @property
    def record_value(self) -> str:
        return f"kilo-verification={self.verification_token}"


class Settings(models.Model):
    """The organization's SSO policy: enforcement and what a first SSO login gets."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="sso_settings"
    )
    enforced = models.BooleanField(default=False)
    enforced_at = models.DateTimeField(null=True, blank=True)
    # Just-in-time provisioning: the role of a new member, and an optional IdP group -> Admin.
    jit_enabled = models.BooleanField(default=True)
    admin_group = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"SSO settings of {self.organization}"

    @property
    def default_role(self) -> str:
        return Role.MEMBER


class SeatRequest(models.Model):
    """Someone from a verified domain signed in through SSO while every seat was taken."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="sso_seat_requests"
    )
    email = models.EmailField()
    name = models.CharField(max_length=150, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "email"], name="sso_seat_request_once")
        ]

    def __str__(self) -> str:
        return f"{self.email} waiting for a seat in {self.organization}"
