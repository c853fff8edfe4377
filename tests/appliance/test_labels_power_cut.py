"""A label acknowledged at the kiosk survives a power cut: a process records labels with
their clips and says each one is saved; it is SIGKILLed mid-stream; every label it
acknowledged is there, with its clip's bytes intact, and SQLite's integrity check passes."""

import hashlib
import signal
import subprocess
import sys

from tests.support import ROOT, make_site

WRITER = r'''
import sys, tomllib
from appliance import create_app
from appliance.db import database
from appliance.labels import rules
from tests.appliance import board_samples as samples

app = create_app({"SITE_FILE": sys.argv[1], "SECRET_KEY": "x"})
with app.app_context():
    database.connect(reuse_if_open=True)
    n = 0
    while True:
        row = rules.record(f"session:Séance {n}", "snk", text=f"Sebenden {n}",
                           clip=samples.ogg_opus(1.0, salt=str(n).encode()),
                           data_dir=app.config["DATA_DIR"])
        print(row.uuid, row.clip_sha256, flush=True)
        n += 1
'''


def test_acknowledged_labels_survive_kill_9(tmp_path):
    from appliance import blobs, settings
    from appliance.db import integrity_check, open_database
    from appliance.labels.models import Label

    doc = make_site(tmp_path)
    site_file = tmp_path / "site.toml"
    site_file.write_text("\n".join(
        [f"[{s}]\n" + "\n".join(f"{k} = {settings.toml_value(v)}" for k, v in vals.items())
         for s, vals in doc.items()]) + "\n")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(site_file)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    acked = []
    try:
        for line in proc.stdout:
            acked.append(line.decode().split())
            if len(acked) == 40:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait()
        errors = proc.stderr.read().decode()[-2000:]
        proc.stdout.close()
        proc.stderr.close()
    assert len(acked) == 40, errors
    data_dir = tmp_path / "data"
    db = open_database(data_dir)
    try:
        assert integrity_check(db) == "ok"
        for uuid, sha in acked:
            row = Label.get(Label.uuid == uuid)
            assert row.clip_sha256 == sha
            data = blobs.path_for(data_dir, sha).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha
    finally:
        db.close()
