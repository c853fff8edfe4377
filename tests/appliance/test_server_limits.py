"""One phone cannot take the box down: the production server (appliance.server) on
real loopback sockets, with attackers bound to their own loopback addresses
(127.0.0.2, 127.0.0.3...) as phones on the hotspot have their own."""

from __future__ import annotations

import http.client
import logging
import socket
import threading

import pytest

from appliance import server as srv
from tests.support import free_port


class Running:
    """A server of appliance.server looping in a thread; close() is idempotent."""

    def __init__(self, app, listener=srv.HOTSPOT, **overrides):
        self.server = srv.make_server(
            app, "127.0.0.1", free_port(), threads=4, listener=listener, **overrides
        )
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, name="test-server", daemon=True)
        self.thread.start()

    def close(self):
        if not self.thread.is_alive():
            return
        server = self.server

        def stop():
            for dispatcher in list(server._map.values()):
                dispatcher.close()

        server.trigger.pull_trigger(stop)
        self.thread.join(timeout=10)
        server.task_dispatcher.shutdown()


@pytest.fixture
def hotspot(app):
    running = Running(app)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def kiosk(app):
    running = Running(app, listener=srv.KIOSK, connection_limit=40)
    try:
        yield running
    finally:
        running.close()


def get(port, path, timeout=10.0, source="127.0.0.1"):
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def open_sockets(port, count, source, first_bytes=b""):
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
        if first_bytes:
            s.sendall(first_bytes)
        sockets.append(s)
    return sockets


def closed_by_server(s) -> bool:
    """True when the server closed this connection (EOF or reset) within the timeout."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_the_kiosk_is_not_on_the_hotspot_listener(hotspot, kiosk):
    for path in (
        "/kiosk/login",
        "/kiosk/",
        "/kiosk",
        "/kiosk/library/",
        "/kiosk/internet/",
        "/kiosk/labels",
    ):
        assert get(hotspot.port, path)[0] == 404, path
    assert get(kiosk.port, "/kiosk/login")[0] == 200
    assert get(hotspot.port, "/")[0] == 200


def test_health_is_not_for_phones(app):
    phone = app.test_client()
    hotspot_phone = {srv.LISTENER_KEY: srv.HOTSPOT, "REMOTE_ADDR": "10.42.0.23"}
    assert phone.get("/api/health", environ_base=hotspot_phone).status_code == 404
    technician = {srv.LISTENER_KEY: srv.HOTSPOT, "REMOTE_ADDR": "127.0.0.1"}
    assert phone.get("/api/health", environ_base=technician).status_code == 200
    screen = {srv.LISTENER_KEY: srv.KIOSK, "REMOTE_ADDR": "127.0.0.1"}
    assert phone.get("/api/health", environ_base=screen).status_code == 200


def test_200_idle_connections_from_one_phone_do_not_stop_the_others(hotspot, kiosk):
    idle = []
    try:
        for _ in range(200):
            idle.append(
                socket.create_connection(
                    ("127.0.0.1", hotspot.port), timeout=10, source_address=("127.0.0.2", 0)
                )
            )
        assert get(hotspot.port, "/")[0] == 200
        assert get(kiosk.port, "/kiosk/login")[0] == 200
        # Beyond its share, the phone's connections are closed at once.
        assert closed_by_server(idle[-1])
    finally:
        for s in idle:
            s.close()


def test_idle_connections_from_many_phones_are_shed_near_the_limit(app):
    running = Running(app, connection_limit=60)
    idle = []
    try:
        for n in range(10):
            idle += open_sockets(running.port, 8, f"127.0.1.{n + 1}")
        # 80 idle connections against a limit of 60: the server keeps accepting by
        # closing idle ones, so a real request still gets through.
        assert get(running.port, "/")[0] == 200
        assert sum(closed_by_server(s) for s in idle[:20]) >= 10
    finally:
        for s in idle:
            s.close()
        running.close()


def test_slowloris_headers_are_dropped(app):
    running = Running(app)
    running.server.header_seconds = 0.5
    running.server.adj.cleanup_interval = 0.1
    slow = []
    try:
        slow = open_sockets(
            running.port, 20, "127.0.0.3", first_bytes=b"GET / HTTP/1.1\r\nHost: box\r\nX-a: 1\r\n"
        )
        for s in slow:
            s.sendall(b"X-b: 2\r\n")  # still trickling: activity alone does not save it
        assert all(closed_by_server(s) for s in slow)
        assert get(running.port, "/")[0] == 200
    finally:
        for s in slow:
            s.close()
        running.close()


def test_queue_warnings_are_rate_limited(caplog):
    logger = logging.getLogger("waitress.queue")
    srv.quiet_logs()
    with caplog.at_level(logging.WARNING, logger="waitress.queue"):
        for depth in range(1000):
            logger.warning("Task queue depth is %d", depth)
    records = [r for r in caplog.records if r.name == "waitress.queue"]
    assert len(records) == 1


def test_the_limits_are_those_for_a_pi(app):
    running = Running(app)
    try:
        adj = running.server.adj
        assert adj.connection_limit == 300 and adj.channel_timeout == 30
        assert adj.max_request_header_size == 16 * 1024 and adj.asyncore_use_poll
    finally:
        running.close()


def test_the_tls_listener_is_not_one_phone(app):
    """nginx on 127.0.0.1 carries every HTTPS phone: the per-address cap skips it."""
    running = Running(app)
    held = []
    try:
        held = open_sockets(running.port, srv.PER_ADDRESS + 6, srv.TRUSTED_PROXY)
        assert not closed_by_server_soon(held[-1])
        assert get(running.port, "/")[0] == 200
    finally:
        for s in held:
            s.close()
        running.close()


def closed_by_server_soon(s) -> bool:
    s.settimeout(1.0)
    return closed_by_server(s)


def test_a_phone_whose_uploads_were_refused_is_answered_before_its_body(app):
    """After its refused uploads, a phone's next large body is not read: 429 at once."""
    from appliance import throttle

    running = Running(app)
    try:
        for _ in range(throttle.REFUSALS_ALLOWED):
            throttle.upload_refusals(app).note("127.0.0.4")
        s = socket.create_connection(
            ("127.0.0.1", running.port), timeout=10, source_address=("127.0.0.4", 0)
        )
        with s:
            s.sendall(
                b"POST /board/new HTTP/1.1\r\nHost: box\r\nContent-Type: "
                b"multipart/form-data; boundary=X\r\nContent-Length: 3000000\r\n\r\n" + bytes(1000)
            )
            answer = s.recv(4096)
            assert answer.startswith(b"HTTP/1.1 429")
            assert closed_by_server(s)
        # Another phone's upload is read and handled by the app as usual.
        other = http.client.HTTPConnection(
            "127.0.0.1", running.port, timeout=10, source_address=("127.0.0.5", 0)
        )
        other.request(
            "POST",
            "/board/new",
            body=bytes(100_000),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert other.getresponse().status == 400
        other.close()
    finally:
        running.close()


def test_the_per_phone_limit_is_the_sites(tmp_path):
    from appliance import create_app
    from tests.support import make_site

    app = create_app(
        {
            "SITE": make_site(tmp_path, hotspot={"max_connections_per_phone": 40}),
            "SITE_DIR": tmp_path,
            "TESTING": True,
            "SECRET_KEY": "x",
        }
    )
    running = Running(app)
    try:
        assert running.server.per_address == 40
    finally:
        running.close()
