"""Domain proof through a real DNS server on loopback (dnslib), as the Celery task runs it."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from organizations.models import Role
from sso import services
from sso.models import Domain, DomainStatus
from sso.tasks import check_pending_domains
from tests.conftest import actor, make_org

pytestmark = pytest.mark.django_db


def claim(org, people, name="lovelace.test") -> Domain:
    return services.domain_claim(actor=actor(people[Role.OWNER]), organization=org, name=name)


def test_a_claimed_domain_waits_until_its_txt_record_is_published(enterprise, dns_zone):
    org, people = enterprise
    domain = claim(org, people, " Lovelace.TEST. ")
    assert domain.name == "lovelace.test" and domain.status == DomainStatus.PENDING
    assert domain.record_name == "_kilo-verification.lovelace.test"

    assert services.domain_check(domain.pk) == DomainStatus.PENDING
    dns_zone.records["_kilo-verification.lovelace.test"] = ["kilo-verification=wrong"]
    assert services.domain_check(domain.pk) == DomainStatus.PENDING

    dns_zone.records["_kilo-verification.lovelace.test"] = ["v=spf1 -all", domain.record_value]
    check_pending_domains()  # the beat task
    domain.refresh_from_db()
    assert domain.status == DomainStatus.VERIFIED and domain.verified_at is not None
    event = AuditEvent.objects.get(action="sso.domain_verified")
    assert event.before == {"status": "pending"} and event.after == {"status": "verified"}
    assert event.actor is None  # the system task


def test_an_unproven_claim_expires_after_seven_days(enterprise, dns_zone):
    org, people = enterprise
    with time_machine.travel(timezone.now(), tick=False) as clock:
        domain = claim(org, people)
        clock.shift(timedelta(days=6, hours=23))
        assert services.domain_check(domain.pk) == DomainStatus.PENDING
        clock.shift(timedelta(hours=1))
        assert services.domain_check(domain.pk) == DomainStatus.EXPIRED


def test_a_verified_domain_belongs_to_one_organization_only(enterprise, dns_zone, outsider):
    org, people = enterprise
    rival = make_org("rival", "Rival Labs", plan="enterprise")
    from organizations.models import Membership

    Membership.objects.create(organization=rival, user=outsider, role=Role.OWNER)
    ours = claim(org, people)
    theirs = services.domain_claim(actor=actor(outsider), organization=rival, name="lovelace.test")
    dns_zone.records[ours.record_name] = [ours.record_value]
    assert services.domain_check(ours.pk) == DomainStatus.VERIFIED
    # Their token is published too (a shared DNS admin?): the domain is taken, theirs expires.
    dns_zone.records[ours.record_name].append(theirs.record_value)
    assert services.domain_check(theirs.pk) == DomainStatus.EXPIRED
    with pytest.raises(services.SSOError, match="already verified by another organization"):
        services.domain_claim(actor=actor(outsider), organization=rival, name="lovelace.test")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("not a domain", "is not a domain name"),
        ("localhost", "is not a domain name"),
        ("gmail.com", "public email provider"),
        ("x" * 300 + ".com", "is not a domain name"),
    ],
)
def test_bad_domain_names_are_refused_with_a_reason(enterprise, name, message):
    org, people = enterprise
    with pytest.raises(services.SSOError, match=message):
        claim(org, people, name)
    assert not Domain.objects.exists()


def test_an_unreachable_dns_server_keeps_the_claim_pending(enterprise, settings):
    from tests.billing.localstripe import free_port

    org, people = enterprise
    settings.SSO_DNS_NAMESERVERS = [f"127.0.0.1:{free_port()}"]  # nobody listens
    settings.SSO_DNS_TIMEOUT_SECONDS = 1
    domain = claim(org, people)
    assert services.domain_check(domain.pk) == DomainStatus.PENDING
