"""``central sweep-blobs``: blobs no row names and temporary files of killed writes go,
once older than the grace; every blob a row names (of every kind), a young one, a box's
upload in pieces and anything else stay. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

from click.testing import CliRunner

from sync_contract import protocol
from tests.central.harness import central_call

WEEK_AGO = time.time() - 8 * 86400
OGG = b"OggS" + bytes(range(200)) * 10


def _blob(data_dir: Path, data: bytes, old: bool = True) -> str:
    from central.service import blob_path

    sha = hashlib.sha256(data).hexdigest()
    path = blob_path(data_dir, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if old:
        os.utime(path, (WEEK_AGO, WEEK_AGO))
    return sha


def _age(path: Path) -> Path:
    os.utime(path, (WEEK_AGO, WEEK_AGO))
    return path


def _seed(capp) -> dict[str, list[Path]]:
    """A central holding a blob of every kind a row names, and garbage beside them."""
    from central import coaching, service
    from central.coaching import Work
    from central.labels import Label
    from central.models import Post, Record
    from central.surveys import SurveyAttachment

    data_dir = Path(capp.config["DATA_DIR"])
    sha = {
        name: _blob(data_dir, f"{name} ".encode() * 100)
        for name in ("post", "label", "work", "attachment", "label_record", "submission", "orphan")
    }
    kept, gone = [], []

    def seed():
        site, _code = service.create_site("nioro", "Espace nioro", "Kayes", ["Nioro"])
        trainer = service.create_admin("ami", "a long password", "trainer", "Kayes")
        post = Post.create(site=site, uuid="p1", body="", voice_sha256=sha["post"])
        service.record_answer(
            post, "Le maire", "", None, voice=b"OggS" + b"a" * 500, data_dir=data_dir
        )
        Label.create(
            uuid="l1",
            site=site,
            key="home",
            lang="snk",
            text="",
            clip_sha256=sha["label"],
            clip_mime="audio/ogg",
            created_at="2026-11-30T08:00:00Z",
        )
        work = Work.create(
            site=site,
            uuid="w1",
            learner="x" * 64,
            course="alpha",
            lesson="lire",
            exercise=0,
            type="read_aloud",
            group_ref="g1",
            media_sha256=sha["work"],
            mime="audio/ogg",
            size=1000,
            created_at="2026-11-30T08:00:00Z",
        )
        coaching.answer(trainer, work, 2, OGG, data_dir)
        SurveyAttachment.create(
            site=site,
            instance_id="i1",
            name="photo.jpg",
            sha256=sha["attachment"],
            mime="image/jpeg",
            size=1000,
        )
        # Records central keeps whose blob no table names: a label its handler refused,
        # a submission whose attachments are still to come.
        for seq, kind, payload in [
            (1, "label.recorded", {"uuid": "l2", "clip_sha256": sha["label_record"]}),
            (
                2,
                "survey.submission",
                {
                    "instance_id": "i2",
                    "attachments": [{"name": "a.jpg", "sha256": sha["submission"]}],
                },
            ),
        ]:
            Record.create(
                site=site,
                seq=seq,
                uuid=f"r{seq}",
                stream="civic",
                kind=kind,
                payload=json.dumps(payload),
                created_at="2026-11-30T08:00:00Z",
            )

    central_call(capp, seed)
    zim = data_dir / "wikipedia.zim"
    zim.write_bytes(b"ZIM" * 1000)
    entry = central_call(capp, service.publish_file, data_dir, zim)
    blobs = data_dir / "blobs"
    for path in blobs.glob("??/*"):
        _age(path)  # every blob a week old: only the rows keep them
    sha["young"] = _blob(data_dir, b"young " * 100, old=False)  # kept while young
    kept += [service.blob_path(data_dir, s) for n, s in sha.items() if n != "orphan"]
    kept += [p for p in blobs.glob("??/*") if p not in kept and p.name != sha["orphan"]]
    kept.append(_age(data_dir / "files" / entry.sha256))
    gone.append(service.blob_path(data_dir, sha["orphan"]))

    # a box's upload cut after its first piece, a week ago: kept whole
    data = os.urandom(protocol.PIECE + 100)
    big = hashlib.sha256(data).hexdigest()
    message = {"sha": big, "size": len(data), "off": 0, "ph": protocol.piece_hashes(data)}
    got = service.receive_blob(
        data_dir, message, io.BytesIO(data[: protocol.PIECE]).read, protocol.PIECE
    )
    assert got == {"have": protocol.PIECE, "done": False}
    kept.append(_age(blobs / "partial" / f"{big}.part"))
    # what killed writes left: a week old goes, a young one (a write in flight) stays
    shard = blobs / sha["orphan"][:2]
    torn = shard / f".{sha['orphan']}.x1y2z3.tmp"
    torn.write_bytes(b"half")
    gone.append(_age(torn))
    young = shard / f".{sha['post']}.a1b2c3.tmp"
    young.write_bytes(b"in flight")
    kept.append(young)
    importing = data_dir / "files" / "big.zim.importing"
    importing.write_bytes(b"ZIM half")
    gone.append(_age(importing))
    # a catalogue file whose row never committed; a file the sweep does not know
    stray = data_dir / "files" / ("f" * 64)
    stray.write_bytes(b"published, never named")
    gone.append(_age(stray))
    unknown = shard / "notes.txt"
    unknown.write_bytes(b"an operator's")
    kept.append(_age(unknown))
    return {"kept": kept, "gone": gone}


def _sweep(capp, database_url, *args):
    from central.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "sweep-blobs",
            "--data-dir",
            str(capp.config["DATA_DIR"]),
            "--database-url",
            database_url,
            *args,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_the_sweep_removes_only_old_unreferenced_blobs_and_temporary_files(capp, database_url):
    seeded = _seed(capp)
    data_dir = Path(capp.config["DATA_DIR"])
    everything = {p: p.read_bytes() for p in seeded["kept"] + seeded["gone"]}

    lines = _sweep(capp, database_url)  # a dry run: lists, removes nothing
    listed = {data_dir / line.split("\t")[0].removeprefix("would remove ") for line in lines[:-1]}
    assert listed == set(seeded["gone"])
    total = sum(p.stat().st_size for p in seeded["gone"])
    assert lines[-1] == (
        f"would remove {len(seeded['gone'])} files, {total} bytes (dry run: --delete removes them)"
    )
    assert {p: p.read_bytes() for p in everything} == everything

    lines = _sweep(capp, database_url, "--delete")
    assert {data_dir / line.split("\t")[0].removeprefix("removed ") for line in lines[:-1]} == set(
        seeded["gone"]
    )
    assert lines[-1] == f"removed {len(seeded['gone'])} files, {total} bytes"
    assert not any(p.exists() for p in seeded["gone"])
    assert {p: p.read_bytes() for p in seeded["kept"]} == {p: everything[p] for p in seeded["kept"]}
    assert _sweep(capp, database_url, "--delete")[-1] == "removed 0 files, 0 bytes"


def test_a_database_naming_no_site_removes_nothing(capp, database_url):
    """The wrong --database-url (a new, empty database beside central's blobs) would make
    every blob look unreferenced: refused, naming the option, nothing touched."""
    from central.cli import cli

    data_dir = Path(capp.config["DATA_DIR"])
    sha = _blob(data_dir, b"a box's voice note " * 40)
    path = data_dir / "blobs" / sha[:2] / sha
    for args in ([], ["--delete"]):
        result = CliRunner().invoke(
            cli, ["sweep-blobs", "--data-dir", str(data_dir), "--database-url", database_url, *args]
        )
        assert result.exit_code == 2, result.output
        assert "--database-url" in result.output and "names no site" in result.output
    assert path.exists()


def test_a_grace_of_zero_takes_a_young_orphan_and_a_reused_blob_is_renewed(capp, database_url):
    from central import service

    central_call(capp, service.create_site, "kita", "Espace kita", "Kayes", ["Kita"])
    data_dir = Path(capp.config["DATA_DIR"])
    sha = _blob(data_dir, b"just kept " * 50, old=False)
    assert _sweep(capp, database_url, "--delete")[-1] == "removed 0 files, 0 bytes"
    # a writer reusing an old blob (a box uploads it again) renews it for the sweep
    path = service.blob_path(data_dir, sha)
    _age(path)
    assert service.reuse_blob(path) and path.stat().st_mtime > WEEK_AGO + 86400
    assert _sweep(capp, database_url, "--delete")[-1] == "removed 0 files, 0 bytes"
    lines = _sweep(capp, database_url, "--delete", "--grace-days", "0")
    assert lines[0].startswith(f"removed blobs/{sha[:2]}/{sha}\t500 bytes")
    assert not path.exists()


def test_the_timer_runs_the_sweep_daily():
    import configparser
    import shutil
    import subprocess

    units = Path(__file__).parents[2] / "central" / "systemd"
    service = configparser.ConfigParser(strict=False)
    service.read(units / "central-blob-sweep.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith("central sweep-blobs --delete")
    timer = configparser.ConfigParser(strict=False)
    timer.read(units / "central-blob-sweep.timer")
    assert timer["Timer"]["OnCalendar"] == "daily"
    assert timer["Timer"]["Persistent"] == "true"
    if shutil.which("systemd-analyze"):
        r = subprocess.run(
            ["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"]],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
