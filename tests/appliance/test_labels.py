"""Spoken labels: corrections and clips recorded at the kiosk, the speakers and texts
visitors get, what is refused, and `espace i18n export`."""

import re

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner

from appliance.labels import rules
from appliance.labels.models import Label
from tests.appliance import board_samples as samples
from tests.support import csrf, kiosk_login

NKO = "ߞߊ߬ߟߊ߲"
ARABIC = "تعلم"


def test_newest_text_and_clip_win_per_language(app, db):
    data = app.config["DATA_DIR"]
    rules.record("msg:Learn", "bm", text="Kalan", data_dir=data, created_at="2026-11-01T00:00:00")
    rules.record("msg:Learn", "bm", clip=samples.webm_opus(1.0), data_dir=data)
    rules.record("msg:Learn", "bm", text="Ka kalan kɛ", data_dir=data)
    rules.record("msg:Learn", "snk", text=NKO, data_dir=data)
    texts, clips = rules.current("bm")
    assert texts == {"msg:Learn": "Ka kalan kɛ"} and clips["msg:Learn"].mime.startswith("audio/")
    assert rules.current("snk")[0] == {"msg:Learn": NKO} and rules.current("snk")[1] == {}
    # A row synced from another box, older than ours, does not win over it.
    rules.record("msg:Learn", "bm", text="Vieux", data_dir=data, origin="nioro",
                 created_at="2026-10-01T00:00:00", uuid="u-1")
    assert rules.current("bm")[0]["msg:Learn"] == "Ka kalan kɛ"
    # Idempotent by uuid: the same row synced twice is stored once.
    rules.record("msg:Learn", "bm", text="Vieux", data_dir=data, uuid="u-1")
    assert Label.select().where(Label.uuid == "u-1").count() == 1


@pytest.mark.parametrize("key,lang,kw,code", [
    ("nope:x", "bm", {"text": "a"}, "bad_key"),
    ("msg:", "bm", {"text": "a"}, "bad_key"),
    ("msg:" + "x" * 400, "bm", {"text": "a"}, "bad_key"),
    ("msg:Learn", "xx", {"text": "a"}, "bad_lang"),
    ("msg:Learn", "bm", {}, "empty"),
    ("msg:Learn", "bm", {"text": "a\u202eb"}, "bad_text"),
    ("msg:Learn", "bm", {"text": "x" * 201}, "text_too_long"),
    ("msg:Learn", "bm", {"clip": b"MZ\x90\x00" + b"\x00" * 100}, "not_audio"),
    ("msg:Learn", "bm", {"clip": samples.mp3(1.0)}, "not_opus"),
    ("msg:Learn", "bm", {"clip": samples.ogg_opus(25.0)}, "clip_too_long"),
    ("msg:Learn", "bm", {"clip": b"OggS" + b"\x00" * 300_000}, "clip_too_large"),
])
def test_refused_with_a_reason_and_nothing_stored(app, db, key, lang, kw, code):
    with pytest.raises(rules.LabelError) as e:
        rules.record(key, lang, data_dir=app.config["DATA_DIR"], **kw)
    assert e.value.code == code
    assert Label.select().count() == 0


def test_any_script_is_kept(app, db):
    rules.record("official:Mariam Diallo", "mey", text=ARABIC, data_dir=app.config["DATA_DIR"])
    rules.record("msg:Search", "bm", text="'); DROP TABLE label; --",
                 data_dir=app.config["DATA_DIR"])
    assert rules.current("mey")[0]["official:Mariam Diallo"] == ARABIC
    assert Label.select().count() == 2


def test_correction_shows_on_the_pages_and_a_speaker_only_in_its_language(client, app, db):
    data = app.config["DATA_DIR"]
    client.set_cookie("lang", "bm")
    assert "Ka kalan" in client.get("/").get_data(as_text=True)  # the catalogue's
    rules.record("msg:Learn", "bm", text="Kalan yɔrɔ", clip=samples.webm_opus(1.0),
                 data_dir=data)
    home = client.get("/").get_data(as_text=True)
    assert "Kalan yɔrɔ" in home and "Ka kalan" not in home  # the cached page is renewed
    speaker = re.search(r'<a class="say" href="(/labels/clip/[0-9a-f]{64})" data-say', home)
    assert speaker and home.count('class="say"') == 1 and "<script>" in home
    r = client.get(speaker.group(1))
    assert r.status_code == 200 and r.mimetype == "audio/webm" and r.data[:4] == b"\x1aE\xdf\xa3"
    assert r.cache_control.max_age >= 30 * 24 * 3600
    r.close()
    # Soninke has no clip: no speaker at all (never the Bambara one), and no script.
    client.set_cookie("lang", "snk")
    home = client.get("/").get_data(as_text=True)
    assert 'class="say"' not in home and "<script>" not in home and "Xaranŋe" in home
    assert client.get("/labels/clip/" + "0" * 64).status_code == 404
    assert client.get("/labels/clip/../../etc/passwd").status_code == 404


