"""A certificate for a box, end to end on loopback: central publishes the DNS-01 TXT
record by RFC 2136, pebble validates it and issues, the sync brings the certificate to
the box, nginx serves it, and central renews it as it nears expiry."""

from __future__ import annotations

import datetime as dt
import time

import dns.name
import pytest
from cryptography import x509

from appliance import server
from appliance.sync.client import SyncClient
from tests.central.harness import box_options, central_call, enrol_box
from tests.secure_origin.conftest import (
    DOMAIN,
    Nginx,
    configure_domain,
    https_get,
    served_certificate,
)
from tests.support import LiveServer

NAME = f"nioro.{DOMAIN}"
# waitress as on the box: it believes X-Forwarded-* from the TLS listener on loopback.
BEHIND_NGINX = {k: v for k, v in server.ADJUSTMENTS.items() if k.startswith("trusted_proxy")}


def sync(app):
    with SyncClient(box_options(app.config["SITE"], app.config["CENTRAL_URL"])) as client:
        result = client.run(force=True)
    assert result.result == "ok", result
    return result


@pytest.fixture
def box(app, db, central):
    enrol_box(central.app, central.url, app.config["DATA_DIR"])
    app.config["CENTRAL_URL"] = central.url
    return app


def _site_cert(central_app):
    from central.tls_models import SiteCertificate

    return central_call(central_app, lambda: SiteCertificate.get())


def test_central_obtains_by_dns01_box_serves_and_renewal_arrives(
    box, central, pebble, dns_server, acme_config, tmp_path, monkeypatch
):
    from central import certificates
    from secure_origin import store

    data_dir = box.config["DATA_DIR"]
    configure_domain(central.app, dns_server.port)
    sync(box)  # pulls its name, makes its key, queues the CSR
    assert store.name(data_dir) == NAME
    assert (data_dir / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    assert (data_dir / "tls" / "hosts" / "espace").read_text() == f"10.42.0.1 {NAME}\n"
    sync(box)  # pushes the CSR
    row = _site_cert(central.app)
    assert row.csr_pem and not row.cert_pem and row.last_error == ""
    # The box's key never left it: central holds a CSR, no private key.
    assert "PRIVATE KEY" not in row.csr_pem

    result = central_call(central.app, certificates.run, acme_config)
    assert (result.issued, result.failed) == (1, 0), _site_cert(central.app).last_error
    assert dns_server.updates == 2  # published, then removed
    assert any(q.startswith(f"_acme-challenge.{NAME}") for q in dns_server.queries)
    challenge = dns.name.from_text(f"_acme-challenge.{NAME}")
    assert dns_server.txt.get(challenge) in (None, set())  # removed after validation
    # Nothing more to do until it nears expiry.
    assert central_call(central.app, certificates.run, acme_config).issued == 0

    sync(box)
    held = store.status(data_dir)
    assert held.valid and held.name == NAME

    root = tmp_path / "pebble-root.pem"
    root.write_text(pebble.root_pem())
    with LiveServer(box, **BEHIND_NGINX) as web:
        nginx = Nginx(data_dir, tmp_path / "nginx", upstream=web.url.removeprefix("http://"))
        try:
            nginx.start()
            first = served_certificate(nginx.port, NAME, root)
            status, headers, _body = https_get(nginx.port, NAME, "/about", root)
            assert status == 200
            assert headers["strict-transport-security"].startswith("max-age=")

            # pebble's certificate lives one hour; the renewal window is widened by
            # fixture to its whole life (in service: the last third, >= 30 days), so it
            # is due now, with no sleep. Renewed with the CSR the box sent, without the
            # box asking.
            leaf = x509.load_der_x509_certificate(first)
            life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
            assert life <= dt.timedelta(hours=1, minutes=1)
            monkeypatch.setattr(certificates, "RENEW_FRACTION", 1.0)
            monkeypatch.setattr(certificates, "RENEW_MIN_DAYS", 0)
            assert central_call(central.app, certificates.run, acme_config).issued == 1
            sync(box)
            nginx.reload()
            deadline = time.monotonic() + 20
            while (second := served_certificate(nginx.port, NAME, root)) == first:
                assert time.monotonic() < deadline, "nginx still serves the old certificate"
                time.sleep(0.1)
            assert x509.load_der_x509_certificate(second).serial_number != leaf.serial_number
        finally:
            nginx.close()
