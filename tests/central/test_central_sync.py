"""Central's sync functions on SQLite and PostgreSQL: enrolment, idempotent storage by
(box, seq), per-stream acknowledgement, rewind, revocation, blobs, pull."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid

import pytest

from central import service
from central.models import DownEvent, Post, Record, Site, UsageDay
from sync_contract import protocol
from tests.central.harness import post


def enrolled(call, capp, slug="nioro", region="Kayes"):
    key = protocol.new_private_key()
    box_id = str(uuid.uuid4())
    _site, code = call(service.create_site, slug, f"Espace {slug}", region, ["Nioro"])
    call(service.enroll, capp.config["DATA_DIR"],
         {"code": code, "box_id": box_id, "public_key": protocol.public_b64(key)})
    return key, box_id


def events(start, n, kind="post.created"):
    return [[i, str(uuid.UUID(int=i)), kind, "2026-11-20T10:00:00+00:00",
             post(uuid.UUID(int=i), f"p{i}")]
            for i in range(start, start + n)]


def exchange(call, key, box_id, push, cursor=0, want=100_000):
    frame = protocol.encode_request(key, box_id, protocol.PATH_EXCHANGE,
                                    {"push": push, "cursor": cursor, "want": want, "st": {}})

    def go():
        site, req = service.verify(frame, protocol.PATH_EXCHANGE)
        return service.exchange(site, req.message, len(frame))

    return call(go)


def test_enrolment_code_works_once(call, capp):
    key, box_id = enrolled(call, capp)
    site = call(lambda: Site.get())
    assert site.box_id == box_id and site.public_key
    other = protocol.new_private_key()
    with pytest.raises(service.CentralError):
        call(service.enroll, capp.config["DATA_DIR"],
             {"code": "WRONG-CODE", "box_id": str(uuid.uuid4()),
              "public_key": protocol.public_b64(other)})


def test_storage_is_idempotent_and_acks_per_stream(call, capp):
    key, box_id = enrolled(call, capp)
    first = exchange(call, key, box_id, [["civic", 0, events(1, 10)]])
    assert first["acks"] == {"civic": 10}
    again = exchange(call, key, box_id, [["civic", 0, events(1, 10)]])  # replay
    assert again["acks"] == {"civic": 10}
    overlap = exchange(call, key, box_id, [["civic", 5, events(6, 10)]])
    assert overlap["acks"] == {"civic": 15}
    assert call(lambda: Record.select().count()) == 15
    assert call(lambda: Post.select().count()) == 15
    usage = call(lambda: UsageDay.get(UsageDay.metric == "posts"))
    assert (usage.count, usage.women, usage.youth) == (15, 15, 15)


def test_gap_asks_the_box_to_rewind(call, capp):
    key, box_id = enrolled(call, capp)
    answer = exchange(call, key, box_id, [["civic", 40, events(41, 3)]])
    assert answer["rewind"] == ["civic"]
    assert call(lambda: Record.select().count()) == 0


def test_concurrent_duplicates_store_once(call, capp):
    key, box_id = enrolled(call, capp)
    errors = []

    def worker():
        try:
            exchange(call, key, box_id, [["civic", 0, events(1, 50)]])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert call(lambda: Record.select().count()) == 50
    assert call(lambda: UsageDay.get(UsageDay.metric == "posts").count) == 50


def test_revoked_or_foreign_key_is_refused(call, capp):
    key, box_id = enrolled(call, capp)
    intruder = protocol.new_private_key()
    with pytest.raises(service.CentralError):
        exchange(call, intruder, box_id, [["civic", 0, events(1, 1)]])
    call(lambda: service.revoke(Site.get()))
    with pytest.raises(service.CentralError):
        exchange(call, key, box_id, [["civic", 0, events(1, 1)]])


def test_pull_by_cursor_and_budget(call, capp):
    key, box_id = enrolled(call, capp)
    exchange(call, key, box_id, [["civic", 0, events(1, 3)]])
    posts = call(lambda: list(Post.select().order_by(Post.id)))
    for p in posts:
        call(service.record_answer, p, "Maire", "Réponse " * 20, None)
    call(service.announce, "Réunion samedi", None)
    small = exchange(call, key, box_id, [], want=500)
    assert len(small["down"]) == 1 and small["more"]
    rest = exchange(call, key, box_id, [], cursor=small["down"][-1][0])
    assert [d[1] for d in rest["down"]] == ["answer.created"] * 2 + ["announcement.created"]
    assert "more" not in rest
    assert call(lambda: DownEvent.select().count()) == 4


def test_blob_pieces_are_verified_and_cut_uploads_resume(call, capp):
    data = bytes(range(256)) * 1200  # 307,200 bytes
    sha = hashlib.sha256(data).hexdigest()
    ph = protocol.piece_hashes(data)
    d = capp.config["DATA_DIR"]
    msg = {"sha": sha, "size": len(data), "off": 0, "ph": ph}
    cut = io.BytesIO(data[:100_000]).read  # the link drops after 100,000 bytes
    assert service.receive_blob(d, msg, cut, len(data)) == {"have": 100_000, "done": False}
    # A replay from 0 (cut again at the same byte) reads past what central holds and
    # writes nothing twice; one that goes on (a USB stick's whole note) continues there.
    replay = io.BytesIO(data[:100_000]).read
    assert service.receive_blob(d, msg, replay, len(data))["have"] == 100_000
    # One starting after what central holds writes nothing and says where to resume.
    later = {**msg, "off": 200_000, "ph": ph[3:]}
    assert service.receive_blob(d, later, io.BytesIO(data[200_000:]).read, 107_200) \
        == {"have": 100_000, "done": False}
    first = 100_000 // protocol.PIECE
    bad = bytearray(data[100_000:])
    bad[50_000] ^= 1  # corrupted in transit: that piece is dropped, not the rest
    msg2 = {**msg, "off": 100_000, "ph": ph[first:]}
    got = service.receive_blob(d, msg2, io.BytesIO(bytes(bad)).read, len(bad))
    assert got["have"] == 2 * protocol.PIECE and not got["done"]
    msg3 = {**msg, "off": got["have"], "ph": ph[2:]}
    tail = data[got["have"]:]
    assert service.receive_blob(d, msg3, io.BytesIO(tail).read, len(tail))["done"]
    assert (d / "blobs" / sha[:2] / sha).read_bytes() == data
    assert service.receive_blob(d, msg, io.BytesIO(b"").read, 0)["done"]  # idempotent


def test_bad_frames_are_refused(call, capp):
    key, box_id = enrolled(call, capp)
    frame = protocol.encode_request(key, box_id, protocol.PATH_EXCHANGE, {"push": []})
    with pytest.raises(service.CentralError):  # signed for another path
        call(service.verify, frame, protocol.PATH_BLOB)
    with pytest.raises(service.CentralError):
        call(service.verify, b"garbage" * 20, protocol.PATH_EXCHANGE)


def test_moderation_on_the_box_shows_at_central(call, capp):
    key, box_id = enrolled(call, capp)
    post_uuid = str(uuid.uuid4())
    created = [1, str(uuid.uuid4()), "post.created", "t", post(post_uuid, "x",
                                                               status="pending")]
    exchange(call, key, box_id, [["civic", 0, [created]]])
    assert call(lambda: Post.get().status) == "hidden"
    published = [2, str(uuid.uuid4()), "post.moderated", "t",
                 {"uuid": str(uuid.uuid4()), "post_uuid": post_uuid, "action": "publish",
                  "reason": "", "status": "published", "facilitator": "awa",
                  "created_at": "t"}]
    exchange(call, key, box_id, [["civic", 1, [published]]])
    assert call(lambda: Post.get().status) == "open"


def test_daily_visits_from_the_box_feed_the_visits_chart(call, capp):
    """The box's usage.visits event (captive_portal.visits.rollup) is a daily count."""
    key, box_id = enrolled(call, capp)
    push = [[1, str(uuid.UUID(int=901)), "usage.visits", "2026-11-21T00:05:00+00:00",
             {"day": "2026-11-20", "visits": 37}]]
    assert exchange(call, key, box_id, [["usage", 0, push]])["acks"] == {"usage": 1}
    row = call(lambda: UsageDay.get(UsageDay.metric == "visits"))
    assert (str(row.day)[:10], row.count) == ("2026-11-20", 37)


