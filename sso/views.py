"""The SSO tab (Enterprise) and the SSO entry points of the login page. Thin views."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import Actor
from organizations.access import OrgAccess, org_view
from organizations.models import Organization, Plan
from organizations.permissions import Capability

from . import saml, selectors, services
from .adapters import TEST_SESSION_KEY, WAITING_SESSION_KEY
from .forms import (
    ConnectionForm,
    DomainForm,
    EnforcementForm,
    IdPSource,
    SAMLConnectionForm,
    SSOEmailForm,
)
from .models import Connection, Domain, Protocol
from .services.saml import IdPDetailsError, saml_connection_save, saml_sp_certificate_replace


def _tab(access: OrgAccess) -> HttpResponse:
    return redirect("sso_tab", access.organization.slug)


def _context(access: OrgAccess, **extra: object) -> dict:
    return {"org": access.organization, "access": access, "active_tab": "sso", **extra}


def _enterprise(access: OrgAccess) -> None:
    if access.organization.plan != Plan.ENTERPRISE:
        raise PermissionDenied("Single Sign-On is part of the Enterprise plan.")


def _connection(access: OrgAccess, public_id: object) -> Connection:
    return get_object_or_404(Connection, organization=access.organization, public_id=public_id)


def idp_needs(request: HttpRequest, connection: Connection) -> dict[str, str]:
    """What the IdP administrator enters for us, for copy and paste."""
    if connection.is_saml:
        return saml.sp_endpoints(request, connection)
    callback = reverse("openid_connect_callback", kwargs={"provider_id": connection.provider_id})
    return {"redirect_uri": request.build_absolute_uri(callback)}


def _certificate_tails(connection: Connection) -> dict[str, str]:
    """The last 4 hex digits of the IdP's and our certificate fingerprints (SAML)."""
    if not connection.is_saml:
        return {}
    certs = {"idp": connection.saml_x509cert, "sp": connection.saml_sp_x509cert}
    return {k: saml.fingerprint(v)[-5:].replace(":", "") for k, v in certs.items() if v}


@require_GET
@org_view(Capability.VIEW_SSO)
def sso_tab(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    org = access.organization
    if org.plan != Plan.ENTERPRISE:
        return render(request, "sso/upgrade.html", _context(access))
    connections = [
        (c, idp_needs(request, c), _certificate_tails(c)) for c in selectors.connections_of(org)
    ]
    sso_settings = selectors.settings_of(org)
    return render(
        request,
        "sso/sso_tab.html",
        _context(
            access,
            connections=connections,
            domains=selectors.domains_of(org),
            sso_settings=sso_settings,
            enforcement_form=EnforcementForm(
                initial={"enforced": sso_settings.enforced, "admin_group": sso_settings.admin_group}
            ),
            domain_form=DomainForm(),
            waiting=selectors.waiting_for_seat(org),
            can_manage=access.can(Capability.MANAGE_SSO),
            direct_link=request.build_absolute_uri(reverse("sso_org_login", args=[org.slug])),
        ),
    )


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_SSO)
def sso_connection_edit(
    request: HttpRequest, access: OrgAccess, connection_id=None
) -> HttpResponse:  # noqa: ANN001
    _enterprise(access)
    connection = _connection(access, connection_id) if connection_id else None
    if connection and connection.is_saml:
        return redirect("sso_saml_connection_edit", access.organization.slug, connection.public_id)
    initial = {"scopes": "openid email profile"}
    if connection:
        initial = {k: getattr(connection, k) for k in ("name", "issuer_url", "client_id", "scopes")}
    form = ConnectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_save(
                actor=Actor.from_request(request),
                organization=access.organization,
                connection=connection,
                **form.cleaned_data,
            )
        except services.SSOError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Saved {connection.name}. Test it before enforcing SSO.")
            return _tab(access)
    return render(
        request,
        "sso/connection_form.html",
        _context(access, form=form, connection=connection),
    )


def _saml_connection(access: OrgAccess, public_id: object) -> Connection:
    return get_object_or_404(
        Connection, organization=access.organization, public_id=public_id, protocol=Protocol.SAML
    )


