"""Surveys benchmark: submissions per second through the box's OpenRosa server (as ODK
Collect sends them: HEAD, then a multipart POST with Digest), and bytes on the wire per
submission, from the phone and on the sync to central, relative to the submission's
XML compressed with zstd; the same from the phone's browser (/forms: one POST with the
session cookie, exact bytes over a raw socket), and what its first form downloads.

    .venv/bin/python bench/surveys.py [--submissions 300] [--clients 4]

The box's app runs behind waitress in this process's threads; pin the whole run to one
core (``taskset -c 0 .venv/bin/python bench/surveys.py``) for the one-core figure. Every
submission is a real write: blobs fsynced, one SQLite transaction with its outbox
events (synchronous=FULL).
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import zstandard  # noqa: E402

from tests.central.harness import CentralServer, box_options, enrol_box, make_central  # noqa: E402
from tests.support import LiveServer, make_site  # noqa: E402
from tests.surveys.xlsforms import Collect, submission_xml, write_xlsform  # noqa: E402


class CountingCollect(Collect):
    """Counts the bytes of each request and response: bodies exactly, the request line
    and headers from what is sent plus http.client's own (Host, Accept-Encoding,
    Content-Length: about 200 B), so the phone's figures are close, not exact."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.up = self.down = 0

    def raw(self, method, url, body=None, headers=None):
        status, hdrs, data = super().raw(method, url, body, headers)
        head = {"X-OpenRosa-Version": "1.0", **(headers or {})}
        self.up += (
            len(method)
            + len(url)
            + 30
            + sum(len(k) + len(v) + 4 for k, v in head.items())
            + len(body or b"")
            + 200
        )
        self.down += 17 + sum(len(k) + len(v) + 4 for k, v in hdrs.items()) + len(data)
        return status, hdrs, data


def _exchange(url: str, request: bytes) -> tuple[int, bytes, bytes]:
    """(bytes down, head, body) of one HTTP/1.1 request sent as is (Connection: close)."""
    host, port = url.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    return len(raw), head, body


