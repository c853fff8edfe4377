"""`espace sync status`, `espace sync now` and `espace enroll` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def write_site(tmp_path: Path, url: str = "") -> Path:
    site = tmp_path / "site.toml"
    site.write_text(f'[site]\nid = "cli-box"\nname = "CLI"\ncommunes = ["Nioro"]\n'
                    f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
                    + (f'[central]\nurl = "{url}"\n' if url else ""))
    return site


def espace(*args):
    return subprocess.run([str(BIN / "espace"), *args], capture_output=True, text=True,
                          timeout=120)


def test_status_of_a_box_never_enrolled(tmp_path):
    site = write_site(tmp_path)
    out = espace("sync", "status", "--site", str(site))
    assert out.returncode == 0, out.stderr
    assert "enrolled: no" in out.stdout and "pending events: 0" in out.stdout


def test_sync_now_without_enrolment_is_one_line(tmp_path):
    site = write_site(tmp_path, "http://127.0.0.1:9")
    out = espace("sync", "now", "--site", str(site))
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "espace enroll" in out.stderr


def test_enroll_against_nothing_says_what_to_check(tmp_path):
    from tests.central.harness import free_port

    site = write_site(tmp_path)
    out = espace("enroll", f"http://127.0.0.1:{free_port()}", "ABCD-EFGH", "--site", str(site))
    assert out.returncode == 1 and "cannot reach central" in out.stderr
    assert "Traceback" not in out.stderr


# What `espace sync now` must not import: the web (Flask, its templates, Babel) and the
# rules of the board, the programme and the capabilities, which only a page, the worker
# or a down-handler with a record of its kind needs. Its peak memory is a contract
# (bench/sync.py T9: < 64 MB); these cost about 11 MB.
NOT_ON_THE_SYNC_PATH = (
    "flask",
    "flask_babel",
    "jinja2",
    "werkzeug",
    "babel",
    "appliance.i18n",
    "appliance.kiosk",
    "appliance.board.rules",
    "appliance.programme.rules",
    "appliance.labels.rules",
    "sms.rules",
    "learning.coaching",
    "learning.rules",
    "maps.directory",
    "surveys.forms",
    "secure_origin.store",
    "cryptography.x509",
)

SYNC_NOW = """import sys
from espace.cli import main
site, unwanted = sys.argv[1], sys.argv[2:]
sys.argv = ["espace", "sync", "now", "--site", site]
main()
print(" ".join(m for m in unwanted if m in sys.modules) or "(none)")
"""


def test_sync_now_imports_no_web_and_no_rules(tmp_path):
    """The real command, in a process of its own, against central on loopback: it pushes
    the outbox, pulls an announcement and a catalogue file, downloads the file, and
    none of the web's modules nor the domains' rules are in sys.modules at the end."""
    from appliance import migrations
    from appliance.db import open_database
    from central import service
    from tests.central.harness import CentralServer, add_events, central_call, make_central

    app = make_central(tmp_path / "central")
    with CentralServer(app) as central:
        _site, code = central_call(app, service.create_site, "nioro", "Espace Nioro", "Kayes",
                                   ["Nioro"])
        central_call(app, service.announce, "Réunion samedi", None)
        book = tmp_path / "lessons.zim"
        book.write_bytes(os.urandom(300_000))
        central_call(app, service.publish_file, app.config["DATA_DIR"], book)
        site = write_site(tmp_path, central.url)
        out = espace("enroll", central.url, code, "--site", str(site))
        assert out.returncode == 0, out.stderr
        db = open_database(tmp_path / "data")
        try:
            migrations.migrate(db)
            add_events(30)
            add_events(30, stream="usage", kind="usage.content")
        finally:
            db.close()
        out = subprocess.run([sys.executable, "-c", SYNC_NOW, str(site), *NOT_ON_THE_SYNC_PATH],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary, imported = out.stdout.strip().splitlines()
    assert summary.startswith("ok: pushed 60, pulled 2,"), summary
    assert (tmp_path / "data" / "content" / "lessons.zim").read_bytes() == book.read_bytes()
    assert imported == "(none)", f"espace sync now imported {imported}"
