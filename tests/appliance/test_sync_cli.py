"""`espace sync status`, `espace sync now` and `espace enroll` from the command line."""

from __future__ import annotations

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
