"""Publishing the ACME DNS-01 TXT records of a region's domain.

Two ways, chosen per region (:class:`central.models_tls.RegionDomain`):

- ``rfc2136``: a dynamic update (RFC 2136) signed with a TSIG key (RFC 8945), sent over
  TCP to the domain's primary server with dnspython. Any BIND, Knot, PowerDNS or
  a registrar's "dynamic DNS" endpoint accepts it; this is the tested path.
- ``lexicon``: a DNS provider's API through ``dns-lexicon`` (Gandi, OVH, Cloudflare...),
  for regions whose domain is hosted by a provider. Optional: lexicon is imported only
  when a region chooses it (``pip install dns-lexicon``).

Publishing is idempotent (adding a TXT value already there changes nothing) and so is
removing one that is gone.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Protocol

from .tls_errors import DnsUpdateError

TXT_TTL = 60
TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224")


class Publisher(Protocol):
    def publish(self, fqdn: str, value: str) -> None: ...

    def remove(self, fqdn: str, value: str) -> None: ...


def check_tsig_secret(secret: str) -> bytes:
    """The TSIG secret as bytes; a clear error when it is not base64."""
    try:
        raw = base64.b64decode(secret, validate=True)
    except ValueError:
        raise DnsUpdateError(
            "the TSIG secret is not base64", "copy it from the key file (`tsig-keygen NAME`)"
        ) from None
    if len(raw) < 16:
        raise DnsUpdateError(
            "the TSIG secret is shorter than 16 bytes",
            "make a key with `tsig-keygen -a hmac-sha256 NAME`",
        )
    return raw


@dataclass(frozen=True)
class Rfc2136:
    """RFC 2136 dynamic updates of ``zone`` on ``server:port``, signed with TSIG."""

    zone: str
    server: str
    port: int
    key_name: str
    secret: str
    algorithm: str = "hmac-sha256"
    timeout: float = 10.0

    def _update(self):
        import dns.name
        import dns.tsig
        import dns.tsigkeyring
        import dns.update

        if self.algorithm not in TSIG_ALGORITHMS:
            raise DnsUpdateError(
                f"TSIG algorithm {self.algorithm!r} is not supported",
                "use one of " + ", ".join(TSIG_ALGORITHMS),
            )
        keyring = {
            dns.name.from_text(self.key_name): dns.tsig.Key(
                self.key_name, check_tsig_secret(self.secret), self.algorithm
            )
        }
        return dns.update.Update(
            self.zone, keyring=keyring, keyname=dns.name.from_text(self.key_name)
        )

    def _relative(self, fqdn: str):
        import dns.name

        name = dns.name.from_text(fqdn)
        zone = dns.name.from_text(self.zone)
        if not name.is_subdomain(zone):
            raise DnsUpdateError(
                f"{fqdn} is not inside the zone {self.zone}",
                "the site names must be under the region's domain",
            )
        return name.relativize(zone)

    def _send(self, update) -> None:
        import dns.exception
        import dns.query
        import dns.rcode

        try:
            answer = dns.query.tcp(update, self.server, port=self.port, timeout=self.timeout)
        except (OSError, EOFError, dns.exception.DNSException) as e:
            raise DnsUpdateError(
                f"DNS update to {self.server}:{self.port} failed: {e}",
                "check dns_server/dns_port and that the server allows updates with this key",
            ) from None
        if answer.rcode() != dns.rcode.NOERROR:
            raise DnsUpdateError(
                f"DNS server {self.server} refused the update: {dns.rcode.to_text(answer.rcode())}",
                "check the TSIG key name, secret and algorithm, and the server's "
                "update-policy for this zone",
            )

    def publish(self, fqdn: str, value: str) -> None:
        update = self._update()
        update.add(self._relative(fqdn), TXT_TTL, "TXT", f'"{value}"')
        self._send(update)

    def remove(self, fqdn: str, value: str) -> None:
        update = self._update()
        update.delete(self._relative(fqdn), "TXT", f'"{value}"')
        self._send(update)


@dataclass(frozen=True)
class Lexicon:
    """A DNS provider's API through dns-lexicon (``provider`` and its options, such as
    ``auth_token``, as lexicon names them)."""

    domain: str
    provider: str
    options: dict

    def _run(self, action: str, fqdn: str, value: str) -> None:
        import importlib

        try:
            # An optional extra (``pip install 'espace-connecte[dns-providers]'``), loaded
            # only by a region that chose a provider: the box and most centrals never need
            # it, so it is not among the required dependencies.
            Client = importlib.import_module("lexicon.client").Client  # noqa: N806
            ConfigResolver = importlib.import_module("lexicon.config").ConfigResolver  # noqa: N806
        except ImportError:
            raise DnsUpdateError(
                "dns-lexicon is not installed", "pip install dns-lexicon, or use rfc2136"
            ) from None
        config = ConfigResolver().with_dict(
            {
                "provider_name": self.provider,
                "domain": self.domain,
                "ttl": TXT_TTL,
                self.provider: dict(self.options),
            }
        )
        try:
            with Client(config) as ops:
                done = (ops.create_record if action == "create" else ops.delete_record)(
                    "TXT", fqdn, value
                )
        except Exception as e:  # providers raise many kinds of errors; name the provider
            raise DnsUpdateError(
                f"{self.provider}: {type(e).__name__}: {e}",
                "check the provider's credentials in the region's domain settings",
            ) from None
        if done is False:
            raise DnsUpdateError(
                f"{self.provider} did not {action} the TXT record",
                "check the provider's credentials",
            )

    def publish(self, fqdn: str, value: str) -> None:
        self._run("create", fqdn, value)

    def remove(self, fqdn: str, value: str) -> None:
        self._run("delete", fqdn, value)
