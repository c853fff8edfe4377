"""The board's domain rules on a real SQLite file: moderation states, one support per
client, outbox in the same transaction, limits, merges, answers, crash recovery."""

import json
import os

import pytest

from appliance import blobs, migrations, outbox
from appliance.board import rules
from appliance.board.models import Answer, Decision, Post, Support
from appliance.board.rules import BoardError, Draft
from appliance.db import open_database
from appliance.models import Commune, Official, OutboxEvent
from tests.appliance import board_samples as samples


@pytest.fixture
def site(app):
    return app.config["SITE"]


@pytest.fixture
def data_dir(app):
    return app.config["DATA_DIR"]


@pytest.fixture
def nioro(db):
    return Commune.get(Commune.name == "Nioro")


def draft(commune, **kw):
    values = {"kind": "question", "target": f"c:{commune.id}", "theme": "water",
              "body": "Quand le forage sera-t-il réparé ?"}
    values.update(kw)
    return Draft(**values)


def events(kind=None):
    q = OutboxEvent.select().order_by(OutboxEvent.seq)
    if kind:
        q = q.where(OutboxEvent.kind == kind)
    return [json.loads(e.payload) for e in q]


def blob_files(data_dir):
    root = blobs.blob_dir(data_dir)
    return sorted(p.name for p in root.glob("*/*")) if root.exists() else []


def staged_files(data_dir):
    root = data_dir / rules.INCOMING
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_migration_upgrades_a_database_of_the_previous_schema(tmp_path):
    db = open_database(tmp_path)
    try:
        migrations.migrate(db, upto="m0001_initial")
        db.execute_sql("INSERT INTO commune (name) VALUES ('Nioro')")
        db.execute_sql("INSERT INTO official (name, commune_id, gender) VALUES ('Awa', 1, 'f')")
        migrations.migrate(db)
        assert "m0002_board" in migrations.applied(db)
        tables = {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master")}
        assert {"board_post", "board_support", "board_answer", "board_flag",
                "board_decision"} <= tables
        db.execute_sql(
            "INSERT INTO board_post (uuid, code, kind, commune_id, official_id, theme, body,"
            " status, created_at) VALUES ('u', 'ABCDEF', 'question', 1, 1, 'water', 'x',"
            " 'published', '2026-01-01T00:00:00Z')")
        assert db.execute_sql("SELECT count(*) FROM board_post").fetchone()[0] == 1
    finally:
        db.close()


def test_after_moderation_publishes_at_once_with_its_outbox_event(site, data_dir, nioro):
    post = rules.create_post(draft(nioro, alias="Fanta", gender="f", age_group="18-35"), None,
                             site=site, data_dir=data_dir, author_hash="abc")
    assert post.status == "published"
    assert len(post.code) == 6 and set(post.code) <= set(rules.CODE_ALPHABET)
    [event] = events("post.created")
    assert event["uuid"] == post.uuid and event["gender"] == "f" and event["commune"] == "Nioro"
    assert "abc" not in json.dumps(event), "no client hash leaves the box"


def test_before_moderation_keeps_posts_pending(app, data_dir, nioro):
    site = app.config["SITE"]
    site.board.moderation = "before"
    try:
        post = rules.create_post(draft(nioro), None, site=site, data_dir=data_dir)
    finally:
        site.board.moderation = "after"
    assert post.status == "pending"
    assert rules.board_page()[0] == []
    assert [p.id for p in rules.queue()] == [post.id]
    rules.publish(post, "Awa")
    assert Post.get_by_id(post.id).status == "published"
    assert [p.id for p in rules.board_page()[0]] == [post.id]
    rules.hide(post, "Insulte", "Awa")
    got = Post.get_by_id(post.id)
    assert got.status == "hidden" and got.hidden_reason == "Insulte"
    actions = [(e["action"], e["facilitator"]) for e in events("post.moderated")]
    assert actions == [("publish", "Awa"), ("hide", "Awa")]
    assert Decision.select().count() == 2
    with pytest.raises(BoardError) as e:
        rules.hide(post, "  ", "Awa")
    assert e.value.code == "reason_required"


def test_support_once_per_client(site, data_dir, nioro):
    post = rules.create_post(draft(nioro), None, site=site, data_dir=data_dir)
    assert rules.support(post, "phone-1") is True
    assert rules.support(post, "phone-1") is False
    assert rules.support(post, "phone-2") is True
    assert Post.get_by_id(post.id).support_count == 2
    assert Support.select().count() == 2
    assert len(events("support.created")) == 2
    rules.hide(post, "doublon", "Awa")
    with pytest.raises(BoardError):
        rules.support(Post.get_by_id(post.id), "phone-3")


def test_outbox_and_row_commit_together_or_not_at_all(site, data_dir, nioro, monkeypatch):
    before_posts, before_events = Post.select().count(), OutboxEvent.select().count()

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outbox, "append", broken)
    with pytest.raises(RuntimeError):
        rules.create_post(draft(nioro), samples.ogg_opus(2), site=site, data_dir=data_dir)
    assert Post.select().count() == before_posts
    assert OutboxEvent.select().count() == before_events
    assert blob_files(data_dir) == [] and staged_files(data_dir) == []


