"""The precompressed store: text deflated once, spliced with our bar per request."""

from __future__ import annotations

import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from content_cache import precompressed as pc
from tests.content_cache.zims import ARABIC, NKO, _Entry, build_zim, page

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("n", [0, 1, 3, 4, 255, 65536, 1_000_003])
def test_crc_combination_matches_zlib(n):
    a, b = os.urandom(97), os.urandom(n)
    assert pc.crc_combine(zlib.crc32(a), zlib.crc32(b), pc.shift_for(n)) == zlib.crc32(a + b)


PAGES = [
    page("Eau", "<p>" + "Faire bouillir l'eau. " * 3000 + "</p>").encode(),
    page("ߒߞߏ", f"<p>{NKO}</p>", "nqo", rtl=True).encode(),
    page("الماء", f"<p>{ARABIC}</p>", "ar", rtl=True).encode(),
    b"<HTML><BODY\nclass='x'>upper case tags</BODY></HTML>",
    b"a fragment without a body tag",
    b"",
]


@pytest.mark.parametrize("data", PAGES)
def test_stored_page_with_the_bar_spliced_in_is_a_valid_gzip_member(data):
    bar = '<div id="espace-bar">Accueil · ߛߓߍ · المكتبة</div>'.encode()
    packed = pc.Packed(("text/html", *pc.pack(data, html=True)))
    data = pc.with_viewport(data)  # a page without one gets it when stored
    at = pc.body_split(data)
    expected = data[:at] + bar + data[at:]
    wire = b"".join(packed.gzip_parts(bar))
    # gzip.decompress checks the trailer's CRC-32 and length: the combination is right.
    assert gzip.decompress(wire) == expected
    assert zlib.decompress(wire, 31) == expected
    assert packed.identity(bar) == expected
    # The same stored entry with another visitor's bar.
    other = b'<div id="espace-bar">Home</div>'
    assert gzip.decompress(b"".join(packed.gzip_parts(other))) == (data[:at] + other
                                                                  + data[at:])


def test_stored_non_html_text_is_sent_whole():
    css = b"body{color:#222}\n" * 500
    packed = pc.Packed(("text/css", *pc.pack(css, html=False)))
    assert not packed.is_html
    assert gzip.decompress(b"".join(packed.gzip_parts())) == css
    assert packed.identity() == css


def test_library_reads_text_from_the_store_and_the_rest_from_the_zim(library_app):
    from content_cache.library import library_for

    lib = library_for(library_app.config["SITE"].content_dir)
    book = lib.book("sante")
    stored = lib.packed(book, "lecons/eau-potable")
    if not (library_app.config["SITE"].content_dir / pc.DIR).exists():
        assert stored is None  # the "zim" variant of the fixture: no store
        return
    assert stored is not None and stored.is_html and stored.mime.startswith("text/html")
    assert lib.packed(book, "s/style.css").mime == "text/css"
    for not_stored in ("vieux/chemin", "media/clip.webm", "data/large.bin", "nothing"):
        assert lib.packed(book, not_stored) is None, not_stored


def test_store_and_zim_give_the_same_pages(app, sante_zim, tmp_path):
    """Every HTML and CSS entry of the test ZIM, with and without gzip, served from
    the ZIM and then from the store: the same bytes once decompressed, same ETag."""
    import shutil

    from content_cache import library, views

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    shutil.copy(sante_zim, content / sante_zim.name)
    paths = ["index", "lecons/eau-potable", "santé/hygiène des mains", "nko/ߒߞߏ",
             "ar/الماء", "grand-article", "s/style.css"]
    from urllib.parse import quote

    def fetch_all():
        client = app.test_client()
        out = {}
        for p in paths:
            for enc in ("gzip", "identity"):
                r = client.get("/library/sante/" + quote(p), headers={"Accept-Encoding": enc})
                assert r.status_code == 200, p
                data = gzip.decompress(r.data) if enc == "gzip" else r.data
                assert (r.headers.get("Content-Encoding") == "gzip") == (enc == "gzip")
                assert int(r.headers["Content-Length"]) == len(r.data)
                out[(p, enc)] = (data, r.headers["ETag"], r.headers["Content-Type"],
                                 r.headers["Cache-Control"])
        return out

    try:
        from_zim = fetch_all()
        result = pc.build(content / sante_zim.name, content, "sante")
        assert result.state == "complete" and result.entries >= len(paths)
        library.forget(content)
        views.HOT.clear()
        from_store = fetch_all()
        assert library.library_for(content).packed(
            library.library_for(content).book("sante"), "index") is not None
    finally:
        library.forget(content)
        views.HOT.clear()
    assert from_store == from_zim