def test_absurd_status_figures_change_nothing_and_break_nothing(call, capp):
    """A box (or a stolen key) reporting disk=10**30, text, lists or negatives: the
    exchange is answered, the site's figures keep their last sane values."""
    key, box_id = enrolled(call, capp)

    def send(message):
        frame = protocol.encode_request(key, box_id, protocol.PATH_EXCHANGE, message)
        site, req = service.verify(frame, protocol.PATH_EXCHANGE)
        return service.exchange(site, req.message, len(frame))

    call(send, {"push": [], "cursor": 0, "want": 10,
                "st": {"disk": 900, "content": 1200, "pending": 3}})
    for st in ({"disk": 10**30, "content": -5, "pending": "x", "last_seq": [1]},
               {"disk": True, "content": 2**31, "pending": 10**30}, [1, 2], "st"):
        answer = call(send, {"push": [], "cursor": 10**30, "want": 10**30, "st": st})
        assert isinstance(answer, dict)
    site = call(lambda: Site.get())
    assert (site.disk_free_mb, site.content_mb, site.pending) == (900, 1200, 3)


def test_signed_messages_with_missing_or_wrong_fields_are_400(call, capp):
    """A box's bug or a stolen key: fields missing, text for numbers, lists for
    objects; central answers 400 and stays up."""
    key, box_id = enrolled(call, capp)
    client = capp.test_client()
    sha = "a" * 64
    cases = [(protocol.PATH_FILE, {"sha": sha, "len": "x"}),
             (protocol.PATH_FILE, {"sha": sha, "off": [1]}),
             (protocol.PATH_BLOB, {"sha": sha}),
             (protocol.PATH_BLOB, {"sha": sha, "size": "big", "off": 0}),
             (protocol.PATH_EXCHANGE, {"push": [], "cursor": 0, "want": 1, "st": {},
                                        "ack": {"civic": "x"}})]
    for path, message in cases:
        frame = protocol.encode_request(key, box_id, path, message)
        r = client.post(path, data=frame)
        assert r.status_code < 500, (path, message, r.status_code)
