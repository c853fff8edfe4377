"""Voice answers and forwarding on central (issue 15), on SQLite and PostgreSQL: a voice
answer recorded at a box's kiosk keeps its voice and plays; a voice answer recorded in
central's browser is stored atomically with limits and goes down with its pieces; a
post forwarded to an official of its site or a service shows whom it is for and goes
down as ``post.forwarded``."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest

from central import forwarding, migrations, service, voice
from central.models import Answer, Audit, DownEvent, FileEntry, Post, PostForward, Site
from sync_contract import kinds, protocol
from tests.central.test_central_admin import login, seed

WEBM = b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 40


def _site(call):
    return call(lambda: Site.get(Site.slug == "nioro"))


def _first_post(call):
    return call(
        lambda: Post.select().join(Site).where(Site.slug == "nioro").order_by(Post.id).first()
    )


def _push(call, site, events):
    """Events after seed()'s (civic seqs up to 13)."""
    call(service.exchange, site, {"push": [["civic", events[0][0] - 1, events]]})


def _token(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_a_voice_answer_from_a_kiosk_keeps_its_voice_and_plays(call, capp, cclient):
    """It arrived as an empty text: its voice is kept and plays on the post page and in
    the board's list."""
    seed(call, capp)
    clip = b"OggS" + bytes(range(256)) * 8
    sha = hashlib.sha256(clip).hexdigest()
    path = service.blob_path(capp.config["DATA_DIR"], sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip)
    post = _first_post(call)
    _push(
        call,
        _site(call),
        [
            [
                14,
                str(uuid.uuid4()),
                "answer.created",
                "2026-11-28T10:00:00+00:00",
                {
                    "uuid": "a-kiosk-1",
                    "post_uuid": post.uuid,
                    "official": None,
                    "official_name": "Maire",
                    "body": "",
                    "voice_sha256": sha,
                    "voice_mime": "audio/ogg",
                    "voice_seconds": 4.5,
                    "voice_bytes": len(clip),
                    "created_at": "2026-11-28T10:00:00Z",
                },
            ]
        ],
    )
    answer = call(lambda: Answer.get(Answer.uuid == "a-kiosk-1"))
    assert (
        answer.voice_sha256,
        answer.voice_mime,
        answer.voice_seconds,
        answer.voice_bytes,
        answer.source,
    ) == (sha, "audio/ogg", 4.5, len(clip), "box")
    login(cclient, "awa")
    page = cclient.get(f"/board/{post.id}").get_data(as_text=True)
    assert f'src="/answers/{answer.id}/voice"' in page and "Réponse vocale" in page
    board = cclient.get("/board").get_data(as_text=True)
    assert f'src="/answers/{answer.id}/voice"' in board
    assert "Voice note " + sha[:6] not in board  # no hash where a player should be
    export = cclient.get("/board.csv").get_data().decode("utf-8-sig")
    assert "Maire: [réponse vocale]" in export  # not an empty text
    r = cclient.get(f"/answers/{answer.id}/voice")
    assert r.status_code == 200 and r.mimetype == "audio/ogg" and r.data == clip
    r.close()
    # Range (a player seeks): 206 with the asked bytes.
    r = cclient.get(f"/answers/{answer.id}/voice", headers={"Range": "bytes=4-9"})
    assert r.status_code == 206 and r.data == clip[4:10]
    r.close()
    # The page lets the audio load: media-src allows it (default-src 'none' did not).
    csp = cclient.get(f"/board/{post.id}").headers["Content-Security-Policy"]
    assert "media-src 'self' blob:" in csp and "script-src 'self'" in csp
    # Another region's admin, and nobody logged out, cannot fetch it.
    assert capp.test_client().get(f"/answers/{answer.id}/voice").status_code in (302, 401)


def test_step_0046_gives_stored_box_answers_their_voice_back(tmp_path, database_url):
    """Answers stored before the step get their voice from their records."""
    from central.db import database
    from tests.central.harness import make_central

    mine = ("0046_answer_voice", "0047_post_forwards")
    before = [s for s in migrations.STEPS if s[0] not in mine]
    app = make_central(tmp_path / "c", database_url)
    with app.app_context(), database.connection_context():
        db = database.obj
        for table in ("post_forward",):
            db.execute_sql(f"DROP TABLE {table}")  # noqa: S608
        for col in ("voice_sha256", "voice_mime", "voice_seconds", "voice_bytes"):
            db.execute_sql(f"ALTER TABLE answer DROP COLUMN {col}")  # noqa: S608
        db.execute_sql("DELETE FROM central_schema WHERE name IN ('0046_answer_voice', "
                       "'0047_post_forwards')")
        assert migrations.migrate(db, before) == []
        site, _code = service.create_site("nioro", "Nioro", "Kayes", ["Nioro"])
        db.execute_sql(
            "INSERT INTO post (site_id, uuid, code, kind, theme, commune, body, "
            "voice_sha256, gender, age_group, status, created_at, channel) VALUES "
            f"({site.id}, 'p1', '', 'question', 'water', 'Nioro', 'x', '', 'f', "
            "'18-35', 'answered', '2026-11-20', 'web')"
        )
        post_id = db.execute_sql("SELECT id FROM post WHERE uuid = 'p1'").fetchone()[0]
        db.execute_sql(
            "INSERT INTO answer (post_id, uuid, official_name, body, source, "
            f"created_at) VALUES ({post_id}, 'a1', 'Maire', '', 'box', "
            "'2026-11-21 10:00:00')"
        )
        sha = "ab" * 32
        payload = json.dumps(
            {
                "uuid": "a1",
                "post_uuid": "p1",
                "voice_sha256": sha,
                "voice_mime": "audio/webm",
                "voice_seconds": 3.0,
                "voice_bytes": 1234,
            }
        )
        db.execute_sql(
            "INSERT INTO record (site_id, seq, uuid, stream, kind, payload, "
            "created_at, received_at) VALUES "
            f"({site.id}, 1, 'r1', 'civic', 'answer.created', %s, '2026-11-21', "
            "'2026-11-21 10:00:00')".replace("%s", "?" if "sqlite" in database_url else "%s"),
            (payload,),
        )
        assert migrations.migrate(db) == ["0046_answer_voice", "0047_post_forwards"]
        row = db.execute_sql(
            "SELECT voice_sha256, voice_mime, voice_bytes FROM answer WHERE uuid = 'a1'"
        ).fetchone()
        assert tuple(row) == (sha, "audio/webm", 1234)
        assert migrations.migrate(db) == []


def test_a_voice_answer_recorded_on_central_goes_down_with_its_pieces(call, capp, cclient):
    seed(call, capp)
    post = _first_post(call)
    token = login(cclient, "awa")
    page = cclient.get(f"/board/{post.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'id="rec-start"' in page
    assert "/static/record.js" in page
    js = cclient.get("/static/record.js")
    assert js.status_code == 200 and b"MediaRecorder" in js.data
    js.close()
    import io

    r = cclient.post(
        f"/board/{post.id}",
        data={
            "csrf": token,
            "official_name": "Le maire",
            "body": "",
            "voice": (io.BytesIO(WEBM), "answer.webm", "audio/webm"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    sha = hashlib.sha256(WEBM).hexdigest()
    answer = call(lambda: Answer.get(Answer.post == post.id))
    assert (answer.voice_sha256, answer.voice_mime, answer.voice_bytes, answer.body) == (
        sha,
        "audio/webm",
        len(WEBM),
        "",
    )
    assert service.blob_path(capp.config["DATA_DIR"], sha).read_bytes() == WEBM
    # Nothing half-written is left beside it (written aside, fsynced, renamed).
    assert not list(service.blob_path(capp.config["DATA_DIR"], sha).parent.glob("*.tmp"))
    ev = call(lambda: DownEvent.get(DownEvent.kind == kinds.ANSWER.name))
    payload = json.loads(ev.payload)
    kinds.ANSWER.validate(payload)
    assert (payload["voice_sha256"], payload["voice_mime"], payload["voice_bytes"]) == (
        sha,
        "audio/webm",
        len(WEBM),
    )
    assert payload["pieces"] == protocol.piece_hashes(WEBM)
    assert call(lambda: FileEntry.get(FileEntry.sha256 == sha).size) == len(WEBM)
    # The box downloads it as a file in pieces.
    head, tail = call(
        service.file_piece, capp.config["DATA_DIR"], {"sha": sha, "off": 0, "len": len(WEBM)}
    )
    assert tail == WEBM
    page = cclient.get(f"/board/{post.id}").get_data(as_text=True)
    assert f'src="/answers/{answer.id}/voice"' in page
    assert call(
        lambda: (
            Audit.select()
            .where(Audit.action == "answer.create")
            .order_by(Audit.id.desc())
            .first()
            .detail
        )
    ).endswith(f"({len(WEBM)} bytes)")


@pytest.mark.parametrize(
    "data,status,says",
    [
        (b"<html><script>alert(1)</script>", 400, "pas un enregistrement WebM ou Ogg"),
        (b"OggS" + b"\0" * (voice.MAX_VOICE_BYTES + 10), 413, "plus de 3000 ko"),
        (b"ID3\x03" + b"\0" * 200, 400, "pas un enregistrement WebM ou Ogg"),
    ],
)
def test_a_refused_recording_names_the_field_and_stores_nothing(
    call, capp, cclient, data, status, says
):
    seed(call, capp)
    post = _first_post(call)
    token = login(cclient, "awa")
    # Built by hand: the test client spools big multipart bodies to a file it leaves open.
    body = b"".join(
        b'--XX\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k, v)
        for k, v in ((b"csrf", token.encode()), (b"official_name", b"Le maire"), (b"body", b""))
    ) + (
        b'--XX\r\nContent-Disposition: form-data; name="voice"; filename="x.webm"\r\n'
        b"Content-Type: audio/webm\r\n\r\n" + data + b"\r\n--XX--\r\n"
    )
    r = cclient.post(
        f"/board/{post.id}", data=body, content_type="multipart/form-data; boundary=XX"
    )
    page = r.get_data(as_text=True)
    assert r.status_code == status and says in page
    assert 'data-field="voice"' in page and 'value="Le maire"' in page  # typed text kept
    assert call(lambda: Answer.select().count()) == 0
    assert call(lambda: DownEvent.select().where(DownEvent.kind == "answer.created").count()) == 0
    assert not list((capp.config["DATA_DIR"] / "blobs").rglob("*")) or all(
        p.is_dir() for p in (capp.config["DATA_DIR"] / "blobs").rglob("*")
    )


def test_neither_text_nor_voice_is_refused(call, capp, cclient):
    seed(call, capp)
    post = _first_post(call)
    token = login(cclient, "awa")
    r = cclient.post(
        f"/board/{post.id}", data={"csrf": token, "official_name": "Maire", "body": "  "}
    )
    assert r.status_code == 400 and 'data-field="body"' in r.get_data(as_text=True)
    # A national viewer cannot answer.
    viewer = capp.test_client()
    tok = login(viewer, "nat")
    assert (
        viewer.post(
            f"/board/{post.id}", data={"csrf": tok, "official_name": "M", "body": "x"}
        ).status_code
        == 403
    )


def _official(call, site, seq, official_id, name, role):
    _push(
        call,
        site,
        [
            [
                seq,
                str(uuid.uuid4()),
                "official.saved",
                "2026-11-28T10:00:00Z",
                {
                    "id": official_id,
                    "name": name,
                    "role": role,
                    "commune": "Nioro",
                    "gender": "f",
                    "created_at": "2026-11-28T10:00:00Z",
                },
            ]
        ],
    )


def test_forward_to_an_official_of_the_site_or_a_service(call, capp, cclient):
    seed(call, capp)
    site = _site(call)
    _official(call, site, 14, 3, "Fatoumata Keïta", "Maire")
    _official(call, site, 15, 3, "Fatoumata Keïta", "Maire adjointe")  # the newer wins
    assert [o["role"] for o in call(forwarding.officials, site)] == ["Maire adjointe"]
    post = _first_post(call)
    token = login(cclient, "awa")
    page = cclient.get(f"/board/{post.id}").get_data(as_text=True)
    assert '<option value="3">Fatoumata Keïta (Maire adjointe), Nioro</option>' in page
    r = cclient.post(
        f"/board/{post.id}/forward",
        data={"csrf": token, "official": "3", "note": "Urgent: <b>le forage</b>"},
    )
    assert r.status_code == 302
    page = cclient.get(f"/board/{post.id}").get_data(as_text=True)
    assert 'Transmis à <strong><bdi dir="auto">Fatoumata Keïta</bdi>' in page
    assert "&lt;b&gt;le forage&lt;/b&gt;" in page and "<b>le forage" not in page
    board = cclient.get("/board").get_data(as_text=True)
    assert 'class="forwarded" data-to-kind="official"' in board
    ev = call(lambda: DownEvent.get(DownEvent.kind == kinds.POST_FORWARDED.name))
    assert ev.site_id == site.id
    payload = json.loads(ev.payload)
    kinds.POST_FORWARDED.validate(payload)
    assert (payload["post_uuid"], payload["to_kind"], payload["to_name"], payload["to_role"]) == (
        post.uuid,
        "official",
        "Fatoumata Keïta",
        "Maire adjointe",
    )
    assert call(lambda: Audit.select().where(Audit.action == "post.forward").count()) == 1
    export = cclient.get("/board.csv").get_data().decode("utf-8-sig").splitlines()
    header = export[0].split(";")
    row = next(r.split(";") for r in export if post.uuid in r)
    assert row[header.index("transmis_à")] == "Fatoumata Keïta"
    # A typed service; N'Ko and Arabic names are kept as typed.
    r = cclient.post(
        f"/board/{post.id}/forward",
        data={"csrf": token, "service": "ߞߊ߬ߦߌ߬ service de l'hydraulique", "note": ""},
    )
    assert r.status_code == 302
    assert (
        call(lambda: PostForward.select().order_by(PostForward.id.desc()).first().to_name)
        == "ߞߊ߬ߦߌ߬ service de l'hydraulique"
    )


@pytest.mark.parametrize(
    "form,field",
    [
        ({"official": "", "service": ""}, "official"),
        ({"official": "3", "service": "Hydraulique"}, "official"),
        ({"official": "999"}, "official"),
        ({"service": "x" * 121}, "service"),
        ({"service": "Hydraulique\x07"}, "service"),
        ({"service": "<script>alert(1)</script>"}, "service"),
        ({"service": "Hydraulique", "note": "n" * 501}, "note"),
        ({"service": "Hydraulique", "note": "a\x1bb"}, "note"),
    ],
)
def test_a_bad_forward_names_the_field_and_changes_nothing(call, capp, cclient, form, field):
    seed(call, capp)
    _official(call, _site(call), 14, 3, "Fatoumata Keïta", "Maire")
    post = _first_post(call)
    token = login(cclient, "awa")
    r = cclient.post(f"/board/{post.id}/forward", data={"csrf": token, **form})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and f'data-field="{field}"' in page
    assert "<script>alert(1)" not in page
    assert call(lambda: PostForward.select().count()) == 0
    assert (
        call(lambda: DownEvent.select().where(DownEvent.kind == kinds.POST_FORWARDED.name).count())
        == 0
    )


def test_forwarding_is_for_writers_of_the_site_only(call, capp, cclient):
    seed(call, capp)
    kita_post = call(lambda: Post.select().join(Site).where(Site.slug == "kita").first())
    token = login(cclient, "awa")  # Kayes: kita is another region's
    assert (
        cclient.post(
            f"/board/{kita_post.id}/forward", data={"csrf": token, "service": "Hydraulique"}
        ).status_code
        == 404
    )
    viewer = capp.test_client()
    tok = login(viewer, "nat")
    assert (
        viewer.post(
            f"/board/{kita_post.id}/forward", data={"csrf": tok, "service": "Hydraulique"}
        ).status_code
        == 403
    )
    assert (
        cclient.post(f"/board/{kita_post.id}/forward", data={"service": "Hydraulique"}).status_code
        == 400
    )  # no CSRF token
