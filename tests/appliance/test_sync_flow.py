"""The sync end to end on loopback: enrolment, push, pull, voice notes, downloads,
budget, windows, USB export/import. Central runs on SQLite here; tests/central runs
its suite on PostgreSQL too."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest

from appliance import blobs, outbox
from appliance.db import database, integrity_check
from appliance.sync import state
from appliance.sync.client import SyncClient
from sync_contract import kinds, protocol
from tests.central.harness import (
    CentralServer,
    FaultProxy,
    add_events,
    box_options,
    central_call,
    enrol_box,
    make_central,
)


@pytest.fixture
def central(tmp_path):
    app = make_central(tmp_path / "central")
    with CentralServer(app) as server:
        server.app = app
        yield server


@pytest.fixture
def box(app, db, central):
    enrol_box(central.app, central.url, app.config["DATA_DIR"])
    return app.config["SITE"]


def records(central_app):
    from central.models import Record

    return central_call(central_app, lambda: [(r.seq, r.uuid) for r in
                                              Record.select().order_by(Record.seq)])


def run(site, url, **kw):
    with SyncClient(box_options(site, url, **kw)) as client:
        return client.run(force=True)


def test_enrolment_stores_central_key_and_refuses_reuse(app, db, central):
    from appliance.sync.enroll import EnrolmentRefused, enroll

    code = enrol_box(central.app, central.url, app.config["DATA_DIR"])
    assert state.enrolment()["site_id"] == "nioro"
    assert (app.config["DATA_DIR"] / "sync" / "box.key").stat().st_mode & 0o777 == 0o600
    enroll(central.url, code, app.config["DATA_DIR"])  # same box again: idempotent
    os.unlink(app.config["DATA_DIR"] / "sync" / "box.key")
    with pytest.raises(EnrolmentRefused):  # another key with a used code
        enroll(central.url, code, app.config["DATA_DIR"])


def test_push_then_idle_is_one_small_round_trip(box, central):
    add_events(50)
    add_events(20, stream="usage", kind="usage.content", start=50)
    result = run(box, central.url)
    assert result.result == "ok" and result.pushed == 70
    assert [seq for seq, _ in records(central.app)] == list(range(1, 71))
    idle = run(box, central.url)
    assert idle.round_trips == 1 and idle.pushed == 0
    assert idle.bytes_up + idle.bytes_down <= 600
    assert state.acked()["civic"] == 50 and state.acked()["usage"] == 70


def test_answer_from_central_flows_down_once(box, central):
    from central import service
    from central.models import Post

    add_events(1)
    run(box, central.url)
    post = central_call(central.app, lambda: Post.get())
    central_call(central.app, service.record_answer, post, "Maire", "Le forage est prévu.",
                 None)
    first = run(box, central.url)
    assert first.pulled == 1
    again = run(box, central.url)
    assert again.pulled == 0
    rows = list(state.SyncInbox.select())
    assert [r.kind for r in rows] == [kinds.ANSWER.name]
    assert state.cursor() == rows[0].id


def test_revoked_box_is_refused(box, central):
    from appliance.sync.client import CentralRefused
    from central import service
    from central.models import Site

    central_call(central.app, lambda: service.revoke(Site.get()))
    with pytest.raises(CentralRefused):
        run(box, central.url)


def test_tampered_request_is_refused(box, central):
    from appliance.sync.transport import Connection

    add_events(1)
    with SyncClient(box_options(box, central.url)) as client:
        client.key, client.central_key, _ = client._identity()
        client.box_id = state.box_id()
        frame = bytearray(client.build_exchange(client._collect(("civic",), 10_000), 1000))
    frame[-3] ^= 0xFF
    with Connection(central.url) as conn:
        status, body = conn.post(protocol.PATH_EXCHANGE, bytes(frame))
    assert status == 403 and records(central.app) == []


def _voice(data_dir, size: int, seed: int) -> str:
    data = hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1)
    sha, _ = blobs.put_bytes(data_dir, data[:size])
    with database.atomic():
        outbox.append("blob.voice", {"sha256": sha, "size": size}, stream="blob")
    return sha


def test_voice_note_resumes_after_a_cut_without_resending(box, central, app):
    sha = _voice(app.config["DATA_DIR"], 300_000, 1)
    faults = {0: "pass", 1: ("cut_up", 150_000)}
    with FaultProxy(central.url, lambda i: faults.get(i, "pass")) as proxy:
        from appliance.sync.transport import LinkError

        with pytest.raises(LinkError):
            run(box, proxy.url)
        result = run(box, proxy.url)
        assert result.blobs == 1
    stored = central.app.config["DATA_DIR"] / "blobs" / sha[:2] / sha
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    # Bytes re-sent: what crossed the link beyond the note and one request per piece.
    assert proxy.up < 300_000 + 8 * 1024
    assert state.acked()["blob"] == 1


def test_budget_stops_before_overshooting_and_sends_text_first(box, central, app):
    add_events(300, pad=300)
    _voice(app.config["DATA_DIR"], 200_000, 2)
    add_events(300, stream="usage", kind="usage.content", start=300, pad=300)
    result = run(box, central.url, budget_bytes=60_000)
    spent = state.spent(result and state.SyncUsage.select().first().day)
    assert spent <= 60_000 + 1024
    assert state.acked()["civic"] == 300  # text first
    assert state.acked()["usage"] == 0 or state.acked()["blob"] == 301


def test_windows_and_zero_budget(box, central):
    add_events(1)
    noon = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    with SyncClient(box_options(box, central.url, windows=[(22 * 60, 6 * 60)],
                                now=lambda: noon)) as client:
        assert client.run().result == "outside the sync windows"
    with SyncClient(box_options(box, central.url, budget_bytes=0)) as client:
        assert client.run(force=True).result == "budget is 0"
    assert records(central.app) == []


def test_download_resumes_and_verifies(box, central, app, tmp_path):
    from central import service

    zim = tmp_path / "library.zim"
    zim.write_bytes(os.urandom(600_000))
    central_call(central.app, service.publish_file, central.app.config["DATA_DIR"], zim)
    with FaultProxy(central.url, lambda i: ("cut_down", 100_000) if i == 2 else "pass") as p:
        from appliance.sync.transport import LinkError

        with pytest.raises(LinkError):
            run(box, p.url)
        run(box, p.url)
    dest = app.config["SITE"].content_dir / "library.zim"
    assert dest.read_bytes() == zim.read_bytes()
    assert integrity_check(database) == "ok"


def test_usb_export_import_round_trip(box, central, app, tmp_path):
    from appliance.sync.sneakernet import export, import_
    from central import service
    from central.sneakernet import import_dir

    add_events(40)
    sha = _voice(app.config["DATA_DIR"], 100_000, 3)
    stick = tmp_path / "stick"
    opts = box_options(box, central.url)
    stats = export(stick, opts)
    assert stats["events"] == 41 and stats["blobs"] == 1
    assert state.acked()["civic"] == 0  # nothing is acknowledged by writing a stick
    key = central.app.config["CENTRAL_KEY"]
    data_dir = central.app.config["DATA_DIR"]
    first = central_call(central.app, import_dir, stick, data_dir, key)
    again = central_call(central.app, import_dir, stick, data_dir, key)
    assert first["records"] == 41 and again["records"] == 0
    assert (data_dir / "blobs" / sha[:2] / sha).exists()
    from central.models import Post

    post = central_call(central.app, lambda: Post.select().order_by(Post.id).first())
    central_call(central.app, service.record_answer, post, "Maire", "Oui.", None)
    central_call(central.app, import_dir, stick, data_dir, key)
    result = import_(stick, opts)
    assert state.acked()["civic"] == 40 and state.acked()["blob"] == 41
    assert result["pulled"] == 1


def test_one_sync_at_a_time(box, central, app):
    import fcntl

    add_events(1)
    path = app.config["DATA_DIR"] / "sync" / "lock"
    with open(path, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert run(box, central.url).result == "another sync is running"
    assert run(box, central.url).pushed == 1


def test_health_snapshot_shows_sync(box, central, app):
    from appliance import health
    from appliance.models import Meta

    add_events(2)
    site = app.config["SITE"]
    assert health.snapshot(site.data_dir, site.content_dir)["sync_outbox_lag"] == 2
    run(box, central.url)
    snap = health.snapshot(site.data_dir, site.content_dir)
    assert snap["sync_outbox_lag"] == 0
    assert snap["sync_last_success_at"] == Meta.get_value("sync:last_success_at")
    assert snap["sync_last_success_at"].startswith("20")


def test_answer_reaches_the_board_post(box, central, app):
    """A visitor's post goes up through the board's own rules; the official's answer
    typed at central comes back onto that post (board.rules.receive_answer)."""
    from appliance.board import rules
    from appliance.board.models import Answer
    from appliance.models import Commune
    from central import service
    from central.models import Post as CentralPost

    commune = Commune.get(Commune.name == "Nioro")
    post = rules.create_post(rules.Draft(kind="question", target=f"c:{commune.id}",
                                         theme="water", body="Quand le forage ?",
                                         gender="f", age_group="18-35"),
                             None, site=box, data_dir=app.config["DATA_DIR"])
    run(box, central.url)
    cpost = central_call(central.app, lambda: CentralPost.get(CentralPost.uuid == post.uuid))
    assert (cpost.body, cpost.commune, cpost.gender) == ("Quand le forage ?", "Nioro", "f")
    central_call(central.app, service.record_answer, cpost, "Le maire", "Lundi.", None)
    assert run(box, central.url).pulled == 1
    answer = Answer.get()
    assert (answer.post.uuid, answer.body, answer.source) == (post.uuid, "Lundi.", "central")
    assert state.SyncInbox.get().applied == "board"
    assert run(box, central.url).pulled == 0 and Answer.select().count() == 1


def test_a_down_event_larger_than_want_still_arrives(box, central, app, tmp_path,
                                                     monkeypatch):
    """A big catalogue entry (a 500 MB ZIM lists 7,630 piece hashes) must not stall."""
    from appliance.sync import client as client_mod
    from central import service

    monkeypatch.setattr(client_mod, "DOWN_WANT", 200)
    zim = tmp_path / "many-pieces.zim"
    zim.write_bytes(os.urandom(40 * protocol.PIECE))
    central_call(central.app, service.publish_file, central.app.config["DATA_DIR"], zim)
    result = run(box, central.url)
    assert result.result == "ok" and result.pulled == 1 and result.round_trips < 20
    assert (app.config["SITE"].content_dir / "many-pieces.zim").read_bytes() == zim.read_bytes()


def test_slow_link_with_latency(box, central, app):
    """Through a throttled link with latency (the proxy paces bytes and delays each
    request and response); nothing here asserts on time."""
    add_events(30)
    sha = _voice(app.config["DATA_DIR"], 120_000, 9)
    with FaultProxy(central.url, rate=400_000, rtt=0.05) as proxy:
        result = run(box, proxy.url)
    assert result.result == "ok" and result.pushed == 31 and result.blobs == 1
    assert proxy.requests == 3  # civic exchange, the voice note, its event
    assert (central.app.config["DATA_DIR"] / "blobs" / sha[:2] / sha).exists()


@pytest.mark.parametrize("cut", [1, 10, 17, 30, 45, 60, 81, 100, 150])
def test_response_cut_anywhere_in_its_headers(box, central, cut):
    """Found by the state machine: a response cut inside a header line."""
    from appliance.sync.transport import LinkError

    add_events(3)
    with FaultProxy(central.url, lambda i: ("cut_down", cut) if i == 0 else "pass") as p:
        with pytest.raises(LinkError):
            run(box, p.url)
        assert run(box, p.url).result == "ok"
    assert [seq for seq, _ in records(central.app)] == [1, 2, 3]


def test_a_captive_portal_answering_instead_of_central(box, tmp_path):
    """An uplink behind someone else's login page answers 200 with HTML."""
    from flask import Flask

    from appliance.sync.client import CentralRefused

    portal = Flask("hotel")
    portal.add_url_rule("/<path:p>", "any", lambda p: "<html>Login</html>",
                        methods=["GET", "POST"])
    add_events(2)
    with CentralServer(portal) as fake, pytest.raises(CentralRefused, match="not come from"):
        run(box, fake.url)
    assert state.acked()["civic"] == 0
