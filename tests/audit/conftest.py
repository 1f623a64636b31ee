from datetime import UTC, datetime

import pytest
import time_machine
from django.db import transaction

from audit.services import Actor, audit_record
from organizations.models import Plan


@pytest.fixture
def enterprise(org):
    org.plan = Plan.ENTERPRISE
    org.save(update_fields=["plan"])
    return org


def record_at(moment: datetime, **kwargs):
    """One audit event recorded at a frozen time (UTC)."""
    with time_machine.travel(moment, tick=False), transaction.atomic():
        return audit_record(**kwargs)


def who(user, ip="203.0.113.7", ua="pytest"):
    return Actor(user=user, ip_address=ip, user_agent=ua)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)
