"""Signing keys for the test IdP, made at test time (no private key is committed)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    key_file: Path
    cert_file: Path
    cert_pem: str

    @property
    def cert_body(self) -> str:
        """The certificate as IdP consoles show it: base64 without the PEM armour."""
        lines = self.cert_pem.strip().splitlines()
        return "".join(line for line in lines if "-----" not in line)


def make_keypair(folder: Path, name: str) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = folder / f"{name}.key", folder / f"{name}.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file.write_text(cert_pem)
    return KeyPair(key_file=key_file, cert_file=cert_file, cert_pem=cert_pem)
