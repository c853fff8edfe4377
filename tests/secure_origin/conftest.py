"""Fixtures of the secure origin: pebble and the RFC 2136 DNS server on loopback, central
with the region's domain configured, and nginx serving the box's certificate."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.central.harness import CentralServer, central_call, make_central
from tests.secure_origin.acme_lab import TSIG_NAME, TSIG_SECRET, Pebble, UpdateDns, free_port
from tests.support import require_program

DOMAIN = "espaces.kayes.test"


@pytest.fixture
def dns_server():
    server = UpdateDns(DOMAIN).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pebble(tmp_path, dns_server):
    require_program("pebble", "pebble")
    p = Pebble(tmp_path / "pebble", dns_server.port, validity_s=3600)
    try:
        yield p.start()
    finally:
        p.close()


@pytest.fixture
def central(tmp_path):
    app = make_central(tmp_path / "central")
    with CentralServer(app) as server:
        server.app = app
        yield server


@pytest.fixture
def acme_config(pebble, central):
    from central.acme_issue import AcmeConfig

    return AcmeConfig(
        directory=pebble.directory,
        data_dir=central.app.config["DATA_DIR"],
        ca_bundle=str(pebble.ca_file),
        timeout_s=60,
    )


def configure_domain(central_app, dns_port: int, **kw):
    from central import certificates

    return central_call(
        central_app,
        certificates.configure_domain,
        "Kayes",
        DOMAIN,
        dns_server="127.0.0.1",
        dns_port=dns_port,
        tsig_name=TSIG_NAME,
        tsig_secret=TSIG_SECRET,
        **kw,
    )


class Nginx:
    """nginx with the box's rendered config, run by the test; ``reload()`` is what
    espace-tls-reload.path does on the box."""

    def __init__(
        self, data_dir: Path, run_dir: Path, upstream: str, listen: str | None = None
    ) -> None:
        from secure_origin import listener

        self.binary = require_program("nginx", "nginx-light")
        self.port = free_port()
        self.listen = listen or f"127.0.0.1:{self.port}"
        self.run_dir = run_dir
        self.conf = listener.write_nginx(
            data_dir, run_dir, listen=self.listen, upstream=upstream, max_body=4 * 2**20
        )
        self.proc: subprocess.Popen | None = None

    def start(self, netns: str | None = None) -> Nginx:
        argv = [self.binary, "-c", str(self.conf), "-g", "daemon off;"]
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        self.log = open(self.run_dir / "nginx.out", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        pid_file = self.run_dir / "nginx.pid"
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text().strip():  # readiness poll
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nginx did not start: " + self.errors())
            time.sleep(0.05)
        return self

    def errors(self) -> str:
        out = []
        for name in ("nginx.out", "nginx-error.log"):
            with contextlib.suppress(OSError):
                out.append((self.run_dir / name).read_text(errors="replace"))
        return "\n".join(out)[-3000:]

    def reload(self) -> None:
        """SIGHUP, then wait until a new worker serves (nginx -s reload's behaviour)."""
        os.kill(int((self.run_dir / "nginx.pid").read_text()), signal.SIGHUP)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None
        with contextlib.suppress(AttributeError):
            self.log.close()


def served_certificate(port: int, name: str, cafile: Path, host: str = "127.0.0.1") -> bytes:
    """The DER certificate nginx presents for ``name``, verified against ``cafile``."""
    import socket

    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def https_get(
    port: int, name: str, path: str, cafile: Path, host: str = "127.0.0.1"
) -> tuple[int, dict, bytes]:
    """GET https://NAME:PORT/PATH with NAME resolved to ``host``, verified against
    ``cafile`` (what a phone does once dnsmasq answered the name)."""
    import http.client
    import socket

    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPConnection(host, port, timeout=10)
    raw = socket.create_connection((host, port), timeout=10)
    conn.sock = context.wrap_socket(raw, server_hostname=name)
    try:
        conn.request("GET", path, headers={"Host": name})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()
