"""The board's pages over HTTP: posting by text and voice, every field and upload
attacked, nothing stored half-way, supports, flags, voice serving, the kiosk queue."""

import io
import re

import pytest

from appliance import blobs
from appliance.board import rules
from appliance.board.models import Answer, Post
from appliance.models import Commune, Official, OutboxEvent
from tests.appliance import board_samples as samples
from tests.support import kiosk_login

TOKEN = re.compile(rb'name="csrf" value="([^"]+)"')


def token(client, path="/board/new"):
    return TOKEN.search(client.get(path).data).group(1).decode()


def form(client, **over):
    data = {"csrf": token(client), "kind": "question", "target": "c:1", "theme": "water",
            "body": "Le forage de Diaye est en panne"}
    data.update(over)
    return data


def multipart(fields: dict, voice: bytes) -> tuple[bytes, str]:
    """A multipart body built by hand (the test client spools big ones to a file it
    never closes)."""
    parts = [b"--XX\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
             % (k.encode(), v.encode()) for k, v in fields.items()]
    parts.append(b"--XX\r\nContent-Disposition: form-data; name=\"voice\"; "
                 b"filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n" + voice + b"\r\n")
    return b"".join(parts) + b"--XX--\r\n", "multipart/form-data; boundary=XX"


def stored(app):
    data_dir = app.config["DATA_DIR"]
    files = list(blobs.blob_dir(data_dir).glob("*/*")) + list(
        (data_dir / rules.INCOMING).glob("*"))
    return Post.select().count(), OutboxEvent.select().count(), len(files)


