"""Issue 19, box and central on loopback: a busy voice note backs off instead of
burning the budget (3); USB delivers a note central holds part of, and names what it
refuses (4); a response file signed for another box is refused (5)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from appliance.sync import state
from appliance.sync.client import SyncClient
from appliance.sync.sneakernet import export, import_
from central import service
from central.sneakernet import export_dir, import_dir
from sync_contract import protocol, usb
from tests.appliance.test_sync_flow import _voice, box, central  # noqa: F401 (fixtures)
from tests.central.harness import FaultProxy, box_options, central_call


def test_a_busy_voice_note_waits_for_the_next_run(box, central, app):  # noqa: F811
    sha = _voice(app.config["DATA_DIR"], 600_000, 7)
    partial = central.app.config["DATA_DIR"] / "blobs" / "partial"
    partial.mkdir(parents=True, exist_ok=True)
    (partial / f"{sha}.part").write_bytes(b"")
    (partial / f"{sha}.lock").write_bytes(b"")  # a live connection holds it
    with FaultProxy(central.url) as proxy:
        with SyncClient(box_options(box, proxy.url)) as client:
            res = client.run(force=True)
        assert res.result == "ok" and res.blobs == 0
        # One request for the note, then nothing more for it this run (it used to resend
        # the same 256 KB at once, 95 times in 1.2 s, until the day's budget was gone).
        blob_requests = proxy.requests - 2  # the exchanges before and after the notes
        assert blob_requests == 1 and proxy.up < 300_000, (proxy.requests, proxy.up)
    os.utime(partial / f"{sha}.lock", (0, 0))  # the holder's link died long ago
    with SyncClient(box_options(box, central.url)) as client:
        assert client.run(force=True).blobs == 1
    data_dir = central.app.config["DATA_DIR"]
    assert (data_dir / "blobs" / sha[:2] / sha).exists()
    assert not list(partial.glob("*.lock*"))


def test_usb_delivers_a_note_central_holds_part_of(box, central, app, tmp_path):  # noqa: F811
    sha = _voice(app.config["DATA_DIR"], 300_000, 8)
    faults = {0: "pass", 1: ("cut_up", 150_000)}
    with FaultProxy(central.url, lambda i: faults.get(i, "pass")) as proxy:
        try:
            with SyncClient(box_options(box, proxy.url)) as client:
                client.run(force=True)
        except Exception:  # noqa: BLE001,S110 - the cut is the point
            pass
    data_dir = central.app.config["DATA_DIR"]
    part = data_dir / "blobs" / "partial" / f"{sha}.part"
    assert 0 < part.stat().st_size < 300_000
    key = central.app.config["CENTRAL_KEY"]
    opts = box_options(box, central.url)
    # A stick with one flipped byte in the note: refused, named, with the reason.
    bad = tmp_path / "bad"
    export(bad, opts)
    note = usb.box_dir(bad, state.box_id()) / usb.blob_name(sha)
    frame = bytearray(note.read_bytes())
    frame[-1000] ^= 0x01
    note.write_bytes(bytes(frame))
    stats = central_call(central.app, import_dir, bad, data_dir, key)
    assert stats["blobs"] == 0
    assert [(os.path.basename(n), "does not match its hash" in why)
            for n, why in stats["refused"]] == [(note.name, True)]
    # The intact stick delivers it, from the part central holds (it used to write
    # nothing: the stick's frame starts at 0).
    good = tmp_path / "good"
    export(good, opts)
    stats = central_call(central.app, import_dir, good, data_dir, key)
    assert stats["blobs"] == 1 and stats["refused"] == []
    assert (data_dir / "blobs" / sha[:2] / sha).exists()


def test_central_import_names_refused_files_and_fails(tmp_path, central):  # noqa: F811
    stick = tmp_path / "stick"
    box_dir = usb.box_dir(stick, str(uuid.uuid4()))
    box_dir.mkdir(parents=True)
    (box_dir / usb.up_name(1, "civic")).write_bytes(b"ES\x00\x01" + b"\x00" * 100)
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "central"), "import",
                          "--data-dir", str(central.app.config["DATA_DIR"]), str(stick)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "refused 1" in out.stdout
    assert f"refused {box_dir / usb.up_name(1, 'civic')}: unknown or revoked box" in out.stderr


def test_a_response_for_another_box_is_refused(box, central, app, tmp_path):  # noqa: F811
    _site, code = central_call(central.app, service.create_site, "kita", "Kita", "Kayes")
    other = str(uuid.uuid4())
    central_call(central.app, service.enroll, central.app.config["DATA_DIR"],
                 {"code": code, "box_id": other,
                  "public_key": protocol.public_b64(protocol.new_private_key())})
    central_call(central.app, service.announce, "Réunion samedi", None)
    stick = tmp_path / "stick"
    key = central.app.config["CENTRAL_KEY"]
    central_call(central.app, export_dir, stick, central.app.config["DATA_DIR"], key)
    # Kita's response, copied into this box's directory on a shared stick.
    mine = usb.box_dir(stick, state.box_id())
    for f in mine.glob(usb.DOWN_GLOB):
        f.unlink()
    for f in usb.box_dir(stick, other).glob(usb.DOWN_GLOB):
        (mine / f.name).write_bytes(f.read_bytes())
    stats = import_(stick, box_options(box, central.url))
    assert (stats["responses"], stats["refused"], stats["pulled"]) == (0, 1, 0)
    assert state.SyncInbox.select().count() == 0


def test_a_clock_20_years_behind_gets_no_fresh_budget(box, central, app):  # noqa: F811
    import datetime as dt

    from tests.central.harness import add_events

    real = dt.datetime.now(dt.UTC)
    behind = real.replace(year=real.year - 20)
    add_events(3)
    with SyncClient(box_options(box, central.url)) as client:  # learns central's time
        assert client.run(force=True).result == "ok"
    today = real.date().isoformat()
    state.SyncUsage.update(bytes_up=10**12).where(state.SyncUsage.day == today).execute()
    add_events(3, start=3)
    with SyncClient(box_options(box, central.url, now=lambda: behind)) as client:
        res = client.run(force=True)
    # It used to open the faked day's budget (1.17 MB more on a real day already spent).
    assert res.result == "daily budget spent" and res.round_trips == 0
    assert state.SyncUsage.get_or_none(state.SyncUsage.day == behind.date().isoformat()) \
        is None
    # Without an answer from central yet, the last day it spent on stands in.
    from appliance.models import Meta

    Meta.delete().where(Meta.key == "sync:clock_offset").execute()
    with SyncClient(box_options(box, central.url, now=lambda: behind)) as client:
        assert client.run(force=True).result == "daily budget spent"


def test_records_from_a_wrong_clock_count_on_the_day_central_got_them(box, central,  # noqa: F811
                                                                      app):
    import datetime as dt

    from appliance import outbox
    from appliance.db import database
    from central.models import UsageDay
    from tests.central.harness import post

    with database.atomic():
        outbox.append("post.created", post(created_at="2006-11-20T10:00:00+00:00"))
    with SyncClient(box_options(box, central.url)) as client:
        client.run(force=True)
    days = central_call(central.app, lambda: [u.day for u in UsageDay.select().where(
        UsageDay.metric == "posts")])
    assert days == [dt.datetime.now(dt.UTC).date().isoformat()]
