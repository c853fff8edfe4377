"""The reduced image (host architecture, same recipe and assembly as the Pi's): built,
checked without mounting (sfdisk, mtools, debugfs), then its root booted with
systemd-nspawn in a network namespace made by the test, where espace-web starts under
systemd, the portal answers over the veth link, and the read-only root refuses writes
outside the data partition.

One build per module (about a minute with a warm package cache; the cache lives in
~/.cache/espace-image so CI can keep it between runs)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.image_build.workdir import image_workdir, in_ram
from tests.support import require_program, require_root

pytestmark = [pytest.mark.slow]

SITE = """[site]
id = "ci-image"
name = "Espace CI"
communes = ["Kayes"]

[hotspot]
interface = "host0"
address = "10.77.0.2"
subnet = "10.77.0.0/24"

[fleet]
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheTestOnly tech@kayes"]
"""


def sh(*argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def _needs() -> None:
    require_root("mmdebstrap's root mode, loop mounts and systemd-nspawn")
    for prog, pkg in (("mmdebstrap", "mmdebstrap"), ("sfdisk", "fdisk"),
                      ("debugfs", "e2fsprogs"), ("mcopy", "mtools"),
                      ("mkfs.vfat", "dosfstools"), ("bmaptool", "bmap-tools"),
                      ("xz", "xz-utils"), ("systemd-nspawn", "systemd-container"),
                      ("ip", "iproute2")):
        require_program(prog, pkg)


@pytest.fixture(scope="module")
def built(tmp_path_factory, worker_id):
    """One build per test run, shared by xdist workers (the first builds under a file
    lock, the others wait and reuse it)."""
    _needs()
    import fcntl

    from image_build.build import Builder, Options

    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # xdist: the workers' common parent
        shared = shared.parent
    # On disk: where the temporary directory is a tmpfs, the image cache's (issue 23).
    shared = image_workdir(shared, f"{shared.parent.name}-{shared.name}")
    base = shared / "espace-reduced-image"
    base.mkdir(exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = base / "result.json"
        if not done.exists():
            site = base / "site.toml"
            site.write_text(SITE)
            opts = Options(site_path=site, out_dir=base / "out", variant="reduced",
                           xz_level=0)
            lines: list[str] = []
            result = Builder(opts, log=lines.append).run()
            print("\n".join(lines))
            done.write_text(json.dumps({"img": str(result["image"]), "layout": result["layout"],
                                        "log": lines, "timings": result["timings"]}))
        r = json.loads(done.read_text())
    return {"img": Path(r["img"]), "layout": r["layout"], "log": r["log"], "base": base,
            "site": base / "site.toml", "timings": r["timings"]}


@pytest.fixture
def disk_tmp(built, tmp_path):
    """tmp_path, or a directory beside the build when tmp_path is in RAM: partitions
    extracted from the image are hundreds of MB."""
    import shutil

    if not in_ram(tmp_path):
        yield tmp_path
        return
    work = built["base"] / f"test-{tmp_path.name}"
    work.mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _extract(img: Path, layout: dict, name: str, dest: Path) -> Path:
    sh("dd", f"if={img}", f"of={dest}", "bs=1M", f"skip={layout[name + '_start']}",
       f"count={layout[name + '_size']}", "conv=sparse", "status=none")
    return dest


def _debugfs(part: Path, cmd: str) -> str:
    return sh("debugfs", "-R", cmd, str(part)).stdout


def test_every_stage_reported_progress(built):
    log = "\n".join(built["log"])
    for i, stage in enumerate(("wheels", "rootfs", "espace", "assemble", "outputs"), 1):
        assert f"[{i}/5] {stage}: done in" in log


def test_partition_table(built):
    table = json.loads(sh("sfdisk", "--json", str(built["img"])).stdout)["partitiontable"]
    assert table["label"] == "dos"
    parts = table["partitions"]
    assert [p["type"] for p in parts] == ["c", "83", "83"]
    assert parts[0].get("bootable") is True
    assert parts[0]["start"] == 4 * 2048  # 4 MiB, erase-block aligned


def test_boot_partition_has_the_site_file(built):
    img, layout = built["img"], built["layout"]
    offset = layout["boot_start"] * 1024 * 1024
    listing = sh("mdir", "-b", "-i", f"{img}@@{offset}", "::/").stdout
    assert "espace-site.toml" in listing
    text = sh("mtype", "-i", f"{img}@@{offset}", "::/espace-site.toml").stdout
    assert text == built["site"].read_text()
    label = sh("mlabel", "-s", "-i", f"{img}@@{offset}", "::").stdout
    assert "ESPACEBOOT" in label


def test_root_partition_files(built, disk_tmp):
    root = _extract(built["img"], built["layout"], "root", disk_tmp / "root.ext4")
    stats = _debugfs(root, "stats")
    assert "Filesystem volume name:   espace-root" in stats
    assert "/run/espace/site.toml" in _debugfs(root, "stat /etc/espace/site.toml")
    fstab = _debugfs(root, "cat /etc/fstab")
    assert "LABEL=espace-data /var/lib/espace  ext4" in fstab
    assert not any(line.split()[1:2] == ["/"] for line in fstab.splitlines()
                   if line and not line.startswith("#"))
    ssh_dir = _debugfs(root, "ls /etc/ssh")
    assert "ssh_host_" not in ssh_dir  # made per box at first boot, never shared
    assert "espace-web.service" in _debugfs(root, "ls /etc/systemd/system/multi-user.target.wants")
    assert "espace-boot.service" in _debugfs(root, "ls /etc/systemd/system/sysinit.target.wants")
    keys = _debugfs(root, "cat /etc/espace/authorized_keys/root")
    assert "tech@kayes" in keys
    site_packages = _debugfs(root, "ls /opt/espace/venv/lib/python3.11/site-packages")
    for pkg in ("appliance", "flask", "waitress", "zeroconf", "paramiko"):
        assert pkg in site_packages
    assert "espace:x:990:990" in _debugfs(root, "cat /etc/passwd")


def test_data_partition_is_empty_ext4(built, disk_tmp):
    data = _extract(built["img"], built["layout"], "data", disk_tmp / "data.ext4")
    assert "Filesystem volume name:   espace-data" in _debugfs(data, "stats")


def test_outputs_and_manifest(built):
    img = built["img"]
    out = img.parent
    names = {p.name for p in out.iterdir()}
    stem = img.stem
    for suffix in (".img", ".img.xz", ".bmap", ".manifest.json", ".SHA256SUMS"):
        assert stem + suffix in names
    sh("sha256sum", "--check", "--quiet", f"{stem}.SHA256SUMS", cwd=out)
    manifest = json.loads((out / f"{stem}.manifest.json").read_text())
    pkgs = {p["name"] for p in manifest["packages"]}
    assert {"systemd", "python3", "openssh-server", "e2fsprogs"} <= pkgs
    assert manifest["espace"]["version"]
    assert manifest["site"]["file_sha256"] == hashlib.sha256(
        built["site"].read_bytes()).hexdigest()
    assert "flask" in manifest["python"]["pins"]
    assert manifest["render_system"] is True
    assert "date" not in json.dumps(manifest).lower()


def test_same_inputs_same_manifest(built):
    """A second build of the same inputs (warm cache) makes the same manifest. The
    manifest describes the root tree, so the second build stops before assembling."""
    import shutil

    from image_build.build import Builder, Options

    base = built["base"]
    opts = Options(site_path=built["site"], out_dir=base / "again", variant="reduced")
    again = Builder(opts, log=lambda line: None)
    try:
        again.check()
        for stage in again.stages()[:3]:  # wheels, rootfs, espace
            stage.run()
        second = json.loads(json.dumps(again.manifest()))
    finally:
        shutil.rmtree(base / "again", ignore_errors=True)
    first = json.loads((built["img"].parent / f"{built['img'].stem}.manifest.json").read_text())
    if first["espace"]["source_sha256"] != second["espace"]["source_sha256"]:
        # Someone edited the source between the two builds (a shared work tree): that
        # input did change; everything else must still be identical.
        for m in (first, second):
            del m["espace"]["source_sha256"]
    assert first == second


# --- booting the image's root ---------------------------------------------------------


@pytest.fixture
def booted(built, disk_tmp):
    """The image's root and data partitions booted with systemd-nspawn in a network
    namespace of the test's own; yields a helper to run commands in the container."""
    import psutil

    img, layout = built["img"], built["layout"]
    root = _extract(img, layout, "root", disk_tmp / "root.ext4")
    data = _extract(img, layout, "data", disk_tmp / "data.ext4")
    fat = disk_tmp / "fat"
    fat.mkdir()
    offset = layout["boot_start"] * 1024 * 1024
    sh("mcopy", "-i", f"{img}@@{offset}", "::/espace-site.toml", str(fat / "espace-site.toml"))
    root_sha = hashlib.sha256(root.read_bytes()).hexdigest()
    rootmnt, datamnt = disk_tmp / "rootmnt", disk_tmp / "datamnt"
    rootmnt.mkdir()
    datamnt.mkdir()
    ns = f"espimg-{uuid.uuid4().hex[:6]}"
    machine = f"esp{uuid.uuid4().hex[:6]}"
    mounted: list[Path] = []
    proc = None
    log = open(disk_tmp / "nspawn.log", "w")  # noqa: SIM115
    try:
        # The root as the Pi's kernel mounts it: read-only. Data read-write.
        sh("mount", "-o", "loop,ro", str(root), str(rootmnt))
        mounted.append(rootmnt)
        sh("mount", "-o", "loop", str(data), str(datamnt))
        mounted.append(datamnt)
        sh("ip", "netns", "add", ns)
        # PID 1 of these machines is not systemd: --register=no --keep-unit.
        proc = subprocess.Popen(
            # nsenter, not `ip netns exec`: the latter remounts /sys, hiding the cgroup
            # hierarchy nspawn needs.
            ["nsenter", f"--net=/run/netns/{ns}", "systemd-nspawn", "--register=no",
             "--keep-unit",
             "--boot", f"--directory={rootmnt}", "--read-only",
             # The FAT side read-write, as the box's own remount makes it for the one
             # write of espace-identity.txt at first boot (a bind cannot be remounted).
             f"--bind={datamnt}:/var/lib/espace", f"--bind={fat}:/boot/firmware",
             "--network-veth", f"--machine={machine}", "--console=passive"],
            stdout=log, stderr=subprocess.STDOUT)
        host_if = f"ve-{machine}"[:15]
        deadline = time.monotonic() + 60
        while subprocess.run(["ip", "-n", ns, "link", "show", host_if],
                             capture_output=True).returncode:
            assert proc.poll() is None, (disk_tmp / "nspawn.log").read_text()
            assert time.monotonic() < deadline, "the container's veth never appeared"
            time.sleep(0.2)
        sh("ip", "-n", ns, "addr", "add", "10.77.0.1/24", "dev", host_if)
        sh("ip", "-n", ns, "link", "set", host_if, "up")
        leader = None
        while leader is None:
            kids = psutil.Process(proc.pid).children(recursive=True)
            leader = next((k.pid for k in kids if k.name() == "systemd"), None)
            assert time.monotonic() < deadline + 30, "no systemd in the container"
            if leader is None:
                time.sleep(0.2)

        def run(*argv: str, check: bool = False) -> subprocess.CompletedProcess:
            return subprocess.run(["nsenter", "-t", str(leader), "-a", *argv],
                                  capture_output=True, text=True, check=check)

        yield {"run": run, "ns": ns, "datamnt": datamnt, "root": root, "fat": fat,
               "root_sha": root_sha, "log": disk_tmp / "nspawn.log"}
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()  # nspawn asks the container's systemd to power off
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        for m in reversed(mounted):
            subprocess.run(["umount", str(m)], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _get(ns: str, url: str) -> tuple[int, str]:
    code = ("import sys, urllib.request\n"
            "try:\n"
            f"    r = urllib.request.urlopen({url!r}, timeout=5)\n"
            "    print(r.status); print(r.read().decode()[:4000])\n"
            "except Exception as e:\n"
            "    print(0); print(e)\n")
    r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code],
                       capture_output=True, text=True)
    status, _, body = r.stdout.partition("\n")
    return int(status or 0), body


