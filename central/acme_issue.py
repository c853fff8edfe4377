"""One certificate from an ACME server (Let's Encrypt, or pebble in tests) by DNS-01.

Uses the ``acme`` library from certbot's authors. The CSR comes from the box (its key
never leaves it); central only proves control of the name by publishing the
challenge's TXT record under ``_acme-challenge.<name>`` through a
:class:`central.dns_update.Publisher`, and removes it afterwards whatever happened.

The ACME account key is made once in ``DATA_DIR/acme/account.pem`` (0600); the
account is found again by that key (``onlyReturnExisting``), so nothing else needs
to be kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .dns_update import Publisher
from .tls_errors import AcmeError

log = logging.getLogger("central.acme")
USER_AGENT = "espace-central"


@dataclass(frozen=True)
class AcmeConfig:
    directory: str  # e.g. https://acme-v02.api.letsencrypt.org/directory
    data_dir: Path
    email: str = ""
    # A CA file for the ACME server's own HTTPS (pebble's test certificate); empty: the
    # system's store.
    ca_bundle: str = ""
    timeout_s: float = 90.0


def account_key(data_dir: Path):
    """Central's ACME account key (RSA 2048), made once, 0600, written atomically."""
    import josepy as jose

    path = Path(data_dir) / "acme" / "account.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return jose.JWKRSA(key=key)


def _client(config: AcmeConfig):
    from acme import client, errors, messages

    key = account_key(config.data_dir)
    net = client.ClientNetwork(key, user_agent=USER_AGENT, verify_ssl=config.ca_bundle or True)
    try:
        directory = client.ClientV2.get_directory(config.directory, net)
    except Exception as e:  # requests and acme raise many kinds; say where it failed
        raise AcmeError(
            f"cannot reach the ACME directory {config.directory}: {e}",
            "check ACME_DIRECTORY and central's internet access",
        ) from None
    acme = client.ClientV2(directory, net)
    contact = (f"mailto:{config.email}",) if config.email else ()
    try:
        regr = acme.new_account(
            messages.NewRegistration.from_data(
                email=config.email or None, terms_of_service_agreed=True
            )
        )
    except errors.ConflictError as e:
        # The key already has an account: use it.
        regr = acme.query_registration(
            messages.RegistrationResource(
                uri=e.location, body=messages.Registration(contact=contact)
            )
        )
        net.account = regr
    return acme, key


def obtain(csr_pem: bytes, publisher: Publisher, config: AcmeConfig) -> str:
    """The full chain (PEM) for the names of ``csr_pem``; raises :class:`AcmeError`."""
    from acme import challenges, errors

    acme, key = _client(config)
    try:
        order = acme.new_order(csr_pem)
    except errors.Error as e:
        raise AcmeError(
            f"the ACME server refused the order: {e}", "check the site's name and the CSR"
        ) from None
    published: list[tuple[str, str]] = []
    try:
        for authz in order.authorizations:
            if authz.body.status.name == "valid":
                continue  # an authorisation the server still remembers
            domain = authz.body.identifier.value
            chall = next(
                (c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01)), None
            )
            if chall is None:
                raise AcmeError(
                    f"the ACME server offers no dns-01 challenge for {domain}",
                    "use an ACME server that supports DNS-01",
                )
            fqdn = chall.chall.validation_domain_name(domain)
            value = chall.chall.validation(key)
            publisher.publish(fqdn, value)
            published.append((fqdn, value))
            acme.answer_challenge(chall, chall.response(key))
        deadline = dt.datetime.now() + dt.timedelta(seconds=config.timeout_s)
        try:
            order = acme.poll_and_finalize(order, deadline=deadline)
        except errors.ValidationError as e:
            problems = "; ".join(
                f"{a.body.identifier.value}: {c.error}"
                for a in e.failed_authzrs
                for c in a.body.challenges
                if c.error
            )
            raise AcmeError(
                f"the DNS-01 challenge failed: {problems}",
                "check that the TXT record is visible from the internet "
                "(the region's DNS server must serve the zone)",
            ) from None
        except errors.TimeoutError:
            raise AcmeError(
                "the ACME server did not validate the order in time",
                "try again later (central retries on its next run)",
            ) from None
        except errors.Error as e:
            raise AcmeError(f"the ACME server refused to finalise: {e}", "check the CSR") from None
    finally:
        for fqdn, value in published:
            try:
                publisher.remove(fqdn, value)
            except Exception as e:  # a stale TXT record is harmless; do not hide the cause
                log.warning("could not remove the TXT record %s: %s", fqdn, e)
    return order.fullchain_pem
