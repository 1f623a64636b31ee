"""Thin Celery wrappers: each takes ids and calls one function."""

from smtplib import SMTPException

from celery import shared_task

from . import emails, expiry


@shared_task(name="organizations.tasks.expire_invitations")
def expire_invitations() -> int:
    return expiry.invitations_expire()


@shared_task(
    name="organizations.tasks.send_invitation_email",
    # A mail server that refuses or cannot be reached is retried (about 1 s, 2 s, ... up to
    # 10 min apart, for about an hour); the invitation row is already committed either way.
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=10,
)
def send_invitation_email(invitation_id: int) -> bool:
    return emails.send_invitation(invitation_id)