def _saml_initial(connection: Connection | None) -> dict:
    """The form as the connection was saved: by its metadata URL, or by hand (pasted metadata
    is kept as what was read from it, so it comes back as hand-entered details)."""
    if connection is None:
        return {"idp_source": IdPSource.METADATA_URL}
    initial = {
        "name": connection.name,
        "email_attribute": connection.saml_email_attribute,
        "name_attribute": connection.saml_name_attribute,
        "groups_attribute": connection.saml_groups_attribute,
    }
    if connection.saml_metadata_url:
        return initial | {
            "idp_source": IdPSource.METADATA_URL,
            "metadata_url": connection.saml_metadata_url,
        }
    return initial | {
        "idp_source": IdPSource.MANUAL,
        "entity_id": connection.saml_entity_id,
        "sso_url": connection.saml_sso_url,
        "x509cert": connection.saml_x509cert,
        "slo_url": connection.saml_slo_url,
    }


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_SSO)
def sso_saml_connection_edit(
    request: HttpRequest, access: OrgAccess, connection_id=None
) -> HttpResponse:  # noqa: ANN001
    _enterprise(access)
    connection = _saml_connection(access, connection_id) if connection_id else None
    form = SAMLConnectionForm(request.POST or None, initial=_saml_initial(connection))
    if request.method == "POST" and form.is_valid():
        try:
            connection = saml_connection_save(
                actor=Actor.from_request(request),
                organization=access.organization,
                connection=connection,
                **form.cleaned_data,
            )
        except IdPDetailsError as error:
            form.add_error(error.field or None, str(error))
        except services.SSOError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Saved {connection.name}. Test it before enforcing SSO.")
            return _tab(access)
    return render(
        request,
        "sso/saml_connection_form.html",
        _context(access, form=form, connection=connection),
    )


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_SSO)
def sso_saml_sp_certificate_replace(
    request: HttpRequest, access: OrgAccess, connection_id
) -> HttpResponse:  # noqa: ANN001
    """Confirm, then give the connection a new SP key pair (sso.services.saml)."""
    _enterprise(access)
    connection = _saml_connection(access, connection_id)
    if request.method == "POST":
        try:
            connection = saml_sp_certificate_replace(
                actor=Actor.from_request(request),
                organization=access.organization,
                connection=connection,
            )
        except services.SSOError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"{connection.name} has a new signing certificate (…"
                f"{_certificate_tails(connection)['sp']}). Give your IdP our SP metadata again, "
                "then test the connection.",
            )
        return _tab(access)
    certificate = connection.saml_sp_x509cert
    return render(
        request,
        "sso/saml_sp_certificate_replace.html",
        _context(
            access,
            connection=connection,
            needs=saml.sp_endpoints(request, connection),
            fingerprint=saml.fingerprint(certificate) if certificate else "",
            expires=saml.certificate_expiry(certificate) if certificate else None,
            only_tested_while_enforced=selectors.settings_of(access.organization).enforced
            and selectors.only_tested_connection(connection),
        ),
    )


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_SSO)
def sso_connection_delete(request: HttpRequest, access: OrgAccess, connection_id) -> HttpResponse:  # noqa: ANN001
    _enterprise(access)
    connection = _connection(access, connection_id)
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() != connection.name:
            messages.error(request, "Type the connection's name to delete it.")
        else:
            try:
                services.connection_delete(
                    actor=Actor.from_request(request),
                    organization=access.organization,
                    connection=connection,
                )
            except services.SSOError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, f"Deleted {connection.name}.")
            return _tab(access)
    return render(request, "sso/connection_delete.html", _context(access, connection=connection))


@require_http_methods(["GET", "POST"])
@org_view(Capability.MANAGE_SSO)
def sso_connection_test(request: HttpRequest, access: OrgAccess, connection_id) -> HttpResponse:  # noqa: ANN001
    """Arm a test login for this browser session, then hand over to the IdP (POST to allauth)."""
    _enterprise(access)
    connection = _connection(access, connection_id)
    request.session[TEST_SESSION_KEY] = connection.public_id.hex
    return render(
        request,
        "sso/connection_test.html",
        _context(
            access,
            connection=connection,
            login_url=connection.login_path,
        ),
    )