@pytest.fixture(scope="module")
def many_zim(tmp_path_factory) -> Path:
    """A ZIM of 1,200 small articles: enough for several commits of a build."""
    d = tmp_path_factory.mktemp("many")
    extra = [_Entry(f"a/{i}", f"Article {i}", "text/html",
                    page(f"Article {i}", f"<p>Texte {i} " + "mot " * (i % 50) + "</p>"))
             for i in range(1200)]
    return build_zim(d / "many.zim", name="many", extra=extra)


def _rows(path: Path) -> dict:
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0]: r[1:] for r in con.execute("SELECT * FROM entry")}
    finally:
        con.close()


def test_build_killed_mid_way_resumes_where_it_stopped(many_zim, tmp_path):
    """kill -9 after the first commit: the .part file is kept, nothing is served from
    it, and the next build continues from the last commit to the same result."""
    content = tmp_path / "content"
    content.mkdir()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from content_cache import precompressed as pc\n"
        "pc.COMMIT_EVERY = 100\n"
        "def progress(done, total):\n"
        "    print(done, total, flush=True)\n"
        "    sys.stdin.readline()  # wait here until the test kills us\n"
        f"pc.build(Path({str(many_zim)!r}), Path({str(content)!r}), 'many', progress=progress)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().split()
        proc.stdin.write("\n")  # let it commit a second batch, then kill it on the third
        proc.stdin.flush()
        second = proc.stdout.readline().split()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
        proc.stdin.close()
        proc.stdout.close()
    assert first[0] == "100" and second[0] == "200"
    from libzim.reader import Archive

    uuid = str(Archive(many_zim).uuid).replace("-", "")
    final = pc.store_path(content, "many", uuid)
    assert not final.exists() and final.with_suffix(".part").exists()
    assert pc.open_store(content, "many", uuid) is None

    seen: list[int] = []
    resumed = pc.build(many_zim, content, "many", progress=lambda d, t: seen.append(d))
    assert resumed.state == "complete" and final.exists()
    assert seen[0] > 200  # went on from the last commit, did not start again
    assert not final.with_suffix(".part").exists()

    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    fresh = pc.build(many_zim, fresh_dir, "many")
    assert _rows(final) == _rows(fresh.path)
    assert fresh.entries == resumed.entries >= 1200
    store = pc.open_store(content, "many", uuid)
    assert store.complete and store.get("a/7") is not None
    assert pc.build(many_zim, content, "many").state == "exists"


def test_budget_gives_a_partial_store_and_the_rest_comes_from_the_zim(many_zim, app):
    import shutil

    from content_cache import library

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    shutil.copy(many_zim, content / "many.zim")
    result = pc.build(content / "many.zim", content, "many", budget_bytes=20_000)
    assert result.state == "partial" and result.reason == "budget reached"
    store = pc.Store(result.path)
    assert not store.complete and 0 < store.entries < 1200
    client = app.test_client()
    try:
        lib = library.library_for(content)
        book = lib.book("many")
        stored = [i for i in range(1200) if lib.packed(book, f"a/{i}") is not None]
        missing = [i for i in range(1200) if i not in set(stored)]
        assert stored and missing
        for i in (stored[0], missing[0]):
            r = client.get(f"/library/many/a/{i}", headers={"Accept-Encoding": "gzip"})
            assert r.status_code == 200
            assert f"Texte {i} " in gzip.decompress(r.data).decode()
    finally:
        library.forget(content)


