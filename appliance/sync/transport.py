"""A minimal HTTP/1.1 client over one persistent connection, counting every byte.

Why not http.client or requests: the sync must know exactly how many bytes crossed the
link (headers included) to keep to its daily budget, and must send as few header bytes
as possible. Requests carry only Host, Content-Length and (for HTTPS) nothing more;
TLS is verified against the system CAs or a pinned CA file.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from urllib.parse import urlsplit

from ..errors import EspaceError


class LinkError(EspaceError):
    """Central could not be reached or the connection broke: the sync tries again later."""


class Connection:
    """One keep-alive connection to central; reconnects once per request if it dropped.

    ``sent`` and ``received`` count bytes on the socket (TLS records excluded: about
    30 bytes per 16 KiB record, noted in docs/sync.md). ``close()`` is idempotent."""

    def __init__(self, url: str, ca_file: str = "", timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LinkError(f"central.url {url!r} is not an http(s) URL",
                            "set central.url to https://central.example")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.base = parts.path.rstrip("/")
        self.host_header = parts.netloc
        self.ca_file = ca_file
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.reader = None
        self.sent = 0
        self.received = 0
        self.requests = 0
        self.last_rtt = 0.0

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                ctx = ssl.create_default_context(cafile=self.ca_file or None)
                sock = ctx.wrap_socket(sock, server_hostname=self.host)
        except OSError as e:
            raise LinkError(f"cannot reach central at {self.host}:{self.port}: {e}",
                            "check the uplink and central.url") from None
        self.sock = sock
        self.reader = sock.makefile("rb")

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def post(self, path: str, body: bytes, content_type: str = "") -> tuple[int, bytes]:
        """POST body; return (status, response body). Raises LinkError on any cut."""
        head = (f"POST {self.base}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
                f"Content-Length: {len(body)}\r\n"
                + (f"Content-Type: {content_type}\r\n" if content_type else "")
                + "\r\n").encode()
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                return self._round_trip(head, body)
            except (OSError, LinkError) as e:
                self.close()
                # A kept-alive connection the server closed while idle: retry once on a
                # fresh one. A fresh connection failing is a real link failure.
                if fresh or attempt == 1:
                    raise LinkError(f"connection to central broke: {e}",
                                    "the sync resumes on its next run") from None
        raise AssertionError("unreachable")

    def _round_trip(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        # The budget counts bytes that crossed the link: what the peer's TCP
        # acknowledged, not what sat in our send buffer when central stopped reading.
        acked0, sent0 = bytes_acked(self.sock), self.sent
        try:
            return self._exchange_bytes(head, body)
        finally:
            acked = bytes_acked(self.sock)
            if acked0 is not None and acked is not None:
                self.sent = sent0 + min(self.sent - sent0, acked - acked0)

    def _exchange_bytes(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        assert self.sock is not None and self.reader is not None
        start = time.monotonic()
        # Counted before sending: a cut mid-send may still have spent the bytes.
        self.sent += len(head)
        self.sock.sendall(head)
        view = memoryview(body)
        for i in range(0, len(body), 16384):
            self.sent += len(view[i:i + 16384])
            self.sock.sendall(view[i:i + 16384])
        status_line = self.reader.readline(65537)
        if not status_line.endswith(b"\n"):  # nothing, or cut inside the line
            raise LinkError("central closed the connection")
        self.received += len(status_line)
        try:
            status = int(status_line.split()[1])
        except (IndexError, ValueError):
            raise LinkError(f"bad status line {status_line[:80]!r}") from None
        length, close = None, False
        while True:
            line = self.reader.readline(65537)
            if not line.endswith(b"\n"):
                raise LinkError("connection cut in the response headers")
            self.received += len(line)
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise LinkError(f"bad Content-Length {value.strip()[:20]!r}") from None
            elif name == "connection" and "close" in value.lower():
                close = True
            elif name == "transfer-encoding":
                raise LinkError("chunked responses are not part of the sync protocol")
        if length is None:
            raise LinkError("response without Content-Length")
        data = self.reader.read(length)
        self.received += len(data)
        if len(data) != length:
            raise LinkError("connection cut in the response body")
        self.requests += 1
        self.last_rtt = time.monotonic() - start
        if close:
            self.close()
        return status, data


_TCP_INFO = getattr(socket, "TCP_INFO", None)
_BYTES_ACKED = struct.Struct("=Q")  # tcpi_bytes_acked, at offset 120 since Linux 4.1


def bytes_acked(sock) -> int | None:
    """Bytes of this connection the peer acknowledged (Linux ``TCP_INFO``); None where
    the kernel does not say."""
    if sock is None or _TCP_INFO is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:
        return None
    if len(info) < 128:
        return None
    return _BYTES_ACKED.unpack_from(info, 120)[0]
