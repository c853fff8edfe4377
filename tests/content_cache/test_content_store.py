"""Getting ZIMs onto the box: import (verified, atomic), resumable fetch, CLI."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import make_site


@pytest.fixture
def site(tmp_path):
    from appliance import db, migrations, settings

    doc = make_site(tmp_path, sync={"daily_budget_mb": 50}, storage={"reserve_mb": 50})
    s = settings.validate(doc, str(tmp_path / "site.toml"))
    s.data_dir.mkdir(parents=True)
    s.content_dir.mkdir(parents=True)
    database = db.open_database(s.data_dir)
    migrations.migrate(database)
    yield s
    from content_cache.library import forget

    forget(s.content_dir)
    database.close()


def _leftovers(content_dir: Path) -> list[str]:
    return sorted(p.name for p in content_dir.iterdir() if p.name != ".downloads")


def test_import_installs_a_verified_copy(site, sante_zim):
    from content_cache.library import library_for
    from content_cache.store import import_zim

    dest = import_zim(sante_zim, site.content_dir, site.storage.reserve_mb)
    assert dest == site.content_dir / "sante.zim"
    assert dest.read_bytes() == sante_zim.read_bytes()
    assert [b.name for b in library_for(site.content_dir).books()] == ["sante"]


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "not-zim", "empty"])
def test_import_refuses_damaged_files_and_leaves_nothing(site, sante_zim, tmp_path, damage):
    from content_cache.store import BadZim, import_zim

    data = bytearray(sante_zim.read_bytes())
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "corrupt":
        mid = len(data) // 2
        data[mid:mid + 64] = bytes(64)  # zeros in the middle: checksum fails
    elif damage == "not-zim":
        data = bytearray(b"<html>404 Not Found</html>" * 100)
    else:
        data = bytearray()
    bad = tmp_path / f"bad-{damage}.zim"
    bad.write_bytes(bytes(data))
    with pytest.raises(BadZim) as e:
        import_zim(bad, site.content_dir, site.storage.reserve_mb)
    message = str(e.value)
    assert "\n" not in message and "fix:" in message
    assert ("not a ZIM" in message) if damage in ("not-zim", "empty") else \
        ("truncated or corrupt" in message or "corrupt" in message)
    assert _leftovers(site.content_dir) == []


def test_import_checks_free_space_first(site, sante_zim):
    from content_cache.store import NotEnoughSpace, import_zim

    with pytest.raises(NotEnoughSpace) as e:
        import_zim(sante_zim, site.content_dir, reserve_mb=10**8)
    assert "kept free for the database" in str(e.value)
    assert _leftovers(site.content_dir) == []


class _Server:
    """Serves one file with Range support on loopback; cuts the connection after
    ``cut_after`` body bytes on the first request; logs each request's range."""

    def __init__(self, data: bytes, cut_after: int | None = None) -> None:
        self.data, self.cut_after, self.requests = data, cut_after, []
        self.sent = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.endswith(".sha256"):
                    body = (hashlib.sha256(outer.data).hexdigest() + "  x.zim\n").encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                rng = self.headers.get("Range")
                outer.requests.append(rng)
                start = int(rng[6:].split("-")[0]) if rng else 0
                body = outer.data[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(outer.data) - 1}/{len(outer.data)}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", '"v1"')
                self.end_headers()
                if outer.cut_after is not None:
                    body, outer.cut_after = body[:outer.cut_after], None
                    self.close_connection = True
                self.wfile.write(body)
                outer.sent += len(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = False  # server_close() joins the handlers
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sante.zim"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="zim-http")
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(sante_zim):
    srv = _Server(sante_zim.read_bytes(), cut_after=300_000)
    yield srv
    srv.close()


def test_interrupted_download_resumes_without_fetching_again(site, server, sante_zim):
    from content_cache import fetch
    from content_cache.store import ContentError

    size = len(server.data)
    with pytest.raises(ContentError) as e:
        fetch.fetch(site, server.url)
    assert "continues where it stopped" in str(e.value)
    part = fetch.part_path(site.content_dir, "sante")
    assert part.stat().st_size == 300_000
    (d,) = fetch.progress()
    assert d["state"] == "waiting" and d["received"] == 300_000 and d["size"] == size
    assert d["percent"] == 300_000 * 100 // size
    # A new process after a reboot: only the state on disk is left.
    path = fetch.fetch(site, server.url)
    assert path.read_bytes() == sante_zim.read_bytes()
    assert server.requests == [None, "bytes=300000-"]
    assert server.sent == size  # nothing fetched twice
    assert not part.exists() and fetch.progress() == []
    assert fetch.spent_today(site) >= size


def test_download_stops_at_the_daily_budget_and_continues(site, server, monkeypatch):
    from content_cache import fetch

    server.cut_after = None
    site.sync.daily_budget_mb = 1
    monkeypatch.setattr(fetch, "spent_today", lambda s: fetch_spent["n"])
    fetch_spent = {"n": 0}
    real_spend = fetch.spend

    def spend(s, n):
        fetch_spent["n"] += n
        real_spend(s, n)

    monkeypatch.setattr(fetch, "spend", spend)
    if len(server.data) < 2 * 2**20:
        site.sync.daily_budget_mb = 0  # a tiny ZIM: no budget at all today
    with pytest.raises(fetch.BudgetSpent) as e:
        fetch.fetch(site, server.url)
    assert "budget" in str(e.value)
    assert fetch.progress()[0]["state"] == "waiting"
    site.sync.daily_budget_mb = 1000
    assert fetch.resume_all(site) == "1 of 1 download(s) finished"


def test_bad_checksum_refused(site, server):
    from content_cache import fetch
    from content_cache.store import ContentError

    server.cut_after = None
    with pytest.raises(ContentError) as e:
        fetch.fetch(site, server.url, sha256="0" * 64)
    assert "SHA-256" in str(e.value)
    assert _leftovers(site.content_dir) == []
    assert not list((site.content_dir / ".downloads").iterdir())


def test_cli_import_list_remove(tmp_path, sante_zim, mooc_zim):
    from appliance.cli import cli
    from appliance.db import database

    site_file = tmp_path / "site.toml"
    site_file.write_text(f'[site]\nid = "cli-test"\nname = "Test"\ncommunes = ["Nioro"]\n'
                         f'[storage]\ndata_dir = "{tmp_path / "data"}"\nreserve_mb = 50\n')
    usb = tmp_path / "usb"
    usb.mkdir()
    shutil.copy(sante_zim, usb / "sante.zim")
    shutil.copy(mooc_zim, usb / "kalan.zim")
    (usb / "notes.txt").write_text("x")
    runner = CliRunner()
    try:
        r = runner.invoke(cli, ["content", "import", "--site", str(site_file), str(usb)])
        assert r.exit_code == 0, r.output
        assert "installed kalan" in r.output and "installed sante" in r.output
        r = runner.invoke(cli, ["content", "list", "--site", str(site_file)])
        assert "kalan" in r.output and "[course]" in r.output and "sante" in r.output
        r = runner.invoke(cli, ["content", "remove", "--site", str(site_file), "kalan"])
        assert r.exit_code == 0
        r = runner.invoke(cli, ["content", "list", "--site", str(site_file)])
        assert "kalan" not in r.output
        bad = tmp_path / "bad.zim"
        bad.write_bytes(b"nope" * 100)
        r = runner.invoke(cli, ["content", "import", "--site", str(site_file), str(bad)])
        assert r.exit_code != 0 and "not a ZIM file" in str(r.exception)
    finally:
        from content_cache.library import forget

        forget(tmp_path / "data" / "content")
        database.close()


def test_download_job_with_nothing_queued(app):
    from content_cache.jobs import content_download_job

    with app.app_context():
        assert content_download_job(app) == "no downloads queued"


def test_the_same_zim_under_another_name_is_refused_or_replaces(site, sante_zim, tmp_path):
    """Same UUID, another file name: never a second copy (every search would double)."""
    from content_cache.library import library_for
    from content_cache.store import ContentError, import_zim

    import_zim(sante_zim, site.content_dir, site.storage.reserve_mb)
    renamed = tmp_path / "sante-copie.zim"
    shutil.copyfile(sante_zim, renamed)
    with pytest.raises(ContentError, match="already installed as sante"):
        import_zim(renamed, site.content_dir, site.storage.reserve_mb)
    assert [b.name for b in library_for(site.content_dir).books()] == ["sante"]
    assert _leftovers(site.content_dir) == ["sante.zim"]
    import_zim(renamed, site.content_dir, site.storage.reserve_mb, replace=True)
    assert [b.name for b in library_for(site.content_dir).books()] == ["sante-copie"]
