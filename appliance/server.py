"""The production WSGI server: waitress, with two listeners and limits for a Pi.

Why waitress on a Raspberry Pi serving ~30 phones: one process (one copy of the app
in memory, well under 60 MB), a fixed pool of threads for the app, and an
asynchronous loop that writes responses to the sockets. A phone on a weak Wi-Fi
signal slowly draining a video does not hold an app thread: the thread hands the
body to the loop and serves the next request. File bodies (``wsgi.file_wrapper``)
are streamed from disk, not loaded into memory. Pure Python, no compiler needed.

Two servers run in the process, each with its own socket map, connection limit and
thread pool, so that nothing a phone does to one reaches the other:

- the **hotspot** listener (port 80) for phones. One phone must not take it down:
  it may hold at most :data:`PER_ADDRESS` connections; a request whose headers are not
  complete after :data:`HEADER_SECONDS` is dropped (slowloris); and when the
  connection table is nearly full, idle connections and stalled header reads are
  shed first, so the server keeps accepting instead of going deaf. The kiosk's pages
  answer 404 there.
- the **kiosk** listener on loopback (127.0.0.1:8081) for the touchscreen's chromium
  and for technicians on SSH. A phone cannot reach a loopback address, so it can
  neither try PINs nor crowd the facilitator out.

Each request's WSGI environ says which listener took it (``espace.listener``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from flask import Flask
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

KIOSK_PORT = 8081
LISTENER_KEY = "espace.listener"
HOTSPOT, KIOSK = "hotspot", "kiosk"

UNREAD_BODY = 64 * 1024  # bodies above this from a phone whose uploads were refused
REFUSED_TEXT = (
    "<!doctype html><meta charset=utf-8><title>Espace</title><p>Trop d'envois "
    "refusés depuis ce téléphone : réessayez dans 10 minutes. <a href=/>Accueil</a>"
)
REFUSED_BODY = (
    f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/html; charset=utf-8\r\n"
    f"Content-Length: {len(REFUSED_TEXT.encode())}\r\nConnection: close\r\n\r\n"
).encode() + REFUSED_TEXT.encode()
SWITCH_INTERVAL = 0.001
PER_ADDRESS = 24  # default; hotspot.max_connections_per_phone, as nftables applies
HEADER_SECONDS = 10.0  # a real phone sends its headers in one packet or two
BODY_SECONDS = 300.0  # a 3 MB voice note on a weak signal, with margin
SHED_AT = 0.8  # share of connection_limit at which idle connections are shed

TRUSTED_PROXY = "127.0.0.1"

# waitress's limits for a Pi (1 GB of RAM, an SD card, ~30 phones).
ADJUSTMENTS = {
    "ident": "espace",
    "connection_limit": 300,
    # Idle keep-alive connections are closed after 30 s, checked every 2 s.
    "channel_timeout": 30,
    "cleanup_interval": 2,
    "backlog": 256,
    # A request line and headers beyond 16 KB are not a phone's.
    "max_request_header_size": 16 * 1024,
    # Bodies above 256 KB go to a temporary file, not RAM; responses above 512 KB
    # likewise; a slow reader holds at most 4 MB before the app thread waits.
    "inbuf_overflow": 256 * 1024,
    "outbuf_overflow": 512 * 1024,
    "outbuf_high_watermark": 4 * 1024 * 1024,
    "recv_bytes": 16 * 1024,
    # poll(), not select(): select() fails above 1024 descriptors.
    "asyncore_use_poll": True,
    "clear_untrusted_proxy_headers": True,
    # The TLS listener (nginx, secure_origin.listener) on this box says which phone is
    # behind it and that the request came over HTTPS; trusted from loopback only.
    "trusted_proxy": TRUSTED_PROXY,
    "trusted_proxy_count": 1,
    "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
}


class GuardedChannel(HTTPChannel):
    """A connection that remembers when its current request began to arrive."""

    request_started = 0.0

    def received(self, data: bytes) -> bool:
        if self.request is None:
            self.request_started = time.time()
        result = super().received(data)
        request = self.request
        if (
            request is not None
            and request.headers_finished
            and not request.completed
            and request.content_length > UNREAD_BODY
            and self.server.refuses_body(self)
        ):
            self._refuse_unread()
        return result

    def _refuse_unread(self) -> None:
        """Answer 429 and close without reading the rest of the body."""
        self.request = None
        self.write_soon(REFUSED_BODY)
        self.close_when_flushed = True

    def idle(self) -> bool:
        """Nothing in flight: no request arriving, none running, nothing to send."""
        return self.request is None and not self.requests and not self.total_outbufs_len

    def stalled(self, now: float, header_seconds: float) -> bool:
        """Receiving a request too slowly: headers unfinished after ``header_seconds``,
        or a body still arriving after :data:`BODY_SECONDS`."""
        request = self.request
        if request is None or self.requests:
            return False
        age = now - self.request_started
        return age > (BODY_SECONDS if request.headers_finished else header_seconds)


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server with per-address limits, a header deadline and shedding."""

    channel_class = GuardedChannel
    per_address = PER_ADDRESS
    header_seconds = HEADER_SECONDS
    listener = HOTSPOT

    def handle_accept(self) -> None:
        try:
            pair = self.accept()
        except OSError:
            return
        if pair is None:
            return
        conn, addr = pair
        host = addr[0] if isinstance(addr, tuple) else addr
        mine = sum(
            1
            for c in list(self.active_channels.values())
            if isinstance(c.addr, tuple) and c.addr[0] == host
        )
        # The TLS listener carries every HTTPS phone from one address; it applies the
        # same per-phone limit itself (limit_conn in secure_origin.listener).
        if mine >= self.per_address and host != TRUSTED_PROXY:
            # Closed at once: the phone's extra connections cost one accept each.
            conn.close()
            _limited("connections from one address above %d: refused", self.per_address)
            return
        # As waitress's own handle_accept does: TCP_NODELAY on the accepted socket.
        # Without it a kept-alive response waits ~40 ms for the phone's delayed ACK
        # (Nagle): 400 req/s instead of 4,000 (bench/portal.py, docs/secure-origin.md).
        self.set_socket_options(conn)
        self.channel_class(self, conn, addr, self.adj, map=self._map)

    upload_refusals = None  # appliance.throttle.Recent, set by make_server

    def refuses_body(self, channel: GuardedChannel) -> bool:
        """A large body from a phone whose last uploads were refused is not read."""
        host = channel.addr[0] if isinstance(channel.addr, tuple) else ""
        return (
            self.upload_refusals is not None
            and host != TRUSTED_PROXY
            and self.upload_refusals.blocked(host)
        )

    def readable(self) -> bool:
        if len(self._map) >= self.adj.connection_limit * SHED_AT:
            self.shed(time.time())
        return super().readable()

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        for channel in list(self.active_channels.values()):
            if channel.stalled(now, self.header_seconds):
                channel.will_close = True

    def shed(self, now: float) -> None:
        """Near the limit: close idle connections and requests stalled for over 2 s,
        oldest activity first, down to half the limit."""
        candidates = [
            c
            for c in list(self.active_channels.values())
            if not c.will_close and (c.idle() or c.stalled(now, 2.0))
        ]
        candidates.sort(key=lambda c: c.last_activity)
        excess = len(self._map) - self.adj.connection_limit // 2
        for channel in candidates[: max(excess, 0)]:
            channel.will_close = True
            channel.handle_close()
        if candidates:
            _limited("near the connection limit: shed idle or stalled connections")


