"""Every organization-scoped URL, for every persona, against a table of expected status codes.

The URLConf is walked at collection time: every pattern whose route contains `<slug:org_slug>` is
org-scoped and must have a row in ACCESS. A new org-scoped URL without a row fails
`test_every_org_scoped_url_has_a_row_in_the_access_table`, so whoever adds a URL decides who may
use it, here, in one place.

Conventions of the table:
- outsider (a member of another organization): 404 everywhere, so the slug's existence leaks not;
- a member whose role lacks the capability: 403;
- an allowed role: 200 for a page, 302 after a successful POST (post/redirect/get), 400 when the
  request is understood but a rule refuses it (e.g. the last owner leaving);
- only the methods a view accepts are listed; other methods get 405 from every caller alike.
"""

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from audit.models import AuditEvent
from organizations import invitations
from organizations.models import Membership, Role
from organizations.permissions import Capability
from tests.audit import access_table as audit_access
from tests.billing import access_table as billing_access
from tests.conftest import actor, client_for, make_user
from tests.providers import access_table as providers_access
from tests.sso import access_table as sso_access
from tests.subscriptions import access_table as subscriptions_access
from tests.usage import access_table as usage_access

ORG_PARAM = "<slug:org_slug>"
PERSONAS = ("owner", "admin", "member", "outsider")


# --- walking the URLConf ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgUrl:
    name: str | None  # "namespace:name" when namespaced
    route: str
    callback: Callable


def _walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[OrgUrl]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield OrgUrl(name=name, route=prefix + str(entry.pattern), callback=entry.callback)


def org_scoped_urls() -> list[OrgUrl]:
    return [url for url in _walk(get_resolver().url_patterns) if ORG_PARAM in url.route]


def route_params(route: str) -> set[str]:
    return set(re.findall(r"<(?:\w+:)?(\w+)>", route)) - {"org_slug"}


# --- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    owner: int
    admin: int
    member: int
    outsider: int = 404

    def status(self, persona: str) -> int:
        return getattr(self, persona)


def _no_data(world: SimpleNamespace) -> dict:
    return {}


@dataclass(frozen=True)
class Spec:
    get: Row | None = None
    post: Row | None = None
    data: Callable[[SimpleNamespace], dict] = field(default=_no_data)
    # The audit action an allowed call writes (a POST's change, or a GET export or download):
    # proves the allowed call did its work.
    records: str | None = None


ALL_MEMBERS_GET = Row(owner=200, admin=200, member=200)
OWNER_ONLY_GET = Row(owner=200, admin=403, member=403)
MANAGERS_GET = Row(owner=200, admin=200, member=403)
MANAGERS_POST = Row(owner=302, admin=302, member=403)
OWNER_ONLY_POST = Row(owner=302, admin=403, member=403)

ACCESS: dict[str, Spec] = {
    "organization_root": Spec(get=Row(owner=302, admin=302, member=302)),
    "organization_tab": Spec(get=ALL_MEMBERS_GET),
    "organization_settings": Spec(
        get=OWNER_ONLY_GET,
        post=OWNER_ONLY_POST,
        data=lambda w: {
            "name": "Acme Robotics Inc.",
            "time_zone": "UTC",
            "billing_email": "ap@acme.test",
        },
        records="organization.settings_updated",
    ),
    "organization_policies": Spec(
        post=MANAGERS_POST,
        data=lambda w: {"usage_analytics": "on"},  # code-training opt-out: on -> off
        records="organization.policies_updated",
    ),
    "invitation_create": Spec(
        get=MANAGERS_GET,
        post=MANAGERS_POST,
        data=lambda w: {"email": "new.hire@example.com", "role": Role.MEMBER},
        records="invitation.created",
    ),
    "invitation_resend": Spec(post=MANAGERS_POST, records="invitation.resent"),
    # GET is the confirmation page ("Revoke the invitation to ...?"), POST does it.
    "invitation_revoke": Spec(get=MANAGERS_GET, post=MANAGERS_POST, records="invitation.revoked"),
    # The target (member_id) is a second admin: only an owner may unmake or remove an admin.
    "member_change_role": Spec(
        post=OWNER_ONLY_POST,
        data=lambda w: {"role": Role.MEMBER},
        records="member.role_changed",
    ),
    "member_remove": Spec(get=OWNER_ONLY_GET, post=OWNER_ONLY_POST, records="member.removed"),
    # Undo of a removal: with nothing of theirs to undo, a manager is told so (302, no change).
    "member_restore": Spec(post=MANAGERS_POST, data=lambda w: {"removal": str(uuid.uuid4())}),
    # The owner persona is the only owner: leaving is refused (400) and changes nothing.
    "organization_leave": Spec(
        get=ALL_MEMBERS_GET,
        post=Row(owner=400, admin=302, member=302),
        records="member.left",
    ),
    "ownership_transfer": Spec(
        get=OWNER_ONLY_GET,
        post=OWNER_ONLY_POST,
        data=lambda w: {"new_owner": str(w.target.public_id), "confirm": w.org.slug},
        records="organization.ownership_transferred",
    ),
}