@require_GET
@org_view(Capability.MANAGE_SSO)
def sso_connection_test_result(
    request: HttpRequest, access: OrgAccess, connection_id
) -> HttpResponse:  # noqa: ANN001
    _enterprise(access)
    connection = _connection(access, connection_id)
    email = str(connection.test_identity.get("email") or "")
    in_domains = bool(email) and selectors.email_domain(email) in selectors.verified_domain_names(
        access.organization
    )
    return render(
        request,
        "sso/connection_test_result.html",
        _context(access, connection=connection, email=email, in_domains=in_domains),
    )


@require_POST
@org_view(Capability.MANAGE_SSO)
def sso_domain_claim(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    _enterprise(access)
    form = DomainForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a domain such as example.org.")
        return _tab(access)
    try:
        domain = services.domain_claim(
            actor=Actor.from_request(request),
            organization=access.organization,
            name=form.cleaned_data["name"],
        )
    except services.SSOError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Publish the TXT record below to prove you own {domain.name}.")
    return _tab(access)


@require_POST
@org_view(Capability.MANAGE_SSO)
def sso_domain_check(request: HttpRequest, access: OrgAccess, domain_id) -> HttpResponse:  # noqa: ANN001
    _enterprise(access)
    domain = get_object_or_404(Domain, organization=access.organization, public_id=domain_id)
    status = services.domain_check(domain.pk)
    if status == "verified":
        messages.success(request, f"{domain.name} is verified.")
    elif status == "pending":
        messages.info(
            request,
            f"No matching TXT record at {domain.record_name} yet. DNS can take a while; we keep "
            f"checking until {domain.expires_at:%d %B %Y}.",
        )
    else:
        messages.error(request, f"{domain.name} could not be verified ({status}). Claim it again.")
    return _tab(access)


@require_POST
@org_view(Capability.MANAGE_SSO)
def sso_domain_remove(request: HttpRequest, access: OrgAccess, domain_id) -> HttpResponse:  # noqa: ANN001
    _enterprise(access)
    domain = get_object_or_404(Domain, organization=access.organization, public_id=domain_id)
    try:
        services.domain_remove(
            actor=Actor.from_request(request), organization=access.organization, domain=domain
        )
    except services.SSOError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Removed {domain.name}.")
    return _tab(access)


@require_POST
@org_view(Capability.MANAGE_SSO)
def sso_enforcement(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    _enterprise(access)
    form = EnforcementForm(request.POST)
    if form.is_valid():
        try:
            services.enforcement_set(
                actor=Actor.from_request(request),
                organization=access.organization,
                **form.cleaned_data,
            )
        except services.SSOError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "SSO settings saved.")
    return _tab(access)


# --- entry points outside the tab (anonymous) ------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sso_start(request: HttpRequest) -> HttpResponse:
    """Email first: send addresses whose verified domain has SSO to their organization's IdP."""
    form = SSOEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = selectors.sso_connection_for_email(form.cleaned_data["email"])
        if connection is not None:
            return redirect("sso_org_login", connection.organization.slug)
        form.add_error("email", "No organization uses Single Sign-On for this address.")
    return render(request, "sso/start.html", {"form": form})


@require_GET
def sso_org_login(request: HttpRequest, slug: str) -> HttpResponse:
    """Public on purpose (the direct link an organization gives its people); not org-scoped."""
    organization = Organization.objects.filter(slug=slug, plan=Plan.ENTERPRISE).first()
    connections = list(selectors.connections_of(organization)) if organization else []
    if not connections:
        raise Http404("No Single Sign-On for this organization.")
    buttons = [(c, c.login_path) for c in connections]
    return render(request, "sso/org_login.html", {"organization": organization, "buttons": buttons})


@require_GET
def sso_waiting(request: HttpRequest) -> HttpResponse:
    slug = request.session.get(WAITING_SESSION_KEY)
    organization = Organization.objects.filter(slug=slug).first() if slug else None
    if organization is None:
        return redirect("home")
    return render(request, "sso/waiting.html", {"organization": organization})
