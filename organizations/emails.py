"""One function per email. Each renders emails/<name>_subject.txt, .txt and .html."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import Invitation, InvitationStatus
from .tokens import hash_token, invitation_token

logger = logging.getLogger(__name__)


def render_plain_text(template_name: str, context: dict) -> str:
    """Render a subject or text body without HTML autoescaping: "O'Brien & Co" stays as typed
    (autoescape would write "O&#x27;Brien &amp; Co" into a plain-text email)."""
    template = get_template(template_name).template  # the engine's Template, not the backend's
    return template.render(Context(context, autoescape=False))


def send_templated(template: str, to: list[str], context: dict, *, time_zone: str = "UTC") -> None:
    """Dates and times in the emails are shown in `time_zone` (the organization's)."""
    with timezone.override(time_zone):
        subject = render_plain_text(f"emails/{template}_subject.txt", context)
        text = render_plain_text(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)  # escaped, as HTML must be
    # One line, whatever the names in it hold: a line break in a header is refused
    # (BadHeaderError) or, worse, read as a new header.
    subject = " ".join(subject.split())
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(html, "text/html")
    message.send()


def invitation_url(token: str) -> str:
    return settings.SITE_URL + reverse("invitation_accept", args=[token])


def send_invitation(invitation_id: int) -> bool:
    """Email the invitation's current link, rebuilt from the row (a resend in between means the
    newest link goes out). False, nothing sent, when it is no longer pending or has expired, or
    when its token cannot be rebuilt (an invitation from before derived tokens, or a rotated
    SECRET_KEY): "Resend" then issues a new one."""
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or invitation.status != InvitationStatus.PENDING:
        return False
    if invitation.expires_at <= timezone.now():
        return False
    token = invitation_token(invitation)
    if hash_token(token) != invitation.token_hash:
        logger.warning("Invitation %s: its link is not derivable; not sent.", invitation_id)
        return False
    send_templated(
        "invitation",
        [invitation.email],
        {
            "invitation": invitation,
            "organization": invitation.organization,
            "inviter": invitation.invited_by,
            "accept_url": invitation_url(token),
        },
        time_zone=invitation.organization.time_zone,
    )
    return True
