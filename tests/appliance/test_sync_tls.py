"""Central over HTTPS with a regional CA pinned on the box (central.ca_file)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.sync.client import SyncClient
from appliance.sync.enroll import enroll
from appliance.sync.transport import LinkError
from tests.central.harness import add_events, box_options, central_call, make_central


def _cert(subject, issuer_key, issuer, key, ca: bool):
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def tls_central(tmp_path):
    from werkzeug.serving import make_server

    from central.server import QuietHandler

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kayes regional CA")])
    ca = _cert(ca_name, ca_key, ca_name, ca_key, True)
    cert = _cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_key,
                 ca_name, key, False)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    app = make_central(tmp_path / "central")
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context,
                         request_handler=QuietHandler)
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, f"https://127.0.0.1:{server.server_port}", str(tmp_path / "ca.pem")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_pinned_ca_is_required_and_enough(app, db, tls_central):
    from central import service

    capp, url, ca_file = tls_central
    _site, code = central_call(capp, service.create_site, "nioro", "Nioro", "Kayes")
    with pytest.raises(LinkError):  # the system CAs do not know the regional CA
        enroll(url, code, app.config["DATA_DIR"])
    enroll(url, code, app.config["DATA_DIR"], ca_file=ca_file)
    add_events(5)
    with SyncClient(box_options(app.config["SITE"], url, ca_file=ca_file)) as client:
        result = client.run(force=True)
    assert result.result == "ok" and result.pushed == 5
