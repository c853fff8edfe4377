"""Central's tables for the boxes' certificates (created by migration 0021_secure_origin).

Not in :data:`central.models.MODELS`: step 0001 creates those as they were at version 1;
these tables came later and are created by their own step.
"""

from __future__ import annotations

import peewee

from .models import BaseModel, Region, Site, utcnow


class RegionDomain(BaseModel):
    """The domain a region owns, under which each box is ``<site slug>.<domain>``, and
    how central may publish TXT records in it. ``tsig_secret`` and ``lexicon_options``
    are credentials: shown to nobody, never logged."""

    region = peewee.ForeignKeyField(Region, unique=True, on_delete="CASCADE")
    domain = peewee.CharField()
    dns_method = peewee.CharField(default="rfc2136")  # rfc2136, lexicon
    dns_server = peewee.CharField(default="")
    dns_port = peewee.IntegerField(default=53)
    dns_zone = peewee.CharField(default="")  # empty: the domain itself
    tsig_name = peewee.CharField(default="")
    tsig_secret = peewee.CharField(default="")
    tsig_algorithm = peewee.CharField(default="hmac-sha256")
    lexicon_provider = peewee.CharField(default="")
    lexicon_options = peewee.TextField(default="{}")  # JSON
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "region_domain"


class SiteCertificate(BaseModel):
    """One box's name, the CSR it sent, and the certificate central obtained for it."""

    site = peewee.ForeignKeyField(Site, unique=True, on_delete="CASCADE")
    name = peewee.CharField()
    csr_pem = peewee.TextField(default="")
    csr_at = peewee.DateTimeField(null=True)
    cert_pem = peewee.TextField(default="")
    not_after = peewee.DateTimeField(null=True)
    issued_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(default="")
    last_try_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "site_certificate"
