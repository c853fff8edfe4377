"""The espace command: one-line errors naming the fix, exit 2 for usage errors,
doctor on healthy and broken data directories."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import db as dbmod
from appliance import migrations


def espace(*args, env=None, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if k != "ESPACE_SITE"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", "from appliance.cli import main; main()",
                           *args], capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=120)


def write_site(tmp_path, extra=""):
    path = tmp_path / "site.toml"
    path.write_text(f'''[site]
id = "test-site"
name = "Espace de test"
communes = ["Nioro"]
{extra}
[storage]
data_dir = "data"
''', encoding="utf-8")
    return path


def test_config_check_ok(tmp_path):
    r = espace("config", "check", str(write_site(tmp_path)))
    assert r.returncode == 0 and "OK (site test-site" in r.stdout


def test_config_check_reports_each_problem_on_one_line(tmp_path):
    path = write_site(tmp_path, '[hotspot]\nchannel = 13\nssid = "' + "x" * 40 + '"\n')
    path.write_text(path.read_text().replace('[site]', '[site]'), encoding="utf-8")
    r = espace("config", "check", str(path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith("espace: error: site.toml: hotspot.") for line in lines)
    assert "Traceback" not in r.stderr


def test_config_example_round_trips(tmp_path):
    r = espace("config", "example")
    assert r.returncode == 0
    (tmp_path / "site.toml").write_text(r.stdout, encoding="utf-8")
    assert espace("config", "check", str(tmp_path / "site.toml")).returncode == 0


def test_hash_pin(tmp_path):
    r = espace("config", "hash-pin", "--pin", "4821")
    assert r.returncode == 0 and r.stdout.startswith("scrypt:")
    assert "4821" not in r.stdout
    bad = espace("config", "hash-pin", "--pin", "12ab")
    assert bad.returncode == 2 and "4 to 8 digits" in bad.stderr


def test_usage_errors_exit_2_without_traceback():
    for args in (["nope"], ["config", "check"], ["serve", "--port", "99999"]):
        r = espace(*args)
        assert r.returncode == 2, args
        assert "Traceback" not in r.stderr
    missing = espace("config", "check", "/nonexistent/site.toml")
    assert missing.returncode == 2
    assert missing.stderr.strip() == ("espace: error: /nonexistent/site.toml: no such file "
                                      "(create one with `espace config example > site.toml`)")


def test_serve_with_a_broken_site_file_names_the_fix(tmp_path):
    path = write_site(tmp_path, 'languages = ["fr", "zz"]\n')
    r = espace("serve", "--site", str(path), "--port", "1")
    assert r.returncode == 2
    assert "site.languages: item 2: 'zz' is not a language" in r.stderr


def test_doctor_healthy(tmp_path):
    site = write_site(tmp_path)
    (tmp_path / "data").mkdir()
    database = dbmod.open_database(tmp_path / "data")
    migrations.migrate(database)
    database.close()
    r = espace("doctor", "--site", str(site))
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(line.startswith("OK   database integrity: ok") for line in lines)
    assert any(line.startswith("OK   database schema: up to date") for line in lines)
    assert not any(line.startswith("FAIL") for line in lines)
    for line in lines:
        assert line[:4] in ("OK  ", "WARN", "FAIL")


def test_doctor_broken_data_directory(tmp_path):
    site = write_site(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    database = dbmod.open_database(data)
    migrations.migrate(database)
    database.close()
    (data / dbmod.DB_NAME).write_bytes(b"this is not a database" * 100)
    (data / "espace.sqlite3-wal").unlink(missing_ok=True)
    (data / "content").mkdir()
    (data / "content" / "broken.zim").write_bytes(b"ZIM\x04" + b"\0" * 100)
    r = espace("doctor", "--site", str(site))
    assert r.returncode == 1
    fails = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
    assert any("database" in line and "fix: restore the latest backup" in line
               for line in fails), r.stdout
    assert any("content broken.zim" in line and "fix:" in line for line in fails), r.stdout


def test_doctor_with_bad_config_lists_problems(tmp_path):
    site = write_site(tmp_path, '[hotspot]\npassphrase = "abc"\n')
    r = espace("doctor", "--site", str(site))
    assert r.returncode == 1
    assert "FAIL site config: 1 problem(s)" in r.stdout
    assert "hotspot.passphrase" in r.stdout


def test_doctor_missing_programs_name_the_package(tmp_path, monkeypatch):
    from appliance import doctor

    site = write_site(tmp_path)
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(doctor, "PROGRAMS", {"no-such-program-xyz": "some-package"})
    lines = list(doctor.run_checks(str(site)))
    assert ("WARN", "program no-such-program-xyz",
            "missing; fix: apt-get install some-package") in lines


@pytest.mark.slow
def test_demo_creates_everything_and_is_idempotent(tmp_path):
    r = espace("demo", "--dir", str(tmp_path / "var"), "--no-serve")
    assert r.returncode == 0, r.stderr
    var = Path(tmp_path / "var")
    assert (var / "site.toml").exists() and (var / "content" / "demo-commune_fr.zim").exists()
    again = espace("demo", "--dir", str(tmp_path / "var"), "--no-serve")
    assert again.returncode == 0 and "built" not in again.stdout
    from libzim.reader import Archive
    from libzim.search import Query, Searcher

    archive = Archive(var / "content" / "demo-commune_fr.zim")
    assert archive.has_fulltext_index
    search = Searcher(archive).search(Query().set_query("budget"))
    assert "budget" in list(search.getResults(0, 10))
    doctor = espace("doctor", "--site", str(var / "site.toml"))
    assert doctor.returncode == 0, doctor.stdout
    # The directory is there to try (published once, not again on the second run).
    from appliance import create_app, demo

    app = create_app({"SITE_FILE": str(var / "site.toml"), "SECRET_KEY": "x"})
    listing = app.test_client().get("/map/directory").get_data(as_text=True)
    for name, *_ in demo.PLACES:
        assert listing.count(name) >= 1, name
    import sqlite3

    with sqlite3.connect(var / "espace.sqlite3") as con:
        assert con.execute("select count(*) from map_place").fetchone()[0] == len(demo.PLACES)
