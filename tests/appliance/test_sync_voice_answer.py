"""A voice answer recorded on central and a forward made there reach the box through
the real sync client (issue 15): the answer's voice downloads in verified pieces and
plays on the portal's post page; the board shows whom the post was sent to."""

from __future__ import annotations

import hashlib

import pytest

from appliance import blobs
from appliance.board import rules
from appliance.board.models import Answer, Forward
from appliance.models import Commune
from appliance.sync import state
from appliance.sync.client import SyncClient, apply_down
from tests.appliance import board_samples as samples
from tests.central.harness import (
    CentralServer,
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


def run(site, url):
    with SyncClient(box_options(site, url)) as client:
        return client.run(force=True)


def _post(box, app, body="Quand le forage ?"):
    commune = Commune.get(Commune.name == "Nioro")
    post = rules.create_post(
        rules.Draft(
            kind="question",
            target=f"c:{commune.id}",
            theme="water",
            body=body,
            gender="f",
            age_group="18-35",
        ),
        None,
        site=box,
        data_dir=app.config["DATA_DIR"],
    )
    assert post.status == "published"  # board.moderation "after" (the default)
    return post


def test_voice_answer_and_forward_reach_the_portal(box, central, app, client):
    from central import forwarding, service
    from central.models import Post as CentralPost

    post = _post(box, app)
    run(box, central.url)
    cpost = central_call(central.app, lambda: CentralPost.get(CentralPost.uuid == post.uuid))
    note = samples.webm_opus(2.0)
    central_call(
        central.app,
        service.record_answer,
        cpost,
        "Le maire",
        "",
        None,
        voice=note,
        data_dir=central.app.config["DATA_DIR"],
    )
    central_call(
        central.app,
        forwarding.forward,
        cpost,
        service="Service de l'hydraulique",
        note="Forage de Diéma <b>urgent</b>",
    )
    result = run(box, central.url)
    assert result.pulled == 2 and result.downloaded == len(note)
    sha = hashlib.sha256(note).hexdigest()
    answer = Answer.get(Answer.post == post.id)
    assert (
        answer.voice_sha256,
        answer.voice_mime,
        answer.voice_bytes,
        answer.body,
        answer.source,
    ) == (sha, "audio/webm", len(note), "", "central")
    assert blobs.path_for(app.config["DATA_DIR"], sha).read_bytes() == note
    fw = Forward.get(Forward.post == post.id)
    assert (fw.to_kind, fw.to_name) == ("service", "Service de l'hydraulique")
    assert [r.applied for r in state.SyncInbox.select().order_by(state.SyncInbox.id)] == [
        "board",
        "board",
    ]
    # The visitor's post page plays it and says whom it was sent to; the board too.
    html = client.get(f"/board/p/{post.code}").get_data(as_text=True)
    assert f'src="/board/voice/{sha}"' in html and "answer-audio" in html
    assert "Service de l&#39;hydraulique" in html and "&lt;b&gt;urgent" in html
    with client.get(f"/board/voice/{sha}") as r:
        assert r.status_code == 200 and r.mimetype == "audio/webm" and r.data == note
    with client.get(f"/board/voice/{sha}", headers={"Range": "bytes=0-3"}) as r:
        assert r.status_code == 206 and r.data == note[:4]
    board = client.get("/board/").get_data(as_text=True)
    assert 'class="badge forwarded"' in board and "hydraulique" in board
    # The facilitator hears it at the kiosk too (the answer page of the post).
    from tests.support import kiosk_login

    kiosk_login(client)
    kiosk = client.get(f"/kiosk/moderation/{post.code}/answer").get_data(as_text=True)
    assert f'src="/kiosk/moderation/voice/{sha}"' in kiosk
    with client.get(f"/kiosk/moderation/voice/{sha}") as r:
        assert r.status_code == 200 and r.data == note
    # Idle: nothing again.
    again = run(box, central.url)
    assert again.pulled == 0 and Answer.select().count() == 1 and Forward.select().count() == 1


def test_a_voice_central_names_as_a_page_is_not_served(box, app):
    """A central (or a stolen key) naming the voice text/html: the text is kept, the
    voice is neither downloaded nor served."""
    post = _post(box, app, body="Et l'école ?")
    payload = {
        "uuid": "a-bad",
        "post_uuid": post.uuid,
        "official_name": "Maire",
        "body": "Lundi.",
        "created_at": "2026-11-30T10:00:00Z",
        "voice_sha256": "ab" * 32,
        "voice_mime": "text/html",
        "voice_bytes": 10,
        "pieces": [],
    }
    assert apply_down("answer.created", payload, box_options(box, "http://127.0.0.1:9")) == "board"
    answer = Answer.get(Answer.uuid == "a-bad")
    assert (answer.body, answer.voice_sha256, answer.voice_mime) == ("Lundi.", "", "")
    assert state.SyncDownload.select().count() == 0
    bad_sha = {
        **payload,
        "uuid": "a-bad2",
        "voice_sha256": "../../etc/passwd",
        "voice_mime": "audio/webm",
    }
    assert apply_down("answer.created", bad_sha, None) == "board"
    assert Answer.get(Answer.uuid == "a-bad2").voice_sha256 == ""
    # No pieces to check the bytes against, or a size no voice answer has: a download
    # that could never finish (or fill the card) is never queued.
    options = box_options(box, "http://127.0.0.1:9")
    for n, change in enumerate(
        ({"pieces": []}, {"voice_bytes": 0}, {"voice_bytes": 10**10, "pieces": ["x"]})
    ):
        odd = {**payload, "uuid": f"a-odd{n}", "voice_mime": "audio/webm", **change}
        assert apply_down("answer.created", odd, options) == "board"
        assert Answer.get(Answer.uuid == f"a-odd{n}").voice_sha256 == ""
    assert state.SyncDownload.select().count() == 0
    # A voice-only answer whose voice is refused leaves nothing to show: kept in the
    # inbox, unapplied (it must not fail the pull's transaction).
    empty = {**payload, "uuid": "a-empty", "body": "", "voice_mime": "text/html"}
    assert apply_down("answer.created", empty, options) == ""
    assert Answer.get_or_none(Answer.uuid == "a-empty") is None


@pytest.mark.parametrize(
    "change",
    [
        {"to_kind": "mayor"},
        {"to_name": ""},
        {"to_name": "x\x00y"},
        {"note": "n" * 501},
        {"post_uuid": "not-here"},
    ],
)
def test_a_forward_the_box_cannot_show_stays_in_the_inbox(box, app, change):
    post = _post(box, app)
    payload = {
        "uuid": "f1",
        "post_uuid": post.uuid,
        "to_kind": "official",
        "to_name": "Fatoumata Keïta",
        "to_role": "Maire",
        "note": "",
        "created_at": "2026-11-30T10:00:00Z",
        **change,
    }
    assert apply_down("post.forwarded", payload) == ""
    assert Forward.select().count() == 0
