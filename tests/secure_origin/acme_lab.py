"""An ACME test bed on loopback: Debian's pebble and a DNS server that accepts RFC 2136
updates signed with TSIG and answers the TXT queries pebble's validator makes.

The DNS server is dnspython on a real socket pair (UDP and TCP on 127.0.0.1): central
updates it exactly as it would update a region's BIND; pebble asks it exactly as
Let's Encrypt asks the internet. Updates with a wrong or no key are refused (NOTAUTH).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
TSIG_NAME = "espace-central."
TSIG_SECRET = base64.b64encode(b"k" * 32).decode()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the DNS server ------------------------------------------------------------------------


class UpdateDns:
    """TXT records of one zone, changed by signed RFC 2136 updates."""

    def __init__(self, zone: str) -> None:
        self.zone = dns.name.from_text(zone)
        self.keyring = {
            dns.name.from_text(TSIG_NAME): dns.tsig.Key(
                TSIG_NAME, base64.b64decode(TSIG_SECRET), "hmac-sha256"
            )
        }
        self.txt: dict[dns.name.Name, set[str]] = {}
        self.lock = threading.Lock()
        self.updates = 0
        self.refused = 0
        self.queries: list[str] = []
        self.port = free_port(socket.SOCK_DGRAM)
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    def answer(self, wire: bytes) -> bytes | None:
        try:
            msg = dns.message.from_wire(wire, keyring=self.keyring)
        except dns.message.UnknownTSIGKey:
            self.refused += 1
            msg = dns.message.from_wire(wire, keyring=None, ignore_trailing=True)
            reply = dns.message.make_response(msg)
            reply.set_rcode(dns.rcode.NOTAUTH)
            return reply.to_wire()
        except (dns.tsig.BadSignature, dns.tsig.PeerBadSignature):
            self.refused += 1  # as BIND does: NOTAUTH, unsigned
            msg = dns.message.from_wire(wire, keyring=None, ignore_trailing=True)
            reply = dns.message.make_response(msg)
            reply.set_rcode(dns.rcode.NOTAUTH)
            return reply.to_wire()
        except dns.exception.DNSException:
            return None
        reply = dns.message.make_response(msg)
        if msg.opcode() == dns.opcode.UPDATE:
            if not msg.had_tsig:
                self.refused += 1
                reply.set_rcode(dns.rcode.REFUSED)
                return reply.to_wire()
            with self.lock:
                for rrset in msg.update:
                    name = rrset.name
                    if not name.is_subdomain(self.zone) or rrset.rdtype != dns.rdatatype.TXT:
                        continue
                    values = self.txt.setdefault(name, set())
                    for rd in rrset:
                        text = b"".join(rd.strings).decode()
                        if rrset.deleting == dns.rdataclass.NONE:
                            values.discard(text)
                        else:
                            values.add(text)
                self.updates += 1
            return reply.to_wire()
        q = msg.question[0]
        self.queries.append(q.name.to_text())
        with self.lock:
            values = sorted(self.txt.get(q.name, ()))
        if q.rdtype == dns.rdatatype.TXT and values:
            reply.answer.append(
                dns.rrset.from_text_list(q.name, 60, "IN", "TXT", [f'"{v}"' for v in values])
            )
        elif not q.name.is_subdomain(self.zone):
            reply.set_rcode(dns.rcode.REFUSED)
        else:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        return reply.to_wire()

    def start(self) -> UpdateDns:
        owner = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                out = owner.answer(data)
                if out:
                    sock.sendto(out, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                f = self.request.makefile("rb")
                while head := f.read(2):
                    size = int.from_bytes(head, "big")
                    out = owner.answer(f.read(size))
                    if out:
                        self.request.sendall(len(out).to_bytes(2, "big") + out)

        class UdpServer(socketserver.ThreadingUDPServer):
            allow_reuse_address = True
            daemon_threads = True

        class TcpServer(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        for _attempt in range(50):  # a UDP port whose TCP twin is free too
            servers: list[socketserver.BaseServer] = []
            try:
                servers.append(UdpServer(("127.0.0.1", self.port), Udp))
                servers.append(TcpServer(("127.0.0.1", self.port), Tcp))
                break
            except OSError:
                for server in servers:
                    server.server_close()
                self.port = free_port(socket.SOCK_DGRAM)
        else:
            raise RuntimeError("no free port pair for the DNS server")
        for server in servers:
            thread = threading.Thread(target=server.serve_forever, name="test-dns", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(10)
        self._servers, self._threads = [], []


# --- pebble --------------------------------------------------------------------------------


def make_ca_and_cert(workdir: Path, names: list[str], ips: list[str]) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate signed by it (for pebble's own HTTPS)."""
    import ipaddress

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "espace test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]
                + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = workdir / "ca.pem", workdir / "cert.pem", workdir / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


class Pebble:
    """Debian's pebble on loopback, validating DNS-01 through ``dns_port``, issuing
    certificates valid for ``validity_s`` seconds."""

    def __init__(self, workdir: Path, dns_port: int, validity_s: int = 3600) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dns_port = dns_port
        self.validity_s = validity_s
        self.port = free_port()
        self.mgmt_port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> Pebble:
        self.ca_file, cert, key = make_ca_and_cert(self.workdir, ["localhost"], ["127.0.0.1"])
        config = self.workdir / "pebble.json"
        config.write_text(
            json.dumps(
                {
                    "pebble": {
                        "listenAddress": f"127.0.0.1:{self.port}",
                        "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                        "certificate": str(cert),
                        "privateKey": str(key),
                        "httpPort": free_port(),
                        "tlsPort": free_port(),
                        "ocspResponderURL": "",
                        "externalAccountBindingRequired": False,
                        "certificateValidityPeriod": self.validity_s,
                    }
                }
            )
        )
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": "0",
        }
        self.log = open(self.workdir / "pebble.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [PEBBLE, "-config", str(config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        context = ssl.create_default_context(cafile=str(self.ca_file))
        deadline = time.monotonic() + 30
        while True:  # readiness poll, not a timing
            if self.proc.poll() is not None:
                raise RuntimeError("pebble exited: " + self.log_text())
            try:
                urllib.request.urlopen(self.directory, context=context, timeout=2).read()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("pebble did not start: " + self.log_text()) from None
                time.sleep(0.1)

    def log_text(self) -> str:
        return (self.workdir / "pebble.log").read_text(errors="replace")[-3000:]

    def root_pem(self) -> str:
        """The root that signs this pebble run's certificates (new at every start)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        return (
            urllib.request.urlopen(
                f"https://127.0.0.1:{self.mgmt_port}/roots/0", context=context, timeout=10
            )
            .read()
            .decode()
        )

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None
        with contextlib.suppress(AttributeError):
            self.log.close()
