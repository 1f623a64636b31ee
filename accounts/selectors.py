from allauth.account.models import EmailAddress


def user_has_verified_email(user, email: str) -> bool:  # noqa: ANN001
    """True when `email` is one of the user's addresses and allauth has verified it."""
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


def user_has_any_verified_email(user) -> bool:  # noqa: ANN001
    return EmailAddress.objects.filter(user=user, verified=True).exists()
