"""What a power cut leaves half-written is swept when the box starts: a real
``espace content import`` killed with SIGKILL in the middle of its copy leaves a
partial ``.NAME.importing`` file; the next start removes it and nothing else (the
installed books, a live import's file, resumable downloads, voice notes)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap

from appliance.db import database
from tests.content_cache.zims import build_zim

# The real command, paused (SIGSTOP) right after its first chunk reached the partial
# file, so the test kills it at a known point rather than after a guessed delay.
PAUSED_IMPORT = textwrap.dedent(
    """
    import os, signal, sys
    import content_cache.store as store

    real = store.import_zim

    def paused(src, content_dir, reserve_mb, replace=False, progress=None):
        def first_chunk(n):
            if progress:
                progress(n)
            if not getattr(first_chunk, "done", False):
                first_chunk.done = True
                os.kill(os.getpid(), signal.SIGSTOP)
        return real(src, content_dir, reserve_mb, replace, progress=first_chunk)

    store.import_zim = paused
    sys.argv = ["espace", *sys.argv[1:]]
    from espace.cli import main
    main()
    """
)


def write_site(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(
        f'[site]\nid = "sweep-site"\nname = "Espace"\ncommunes = ["Nioro"]\n'
        f'[storage]\ndata_dir = "{tmp_path / "data"}"\nreserve_mb = 50\n',
        encoding="utf-8",
    )
    return path


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_kill_9_during_import_then_restart_sweeps_only_the_partial_file(tmp_path):
    site = write_site(tmp_path)
    content = tmp_path / "data" / "content"
    content.mkdir(parents=True)
    (tmp_path / "src").mkdir()
    installed = content / "sante.zim"
    shutil.copy(build_zim(tmp_path / "src" / "sante.zim", name="sante"), installed)
    # A book larger than one copy chunk: a ZIM followed by 3 MB (the copy is cut
    # long before the check that would refuse the padding).
    (tmp_path / "usb").mkdir()
    (tmp_path / "usb2").mkdir()
    big = build_zim(tmp_path / "usb" / "kalan.zim", name="kalan")
    with open(big, "ab") as f:
        f.write(os.urandom(3 * 1024 * 1024))
    # What a sweep must not touch: a resumable download, a blob, a live writer's file.
    (content / ".downloads").mkdir()
    (content / ".downloads" / "atlas.part").write_bytes(b"resumes" * 1000)
    blob = tmp_path / "data" / "blobs" / "ab" / ("ab" * 32)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"a voice note")
    stale_tmp = tmp_path / "data" / "blobs" / "cut.tmp"
    stale_tmp.write_bytes(b"half a voice note")
    live_tmp = tmp_path / "data" / "blobs" / "live.tmp"
    live_tmp.write_bytes(b"being written")
    before = {p: sha(p) for p in (installed, blob, content / ".downloads" / "atlas.part")}

    with open(tmp_path / "import.log", "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PAUSED_IMPORT,
                "content",
                "import",
                "--site",
                str(site),
                str(big),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    partial = content / ".kalan.importing"
    live = open(live_tmp, "rb")  # noqa: SIM115 - held across the restart below
    try:
        fcntl.flock(live, fcntl.LOCK_EX)
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), (tmp_path / "import.log").read_text()
        assert 0 < partial.stat().st_size < big.stat().st_size

        # The import is alive (stopped, holding its lock): a start now leaves it alone.
        from espace import create_app

        app = create_app({"SITE_FILE": str(site), "SECRET_KEY": "t"})
        database.close()
        assert partial.exists()

        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert partial.exists()  # what a power cut leaves

        app = create_app({"SITE_FILE": str(site), "SECRET_KEY": "t"})  # the restart
        database.close()
        assert not partial.exists() and not stale_tmp.exists()
        assert live_tmp.exists()  # its writer is alive
        assert {p: sha(p) for p in before} == before
        assert sorted(p.name for p in content.iterdir()) == [".downloads", "sante.zim"]
        with app.test_client() as client:
            client.set_cookie("lang", "fr")
            assert client.get("/library/").status_code == 200
    finally:
        live.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The book imports again, from the start.
    good = build_zim(tmp_path / "usb2" / "kalan.zim", name="kalan")
    again = subprocess.run(
        [
            sys.executable,
            "-c",
            "from espace.cli import main; main()",
            "content",
            "import",
            "--site",
            str(site),
            str(good),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in content.glob("*.zim")) == ["kalan.zim", "sante.zim"]
    assert not list(content.glob(".*.importing"))