def test_outbox_append_outside_a_transaction_raises(db):
    with pytest.raises(outbox.OutsideTransaction):
        outbox.append("usage.visits", {"day": "2026-11-20", "visits": 1})


def test_limits(site, data_dir, nioro):
    with pytest.raises(BoardError) as e:
        rules.create_post(draft(nioro, body="x" * 2001), None, site=site, data_dir=data_dir)
    assert e.value.code == "too_long" and e.value.field == "body"
    ok = rules.create_post(draft(nioro, body="x" * 2000), None, site=site, data_dir=data_dir)
    assert len(ok.body) == 2000
    with pytest.raises(BoardError) as e:
        rules.create_post(draft(nioro, body=""), samples.wav(182), site=site, data_dir=data_dir)
    assert e.value.code == "voice_too_long"
    with pytest.raises(BoardError) as e:
        rules.create_post(draft(nioro, body=""), b"x" * 3_000_001, site=site, data_dir=data_dir)
    assert e.value.code == "voice_too_large"
    with pytest.raises(BoardError) as e:
        rules.create_post(draft(nioro, body=""), None, site=site, data_dir=data_dir)
    assert e.value.code == "empty"
    assert Post.select().count() == 1 and blob_files(data_dir) == []


def test_rate_limit_per_client_per_hour(site, data_dir, nioro):
    for _ in range(site.board.posts_per_hour):
        rules.create_post(draft(nioro), None, site=site, data_dir=data_dir, author_hash="a")
    with pytest.raises(BoardError) as e:
        rules.create_post(draft(nioro), None, site=site, data_dir=data_dir, author_hash="a")
    assert e.value.code == "rate_limited"
    rules.create_post(draft(nioro), None, site=site, data_dir=data_dir, author_hash="b")
    Post.update(created_at="2020-01-01T00:00:00Z").where(Post.author_hash == "a").execute()
    rules.create_post(draft(nioro), None, site=site, data_dir=data_dir, author_hash="a")


@pytest.mark.parametrize("field,value,code", [
    ("body", "bonjour\x00", "control_char"),
    ("body", "a\x1b[31m", "control_char"),
    ("body", "mauvais \ufffd octets", "invalid_utf8"),
    ("alias", "x" * 41, "too_long"),
    ("alias", "a\x07", "control_char"),
    ("kind", "shout", "bad_kind"),
    ("theme", "../../etc", "bad_theme"),
    ("target", "c:999", "bad_target"),
    ("target", "o:1; DROP TABLE board_post", "bad_target"),
    ("target", "", "bad_target"),
    ("gender", "x", "bad_choice"),
    ("age_group", "12", "bad_choice"),
])
def test_hostile_fields_are_refused_and_nothing_is_stored(site, data_dir, nioro, field, value,
                                                          code):
    with pytest.raises(BoardError) as e:
        rules.create_post(draft(nioro, **{field: value}), samples.ogg_opus(1), site=site,
                          data_dir=data_dir)
    assert e.value.code == code
    assert Post.select().count() == 0 and OutboxEvent.select().count() == 0
    assert blob_files(data_dir) == [] and staged_files(data_dir) == []


def test_nko_and_arabic_are_kept_as_typed(site, data_dir, nioro):
    text = "ߒ ߓߘߊ߫ ߞߊ߬ ߞߎߡߊ߫ — السلام عليكم\nligne 2"
    post = rules.create_post(draft(nioro, body=text, alias="ߡߊߙߌߦߊߡ"), None, site=site,
                             data_dir=data_dir)
    got = Post.get_by_id(post.id)
    assert got.body == text and got.alias == "ߡߊߙߌߦߊߡ"


