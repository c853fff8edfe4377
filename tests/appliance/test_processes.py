"""`espace serve` and `espace worker` as the systemd units run them."""

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.support import free_port

MAIN = "from appliance.cli import main; main()"


def write_site(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text('[site]\nid = "proc-test"\nname = "Test"\ncommunes = ["Nioro"]\n'
                    '[storage]\ndata_dir = "data"\n', encoding="utf-8")
    return path


def test_serve_answers_and_stops_on_sigterm(tmp_path):
    port, kiosk_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-c", MAIN, "serve", "--site",
                             str(write_site(tmp_path)), "--host", "127.0.0.1", "--port",
                             str(port), "--kiosk-port", str(kiosk_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                            timeout=1) as r:
                    assert json.loads(r.read())["site_id"] == "proc-test"
                    assert r.headers["Server"] == "espace"
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        # The kiosk answers on its own listener, and only there.
        with urllib.request.urlopen(f"http://127.0.0.1:{kiosk_port}/kiosk/login",
                                    timeout=5) as r:
            assert r.status == 200
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/kiosk/login", timeout=5)
            raise AssertionError("the kiosk answered on the phones' listener")
        except urllib.error.HTTPError as e:
            assert e.code == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert (tmp_path / "data" / "espace.sqlite3").exists()
    assert oct((tmp_path / "data" / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_worker_starts_its_jobs_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", MAIN, "worker", "--site",
                             str(write_site(tmp_path))], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 30
        while "worker started" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        jobs = line.split("worker started with jobs: ")[1].strip().split(", ")
        assert {"sync", "usage_rollup", "visits_rollup", "sweep"} <= set(jobs)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
