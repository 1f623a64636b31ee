"""DNS TXT lookups for domain proof. The resolver is configurable (SSO_DNS_NAMESERVERS,
"host:port" items) so tests point it at a DNS server on loopback."""

import dns.exception
import dns.resolver
from django.conf import settings


def _resolver() -> dns.resolver.Resolver:
    servers = settings.SSO_DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [server.rpartition(":")[0] or server for server in servers]
        port = servers[0].rpartition(":")[2]
        if port.isdigit() and ":" in servers[0]:
            resolver.port = int(port)
    resolver.lifetime = settings.SSO_DNS_TIMEOUT_SECONDS
    return resolver


def txt_values(name: str) -> list[str]:
    """The TXT strings published at `name`; [] when there are none or DNS does not answer."""
    try:
        answer = _resolver().resolve(name, "TXT")
    except (dns.exception.DNSException, OSError):
        return []
    return [b"".join(record.strings).decode(errors="replace") for record in answer]
