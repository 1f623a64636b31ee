"""Secrets of SSO connections, encrypted at rest with Fernet keys from the environment.

SSO_ENCRYPTION_KEYS is a comma-separated list: the first key encrypts, every key decrypts, so a
key is rotated by putting the new one first, running `manage.py sso_rotate_keys`, then dropping
the old one (README).
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """No configured key decrypts this secret (a key was dropped before re-encryption)."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.SSO_ENCRYPTION_KEYS])


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("No SSO encryption key can read this secret.") from error


def rotate(token: str) -> str:
    """Re-encrypt with the first (newest) key."""
    return _fernet().rotate(token.encode()).decode()