def test_voice_note_stored_once_by_hash(site, data_dir, nioro):
    note = samples.webm_opus(4)
    a = rules.create_post(draft(nioro, body=""), note, site=site, data_dir=data_dir)
    b = rules.create_post(draft(nioro, body=""), note, site=site, data_dir=data_dir)
    assert a.voice_sha256 == b.voice_sha256 and a.voice_mime == "audio/webm"
    assert a.voice_seconds == pytest.approx(4, abs=0.1)
    assert blob_files(data_dir) == [a.voice_sha256]
    assert staged_files(data_dir) == []
    assert len(events("blob.voice")) == 1
    assert rules.voice_file(data_dir, a.voice_sha256).read_bytes() == note


def test_crash_recovery_promotes_committed_and_deletes_orphans(site, data_dir, nioro,
                                                               monkeypatch):
    # A crash after the commit but before the move: the staging file stays, and the
    # dead process's lock with it is gone.
    monkeypatch.setattr(rules, "_promote", lambda data_dir, voice: os.close(voice.fd))
    kept = rules.create_post(draft(nioro), samples.ogg_opus(2), site=site, data_dir=data_dir)
    monkeypatch.undo()
    # A crash before the commit: a staging file nobody refers to.
    orphan = rules.stage_voice(data_dir, samples.amr(2), site)
    (data_dir / rules.INCOMING / "deadbeef.part").write_bytes(b"half")
    # An upload in flight in a live process (locked): left alone.
    live = rules.stage_voice(data_dir, samples.mp3(2), site)
    assert rules.recover_incoming(data_dir) == (1, 1)  # the orphan is still locked too
    os.close(orphan.fd)
    assert rules.voice_file(data_dir, kept.voice_sha256) is not None  # playable meanwhile
    assert rules.recover_incoming(data_dir) == (0, 1)
    assert staged_files(data_dir) == [live.staged.name]
    rules._discard(live)
    assert blob_files(data_dir) == [kept.voice_sha256]
    assert staged_files(data_dir) == []
    assert not orphan.staged.exists()
    assert rules.recover_incoming(data_dir) == (0, 0)


def test_flags_take_an_unreviewed_post_off_the_board(site, data_dir, nioro):
    post = rules.create_post(draft(nioro), None, site=site, data_dir=data_dir)
    assert rules.flag(post, "p1", "insulte") is True
    assert rules.flag(post, "p1") is False
    rules.flag(post, "p2")
    assert Post.get_by_id(post.id).status == "published"
    assert [p.id for p in rules.queue()] == [post.id]  # flagged: the facilitator looks
    rules.flag(post, "p3")
    assert Post.get_by_id(post.id).status == "pending"
    assert events("post.moderated")[-1]["action"] == "flagged"
    rules.publish(Post.get_by_id(post.id), "Awa")  # reviewed: flags no longer hide it
    for n in range(4, 8):
        rules.flag(post, f"p{n}")
    assert Post.get_by_id(post.id).status == "published"
    assert rules.queue() == []


def test_merge_moves_supports_once_per_client(site, data_dir, nioro):
    target = rules.create_post(draft(nioro), None, site=site, data_dir=data_dir)
    dup = rules.create_post(draft(nioro, body="Le forage !"), None, site=site,
                            data_dir=data_dir)
    for client in ("a", "b"):
        rules.support(target, client)
    for client in ("b", "c", "d"):
        rules.support(dup, client)
    rules.merge(dup, target, "Awa")
    assert Post.get_by_id(target.id).support_count == 4  # a, b, c, d
    got = Post.get_by_id(dup.id)
    assert got.status == "merged" and got.merged_into_id == target.id
    assert events("post.moderated")[-1]["into_post_uuid"] == target.uuid
    with pytest.raises(BoardError):
        rules.merge(target, target, "Awa")
    with pytest.raises(BoardError):
        rules.merge(target, got, "Awa")
    assert [p.id for p in rules.board_page()[0]] == [target.id]