# Path parameters other than org_slug, filled with real objects of the persona's organization.
PATH_PARAMS: dict[str, Callable[[SimpleNamespace], object]] = {
    "invitation_id": lambda w: w.invitation.public_id,
    "member_id": lambda w: w.target.public_id,
}

# The Billing tab's rows and objects live in tests/billing/access_table.py.
ACCESS.update(billing_access.matrix_specs(Spec, Row))
PATH_PARAMS.update(billing_access.PATH_PARAMS)
# The Usage tab and its ingest keys: tests/usage/access_table.py.
ACCESS.update(usage_access.matrix_specs(Spec, Row))
PATH_PARAMS.update(usage_access.PATH_PARAMS)
# The Providers tab (read-only on the world's Teams plan): tests/providers/access_table.py.
ACCESS.update(providers_access.matrix_specs(Spec, Row))
PATH_PARAMS.update(providers_access.PATH_PARAMS)
# The Subscriptions tab's rows live in tests/subscriptions/access_table.py.
ACCESS.update(subscriptions_access.matrix_specs(Spec, Row))
PATH_PARAMS.update(subscriptions_access.PATH_PARAMS)
# The SSO tab (Enterprise; the world is on Teams): tests/sso/access_table.py.
ACCESS.update(sso_access.matrix_specs(Spec, Row))
PATH_PARAMS.update(sso_access.PATH_PARAMS)
# The Audit logs tab: tests/audit/access_table.py.
ACCESS.update(audit_access.matrix_specs(Spec, Row))


def _cases() -> list:
    cases = []
    for name, spec in ACCESS.items():
        for method, row in (("GET", spec.get), ("POST", spec.post)):
            if row is None:
                continue
            for persona in PERSONAS:
                cases.append(pytest.param(name, method, persona, id=f"{name}-{persona}-{method}"))
    return cases


def _methods() -> list:
    return [
        pytest.param(name, method, id=f"{name}-{method}")
        for name, spec in ACCESS.items()
        for method, row in (("GET", spec.get), ("POST", spec.post))
        if row is not None
    ]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def world(org, personas) -> SimpleNamespace:
    """Acme with the four personas, a second admin (the target of member actions) and a
    pending invitation."""
    second_admin = make_user("second.admin@acme.test", "Sam Second")
    target = Membership.objects.create(organization=org, user=second_admin, role=Role.ADMIN)
    invitation = invitations.invitation_create(
        actor=actor(personas["owner"]),
        organization=org,
        email="invitee@example.com",
        role=Role.MEMBER,
    )
    # Sent an hour ago, so that "Resend" is past its cooldown.
    type(invitation).objects.filter(pk=invitation.pk).update(
        sent_at=invitation.sent_at - timedelta(hours=1)
    )
    return SimpleNamespace(org=org, target=target, invitation=invitation, **personas)


