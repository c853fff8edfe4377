"""A kill -9 of ``espace serve`` while 20 phones post (text and voice notes): every
post a phone saw acknowledged is there afterwards, no voice file is orphaned, and
SQLite's integrity check passes."""

import http.client
import threading

import pytest

from appliance import blobs, create_app
from appliance.board import rules
from appliance.board.models import Post
from appliance.db import database, integrity_check
from appliance.models import OutboxEvent
from tests.appliance import board_samples as samples
from tests.captive_portal.board_load import Client, free_port, kill9, start_server, write_site

pytestmark = pytest.mark.slow

CLIENTS = 20
KILL_AFTER = 200  # acknowledged posts before the plug is pulled


def test_kill_9_while_20_clients_post_loses_nothing(tmp_path):
    site = write_site(tmp_path)
    port = free_port()
    server = start_server(site, port, log=tmp_path / "serve.log")
    acked: list[tuple[str, str]] = []  # (code, voice sha or "")
    lock, enough, stop = threading.Lock(), threading.Event(), threading.Event()
    errors: list[str] = []

    def phone(n: int) -> None:
        import hashlib

        client = Client(port, n)
        try:
            client.prepare()
            i = 0
            while not stop.is_set():
                i += 1
                voice = samples.ogg_opus(2, salt=f"{n}-{i}".encode()) if i % 3 == 0 else None
                code = client.post(f"Message {i} du téléphone {n}", voice)
                if code is None:
                    errors.append(f"phone {n}: post {i} refused")
                    return
                with lock:
                    acked.append((code, hashlib.sha256(voice).hexdigest() if voice else ""))
                    if len(acked) >= KILL_AFTER:
                        enough.set()
        except (OSError, http.client.HTTPException):
            pass  # the server died under us (perhaps mid-reply): expected
        finally:
            client.close()

    threads = [threading.Thread(target=phone, args=(n,), name=f"phone-{n}")
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(timeout=240), f"only {len(acked)} posts acknowledged; {errors}"
        kill9(server)
    finally:
        stop.set()
        if server.poll() is None:
            kill9(server)
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors
    # What a power cut or a crash leaves, as the next start finds it.
    incoming = tmp_path / "data" / rules.INCOMING
    left = len(list(incoming.iterdir())) if incoming.exists() else 0
    app = create_app({"SITE_FILE": str(site), "TESTING": True})
    data_dir = app.config["DATA_DIR"]
    database.connect(reuse_if_open=True)
    try:
        assert integrity_check(database) == "ok"
        with lock:
            acknowledged = list(acked)
        codes = {p.code: p for p in Post.select()}
        missing = [c for c, _ in acknowledged if c not in codes]
        assert not missing, f"{len(missing)} acknowledged posts lost"
        for code, sha in acknowledged:
            assert codes[code].voice_sha256 == sha
            if sha:
                assert blobs.path_for(data_dir, sha).read_bytes()[:4] == b"OggS"
        events = {e.payload for e in OutboxEvent.select().where(OutboxEvent.kind == "post.created")}
        assert len(events) == len(codes), "one outbox event per stored post"
        referenced = rules.referenced_blobs()
        on_disk = {p.name for p in blobs.blob_dir(data_dir).glob("*/*")}
        assert on_disk == referenced, "no orphan voice file, none missing"
        assert not any((data_dir / rules.INCOMING).iterdir())
        assert not list(blobs.blob_dir(data_dir).glob("*.tmp"))
        print(f"acknowledged {len(acknowledged)}, stored {len(codes)}, voices {len(on_disk)}, "
              f"staging files the kill left: {left}")
    finally:
        database.close()
