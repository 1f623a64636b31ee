"""allauth's adapter, changed in one place: what an invitation link proves."""

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

INVITED_EMAIL_SESSION_KEY = "invitation_link_email"


def remember_invitation_link(request: HttpRequest, email: str) -> None:
    """This browser opened an invitation link that was emailed to `email` only."""
    request.session[INVITED_EMAIL_SESSION_KEY] = email.strip().lower()


class AccountAdapter(DefaultAccountAdapter):
    def is_email_verified(self, request: HttpRequest, email: str) -> bool:
        """An address counts as verified at sign-up only if it is the one the opened invitation
        link was emailed to. allauth's own stash (stash_verified_email) is not used: it adds the
        stashed address to whatever account signs up, verified and primary, so a stranger holding
        a forwarded link would own the invitee's address. Any other address gets the usual
        verification email."""
        invited = request.session.get(INVITED_EMAIL_SESSION_KEY) if request else None
        if invited and invited == email.strip().lower():
            return True
        return super().is_email_verified(request, email)
