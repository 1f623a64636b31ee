"""Thin Celery wrappers: each takes ids (or nothing) and calls one service."""

from celery import shared_task

from . import emails, services


@shared_task(name="sso.tasks.check_domain", autoretry_for=(OSError,), max_retries=3)
def check_domain(domain_id: int) -> str:
    return services.domain_check(domain_id)


@shared_task(name="sso.tasks.check_pending_domains")
def check_pending_domains() -> int:
    for domain_id in services.pending_domain_ids():
        check_domain.delay(domain_id)
    return len(services.pending_domain_ids())


@shared_task(name="sso.tasks.send_seat_waiting_email", autoretry_for=(OSError,), max_retries=5)
def send_seat_waiting_email(organization_id: int) -> None:
    emails.send_seat_waiting(organization_id)
