"""Central applies each kind through its handler: an unknown kind from a newer box and
a payload that does not match its declaration are kept, counted and reported in the
audit log, and never block the stream behind them."""

from __future__ import annotations

import uuid

from central import service
from central.models import Audit, Post, Record
from sync_contract import protocol
from tests.central.harness import post
from tests.central.test_central_sync import enrolled, exchange


def test_unknown_and_malformed_records_are_kept_and_reported(call, capp):
    key, box_id = enrolled(call, capp)
    push = [[1, str(uuid.uuid4()), "survey.answered", "2026-11-20T10:00:00Z", {"q": 1}],
            [2, str(uuid.uuid4()), "survey.answered", "2026-11-20T10:00:00Z", {"q": 2}],
            [3, str(uuid.uuid4()), "post.created", "2026-11-20T10:00:00Z", {"body": 7}],
            [4, str(uuid.uuid4()), "post.created", "2026-11-20T10:00:00Z", post(None, "ok")]]
    assert exchange(call, key, box_id, [["civic", 0, push]])["acks"] == {"civic": 4}
    assert call(lambda: Record.select().count()) == 4  # all kept
    assert call(lambda: [p.body for p in Post.select()]) == ["ok"]  # only the good one
    log = call(lambda: {a.action: a.detail for a in Audit.select()})
    assert "kept 2 record(s) of kind 'survey.answered'" in log["sync.unknown_kind"]
    assert "seq 3: post.created: field 'age_group' is required" in log["sync.invalid"]


def test_a_malformed_frame_is_refused_before_anything_is_stored(call, capp):
    key, box_id = enrolled(call, capp)
    frame = protocol.encode_request(key, box_id, protocol.PATH_EXCHANGE,
                                    {"push": [["nowhere", 0, []]]})
    site, req = call(service.verify, frame, protocol.PATH_EXCHANGE)
    try:
        call(service.exchange, site, req.message)
    except protocol.ProtocolError as e:
        assert "push item" in str(e)
    assert call(lambda: Record.select().count()) == 0