def test_boots_and_serves_the_portal_with_a_read_only_root(booted):
    run, ns = booted["run"], booted["ns"]
    deadline = time.monotonic() + 120
    status, body = 0, ""
    while status != 200:
        status, body = _get(ns, "http://10.77.0.2/")
        if status == 200:
            break
        assert time.monotonic() < deadline, (
            f"portal never answered ({body}); "
            + run("systemctl", "--no-pager", "status", "espace-web", "espace-boot").stdout
            + booted["log"].read_text()[-3000:])
        time.sleep(0.5)
    assert "Espace CI" in body
    assert run("systemctl", "is-active", "espace-web").stdout.strip() == "active"
    # PID 1 in the container is systemd, and espace-web runs under it as `espace`.
    assert "espace" in run("ps", "-o", "user=", "-C", "python3").stdout
    # First boot: identity and host keys on the data partition.
    identity = run("cat", "/var/lib/espace/identity.txt").stdout
    assert "site_id=ci-image" in identity and "ssh_ed25519=SHA256:" in identity
    # The root refuses writes; the data partition takes them.
    for path in ("/etc/espace-test", "/usr/espace-test", "/opt/espace/test", "/root/test"):
        r = run("touch", path)
        assert r.returncode != 0 and "Read-only file system" in r.stderr, (path, r.stderr)
    assert run("touch", "/var/lib/espace/written-by-test").returncode == 0
    assert (booted["datamnt"] / "written-by-test").exists()
    assert (booted["datamnt"] / "espace.sqlite3").exists()


