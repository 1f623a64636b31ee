"""The Account page: the signed-in person's name, email addresses, password, two-factor
authentication and signed-in sessions. Email, password, MFA and session management are allauth's
own pages (rendered in our layout); this page summarises them and edits the name."""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from audit.services import Actor

from .account_services import AccountError, user_rename


class NameForm(forms.Form):
    name = forms.CharField(
        label="Full name",
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


@require_http_methods(["GET", "POST"])
@login_required
def account_profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = NameForm(request.POST or None, initial={"name": user.name})
    if request.method == "POST" and form.is_valid():
        try:
            user_rename(actor=Actor.from_request(request), name=form.cleaned_data["name"])
        except AccountError as error:
            form.add_error("name", str(error))
        else:
            messages.success(request, "Your name was saved.")
            return redirect("account_profile")
    authenticators = {a.type: a for a in Authenticator.objects.filter(user=user)}
    recovery = authenticators.get(Authenticator.Type.RECOVERY_CODES)
    sessions = sorted(
        UserSession.objects.purge_and_list(user),
        key=lambda s: s.last_seen_at,
        reverse=True,
    )
    return render(
        request,
        "account/profile.html",
        {
            "form": form,
            "emails": EmailAddress.objects.filter(user=user).order_by("-primary", "email"),
            "totp": authenticators.get(Authenticator.Type.TOTP),
            "recovery_codes_left": len(recovery.wrap().get_unused_codes()) if recovery else None,
            "sessions": sessions,
            "current_session_key": request.session.session_key,
        },
        status=400 if form.errors else 200,
    )