def test_damaged_store_is_dropped_and_pages_still_served(app, sante_zim):
    import shutil

    from content_cache import library

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    shutil.copy(sante_zim, content / sante_zim.name)
    result = pc.build(content / sante_zim.name, content, "sante")
    data = result.path.read_bytes()
    result.path.write_bytes(data[:len(data) // 3])  # cut short, as by a bad card
    client = app.test_client()
    try:
        for _ in range(2):
            r = client.get("/library/sante/lecons/eau-potable")
            assert r.status_code == 200 and "bouillir" in r.get_data(as_text=True)
    finally:
        library.forget(content)
    assert not result.path.exists()  # dropped, so the worker builds it again
    result.path.write_bytes(b"not a database at all")
    assert pc.open_store(content, "sante", result.path.stem.rsplit("-", 1)[1]) is None
    assert not result.path.exists()


def test_stores_of_removed_or_replaced_books_are_deleted(tmp_path):
    folder = tmp_path / pc.DIR
    folder.mkdir()
    keep = folder / f"wiki.fr-{'a' * 32}.sqlite"
    old = folder / f"wiki.fr-{'b' * 32}.sqlite"
    gone = folder / f"autre-{'c' * 32}.part"
    wal = folder / f"autre-{'c' * 32}.part-wal"
    for p in (keep, old, gone, wal):
        p.write_bytes(b"x")
    (folder / ".build.lock").write_bytes(b"")
    removed = pc.remove_stale(tmp_path, {"wiki.fr": "a" * 32})
    assert sorted(removed) == sorted([old, gone, wal])
    assert keep.exists() and not old.exists() and (folder / ".build.lock").exists()


def test_cli_import_precompresses_list_shows_it_remove_deletes_it(tmp_path, sante_zim):
    from appliance.cli import cli
    from content_cache import library

    site_file = tmp_path / "site.toml"
    site_file.write_text(f'[site]\nid = "cli-test"\nname = "Test"\ncommunes = ["Nioro"]\n'
                         f'[storage]\ndata_dir = "{tmp_path / "data"}"\nreserve_mb = 50\n')
    runner = CliRunner()
    r = runner.invoke(cli, ["content", "import", "--site", str(site_file), str(sante_zim)])
    assert r.exit_code == 0, r.output
    assert "precompressed sante-" in r.output and "complete" in r.output
    from appliance import settings

    content = settings.load(site_file).content_dir
    try:
        stores = list((content / pc.DIR).glob("sante-*.sqlite"))
        assert len(stores) == 1
        r = runner.invoke(cli, ["content", "list", "--site", str(site_file)])
        assert "[precompressed" in r.output
        r = runner.invoke(cli, ["content", "precompress", "--site", str(site_file)])
        assert r.exit_code == 0 and "precompressed" not in r.output  # nothing left to do
        r = runner.invoke(cli, ["content", "remove", "--site", str(site_file), "sante"])
        assert r.exit_code == 0, r.output
        assert not list((content / pc.DIR).glob("sante-*"))
    finally:
        library.forget(content)


def test_budget_zero_turns_it_off_and_worker_job_builds_within_budget(app, sante_zim,
                                                                       mooc_zim):
    import shutil

    from content_cache import library
    from content_cache.jobs import content_precompress_job

    site = app.config["SITE"]
    content = site.content_dir
    content.mkdir(parents=True, exist_ok=True)
    for z in (sante_zim, mooc_zim):
        shutil.copy(z, content / z.name)
    try:
        with app.app_context():
            out = str(content_precompress_job(app))
        assert out.count("complete") == 2, out
        assert len(list((content / pc.DIR).glob("*.sqlite"))) == 2
        with app.app_context():
            assert "every book" in str(content_precompress_job(app))
        # Another builder at work (the CLI while the worker runs): this one steps aside.
        import fcntl

        with open(content / pc.DIR / ".build.lock", "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            (content / pc.DIR / "sante-0.sqlite").write_bytes(b"x")  # would be stale
            assert pc.build_missing(content, reserve_mb=50, budget_mb=4096) == []
            assert (content / pc.DIR / "sante-0.sqlite").exists()
        assert pc.build_missing(content, reserve_mb=50, budget_mb=0) == []
        assert not list((content / pc.DIR).glob("*.sqlite"))  # 0: off, space given back
    finally:
        library.forget(content)


def test_many_threads_share_two_connections(many_zim, tmp_path):
    import threading

    result = pc.build(many_zim, tmp_path, "many")
    store = pc.Store(result.path)
    errors: list[str] = []

    def reader(k: int) -> None:
        for i in range(k, 1200, 7):
            p = store.get(f"a/{i}")
            if p is None or f"Texte {i} ".encode() not in p.identity():
                errors.append(f"a/{i}")

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and store._made <= pc.Store.CONNECTIONS