class KioskServer(GuardedServer):
    listener = KIOSK


def tag_listener(app, listener: str):
    """WSGI middleware writing which listener took the request into its environ."""

    def wrapped(environ, start_response):
        environ[LISTENER_KEY] = listener
        return app(environ, start_response)

    return wrapped


def make_server(
    app,
    host: str,
    port: int,
    *,
    threads: int,
    listener: str = HOTSPOT,
    max_body: int | None = None,
    **overrides,
) -> GuardedServer:
    """One listener with its own socket map and thread pool, accepting; its loop runs
    in :meth:`run`."""
    adjustments = dict(ADJUSTMENTS, threads=threads, **overrides)
    if max_body is not None:
        adjustments["max_request_body_size"] = max_body
    server_class = KioskServer if listener == KIOSK else GuardedServer
    server = server_class(tag_listener(app, listener), map={}, host=host, port=port, **adjustments)
    if hasattr(app, "extensions"):  # the app's count of refused uploads, shared
        from .throttle import upload_refusals

        server.upload_refusals = upload_refusals(app)
        site = app.config.get("SITE")
        if site is not None:  # the same number nftables allows each phone (ct count)
            server.per_address = site.hotspot.max_connections_per_phone
    return server


class _RateLimited(logging.Filter):
    """Let one record per message through every ``seconds``, then say how many were
    dropped: under load waitress would write one warning per queued request (125,000
    lines in two minutes, on an SD card)."""

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.msg}"
        now = time.monotonic()
        with self._lock:
            last, dropped = self._last.get(key, (float("-inf"), 0))
            if now - last < self.seconds:
                self._last[key] = (last, dropped + 1)
                return False
            self._last[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} ({dropped} similar messages dropped)"
        return True


_log = logging.getLogger("espace.server")


def _limited(message: str, *args) -> None:
    _log.warning(message, *args)


def quiet_logs(seconds: float = 60.0) -> None:
    """Rate-limit waitress's per-request warnings and our own shedding notes."""
    for name in ("waitress.queue", "waitress", "espace.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RateLimited) for f in logger.filters):
            logger.addFilter(_RateLimited(seconds))


def run(app: Flask, host: str, port: int, threads: int = 8, kiosk_port: int = KIOSK_PORT) -> None:
    """Serve phones on ``host:port`` and the kiosk on ``127.0.0.1:kiosk_port`` (0: none)
    until the process is stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    quiet_logs()
    # A thread busy parsing an upload hands the GIL over every 1 ms instead of 5: the
    # loop thread, which accepts and writes for every phone, waits less behind it.
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Bodies are bounded by the app (MAX_CONTENT_LENGTH); let waitress agree.
    max_body = app.config["MAX_CONTENT_LENGTH"] + 65536
    hotspot = make_server(app, host, port, threads=threads, max_body=max_body)
    if kiosk_port:
        kiosk = make_server(
            app,
            "127.0.0.1",
            kiosk_port,
            threads=2,
            listener=KIOSK,
            max_body=max_body,
            connection_limit=40,
        )
        threading.Thread(target=kiosk.run, name="kiosk-listener", daemon=True).start()
        _log.info("kiosk on http://127.0.0.1:%d/kiosk/", kiosk_port)
    _log.info("serving phones on http://%s:%d/", host, port)
    hotspot.run()
