"""Boxes of a site, and what one box may say (issue 19 points 1, 2, 6; issue 12 part 3).

A site may have several boxes over its life: sequences and acknowledgements belong to
a box. A code is used once. A replayed request is refused. A box speaks only about its
own site's records. Every test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from central import service
from central.models import Answer, Audit, Post, Record, Site
from sync_contract import protocol
from tests.central.harness import post
from tests.central.test_central_sync import enrolled, events, exchange


def fresh_events(n, first_uuid):
    """A new box's first n events: sequences from 1, uuids of its own."""
    return [[i + 1, str(uuid.UUID(int=first_uuid + i)), "post.created", "t",
             post(uuid.UUID(int=first_uuid + i), f"new box {i}")] for i in range(n)]


def _enrol(call, capp, code, key=None, box_id=None):
    key = key or protocol.new_private_key()
    box_id = box_id or str(uuid.uuid4())
    call(service.enroll, capp.config["DATA_DIR"],
         {"code": code, "box_id": box_id, "public_key": protocol.public_b64(key)})
    return key, box_id


def test_a_replacement_box_starts_at_its_own_sequence(call, capp):
    key, box_id = enrolled(call, capp)
    assert exchange(call, key, box_id, [["civic", 0, events(1, 7)]])["acks"] == {"civic": 7}
    site = call(lambda: Site.get())
    call(service.revoke, site)
    code = call(service.reissue_code, call(lambda: Site.get()))
    new_key, new_box = _enrol(call, capp, code)  # a new SD card: its outbox starts at 1
    answer = exchange(call, new_key, new_box, [["civic", 0, fresh_events(3, 101)]])
    assert answer["acks"] == {"civic": 3}
    assert call(lambda: Record.select().count()) == 10
    assert call(lambda: Post.select().count()) == 10
    with pytest.raises(service.CentralError, match="revoked"):  # the old card is refused
        exchange(call, key, box_id, [["civic", 7, events(8, 1)]])


def test_a_new_code_lets_the_enrolled_box_go_on_until_another_enrols(call, capp):
    key, box_id = enrolled(call, capp)
    exchange(call, key, box_id, [["civic", 0, events(1, 2)]])
    code = call(service.reissue_code, call(lambda: Site.get()))
    assert exchange(call, key, box_id, [["civic", 2, events(3, 1)]])["acks"] == {"civic": 3}
    new_key, new_box = _enrol(call, capp, code)
    assert exchange(call, new_key, new_box, [["civic", 0, fresh_events(1, 11)]])["acks"] \
        == {"civic": 1}


def test_a_used_code_never_enrols_again(call, capp):
    _s, code = call(service.create_site, "nioro", "Espace nioro", "Kayes", ["Nioro"])
    key, box_id = _enrol(call, capp, code)
    _enrol(call, capp, code, key, box_id)  # the same box again (a lost answer): fine
    call(service.revoke, call(lambda: Site.get()))
    # The revoked box, with the code kept in its site file: refused.
    with pytest.raises(service.CentralError, match="unknown or already used"):
        _enrol(call, capp, code, key, box_id)
    # Another box with that code: refused too (it used to take the site over).
    with pytest.raises(service.CentralError, match="unknown or already used"):
        _enrol(call, capp, code)
    assert call(lambda: Site.get().revoked)
    # A new code brings the revoked box back, with its sequences where they were.
    fresh = call(service.reissue_code, call(lambda: Site.get()))
    _enrol(call, capp, fresh, key, box_id)
    assert exchange(call, key, box_id, [["civic", 0, events(1, 1)]])["acks"] == {"civic": 1}


def test_a_replayed_request_is_refused_and_changes_nothing(call, capp):
    key, box_id = enrolled(call, capp)
    message = {"push": [["civic", 0, events(1, 2)]], "cursor": 0, "want": 1000, "n": 5,
               "st": {"pending": 0, "ver": "1"}}
    frame = protocol.encode_request(key, box_id, protocol.PATH_EXCHANGE, message)

    def send():
        site, req = service.verify(frame, protocol.PATH_EXCHANGE)
        return service.exchange(site, req.message, len(frame))

    assert call(send)["acks"] == {"civic": 2}
    call(lambda: Site.update(last_contact=None, pending=42).execute())
    with pytest.raises(service.Replayed) as refused:
        call(send)
    assert refused.value.status == 409 and "above 5" in str(refused.value)
    site = call(lambda: Site.get())
    assert (site.last_contact, site.pending) == (None, 42)  # a dead site stays dead
    # From a USB stick (files are replays by nature) the records still count, not
    # the contact.
    site, req = call(service.verify, frame, protocol.PATH_EXCHANGE)
    call(service.exchange, site, req.message, carried=True)
    assert call(lambda: Site.get().last_contact) is None


def _moderated(post_uuid, status="hidden"):
    return {"uuid": str(uuid.uuid4()), "post_uuid": post_uuid, "action": "hide",
            "reason": "", "status": status, "facilitator": "x", "created_at": "t"}


def _answer(post_uuid):
    return {"uuid": str(uuid.uuid4()), "post_uuid": post_uuid, "official": None,
            "official_name": "Le maire", "body": "forged", "voice_sha256": "",
            "created_at": "t"}


def test_a_box_cannot_touch_another_sites_records(call, capp):
    """Two enrolled boxes: every kind about the other site's records is refused, in the
    audit log, and changes nothing; the same kinds about its own records work."""
    key_a, box_a = enrolled(call, capp, "nioro")
    key_b, box_b = enrolled(call, capp, "kita", "Kita")
    theirs, ours = str(uuid.uuid4()), str(uuid.uuid4())
    exchange(call, key_a, box_a, [["civic", 0, [[1, str(uuid.uuid4()), "post.created", "t",
                                                post(theirs, "Nioro's question")]]]])
    forged = [
        ("post.created", post(theirs, "taken over")),
        ("post.moderated", _moderated(theirs)),
        ("answer.created", _answer(theirs)),
        ("support.created", {"uuid": str(uuid.uuid4()), "post_uuid": theirs,
                             "created_at": "t"}),
    ]
    push = [[i + 1, str(uuid.uuid4()), kind, "2026-11-20T10:00:00Z", payload]
            for i, (kind, payload) in enumerate(forged)]
    assert exchange(call, key_b, box_b, [["civic", 0, push]])["acks"] == {"civic": 4}
    victim = call(lambda: Post.get(Post.uuid == theirs))
    assert (victim.body, victim.status, victim.site.slug) == ("Nioro's question", "open",
                                                              "nioro")
    assert call(lambda: Answer.select().count()) == 0
    refused = call(lambda: [a.detail for a in Audit.select().where(
        Audit.action == "sync.refused")])
    assert len(refused) == 4 and all(d.startswith("kita: refused") for d in refused)
    assert all(theirs in d for d in refused)
    # The same kinds about its own post are applied.
    own = [[5, str(uuid.uuid4()), "post.created", "t", post(ours, "Kita's question")],
           [6, str(uuid.uuid4()), "answer.created", "t", _answer(ours)],
           [7, str(uuid.uuid4()), "post.moderated", "t", _moderated(ours, "published")]]
    exchange(call, key_b, box_b, [["civic", 4, own]])
    assert call(lambda: Post.get(Post.uuid == ours).status) == "answered"
    assert call(lambda: Audit.select().where(Audit.action == "sync.refused").count()) == 4
