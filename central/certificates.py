"""The boxes' certificates, as central looks after them.

1. A region admin configures the region's domain (:func:`configure_domain`); every box
   of the region gets the stable name ``<site slug>.<domain>`` in a down-event
   (``tls.name``).
2. The box makes its own key and sends a CSR for that name (up-event ``tls.csr``);
   :func:`receive_csr` checks it and keeps it. The key never leaves the box.
3. :func:`run` (``central certificates run``, from cron or a timer) obtains a
   certificate by ACME DNS-01 for every CSR without one, and renews every
   certificate in the last third of its life (at least ``RENEW_MIN_DAYS`` before
   expiry, which for Let's Encrypt's 90 days is day 60), with the CSR the box sent:
   a box need not be online to be renewed. Each certificate goes down to its box as a
   ``tls.certificate`` down-event with the next sync (or USB stick).

Every step is idempotent and keeps its error on the site's row for the sites page.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sync_contract import kinds

from . import acme_issue, dns_update
from .db import database
from .models import DownEvent, Region, Site, utcnow
from .tls_errors import CertificateError
from .tls_models import RegionDomain, SiteCertificate

log = logging.getLogger("central.certificates")

DOWN_NAME = kinds.TLS_NAME.name
DOWN_CERTIFICATE = kinds.TLS_CERTIFICATE.name
UP_CSR = kinds.TLS_CSR.name
RENEW_FRACTION = 1 / 3  # renew in the last third of a certificate's life...
RENEW_MIN_DAYS = 30  # ...and at least this long before it expires
MAX_CSR_CHARS = 8000
LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def check_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 200 or not all(LABEL.fullmatch(x) for x in labels):
        raise CertificateError(
            f"{domain!r} is not a domain name",
            "give a name such as espaces.kayes.ml (letters, digits, hyphens, dots)",
        )
    return domain


def site_name(site: Site, domain: str) -> str:
    return f"{site.slug}.{domain}"


def configure_domain(
    region_name: str,
    domain: str,
    *,
    dns_method: str = "rfc2136",
    dns_server: str = "",
    dns_port: int = 53,
    dns_zone: str = "",
    tsig_name: str = "",
    tsig_secret: str = "",
    tsig_algorithm: str = "hmac-sha256",
    lexicon_provider: str = "",
    lexicon_options: dict | None = None,
) -> RegionDomain:
    """Set a region's domain and DNS credentials; name the region's boxes."""
    domain = check_domain(domain)
    region = Region.get_or_none(Region.name == region_name)
    if region is None:
        raise CertificateError(f"no region {region_name!r}", "create a site in it first")
    if dns_method == "rfc2136":
        if not dns_server or not tsig_name:
            raise CertificateError(
                "rfc2136 needs dns_server and tsig_name",
                "give --dns-server and --tsig-name (and the secret)",
            )
        dns_update.check_tsig_secret(tsig_secret)
        if tsig_algorithm not in dns_update.TSIG_ALGORITHMS:
            raise CertificateError(
                f"unknown TSIG algorithm {tsig_algorithm!r}",
                "use " + " or ".join(dns_update.TSIG_ALGORITHMS),
            )
    elif dns_method == "lexicon":
        if not lexicon_provider:
            raise CertificateError("lexicon needs a provider", "give --lexicon-provider")
    else:
        raise CertificateError(f"unknown DNS method {dns_method!r}", "use rfc2136 or lexicon")
    if dns_zone:
        dns_zone = check_domain(dns_zone)
        if domain != dns_zone and not domain.endswith("." + dns_zone):
            raise CertificateError(
                f"{domain} is not inside the zone {dns_zone}",
                "give the zone that contains the domain",
            )
    fields = dict(
        domain=domain,
        dns_method=dns_method,
        dns_server=dns_server,
        dns_port=int(dns_port),
        dns_zone=dns_zone,
        tsig_name=tsig_name,
        tsig_secret=tsig_secret,
        tsig_algorithm=tsig_algorithm,
        lexicon_provider=lexicon_provider,
        lexicon_options=json.dumps(lexicon_options or {}),
        updated_at=utcnow(),
    )
    with database.atomic():
        row = RegionDomain.get_or_none(RegionDomain.region == region)
        if row is None:
            row = RegionDomain.create(region=region, **fields)
        else:
            RegionDomain.update(**fields).where(RegionDomain.id == row.id).execute()
            row = RegionDomain.get_by_id(row.id)
        assign_names(region)
    return row


def assign_names(region: Region | None = None) -> int:
    """Give every enrolled box of a region with a domain its name (a ``tls.name``
    down-event when the name is new or changed). Returns how many were (re)named."""
    query = RegionDomain.select()
    if region is not None:
        query = query.where(RegionDomain.region == region)
    named = 0
    for rd in query:
        for site in Site.select().where((Site.region == rd.region_id) & ~Site.revoked):
            name = site_name(site, rd.domain)
            row = SiteCertificate.get_or_none(SiteCertificate.site == site)
            if row is not None and row.name == name:
                continue
            with database.atomic():
                if row is None:
                    SiteCertificate.create(site=site, name=name)
                else:  # the domain changed: the old CSR and certificate are for the old one
                    SiteCertificate.update(
                        name=name,
                        csr_pem="",
                        csr_at=None,
                        cert_pem="",
                        not_after=None,
                        issued_at=None,
                        last_error="",
                    ).where(SiteCertificate.id == row.id).execute()
                DownEvent.create(
                    site=site, kind=DOWN_NAME, payload=json.dumps({"name": name}, sort_keys=True)
                )
            named += 1
    return named


def _san_names(csr: x509.CertificateSigningRequest) -> list[str]:
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


def check_csr(csr_pem: str, name: str) -> x509.CertificateSigningRequest:
    """A CSR signed by its key, for exactly ``name``, with a key fit for the web."""
    if not isinstance(csr_pem, str) or len(csr_pem) > MAX_CSR_CHARS:
        raise CertificateError("the CSR is missing or too large", "the box sends it again")
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise CertificateError(
            "the CSR is not a PEM certificate request", "the box sends it again"
        ) from None
    if not csr.is_signature_valid:
        raise CertificateError("the CSR's signature is wrong", "the box sends it again")
    if _san_names(csr) != [name]:
        raise CertificateError(
            f"the CSR names {_san_names(csr)}, not [{name!r}]",
            "the box asks for the name central gave it",
        )
    key = csr.public_key()
    if not (
        isinstance(key, ec.EllipticCurvePublicKey)
        and key.curve.name == "secp256r1"
        or isinstance(key, rsa.RSAPublicKey)
        and key.key_size >= 2048
    ):
        raise CertificateError(
            "the CSR's key is neither ECDSA P-256 nor RSA >= 2048", "update the box's software"
        )
    return csr


def receive_csr(site: Site, payload: dict) -> None:
    """Keep a box's CSR (called in the transaction that stores its ``tls.csr`` event).
    A bad CSR is recorded as the site's error, never raised: it must not block the
    stream."""
    row = SiteCertificate.get_or_none(SiteCertificate.site == site)
    if row is None:
        return  # no name given (yet): nothing to certify
    csr_pem = payload.get("csr") if isinstance(payload, dict) else None
    try:
        check_csr(csr_pem, row.name)
    except CertificateError as e:
        SiteCertificate.update(last_error=str(e)).where(SiteCertificate.id == row.id).execute()
        return
    if csr_pem == row.csr_pem:
        return
    SiteCertificate.update(
        csr_pem=csr_pem, csr_at=utcnow(), cert_pem="", not_after=None, last_error=""
    ).where(SiteCertificate.id == row.id).execute()


def renewal_due(row: SiteCertificate, now: dt.datetime) -> bool:
    """Whether ``row`` needs a (new) certificate at ``now`` (naive UTC)."""
    if not row.csr_pem:
        return False
    if not row.cert_pem or row.not_after is None:
        return True
    cert = x509.load_pem_x509_certificate(row.cert_pem.encode())
    start = cert.not_valid_before_utc.replace(tzinfo=None)
    life = row.not_after - start
    window = max(life * RENEW_FRACTION, min(life / 2, dt.timedelta(days=RENEW_MIN_DAYS)))
    return now >= row.not_after - window


@dataclass
class RunResult:
    named: int = 0
    issued: int = 0
    failed: int = 0


def _publisher(rd: RegionDomain) -> dns_update.Publisher:
    if rd.dns_method == "lexicon":
        return dns_update.Lexicon(
            rd.domain, rd.lexicon_provider, json.loads(rd.lexicon_options or "{}")
        )
    return dns_update.Rfc2136(
        rd.dns_zone or rd.domain,
        rd.dns_server,
        rd.dns_port,
        rd.tsig_name,
        rd.tsig_secret,
        rd.tsig_algorithm,
    )


def issue(row: SiteCertificate, config: acme_issue.AcmeConfig) -> str:
    """Obtain and store a certificate for one site; queue it for the box. Returns the
    full chain. Raises :class:`CertificateError`."""
    site = Site.get_by_id(row.site_id)
    rd = RegionDomain.get_or_none(RegionDomain.region == site.region_id)
    if rd is None:
        raise CertificateError(
            f"the region of {site.slug} has no domain", "central domain set REGION DOMAIN ..."
        )
    chain = acme_issue.obtain(row.csr_pem.encode(), _publisher(rd), config)
    leaf = x509.load_pem_x509_certificate(chain.encode())
    not_after = leaf.not_valid_after_utc.replace(tzinfo=None)
    with database.atomic():
        SiteCertificate.update(
            cert_pem=chain, not_after=not_after, issued_at=utcnow(), last_error=""
        ).where(SiteCertificate.id == row.id).execute()
        DownEvent.create(
            site=site,
            kind=DOWN_CERTIFICATE,
            payload=json.dumps(
                {"name": row.name, "chain": chain, "not_after": not_after.isoformat() + "Z"},
                sort_keys=True,
            ),
        )
    log.info("certificate for %s until %s", row.name, not_after)
    return chain


def run(config: acme_issue.AcmeConfig, now: dt.datetime | None = None) -> RunResult:
    """Name new boxes, then obtain or renew what is due. One site's failure is kept on
    its row and does not stop the others."""
    now = now or utcnow()
    result = RunResult(named=assign_names())
    for row in SiteCertificate.select().where(SiteCertificate.csr_pem != ""):
        if not renewal_due(row, now):
            continue
        SiteCertificate.update(last_try_at=utcnow()).where(SiteCertificate.id == row.id).execute()
        try:
            issue(row, config)
            result.issued += 1
        except CertificateError as e:
            result.failed += 1
            log.warning("certificate for %s: %s", row.name, e)
            SiteCertificate.update(last_error=str(e)).where(SiteCertificate.id == row.id).execute()
    return result


def status(site: Site) -> dict:
    """Name, expiry and last error of a site's certificate, for the sites page."""
    row = SiteCertificate.get_or_none(SiteCertificate.site == site)
    if row is None:
        return {"name": "", "not_after": None, "error": ""}
    return {
        "name": row.name,
        "not_after": row.not_after,
        "error": row.last_error,
        "csr": bool(row.csr_pem),
    }