def _request(method: str, path: str, headers: dict, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 10.42.0.1",
        "Connection: close",
        "User-Agent: Mozilla/5.0 (Linux; Android 10; K) Chrome/120.0 Mobile",
        *(f"{k}: {v}" for k, v in headers.items()),
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def browser_bytes(url: str, xmls: list[bytes]) -> tuple[float, float]:
    """Bytes up and down per submission sent from the browser page (after its login)."""
    from tests.surveys.xlsforms import multipart

    _, head, body = _exchange(url, _request("GET", "/forms/login", {}))
    cookie = re.search(rb"Set-Cookie: (session=[^;]+)", head).group(1).decode()
    csrf = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
    form = f"csrf={csrf}&username=moussa&password=secret-123&next=/forms/menage/".encode()
    _, head, _ = _exchange(
        url,
        _request(
            "POST",
            "/forms/login",
            {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            form,
        ),
    )
    cookie = re.search(rb"Set-Cookie: (session=[^;]+)", head).group(1).decode()
    up = down = 0
    for xml in xmls:
        data, ctype = multipart([("xml_submission_file", "xml_submission_file", "text/xml", xml)])
        # The page's FormData adds the CSRF field as a plain part.
        boundary = ctype.split("boundary=")[1]
        data = (
            data[: -len(f"--{boundary}--\r\n")]
            + (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
                f"{csrf}\r\n--{boundary}--\r\n"
            ).encode()
        )
        request = _request(
            "POST",
            "/forms/menage/submission",
            {
                "Cookie": cookie,
                "Content-Type": ctype,
                "Accept": "*/*",
                "Origin": "http://10.42.0.1",
                "Accept-Encoding": "gzip, deflate",
            },
            data,
        )
        got, head, _ = _exchange(url, request)
        if b" 201 " not in head.split(b"\r\n")[0]:
            raise SystemExit(f"browser submission refused: {head[:200]!r}")
        up += len(request)
        down += got
    return up / len(xmls), down / len(xmls)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    from appliance import create_app
    from appliance.db import database
    from appliance.sync.client import SyncClient
    from surveys import digest, forms

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        app = create_app(
            {"SITE": make_site(tmp), "SITE_DIR": tmp, "TESTING": False, "SECRET_KEY": "bench"}
        )
        database.connect(reuse_if_open=True)
        forms.import_xlsform(app.config["SITE"].data_dir, write_xlsform(tmp / "f" / "m.xlsx"))
        digest.add_enumerator("moussa", "secret-123")
        per_client = args.submissions // args.clients
        xmls = [
            [
                submission_xml(instance=f"uuid:{uuid.uuid4()}", nom=f"Enquêté {c}-{i}", photo="")
                for i in range(per_client)
            ]
            for c in range(args.clients)
        ]
        cctx = zstandard.ZstdCompressor(level=3)
        zstd_sizes = [len(cctx.compress(x)) for row in xmls for x in row]
        raw_sizes = [len(x) for row in xmls for x in row]
        with LiveServer(app, threads=4) as box:
            clients = [
                CountingCollect(box.url + "/odk", "moussa", "secret-123")
                for _ in range(args.clients)
            ]
            for c in clients:  # the Digest challenge once per phone, as Collect keeps it
                c.request("HEAD", "/submission")
                c.up = c.down = 0
            errors = [0]

            def work(c: CountingCollect, mine: list[bytes]) -> None:
                for x in mine:
                    if c.submit(x)[0] != 201:
                        errors[0] += 1

            threads = [
                threading.Thread(target=work, args=(c, x))
                for c, x in zip(clients, xmls, strict=True)
            ]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - start
            browser_xmls = [
                submission_xml(instance=f"uuid:{uuid.uuid4()}", nom=f"Web {i}", photo="")
                for i in range(20)
            ]
            web_up, web_down = browser_bytes(box.url, browser_xmls)
            web_z = sum(len(cctx.compress(x)) for x in browser_xmls) / len(browser_xmls)
        n = per_client * args.clients
        phone_up = sum(c.up for c in clients) / n
        phone_down = sum(c.down for c in clients) / n
        z = sum(zstd_sizes) / n
        central_app = make_central(tmp / "central")
        with CentralServer(central_app) as central:
            enrol_box(central_app, central.url, app.config["DATA_DIR"])
            with SyncClient(box_options(app.config["SITE"], central.url)) as client:
                result = client.run(force=True)
        database.close()
        print(f"submissions: {n} by {args.clients} phones, {errors[0]} refused")
        print(f"submissions/s: {n / seconds:.1f}")
        print(f"XML per submission: {sum(raw_sizes) / n:.0f} B, zstd {z:.0f} B")
        print(
            f"phone -> box per submission: ~{phone_up:.0f} B up, {phone_down:.0f} B down "
            f"(HEAD + POST; {phone_up / z:.1f}x the zstd XML)"
        )
        print(
            f"phone's browser -> box per submission: {web_up:.0f} B up, {web_down:.0f} B "
            f"down (one POST with the session cookie; {web_up / web_z:.1f}x the zstd XML)"
        )
        from surveys import web_assets

        first = web_assets.first_load_bytes()
        print(
            f"browser's first form: {sum(first.values()) / 1000:.0f} kB of gzipped "
            f"JavaScript ({', '.join(f'{k} {v / 1000:.0f} kB' for k, v in first.items())}), "
            "then cached for a year (immutable URLs)"
        )
        print(
            f"box -> central sync per submission: {result.bytes_up / n:.0f} B up, "
            f"{result.bytes_down / n:.0f} B down ({result.bytes_up / n / z:.2f}x the zstd "
            f"XML; {result.result}, pushed {result.pushed})"
        )


if __name__ == "__main__":
    main()