def test_answers_at_the_kiosk_and_from_central(site, data_dir, nioro):
    maire = Official.create(name="Awa Diallo", role="Maire", commune=nioro, gender="f")
    post = rules.create_post(draft(nioro, target=f"o:{maire.id}"), None, site=site,
                             data_dir=data_dir)
    assert post.official_id == maire.id
    assert [p.id for p in rules.board_page(state="waiting")[0]] == [post.id]
    ans = rules.answer(post, official_id=maire.id, body="", voice_data=samples.mp4(30),
                       recorded_by="Awa", site=site, data_dir=data_dir)
    assert ans.official_name == "Awa Diallo" and ans.voice_mime == "audio/mp4"
    [event] = events("answer.created")
    assert event["post_uuid"] == post.uuid and event["official"]["gender"] == "f"
    assert [p.id for p in rules.board_page(state="answered")[0]] == [post.id]
    assert rules.visible_voice(ans.voice_sha256) == "audio/mp4"
    n = OutboxEvent.select().count()
    payload = {"uuid": "0b7c", "post_uuid": post.uuid, "official_name": "Conseil",
               "body": "Réponse du conseil"}
    assert rules.receive_answer(payload).source == "central"
    assert rules.receive_answer(payload).uuid == "0b7c"  # idempotent
    assert Answer.select().count() == 2 and OutboxEvent.select().count() == n
    assert Post.get_by_id(post.id).answer_count == 2
    with pytest.raises(BoardError):
        rules.answer(post, official_id=None, body="x", voice_data=None, recorded_by="Awa",
                     site=site, data_dir=data_dir)


def test_board_page_filters_sorts_and_pages(site, data_dir, nioro):
    kayes = Commune.get(Commune.name == "Kayes")
    posts = []
    for i in range(45):
        posts.append(rules.create_post(
            draft(nioro if i % 2 else kayes, theme="health" if i % 3 == 0 else "water",
                  kind="proposal" if i % 5 == 0 else "question"), None,
            site=site, data_dir=data_dir))
    for client in range(3):
        rules.support(posts[7], f"c{client}")
    page1, more = rules.board_page()
    assert len(page1) == 20 and more and page1[0].id == posts[-1].id
    page3, more = rules.board_page(page=3)
    assert len(page3) == 5 and not more
    assert rules.board_page(sort="top")[0][0].id == posts[7].id
    assert all(p.theme == "health" for p in rules.board_page(theme="health")[0])
    assert all(p.commune_id == kayes.id for p in rules.board_page(commune_id=kayes.id)[0])
    assert all(p.kind == "proposal" for p in rules.board_page(kinds=("proposal",))[0])


def test_board_queries_use_indexes(db):
    plans = []
    for sql in (
        "SELECT * FROM board_post WHERE status = 'published' ORDER BY id DESC LIMIT 21",
        "SELECT * FROM board_post WHERE status = 'published' ORDER BY support_count DESC, "
        "id DESC LIMIT 21",
        "SELECT * FROM board_post WHERE status = 'published' AND theme = 'water' "
        "ORDER BY id DESC LIMIT 21",
    ):
        plan = " ".join(str(r[-1]) for r in db.execute_sql("EXPLAIN QUERY PLAN " + sql))
        plans.append(plan)
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan


def test_codes_are_unique_and_found_case_insensitively(site, data_dir, nioro):
    codes = {rules.create_post(draft(nioro), None, site=site, data_dir=data_dir).code
             for _ in range(30)}
    assert len(codes) == 30
    code = sorted(codes)[0]
    assert rules.find(code.lower()).code == code
    assert rules.find("../../") is None and rules.find("0OIL11") is None


def test_an_answer_pulled_by_the_sync_lands_on_the_board(site, data_dir, nioro, db):
    from appliance.sync import client
    from sync_contract import kinds

    post = rules.create_post(draft(nioro), None, site=site, data_dir=data_dir)
    payload = {"uuid": "c0ffee", "post_uuid": post.uuid, "official_name": "Le maire",
               "body": "Les travaux commencent lundi.", "created_at": "2026-11-28T10:00:00Z"}
    with db.atomic():
        assert client.apply_down(kinds.ANSWER.name, payload) == "board"
    with db.atomic():
        client.apply_down(kinds.ANSWER.name, payload)  # replayed: nothing twice
    assert Answer.select().count() == 1
    assert [p.id for p in rules.board_page(state="answered")[0]] == [post.id]


def test_an_answer_to_a_merged_post_goes_to_the_post_it_joined(site, data_dir, nioro):
    kept = rules.create_post(draft(nioro), None, site=site, data_dir=data_dir)
    dup = rules.create_post(draft(nioro), None, site=site, data_dir=data_dir)
    rules.merge(dup, kept, "Awa")
    ans = rules.receive_answer({"uuid": "a1", "post_uuid": dup.uuid, "official_name": "Maire",
                                "body": "Oui"})
    assert ans.post_id == kept.id and Post.get_by_id(kept.id).answer_count == 1
