"""The protocol's frames, signatures and limits; the sync windows and budget."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import zstandard

from appliance.sync.budget import in_windows, local_day
from sync_contract import protocol

BOX = str(uuid.uuid4())


def test_request_round_trip_and_tamper():
    key = protocol.new_private_key()
    pub = protocol.load_public(protocol.public_b64(key))
    frame = protocol.encode_request(key, BOX, protocol.PATH_EXCHANGE, {"push": [], "x": "é"},
                                    b"tail")
    req = protocol.decode_request(frame, protocol.PATH_EXCHANGE, pub)
    assert req.box_id == BOX and req.message == {"v": 1, "push": [], "x": "é"}
    assert req.tail == b"tail"
    for i in (10, 30, 90, len(frame) - 6):  # box id, signature, body
        bad = bytearray(frame)
        bad[i] ^= 1
        with pytest.raises(protocol.ProtocolError):
            protocol.decode_request(bytes(bad), protocol.PATH_EXCHANGE, pub)
    with pytest.raises(protocol.ProtocolError):  # replayed on another path
        protocol.decode_request(frame, protocol.PATH_BLOB, pub)
    other = protocol.load_public(protocol.public_b64(protocol.new_private_key()))
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_request(frame, protocol.PATH_EXCHANGE, other)


def test_response_is_bound_to_its_request():
    box_key, central = protocol.new_private_key(), protocol.new_private_key()
    pub = protocol.load_public(protocol.public_b64(central))
    f1 = protocol.encode_request(box_key, BOX, protocol.PATH_EXCHANGE, {"n": 1})
    f2 = protocol.encode_request(box_key, BOX, protocol.PATH_EXCHANGE, {"n": 2})
    resp = protocol.encode_response(central, protocol.request_digest_of(f1), {"acks": {}})
    assert protocol.decode_response(resp, protocol.request_digest_of(f1), pub)[0]["v"] == 1
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_response(resp, protocol.request_digest_of(f2), pub)


def test_parts_encoding_matches_canonical():
    key = protocol.new_private_key()
    pub = protocol.load_public(protocol.public_b64(key))
    message = {"cursor": 3, "push": [["civic", 0, [[1, "u", "k", "t", {"a": 1}]]]], "v": 1}
    parts = [protocol.canonical(message)[:20], protocol.canonical(message)[20:]]
    frame = protocol.encode_request_parts(key, BOX, protocol.PATH_EXCHANGE, parts)
    assert protocol.decode_request(frame, protocol.PATH_EXCHANGE, pub).message == message


def test_other_versions_and_bombs_are_refused():
    key = protocol.new_private_key()
    pub = protocol.load_public(protocol.public_b64(key))
    frame = protocol.encode_request(key, BOX, protocol.PATH_EXCHANGE, {"v": 2})
    with pytest.raises(protocol.ProtocolError, match="version"):
        protocol.decode_request(frame, protocol.PATH_EXCHANGE, pub)
    bomb = zstandard.ZstdCompressor().compress(b" " * (protocol.MAX_JSON + 10))
    with pytest.raises(protocol.ProtocolError):
        protocol.decompress(bomb)


def test_validate_push_refuses_disorder():
    good = [["civic", 2, [[3, "u", "k", "t", {}], [5, "u", "k", "t", {}]]]]
    assert protocol.validate_push(good)[0][0] == "civic"
    for bad in ([["civic", 3, [[3, "u", "k", "t", {}]]]], [["other", 0, []]], {"a": 1},
                [["civic", 0, [[2, "u", "k", "t", {}], [1, "u", "k", "t", {}]]]]):
        with pytest.raises(protocol.ProtocolError):
            protocol.validate_push(json.loads(json.dumps(bad)))


@pytest.mark.parametrize(("hhmm", "expected"), [
    ("21:59", False), ("22:00", True), ("03:00", True), ("05:59", True), ("06:00", False),
    ("12:30", True), ("14:00", False)])
def test_windows_wrap_midnight(hhmm, expected):
    h, m = map(int, hhmm.split(":"))
    when = dt.datetime(2026, 11, 28, h, m, tzinfo=dt.UTC)
    assert in_windows([(22 * 60, 6 * 60), (12 * 60, 14 * 60)], when, "Africa/Bamako") \
        is expected


def test_budget_day_is_local():
    when = dt.datetime(2026, 11, 28, 23, 30, tzinfo=dt.UTC)
    assert local_day(when, "Africa/Bamako") == "2026-11-28"
    assert local_day(when, "Africa/Nairobi") == "2026-11-29"


def test_a_bomb_is_refused_while_decompressing():
    """A few KB that expand to 200 MiB are refused before they take the memory."""
    import tracemalloc

    bomb = zstandard.ZstdCompressor(level=1).compress(bytes(200 * 2**20))
    assert len(bomb) < 20_000
    tracemalloc.start()
    try:
        with pytest.raises(protocol.ProtocolError, match="too large"):
            protocol.decompress(bomb, limit=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
    # A frame asking for a window larger than ours ever uses is refused too.
    params = zstandard.ZstdCompressionParameters(window_log=27, write_content_size=False)
    writer = zstandard.ZstdCompressor(compression_params=params).compressobj()
    wide = writer.compress(bytes(2**20) + b"x") + writer.flush()
    with pytest.raises(protocol.ProtocolError):
        protocol.decompress(wide)
    assert protocol.decompress(protocol.compress(b"hello" * 1000)) == b"hello" * 1000