def test_root_partition_unchanged_after_boot(booted):
    run = booted["run"]
    deadline = time.monotonic() + 120
    while run("test", "-e", "/var/lib/espace/.firstboot-done").returncode:
        assert time.monotonic() < deadline, booted["log"].read_text()[-3000:]
        time.sleep(0.5)
    assert hashlib.sha256(booted["root"].read_bytes()).hexdigest() == booted["root_sha"]
    assert os.path.getsize(booted["root"]) > 0


def _first_boot_done(booted) -> None:
    run = booted["run"]
    deadline = time.monotonic() + 120
    while run("test", "-e", "/var/lib/espace/.firstboot-done").returncode:
        assert time.monotonic() < deadline, booted["log"].read_text()[-3000:]
        time.sleep(0.5)


def _portal_answers(booted, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status, body = _get(booted["ns"], "http://10.77.0.2/")
        if status == 200:
            return body
        assert time.monotonic() < deadline, (
            f"portal never answered ({body}); "
            + booted["run"]("journalctl", "--no-pager", "-n", "60").stdout[-3000:])
        time.sleep(0.5)


PLANT = "open('/run/pwned', 'w').write('uid %d' % __import__('os').getuid())\n"


def test_the_services_user_cannot_get_code_run_as_root(booted):
    """Issue 21: code planted in releases/ by the services' user ran as root at the next
    boot. Now the data top is root:espace 1775, releases are root's, and root checks a
    release against its wheel before running it."""
    run = booted["run"]
    _first_boot_done(booted)
    assert run("stat", "-c", "%U:%G %a", "/var/lib/espace").stdout.strip() == "root:espace 1775"
    # Planted by the services' user (a code-execution bug in the web app or worker).
    plant = ("mkdir -p /var/lib/espace/releases/current/appliance /var/lib/espace/releases/"
             "current/image_build && for p in appliance image_build; do printf %s "
             f"{PLANT!r} > /var/lib/espace/releases/current/$p/__init__.py; done")
    assert run("runuser", "-u", "espace", "--", "sh", "-c", plant).returncode == 0
    # The next boot's espace-boot, and a technician's `espace` over SSH, both as root.
    boot = run("/usr/local/sbin/espace-boot")
    cli = run("/usr/local/bin/espace", "--version")
    assert run("test", "-e", "/run/pwned").returncode != 0, (boot.stdout, boot.stderr)
    assert cli.returncode == 0, cli.stderr
    assert "was not root's" in boot.stdout + boot.stderr
    # Moved aside as it was (still the services' user's), never to be run.
    assert run("test", "-d", "/var/lib/espace/releases.refused").returncode == 0
    assert run("test", "-e", "/var/lib/espace/releases").returncode != 0
    # Now releases/ is root's: the services' user can neither write in it nor move it.
    run("install", "-d", "-m", "0755", "/var/lib/espace/releases", check=True)
    for argv in (("mkdir", "/var/lib/espace/releases/x"),
                 ("mv", "/var/lib/espace/releases", "/var/lib/espace/r2"),
                 ("rm", "-rf", "/var/lib/espace/releases")):
        r = run("runuser", "-u", "espace", "--", *argv)
        assert r.returncode != 0, argv
    # A release root did not install from a wheel (or one changed since) is refused.
    run("sh", "-c", "mkdir -p /var/lib/espace/releases/9.9.9/appliance && printf %s "
        f"{PLANT!r} > /var/lib/espace/releases/9.9.9/appliance/__init__.py && "
        "ln -sfn 9.9.9 /var/lib/espace/releases/current", check=True)
    cli = run("/usr/local/bin/espace", "--version")
    assert cli.returncode == 0 and "release 9.9.9 refused" in cli.stderr, cli.stderr
    assert run("test", "-e", "/run/pwned").returncode != 0


def test_fingerprints_on_the_fat_side_and_a_bad_site_file_survived(booted):
    """Issue 21: the SSH fingerprints on the FAT partition at first boot; a bad value
    in the card's site file (channel 13) keeps the portal up on the last good one."""
    run = booted["run"]
    _first_boot_done(booted)
    identity = (booted["fat"] / "espace-identity.txt").read_text()
    assert "ssh_ed25519=SHA256:" in identity and "site_id=ci-image" in identity
    assert identity == run("cat", "/var/lib/espace/identity.txt").stdout
    assert "Espace CI" in _portal_answers(booted)
    site = booted["fat"] / "espace-site.toml"
    site.write_text(site.read_text().replace('subnet = "10.77.0.0/24"',
                                             'subnet = "10.77.0.0/24"\nchannel = 13'))
    boot = run("/usr/local/sbin/espace-boot")  # what the next boot does
    assert "running the last good one" in boot.stdout, boot.stdout + boot.stderr
    run("systemctl", "restart", "espace-web", check=True)
    assert "Espace CI" in _portal_answers(booted)
    status = run("cat", "/var/lib/espace/site-status.txt").stdout
    assert "hotspot.channel" in status and "13" in status
    doctor = run("runuser", "-u", "espace", "--", "/usr/local/bin/espace", "doctor",
                 "--site", "/etc/espace/site.toml")
    assert "FAIL site file on the boot partition" in doctor.stdout, doctor.stdout
