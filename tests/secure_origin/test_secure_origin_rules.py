"""The rules around the certificate, without ACME: what central accepts from a box and
from an admin, what a box accepts from central, where Enter leads, when HSTS is sent,
what the kiosk, doctor and central's sites page show, and atomic writes."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from appliance.models import OutboxEvent
from central import certificates, dns_update, service
from central.tls_errors import CertificateError, DnsUpdateError
from secure_origin import store
from secure_origin import sync as tls_sync
from sync_contract import protocol
from tests.central.harness import central_call, make_central
from tests.secure_origin.acme_lab import TSIG_NAME, TSIG_SECRET
from tests.secure_origin.conftest import DOMAIN
from tests.support import make_site

NAME = f"test-site.{DOMAIN}"
HOSTILE = [
    "<script>alert(1)</script>",
    "ߒߞߏ.ߕߍߛߕ.ml",
    "العربية.test.ml",
    "../../etc/passwd",
    "a'; DROP TABLE site;--.x.y",
    "x" * 5000,
    "",
    "a..b.c",
]


def _ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test CA")])
    return key, name


def issue_for(
    data_dir, name: str, *, days: float = 30, start_days: float = -1, key=None, ca=None
) -> str:
    """A chain (leaf + CA) for ``name`` and the box's key (or ``key``), as central would
    send it, signed by a throwaway CA."""
    ca_key, ca_name = ca or _ca()
    now = dt.datetime.now(dt.UTC)
    public = (key or store.private_key(data_dir)).public_key()
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=start_days))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return leaf.public_bytes(serialization.Encoding.PEM).decode()


# --- the box ---------------------------------------------------------------------------


def test_key_is_made_once_private_and_csr_names_the_box(tmp_path):
    key = store.private_key(tmp_path)
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    assert store.private_key(tmp_path).private_numbers() == key.private_numbers()
    csr = certificates.check_csr(store.make_csr(tmp_path, NAME), NAME)
    assert csr.public_key().public_numbers() == key.public_key().public_numbers()


def test_name_from_central_queues_the_csr_in_the_same_transaction(app, db):
    data_dir = app.config["DATA_DIR"]
    with db.atomic():
        assert tls_sync.apply_name({"name": NAME}, data_dir, "10.42.0.1") == "tls"
    event = OutboxEvent.get(OutboxEvent.kind == tls_sync.UP_CSR)
    payload = json.loads(event.payload)
    assert payload["name"] == NAME and event.stream == "civic"
    certificates.check_csr(payload["csr"], NAME)
    assert "PRIVATE" not in event.payload
    assert store.name(data_dir) == NAME
    assert (store.hosts_dir(data_dir) / "espace").read_text() == f"10.42.0.1 {NAME}\n"


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_from_central_are_ignored(app, db, name):
    data_dir = app.config["DATA_DIR"]
    with db.atomic():
        assert tls_sync.apply_name({"name": name}, data_dir, "10.42.0.1") == ""
        assert tls_sync.apply_name(["not", "a", "dict"], data_dir, "10.42.0.1") == ""
    assert store.name(data_dir) == ""
    assert OutboxEvent.select().count() == 0


def test_certificate_must_fit_the_key_and_name_and_be_newer(tmp_path):
    store.set_name(tmp_path, NAME, "10.42.0.1")
    other_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(store.KeyMismatch):
        store.install(tmp_path, issue_for(tmp_path, NAME, key=other_key))
    with pytest.raises(store.CertificateRejected, match="names"):
        store.install(tmp_path, issue_for(tmp_path, "other.espaces.test"))
    for bad in (
        "not a certificate",
        "",
        "ߒߞߏ",
        "-----BEGIN CERTIFICATE-----\n<b>\n",
        None,
        "A" * 100_000,
    ):
        with pytest.raises(store.CertificateRejected):
            store.install(tmp_path, bad)
    assert not store.status(tmp_path).valid
    newer = issue_for(tmp_path, NAME, days=60)
    assert store.install(tmp_path, newer)
    assert not store.install(tmp_path, newer)  # replayed
    assert not store.install(tmp_path, issue_for(tmp_path, NAME, days=30))  # older
    assert store.status(tmp_path).valid
    assert store.status(tmp_path).not_after > dt.datetime.now(dt.UTC) + dt.timedelta(days=59)


def test_a_certificate_for_an_old_key_asks_again_with_the_new_one(app, db):
    data_dir = app.config["DATA_DIR"]
    store.set_name(data_dir, NAME, "10.42.0.1")
    stale = issue_for(data_dir, NAME, key=ec.generate_private_key(ec.SECP256R1()))
    with db.atomic():
        assert tls_sync.apply_certificate({"chain": stale}, data_dir) == ""
    csr = json.loads(OutboxEvent.get(OutboxEvent.kind == tls_sync.UP_CSR).payload)["csr"]
    certificates.check_csr(csr, NAME)


def test_status_says_why_not_valid(tmp_path):
    assert store.status(tmp_path).reason == "no name from central yet"
    store.set_name(tmp_path, NAME, "10.42.0.1")
    assert store.status(tmp_path).reason == "no certificate yet"
    store.install(tmp_path, issue_for(tmp_path, NAME, days=1))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert store.status(tmp_path, later).reason == "expired"
    assert store.StatusCache(tmp_path).get(later).reason == "expired"
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    assert "clock" in store.status(tmp_path, earlier).reason
    # Renamed by central (new domain): the old name's certificate no longer counts.
    store.set_name(tmp_path, "test-site.new.example", "10.42.0.1")
    assert store.status(tmp_path).reason == "certificate for another name"


def test_atomic_write_survives_kill_9(tmp_path):
    """A writer killed at any moment leaves the old file or the new one, never a mix."""
    path = tmp_path / "tls" / "fullchain.pem"
    store.write_atomic(path, b"A" * 50_000)
    code = (
        "import sys, itertools; from pathlib import Path; from secure_origin import store\n"
        "p = Path(sys.argv[1]); print('go', flush=True)\n"
        "for i in itertools.count():\n"
        "    store.write_atomic(p, (b'A' if i % 2 else b'B') * 50_000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"go\n"
    for _ in range(20):  # let it write a few times between reads (a readiness poll)
        path.read_bytes()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert path.read_bytes() in (b"A" * 50_000, b"B" * 50_000)


# --- the portal -------------------------------------------------------------------------


@pytest.fixture
def portal(tmp_path):
    from appliance import create_app
    from appliance.db import database

    app = create_app(
        {
            "SITE": make_site(tmp_path),
            "SITE_DIR": tmp_path,
            "TESTING": True,
            "SECRET_KEY": "test",
            "ALLOWLIST": "memory",
            # No nginx here (test_listener_down_keeps_visitors_on_http checks it).
            "SECURE_ORIGIN_LISTENER_CHECK": False,
        }
    )
    try:
        yield app
    finally:
        database.close()


def _enter(app):
    client = app.test_client()
    return client.post("/welcome", data={"enter": "1"}, environ_base={"REMOTE_ADDR": "10.42.0.50"})


def test_enter_leads_to_https_only_while_the_certificate_is_valid(portal):
    data_dir = portal.config["DATA_DIR"]
    assert _enter(portal).headers["Location"] == "/"  # no name yet
    store.set_name(data_dir, NAME, "10.42.0.1")
    assert _enter(portal).headers["Location"] == "/"  # no certificate yet
    store.install(data_dir, issue_for(data_dir, NAME, days=-0.001, start_days=-2))
    assert _enter(portal).headers["Location"] == "/"  # expired: plain HTTP, said on kiosk
    store.write_atomic(
        store.tls_dir(data_dir) / "fullchain.pem", issue_for(data_dir, NAME, days=30).encode()
    )
    # via /lang/: the language chosen on the welcome page carries over to the new origin
    assert _enter(portal).headers["Location"] == f"https://{NAME}/lang/en?next=/"
    portal.config["SITE"].secure_origin.https = False
    assert _enter(portal).headers["Location"] == "/"


def test_listener_down_keeps_visitors_on_http(portal):
    """A valid certificate but no TLS listener (nginx stopped or missing): plain HTTP."""
    data_dir = portal.config["DATA_DIR"]
    store.set_name(data_dir, NAME, "10.42.0.1")
    store.install(data_dir, issue_for(data_dir, NAME, days=30))
    portal.config["SECURE_ORIGIN_LISTENER_CHECK"] = True
    site = portal.config["SITE"]
    site.hotspot.address = "127.0.0.1"  # where this test can listen
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        site.secure_origin.port = listening.getsockname()[1]
        expected = f"https://{NAME}:{site.secure_origin.port}/lang/en?next=/"
        assert _enter(portal).headers["Location"] == expected
    portal.extensions.pop("secure_origin_listener")  # the 30 s memory, forgotten
    assert _enter(portal).headers["Location"] == "/"


def test_hsts_only_over_https_on_the_name_while_valid(portal):
    data_dir = portal.config["DATA_DIR"]
    client = portal.test_client()
    store.set_name(data_dir, NAME, "10.42.0.1")
    store.install(data_dir, issue_for(data_dir, NAME, days=2))
    phone = {"REMOTE_ADDR": "10.42.0.50"}
    r = client.get("/about", base_url=f"https://{NAME}", environ_base=phone)
    assert r.status_code == 200  # the name is the box's own: not sent to 10.42.0.1
    max_age = int(r.headers["Strict-Transport-Security"].removeprefix("max-age="))
    assert 0 < max_age <= 2 * 86400  # never beyond the certificate's life
    assert (
        "Strict-Transport-Security"
        not in client.get("/about", base_url=f"http://{NAME}", environ_base=phone).headers
    )
    assert (
        "Strict-Transport-Security"
        not in client.get("/about", base_url="https://10.42.0.1", environ_base=phone).headers
    )
    store.write_atomic(
        store.tls_dir(data_dir) / "fullchain.pem",
        issue_for(data_dir, NAME, days=-0.001, start_days=-2).encode(),
    )
    assert (
        "Strict-Transport-Security"
        not in client.get("/about", base_url=f"https://{NAME}", environ_base=phone).headers
    )


def test_kiosk_health_and_doctor_show_the_name_and_expiry(portal, tmp_path):
    from appliance import doctor, health

    site = portal.config["SITE"]
    data_dir = portal.config["DATA_DIR"]
    snap = health.snapshot(site.data_dir, site.content_dir)
    assert snap["secure_origin"]["valid"] is False
    store.set_name(data_dir, NAME, "10.42.0.1")
    store.install(data_dir, issue_for(data_dir, NAME, days=-0.001, start_days=-2))
    snap = health.snapshot(site.data_dir, site.content_dir)
    assert snap["secure_origin"]["reason"] == "expired"
    with portal.test_request_context("/kiosk/health"):
        from flask import render_template

        portal.preprocess_request()
        html = render_template("kiosk/health.html", snap=snap)
    assert "expired" in html and "plain HTTP only" in html
    site_file = tmp_path / "site.toml"
    from provisioning.lab import _dump_toml

    site_file.write_text(_dump_toml(make_site(tmp_path)))
    checks = {what: (status, detail) for status, what, detail in doctor.run_checks(str(site_file))}
    status, detail = checks["certificate"]
    assert status == doctor.WARN and NAME in detail and "espace sync now" in detail


# --- central ----------------------------------------------------------------------------


@pytest.fixture
def capp(tmp_path):
    from central.db import database

    app = make_central(tmp_path / "central")
    try:
        yield app
    finally:
        if not database.is_closed():
            database.close()


def _site(capp, slug="nioro"):
    from central.models import Site

    key = protocol.new_private_key()
    _s, code = central_call(capp, service.create_site, slug, f"Espace {slug}", "Kayes", ["N"])
    central_call(
        capp,
        service.enroll,
        capp.config["DATA_DIR"],
        {"code": code, "box_id": str(uuid.uuid4()), "public_key": protocol.public_b64(key)},
    )
    return central_call(capp, lambda: Site.get(Site.slug == slug))


@pytest.mark.parametrize("domain", [*HOSTILE[:5], "nodot", "-bad.example", "a_b.example"])
def test_domain_is_checked(capp, domain):
    _site(capp)
    with pytest.raises(CertificateError, match="fix:"):
        central_call(
            capp,
            certificates.configure_domain,
            "Kayes",
            domain,
            dns_server="127.0.0.1",
            tsig_name=TSIG_NAME,
            tsig_secret=TSIG_SECRET,
        )


def test_domain_settings_errors_name_the_fix(capp):
    _site(capp)
    cases = [
        ({"tsig_secret": "not base64!"}, "base64"),
        ({"tsig_secret": "c2hvcnQ="}, "shorter"),
        ({"dns_server": ""}, "dns_server"),
        ({"tsig_algorithm": "md5"}, "algorithm"),
        ({"dns_method": "carrier-pigeon"}, "rfc2136 or lexicon"),
        ({"dns_zone": "other.example"}, "inside the zone"),
    ]
    for override, message in cases:
        kw = dict(dns_server="127.0.0.1", tsig_name=TSIG_NAME, tsig_secret=TSIG_SECRET)
        kw.update(override)
        with pytest.raises(CertificateError, match=message):
            central_call(capp, certificates.configure_domain, "Kayes", DOMAIN, **kw)
    with pytest.raises(CertificateError, match="no region"):
        central_call(
            capp,
            certificates.configure_domain,
            "Nowhere",
            DOMAIN,
            dns_server="127.0.0.1",
            tsig_name=TSIG_NAME,
            tsig_secret=TSIG_SECRET,
        )


def test_names_go_down_once_and_csrs_are_checked(capp, tmp_path):
    from central.models import DownEvent
    from central.tls_models import SiteCertificate

    site = _site(capp)
    for _ in range(2):  # idempotent
        central_call(
            capp,
            certificates.configure_domain,
            "Kayes",
            DOMAIN.upper() + ".",
            dns_server="127.0.0.1",
            tsig_name=TSIG_NAME,
            tsig_secret=TSIG_SECRET,
        )
    downs = central_call(
        capp,
        lambda: [
            (d.kind, json.loads(d.payload))
            for d in DownEvent.select().where(DownEvent.site == site)
        ],
    )
    assert downs == [("tls.name", {"name": f"nioro.{DOMAIN}"})]
    box = tmp_path / "box"
    name = f"nioro.{DOMAIN}"
    bad = [
        store.make_csr(box, "other.example"),
        "garbage",
        "ߒߞߏ",
        "<script>",
        None,
        {"a": 1},
        "x" * 10_000,
    ]
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    bad.append(
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(weak, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    for csr in bad:
        central_call(capp, certificates.receive_csr, site, {"csr": csr})
        row = central_call(capp, lambda: SiteCertificate.get())
        assert row.csr_pem == "" and row.last_error, csr
    # Through the exchange, as the box sends it: kept, error cleared.
    good = store.make_csr(box, name)
    central_call(
        capp,
        service.exchange,
        site,
        {
            "push": [
                [
                    "civic",
                    0,
                    [
                        [
                            1,
                            str(uuid.uuid4()),
                            "tls.csr",
                            "2026-11-30T08:00:00+00:00",
                            {"name": name, "csr": good},
                        ]
                    ],
                ]
            ]
        },
    )
    row = central_call(capp, lambda: SiteCertificate.get())
    assert row.csr_pem == good and row.last_error == ""
    assert certificates.renewal_due(row, dt.datetime(2026, 1, 1))


def test_renewal_window(capp, tmp_path):
    from central.tls_models import SiteCertificate

    row = SiteCertificate(csr_pem="x", cert_pem="", not_after=None)
    assert certificates.renewal_due(row, dt.datetime(2026, 1, 1))
    # 90 days: at day 60; a 1-day certificate: half-way; 5 years: in the last third.
    for days, renew_at in ((90, 60), (1, 0.5), (5 * 365, 5 * 365 * 2 / 3)):
        chain = issue_for(tmp_path, NAME, days=days, start_days=0)
        leaf = x509.load_pem_x509_certificate(chain.encode())
        start = leaf.not_valid_before_utc.replace(tzinfo=None)
        row = SiteCertificate(
            csr_pem="x", cert_pem=chain, not_after=leaf.not_valid_after_utc.replace(tzinfo=None)
        )
        assert not certificates.renewal_due(row, start + dt.timedelta(days=renew_at * 0.98))
        assert certificates.renewal_due(row, start + dt.timedelta(days=renew_at * 1.02))


def test_wrong_tsig_key_is_refused_by_the_dns_server(dns_server):
    good = dns_update.Rfc2136(DOMAIN, "127.0.0.1", dns_server.port, TSIG_NAME, TSIG_SECRET)
    good.publish(f"_acme-challenge.x.{DOMAIN}", "v1")
    wrong_secret = dns_update.Rfc2136(
        DOMAIN, "127.0.0.1", dns_server.port, TSIG_NAME, "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc="
    )
    wrong_name = dns_update.Rfc2136(DOMAIN, "127.0.0.1", dns_server.port, "other.", TSIG_SECRET)
    for publisher in (wrong_secret, wrong_name):
        with pytest.raises(DnsUpdateError, match="fix:"):
            publisher.publish(f"_acme-challenge.x.{DOMAIN}", "evil")
    with pytest.raises(DnsUpdateError, match="not inside the zone"):
        good.publish("_acme-challenge.example.org", "v")
    import dns.name

    assert dns_server.txt[dns.name.from_text(f"_acme-challenge.x.{DOMAIN}")] == {"v1"}
    good.remove(f"_acme-challenge.x.{DOMAIN}", "v1")
    assert dns_server.txt[dns.name.from_text(f"_acme-challenge.x.{DOMAIN}")] == set()
    unreachable = dns_update.Rfc2136(DOMAIN, "127.0.0.1", 1, TSIG_NAME, TSIG_SECRET, timeout=2)
    with pytest.raises(DnsUpdateError, match="failed"):
        unreachable.publish(f"_acme-challenge.x.{DOMAIN}", "v")


def test_sites_page_and_csv_show_name_and_expiry(capp, tmp_path):
    from central.tls_models import SiteCertificate

    site = _site(capp)
    central_call(capp, service.create_admin, "awa", "correct horse battery", "regional", "Kayes")
    central_call(
        capp,
        certificates.configure_domain,
        "Kayes",
        DOMAIN,
        dns_server="127.0.0.1",
        tsig_name=TSIG_NAME,
        tsig_secret=TSIG_SECRET,
    )
    chain = issue_for(tmp_path, f"nioro.{DOMAIN}", days=30)
    until = x509.load_pem_x509_certificate(chain.encode()).not_valid_after_utc
    central_call(
        capp,
        lambda: (
            SiteCertificate.update(
                csr_pem="x", cert_pem=chain, not_after=until.replace(tzinfo=None)
            )
            .where(SiteCertificate.site == site)
            .execute()
        ),
    )
    from tests.central.test_central_admin import login

    client = capp.test_client()
    login(client, "awa")
    page = client.get("/").get_data(as_text=True)
    from babel.dates import format_datetime

    shown = format_datetime(until, "d MMM y HH:mm", locale="fr")  # central's French
    assert f"nioro.{DOMAIN}" in page and f"jusqu'au {shown}" in page
    rows = client.get("/sites.csv").get_data(as_text=True).splitlines()
    assert "nom_certificat;certificat_jusqu_au" in rows[0]
    assert f"nioro.{DOMAIN}" in rows[1]


def test_tls_command_says_status_and_writes_a_config_nginx_accepts(tmp_path):
    from click.testing import CliRunner

    from provisioning.lab import _dump_toml
    from secure_origin.cli import tls
    from tests.support import require_program

    site_file = tmp_path / "site.toml"
    site_file.write_text(_dump_toml(make_site(tmp_path)))
    data_dir = tmp_path / "data"
    runner = CliRunner()
    r = runner.invoke(tls, ["status", "--site", str(site_file)])
    assert r.exit_code == 1 and "plain HTTP only: no name from central yet" in r.output
    store.set_name(data_dir, NAME, "10.42.0.1")
    store.install(data_dir, issue_for(data_dir, NAME, days=30))
    r = runner.invoke(tls, ["status", "--site", str(site_file), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["name"] == NAME
    r = runner.invoke(
        tls,
        ["nginx-conf", "--site", str(site_file), "--run-dir", str(tmp_path / "run"), "--user", ""],
    )
    assert r.exit_code == 0, r.output
    conf = (tmp_path / "run" / "nginx.conf").read_text()
    assert "listen 10.42.0.1:443 ssl;" in conf and str(data_dir / "tls" / "key.pem") in conf
    nginx = require_program("nginx", "nginx-light")
    check = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "run" / "nginx.conf")], capture_output=True, text=True
    )
    # (binding 10.42.0.1 fails here: that part runs in test_phone_https.py's namespace)
    assert "syntax is ok" in check.stderr, check.stderr


def test_lexicon_without_the_extra_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_lexicon(name, *args, **kwargs):
        if name.startswith("lexicon"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lexicon)
    monkeypatch.setattr("importlib.import_module", lambda name: no_lexicon(name))
    with pytest.raises(DnsUpdateError, match="pip install dns-lexicon"):
        dns_update.Lexicon(DOMAIN, "gandi", {"auth_token": "x"}).publish(f"_acme.{NAME}", "v")


def test_central_domain_and_certificates_commands(tmp_path):
    from click.testing import CliRunner

    from central.cli import cli

    data = ["--data-dir", str(tmp_path / "central")]
    capp = make_central(tmp_path / "central")
    _site(capp)
    runner = CliRunner(env={"CENTRAL_TSIG_SECRET": TSIG_SECRET})
    r = runner.invoke(
        cli,
        ["domain", *data, "Kayes", DOMAIN, "--dns-server", "127.0.0.1", "--tsig-name", TSIG_NAME],
    )
    assert r.exit_code == 0, r.output
    assert f"<site>.{DOMAIN}" in r.output and TSIG_SECRET not in r.output
    r = runner.invoke(cli, ["certificates", *data, "--list"])
    assert r.exit_code == 0 and f"nioro.{DOMAIN}\twaiting for the box's CSR" in r.output
    r = runner.invoke(
        cli, ["domain", *data, "Kayes", "<b>", "--dns-server", "x", "--tsig-name", TSIG_NAME]
    )
    assert r.exit_code != 0 and "not a domain name" in str(r.exception or r.output)


@pytest.mark.parametrize(
    ("user_agent", "trusts"),
    [
        ("Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 Chrome/120 Mobile", True),
        ("Mozilla/5.0 (Linux; Android 7.1.1; Moto E) AppleWebKit/537.36 Chrome/90 Mobile", True),
        ("Mozilla/5.0 (Linux; Android 7.1; Tecno) AppleWebKit/537.36 Chrome/80 Mobile", False),
        ("Mozilla/5.0 (Linux; U; Android 4.4.2; fr-fr; itel it1407) AppleWebKit/534.30", False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 9_3_5 like Mac OS X) AppleWebKit/601.1.46", False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15", True),
        ("Mozilla/5.0 (Mobile; Nokia_8110_4G; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5", False),
        ("Mozilla/5.0 (Mobile; rv:84.0) Gecko/84.0 Firefox/84.0 KAIOS/3.0", True),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36", True),
        ("", True),
        ("ߒߞߏ <script>Android</script>", True),
    ],
)
def test_old_phones_without_lets_encrypts_root_stay_on_http(user_agent, trusts):
    from secure_origin.clients import trusts_public_roots

    assert trusts_public_roots(user_agent) is trusts


def test_enter_keeps_an_old_android_on_http(portal):
    data_dir = portal.config["DATA_DIR"]
    store.set_name(data_dir, NAME, "10.42.0.1")
    store.install(data_dir, issue_for(data_dir, NAME, days=30))
    old = "Mozilla/5.0 (Linux; U; Android 4.4.2; fr-fr; itel it1407) AppleWebKit/534.30"
    r = portal.test_client().post(
        "/welcome",
        data={"enter": "1"},
        headers={"User-Agent": old},
        environ_base={"REMOTE_ADDR": "10.42.0.50"},
    )
    assert r.headers["Location"] == "/"
    assert _enter(portal).headers["Location"].startswith(f"https://{NAME}/")