def _url(name: str, world: SimpleNamespace) -> str:
    route = next(url.route for url in org_scoped_urls() if url.name == name)
    kwargs = {param: PATH_PARAMS[param](world) for param in route_params(route)}
    return reverse(name, kwargs={"org_slug": world.org.slug, **kwargs})


# --- tests --------------------------------------------------------------------------------------


def test_every_org_scoped_url_has_a_row_in_the_access_table():
    urls = org_scoped_urls()
    unnamed = [url.route for url in urls if url.name is None]
    assert not unnamed, f"Name these org-scoped URLs so the access table can list them: {unnamed}"
    in_urlconf = {url.name for url in urls}
    missing = sorted(in_urlconf - ACCESS.keys())
    stale = sorted(ACCESS.keys() - in_urlconf)
    assert not missing, f"Add these org-scoped URLs to ACCESS in {__file__}: {missing}"
    assert not stale, f"These ACCESS rows name no URL any more: {stale}"


def test_every_path_parameter_of_an_org_scoped_url_can_be_filled():
    unknown = {
        url.name: sorted(route_params(url.route) - PATH_PARAMS.keys())
        for url in org_scoped_urls()
        if route_params(url.route) - PATH_PARAMS.keys()
    }
    assert not unknown, f"Teach PATH_PARAMS how to fill these parameters: {unknown}"


@pytest.mark.parametrize(
    "url", [pytest.param(url, id=url.name or url.route) for url in org_scoped_urls()]
)
def test_every_org_scoped_view_goes_through_the_access_gate(url):
    # organizations.access.org_view sets `org_capability`; functools.wraps carries it through
    # the outer decorators (require_POST and friends).
    capability = getattr(url.callback, "org_capability", None)
    assert isinstance(capability, Capability), (
        f"{url.name} ({url.route}) is not decorated with organizations.access.org_view"
    )


@pytest.mark.parametrize(("name", "method", "persona"), _cases())
def test_access_matrix(name, method, persona, world):
    spec = ACCESS[name]
    expected = (spec.get if method == "GET" else spec.post).status(persona)
    user = getattr(world, persona)
    client = client_for(user)
    url = _url(name, world)
    events_before = AuditEvent.objects.count()

    response = client.get(url) if method == "GET" else client.post(url, spec.data(world))

    assert response.status_code == expected, (
        f"{method} {url} as {persona}: expected {expected}, got {response.status_code}"
    )
    new_events = AuditEvent.objects.order_by("id")[events_before:]
    # A GET records only on a GET-only URL with `records` (an export or a download).
    get_records = spec.records is not None and spec.post is None
    if expected in (400, 403, 404) or (method == "GET" and not get_records):
        assert not new_events.exists(), "a refused request or a page view changed something"
    elif spec.records:
        assert [e.action for e in new_events] == [spec.records]
        assert new_events[0].actor == user


@pytest.mark.parametrize(("name", "method"), _methods())
def test_anonymous_callers_are_sent_to_log_in(name, method, world):
    url = _url(name, world)
    client = client_for(None)
    events_before = AuditEvent.objects.count()
    response = client.get(url) if method == "GET" else client.post(url, ACCESS[name].data(world))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]
    assert AuditEvent.objects.count() == events_before


@pytest.mark.parametrize(
    "name", [pytest.param(name, id=name) for name, spec in ACCESS.items() if spec.get is None]
)
def test_get_on_a_post_only_url_is_405_whether_or_not_the_organization_exists(name, world):
    # 405 is decided before the gate, identically for a real and a made-up slug: it reveals
    # nothing to an outsider.
    real = _url(name, world)
    made_up = real.replace(f"/orgs/{world.org.slug}/", "/orgs/no-such-org/")
    assert client_for(world.outsider).get(real).status_code == 405
    assert client_for(world.outsider).get(made_up).status_code == 405


def test_a_slug_that_does_not_exist_is_404_like_a_foreign_one(world):
    response = client_for(world.owner).get("/orgs/no-such-org/organization/")
    assert response.status_code == 404