def test_text_post_confirmation_and_page(client, app, db):
    r = client.post("/board/new", data=form(client, body="<script>alert('x')</script>"))
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    code = re.search(r'id="post-code">(\w+)<', page).group(1)
    assert "It is on the board now" in page
    html = client.get(f"/board/p/{code}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert 'dir="auto" id="post-body"' in html
    assert code in client.get("/board/").get_data(as_text=True)
    assert client.get(f"/board/find?code={code.lower()}").headers["Location"].endswith(code)
    assert client.get("/board/find?code=ZZZZZZ").status_code == 404


def test_nko_text_round_trips(client, db):
    text = "ߒ ߓߘߊ߫ ߞߊ߬ ߞߎߡߊ߫"
    r = client.post("/board/new", data=form(client, body=text, alias="ߡߊߙߌߦߊߡ"))
    code = r.headers["Location"].rsplit("/", 1)[1]
    html = client.get(f"/board/p/{code}").get_data(as_text=True)
    assert text in html and '<bdi dir="auto">ߡߊߙߌߦߊߡ</bdi>' in html


def test_voice_post_is_served_with_ranges(client, app, db):
    note = samples.webm_opus(3)
    data = form(client, body="", voice=(io.BytesIO(note), "../../../etc/passwd", "text/x-sh"))
    r = client.post("/board/new", data=data, content_type="multipart/form-data")
    assert r.status_code == 303
    post = Post.get(Post.code == r.headers["Location"].rsplit("/", 1)[1])
    assert post.voice_mime == "audio/webm"
    html = client.get(f"/board/p/{post.code}").get_data(as_text=True)
    assert f'src="/board/voice/{post.voice_sha256}"' in html
    with client.get(f"/board/voice/{post.voice_sha256}") as full:
        assert full.data == note and full.mimetype == "audio/webm"
    with client.get(f"/board/voice/{post.voice_sha256}", headers={"Range": "bytes=0-99"}) as part:
        assert part.status_code == 206 and len(part.data) == 100
    assert not (app.config["DATA_DIR"] / "etc").exists()
    assert client.get("/board/voice/..%2F..%2Fsecret_key").status_code == 404
    assert client.get("/board/voice/" + "0" * 64).status_code == 404


@pytest.mark.parametrize("over,message", [
    ({"body": "abc\x00def"}, "invisible control characters"),
    ({"body": "x" * 2001}, "too long"),
    ({"alias": "a" * 41}, "too long"),
    ({"kind": "<script>"}, "a question or a proposal"),
    ({"theme": "../../etc/passwd"}, "Choose a theme"),
    ({"target": "o:99999"}, "Choose who your message is for"),
    ({"target": "c:1 OR 1=1"}, "Choose who your message is for"),
    ({"gender": "<b>"}, "not in the list"),
    ({"body": ""}, "Write a text or record a voice note"),
])
def test_hostile_fields_get_a_clear_error_and_nothing_is_stored(client, app, db, over,
                                                                 message):
    before = stored(app)
    r = client.post("/board/new", data=form(client, **over))
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    assert stored(app) == before


def test_invalid_utf8_is_refused(client, app, db):
    before = stored(app)
    tok = token(client)
    body = (f"csrf={tok}&kind=question&target=c%3A1&theme=water&body=caf%C3%A9%FF%FE"
            ).encode()
    r = client.post("/board/new", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400 and "could not be read" in r.get_data(as_text=True)
    raw = (b"--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + tok.encode()
           + b"\r\n--XX\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nquestion"
           b"\r\n--XX\r\nContent-Disposition: form-data; name=\"target\"\r\n\r\nc:1"
           b"\r\n--XX\r\nContent-Disposition: form-data; name=\"theme\"\r\n\r\nwater"
           b"\r\n--XX\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\n\xc3\x28\xa0"
           b"\r\n--XX--\r\n")
    r = client.post("/board/new", data=raw, content_type="multipart/form-data; boundary=XX")
    assert r.status_code == 400 and "could not be read" in r.get_data(as_text=True)
    assert stored(app) == before


@pytest.mark.parametrize("payload", [
    b"<html><script>alert(1)</script></html>",
    b"\x7fELF\x02\x01\x01" + bytes(5000),
    samples.ogg_opus(3)[:-20],
    b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(8),
])
def test_wrong_audio_is_refused_by_content(client, app, db, payload):
    before = stored(app)
    data = form(client, voice=(io.BytesIO(payload), "note.ogg", "audio/ogg"))
    r = client.post("/board/new", data=data, content_type="multipart/form-data")
    assert r.status_code == 400
    assert "not a voice note we can play" in r.get_data(as_text=True)
    assert stored(app) == before


def test_too_long_voice_and_huge_bodies(client, app, db):
    before = stored(app)
    body, ctype = multipart(form(client, body=""), samples.wav(182))
    r = client.post("/board/new", data=body, content_type=ctype)
    assert r.status_code == 400 and "too long" in r.get_data(as_text=True)
    # Built by hand: the test client spools big multipart bodies to a file it leaves open.
    huge = (b"--XX\r\nContent-Disposition: form-data; name=\"voice\"; filename=\"a.wav\"\r\n"
            b"\r\n" + b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b"\r\n--XX--\r\n")
    r = client.post("/board/new", data=huge, content_type="multipart/form-data; boundary=XX")
    assert r.status_code == 413 and "class=\"error\"" in r.get_data(as_text=True)
    r = client.post("/board/new", data=form(client, body="x" * 300_000))
    assert r.status_code == 400 and "too long" in r.get_data(as_text=True)
    assert stored(app) == before


def test_csrf_is_required(client, app, db):
    before = stored(app)
    data = form(client)
    data["csrf"] = "forged"
    r = client.post("/board/new", data=data)
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    other = app.test_client()  # another browser: no session, no token
    assert other.post("/board/new", data=form(client)).status_code == 400
    assert stored(app) == before


def test_rate_limit_answers_429(client, app, db):
    app.config["SITE"].board.posts_per_hour = 2
    try:
        for _ in range(2):
            assert client.post("/board/new", data=form(client)).status_code == 303
        r = client.post("/board/new", data=form(client))
        assert r.status_code == 429 and "wait a little" in r.get_data(as_text=True)
    finally:
        app.config["SITE"].board.posts_per_hour = 10


def test_support_and_flag_from_the_post_page(client, db):
    code = client.post("/board/new", data=form(client)).headers["Location"].rsplit("/", 1)[1]
    tok = token(client, f"/board/p/{code}")
    r = client.post(f"/board/p/{code}/support", data={"csrf": tok})
    assert "done=support" in r.headers["Location"]
    r = client.post(f"/board/p/{code}/support", data={"csrf": tok})
    assert "done=again" in r.headers["Location"]
    assert Post.get(Post.code == code).support_count == 1
    assert client.post(f"/board/p/{code}/support", data={}).status_code == 400
    assert client.post(f"/board/p/{code}/flag", data={"csrf": tok, "reason": "faux"}) \
        .status_code == 303
    assert Post.get(Post.code == code).flag_count == 1
    login(client)
    assert "Reported by 1 visitor" in client.get("/kiosk/moderation").get_data(as_text=True)


def login(client):
    kiosk_login(client)


def test_kiosk_requires_a_facilitator(client, db):
    r = client.get("/kiosk/moderation")
    assert r.status_code == 302 and "/kiosk/login" in r.headers["Location"]
    assert client.post("/kiosk/moderation/ABCDEF/publish").status_code == 302


def test_kiosk_queue_publish_hide_merge_and_answer(client, app, db):
    app.config["SITE"].board.moderation = "before"
    try:
        codes = [client.post("/board/new", data=form(client, body=b)).headers["Location"]
                 .rsplit("/", 1)[1] for b in ("Forage en panne", "Le forage !", "insulte")]
    finally:
        app.config["SITE"].board.moderation = "after"
    assert "A facilitator will read it" in client.get(f"/board/sent/{codes[0]}").get_data(
        as_text=True)
    assert client.get("/board/").get_data(as_text=True).count('class="card"') == 0
    login(client)
    page = client.get("/kiosk/moderation").get_data(as_text=True)
    assert all(c in page for c in codes) and "Board" in page
    tok = token(client, "/kiosk/moderation")
    client.post(f"/kiosk/moderation/{codes[0]}/publish", data={"csrf": tok})
    client.post(f"/kiosk/moderation/{codes[1]}/merge", data={"csrf": tok, "into": codes[0]})
    r = client.post(f"/kiosk/moderation/{codes[2]}/hide",
                    data={"csrf": tok, "reason": "Insult or threat", "reason_text": ""})
    assert "hidden" in r.headers["Location"]
    assert [Post.get(Post.code == c).status for c in codes] == ["published", "merged", "hidden"]
    assert client.get(f"/board/p/{codes[1]}").headers["Location"].endswith(codes[0])
    assert client.get("/kiosk/moderation").get_data(as_text=True).count('class="item"') == 0
    bad = client.post(f"/kiosk/moderation/{codes[2]}/publish", data={"csrf": "nope"})
    assert bad.status_code == 400 and "expired" in bad.get_data(as_text=True)
    assert Post.get(Post.code == codes[2]).status == "hidden"

    maire = Official.create(name="Awa Diallo", role="Maire", gender="f",
                            commune=Commune.get(Commune.name == "Kayes"))
    assert codes[0] in client.get("/kiosk/moderation/answers").get_data(as_text=True)
    r = client.post(f"/kiosk/moderation/{codes[0]}/answer",
                    data={"csrf": tok, "official": str(maire.id), "body": "",
                          "voice": (io.BytesIO(samples.ogg_opus(5)), "answer.ogg")},
                    content_type="multipart/form-data")
    assert r.status_code == 303
    ans = Answer.get()
    assert ans.official_name == "Awa Diallo" and ans.recorded_by == "Awa"
    html = client.get(f"/board/p/{codes[0]}").get_data(as_text=True)
    assert f"/board/voice/{ans.voice_sha256}" in html
    with client.get(f"/board/voice/{ans.voice_sha256}") as r:
        assert r.status_code == 200
    r = client.post(f"/kiosk/moderation/{codes[0]}/answer",
                    data={"csrf": tok, "official": "", "official_name": "", "body": "x"})
    assert r.status_code == 400 and "Choose the official" in r.get_data(as_text=True)


def test_pending_voice_is_not_served_to_visitors(client, app, db):
    app.config["SITE"].board.moderation = "before"
    try:
        data = form(client, body="", voice=(io.BytesIO(samples.amr(2)), "a.amr"))
        code = client.post("/board/new", data=data, content_type="multipart/form-data") \
            .headers["Location"].rsplit("/", 1)[1]
    finally:
        app.config["SITE"].board.moderation = "after"
    post = Post.get(Post.code == code)
    assert client.get(f"/board/voice/{post.voice_sha256}").status_code == 404
    login(client)
    with client.get(f"/kiosk/moderation/voice/{post.voice_sha256}") as r:
        assert r.status_code == 200


def test_board_filters_and_pages(client, db):
    for i in range(23):
        client.post("/board/new", data=form(client, theme="health" if i % 2 else "water"))
        if i == 9:
            app_ = client.application
            app_.config["SITE"].board.posts_per_hour = 100
    html = client.get("/board/").get_data(as_text=True)
    assert html.count('class="card"') == 20 and 'rel="next"' in html
    html = client.get("/board/?page=2").get_data(as_text=True)
    assert html.count('class="card"') == 3 and 'rel="prev"' in html
    assert client.get("/board/?theme=health").get_data(as_text=True).count('class="card"') == 11
    for bad in ("?page=-1", "?page=abc", "?theme=<x>", "?commune=1e9", "?sort=%00",
                "?page=99999999999"):
        assert client.get("/board/" + bad).status_code == 200
    client.application.config["SITE"].board.posts_per_hour = 10


def test_kiosk_adds_and_corrects_officials(client, db):
    login(client)
    tok = token(client, "/kiosk/moderation/officials")
    kayes = Commune.get(Commune.name == "Kayes")
    r = client.post("/kiosk/moderation/officials", data={
        "csrf": tok, "name": "Fatoumata Keïta", "role": "Adjointe", "commune": str(kayes.id),
        "gender": "f"})
    assert r.status_code == 303
    official = Official.get(Official.name == "Fatoumata Keïta")
    assert official.gender == "f" and official.commune_id == kayes.id
    r = client.post("/kiosk/moderation/officials", data={
        "csrf": tok, "id": str(official.id), "name": "Fatoumata Keïta", "role": "Maire",
        "commune": str(kayes.id), "gender": "f"})
    assert Official.get_by_id(official.id).role == "Maire"
    saved = [e for e in OutboxEvent.select() if e.kind == "official.saved"]
    assert len(saved) == 2
    for bad in ({"name": ""}, {"name": "x\x00"}, {"commune": "999"}, {"gender": "x"}):
        data = {"csrf": tok, "name": "Ok", "role": "", "commune": str(kayes.id), "gender": ""}
        data.update(bad)
        assert client.post("/kiosk/moderation/officials", data=data).status_code == 400
    assert Official.select().count() == 1
    form_html = client.get("/board/new").get_data(as_text=True)
    assert f'value="o:{official.id}"' in form_html and "Fatoumata Keïta" in form_html
    assert "<small>Maire</small>" in form_html


def test_refused_uploads_are_rate_limited_per_phone(client, app, db, monkeypatch):
    """After 3 refused voice notes, the phone's next upload is refused unread (429),
    other phones and text posts are not affected."""
    from appliance import audio

    probed = []
    real = audio.probe
    monkeypatch.setattr(audio, "probe",
                        lambda data, **kw: probed.append(len(data)) or real(data, **kw))
    junk = b"\x1a\x45\xdf\xa3" + bytes(100_000)  # WebM magic, nothing valid after

    def upload(c, **environ):
        return c.post("/board/new", environ_base=environ, data=form(c, body="", voice=(
            io.BytesIO(junk), "a.webm", "audio/webm")))

    assert [upload(client).status_code for _ in range(3)] == [400] * 3
    assert upload(client).status_code == 429 and len(probed) == 3
    # Text still goes through from this phone; another phone still uploads.
    assert client.post("/board/new", data=form(client, body="Une question")).status_code == 303
    other = app.test_client()
    assert upload(other, REMOTE_ADDR="10.42.0.77").status_code == 400 and len(probed) == 4