def test_kiosk_corrects_records_and_takes_a_photo(client, app, db):
    from appliance.models import Commune, Official

    kiosk_login(client)
    o = Official.create(name="Mariam Diallo", role="Maire", commune=Commune.get())
    page = client.get("/kiosk/labels?lang=bm&group=officials").get_data(as_text=True)
    assert "Mariam Diallo" in page and "council:" in page
    r = client.post("/kiosk/labels/edit", data={
        "key": "msg:Send", "lang": "bm", "text": "A ci sisan", "csrf": csrf(client),
        "voice": (__import__("io").BytesIO(samples.webm_opus(1.5)), "voice.webm")},
        content_type="multipart/form-data")
    assert r.status_code == 303
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    r = client.post("/kiosk/labels/edit", data={
        "key": "official:Mariam Diallo", "lang": "bm", "csrf": csrf(client),
        "photo": (__import__("io").BytesIO(png), "face.png"),
        "voice": (__import__("io").BytesIO(samples.ogg_opus(1.0)), "name.ogg")},
        content_type="multipart/form-data")
    assert r.status_code == 303
    assert Official.get_by_id(o.id).photo_sha256
    bad = client.post("/kiosk/labels/edit", data={
        "key": "msg:Send", "lang": "bm", "csrf": csrf(client),
        "voice": (__import__("io").BytesIO(samples.mp3(1.0)), "x.mp3")},
        content_type="multipart/form-data")
    assert bad.status_code == 400 and "Record again" in bad.get_data(as_text=True)
    no_token = client.post("/kiosk/labels/edit", data={"key": "msg:Send", "lang": "bm",
                                                       "text": "x"})
    assert no_token.status_code == 400
    # The visitor's form shows the face and both speakers.
    client.set_cookie("lang", "bm")
    form = client.get("/board/new").get_data(as_text=True)
    assert f"/labels/photo/{Official.get_by_id(o.id).photo_sha256}" in form
    assert "A ci sisan" in form and form.count('class="say"') == 2
    r = client.get(f"/labels/photo/{Official.get_by_id(o.id).photo_sha256}")
    assert r.status_code == 200 and r.mimetype == "image/png"
    r.close()


def test_export_writes_the_corrections_as_po(app, db, tmp_path):
    from appliance.cli import cli

    data = app.config["DATA_DIR"]
    rules.record("msg:Learn", "bm", text="Kalan yɔrɔ", data_dir=data)
    rules.record("msg:Send", "ff", text="Neldu jooni", data_dir=data)
    rules.record("official:Mariam Diallo", "bm", clip=samples.webm_opus(1.0), data_dir=data)
    site = tmp_path / "site.toml"
    site.write_text(f'[site]\nid = "test-site"\nname = "T"\ncommunes = ["Nioro"]\n'
                    f'languages = ["fr", "bm", "ff"]\n[storage]\ndata_dir = "{data}"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["i18n", "export", "--site", str(site), str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "bm" / "LC_MESSAGES" / "messages.po", "rb") as f:
        cat = read_po(f)
    assert [(m.id, m.string) for m in cat if m.id] == [("Learn", "Kalan yɔrɔ")]
    assert (out / "ff" / "LC_MESSAGES" / "messages.po").exists()


def test_a_clip_is_measured_by_what_it_holds():
    """A clip whose Ogg granule claims 2 s but holds a minute is too long, not accepted."""
    from appliance.labels import rules as label_rules
    from tests.appliance import board_samples as samples

    with pytest.raises(label_rules.LabelError) as e:
        label_rules.check_clip(samples.ogg_opus_lying(real_seconds=60, claimed_seconds=2))
    assert e.value.code == "clip_too_long"


def test_a_synced_clip_is_never_served_as_a_page(app, db):
    """A label shared from another box (or a stolen box key) naming its clip text/html:
    not applied; a row that says so anyway is served as bytes, never as a page."""
    import hashlib

    from appliance import blobs
    from appliance.labels import rules as label_rules
    from appliance.labels.models import Label

    page = b"<script>alert(document.cookie)</script>"
    sha = hashlib.sha256(page).hexdigest()
    path = blobs.path_for(app.config["DATA_DIR"], sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(page)
    payload = {"uuid": "7b0c4f4e-0000-4000-8000-000000000001", "key": "msg:Home",
               "lang": "fr", "text": "", "clip_sha256": sha, "clip_mime": "text/html",
               "created_at": "2026-11-30T08:00:00Z"}
    assert label_rules.receive_shared(payload, app.config["DATA_DIR"]) == ""
    assert not Label.select().where(Label.clip_sha256 == sha).exists()
    Label.create(uuid=payload["uuid"], key="msg:Home", lang="fr", text="", clip_sha256=sha,
                 clip_mime="text/html", origin="central", created_at=payload["created_at"])
    with app.test_client().get(f"/labels/clip/{sha}") as r:
        assert r.status_code == 200 and r.mimetype == "application/octet-stream"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in r.headers["Content-Security-Policy"]
