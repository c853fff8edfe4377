"""What the box does at boot (``espace-boot.service``, before the network and services).

First boot only (a marker on the data partition says it is done):

1. grow the data partition and its file system to fill the card (online, ext4);
2. make the SSH host keys on the data partition (the root is the same on every card);
3. create the box's identity: the database (its ``box_id``) and ``identity.txt``.

Every boot, because the root is a RAM overlay and the site file on the FAT partition
is the one source of truth a technician edits from a laptop:

4. hostname ``espace-<site id>``, technicians' SSH keys (``fleet.ssh_keys``);
5. the system configuration rendered from the site file (hostapd, dnsmasq, nftables,
   units: ``provisioning.render.render_system``) and the interface addresses;
6. enrolment with central when the site file carries an enrolment code and the box
   has not enrolled yet (retried at each boot until it succeeds).

Every step takes its root as a parameter so tests run it in a directory. A failing
step is logged and the others still run: a box with a bad site file must still
answer SSH so a technician can fix it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .recipe import DATA_LABEL

log = logging.getLogger("espace.boot")

MARKER = ".firstboot-done"
SITE = "/etc/espace/site.toml"
SITE_STATUS = "site-status.txt"  # why the site file on the FAT partition was not used
LAST_GOOD_SITE = "site.last-good.toml"


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)  # noqa: S603


def data_device(root: Path = Path("/"), label: str = DATA_LABEL) -> tuple[str, str, int] | None:
    """(partition, disk, number) of the data partition, or None (e.g. in a container)."""
    link = root / "dev/disk/by-label" / label
    if not link.exists():
        return None
    part = os.path.realpath(link)
    name = Path(part).name
    sys_part = root / "sys/class/block" / name
    try:
        number = int((sys_part / "partition").read_text())
    except (FileNotFoundError, ValueError):
        return None
    disk = Path(os.path.realpath(sys_part)).parent.name
    return part, f"/dev/{disk}", number


def grow_data_partition(root: Path = Path("/"), run: Callable = _run) -> str:
    """Extend the data partition to the end of the card and grow its ext4 online.
    Idempotent: a partition that already ends at the end of the disk stays as is."""
    found = data_device(root)
    if not found:
        return "no data partition device (container?): not grown"
    part, disk, number = found
    # sfdisk moves only the end of partition N; --no-reread because it is mounted,
    # then resizepart tells the kernel, and resize2fs grows the mounted ext4.
    run(["sfdisk", "--no-reread", "--no-tell-kernel", "-N", str(number), disk],
        input=", +\n")
    size = run(["sfdisk", "--dump", disk]).stdout
    sectors = None
    for line in size.splitlines():
        if line.startswith(part) and "size=" in line:
            sectors = int(line.split("size=")[1].split(",")[0])
    if sectors:
        run(["resizepart", disk, str(number), str(sectors)])
    run(["resize2fs", part])
    return f"{part} grown to the end of {disk}"


def ensure_host_keys(data_dir: Path, run: Callable = _run) -> list[Path]:
    """SSH host keys on the data partition, made once; returns their public halves."""
    ssh = data_dir / "ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = []
    for kind, extra in (("ed25519", []), ("rsa", ["-b", "3072"])):
        key = ssh / f"ssh_host_{kind}_key"
        if not key.exists():
            tmp = key.with_suffix(".tmp")
            for p in (tmp, tmp.with_suffix(".tmp.pub")):
                p.unlink(missing_ok=True)
            run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", "espace-box",
                 "-f", str(tmp)])
            os.replace(tmp.with_suffix(".tmp.pub"), Path(str(key) + ".pub"))
            os.replace(tmp, key)
        made.append(Path(str(key) + ".pub"))
    return made


def ensure_identity(site, run: Callable = _run) -> dict:
    """Create the database (and so the box's ``box_id``), write identity.txt."""
    from appliance import migrations
    from appliance.db import open_database

    db = open_database(site.data_dir, as_root=True)  # _chown_data hands it back
    try:
        migrations.migrate(db)
        row = db.execute_sql("SELECT value FROM box_meta WHERE key = 'box_id'").fetchone()
    finally:
        db.close()
    identity = {"box_id": row[0] if row else "", "site_id": site.site.id,
                "site_name": site.site.name}
    for pub in sorted((site.data_dir / "ssh").glob("*.pub")):
        try:
            fp = run(["ssh-keygen", "-l", "-f", str(pub)]).stdout.split()[1]
        except (subprocess.CalledProcessError, IndexError, FileNotFoundError):
            continue
        identity[f"ssh_{pub.name.split('_')[2]}"] = fp
    text = "".join(f"{k}={v}\n" for k, v in identity.items())
    _write(site.data_dir / "identity.txt", text, 0o644)
    return identity


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # Root writes into the data partition, where the services' user creates files: a
    # planted link at the temporary name must not be followed (O_EXCL | O_NOFOLLOW).
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def apply_site(site, root: Path = Path("/")) -> list[Path]:
    """Write what the site file says into ``root`` (the RAM overlay on a box):
    hostname, technicians' keys, rendered system config, interface addresses."""
    written = [
        _write(root / "etc/hostname", f"espace-{site.site.id}\n"),
        _write(root / "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\tespace-{site.site.id}\n"
               "::1\tlocalhost ip6-localhost ip6-loopback\n"),
    ]
    keys = getattr(getattr(site, "fleet", None), "ssh_keys", []) or []
    written.append(_write(root / "etc/espace/authorized_keys/root",
                          "".join(k.strip() + "\n" for k in keys), 0o644))
    written += render(site, root)
    written += network_files(site, root)
    return written


def render(site, root: Path) -> list[Path]:
    """provisioning.render.render_system (the hotspot's own files), if this version has it."""
    try:
        from provisioning.render import render_system
    except ImportError:
        log.warning("provisioning.render is not in this version: system config not rendered")
        return []
    return list(render_system(site, root))


def network_files(site, root: Path) -> list[Path]:
    """Interface addresses for systemd-networkd, unless render_system wrote them: the
    hotspot's static address, DHCP on the uplink (and on eth0 when none is named)."""
    netdir = root / "etc/systemd/network"
    ours = {"10-espace-hotspot.network", "20-espace-uplink.network"}
    if netdir.is_dir() and any(p.name not in ours for p in netdir.glob("*.network")):
        return []
    import ipaddress

    prefix = ipaddress.IPv4Network(site.hotspot.subnet).prefixlen
    files = [_write(netdir / "10-espace-hotspot.network",
                    f"[Match]\nName={site.hotspot.interface}\n\n[Network]\n"
                    f"Address={site.hotspot.address}/{prefix}\nConfigureWithoutCarrier=yes\n"
                    "LinkLocalAddressing=no\nIPv6AcceptRA=no\n\n[Link]\nRequiredForOnline=no\n")]
    uplink = site.uplink.interface or "eth0"
    if uplink != site.hotspot.interface:
        files.append(_write(netdir / "20-espace-uplink.network",
                            f"[Match]\nName={uplink}\n\n[Network]\nDHCP=yes\n\n"
                            "[Link]\nRequiredForOnline=no\n"))
    return files


def enrol(site) -> str:
    """Enrol with central once, if the site file carries a code (the sync client's
    ``enroll``); when the link is down the worker retries at each sync."""
    code = site.central.enrolment_code
    if not code or not site.central.url:
        return "no enrolment code in the site file"
    try:
        from appliance.sync import state
        from appliance.sync.enroll import enroll
    except ImportError:
        return "this version has no sync client; nothing to enrol"
    from appliance.db import open_database

    db = open_database(site.data_dir, as_root=True)  # _chown_data hands it back
    try:
        if state.enrolment() is not None:
            return "already enrolled"
        enroll(site.central.url, code, site.data_dir, site.central.ca_file)
        return "enrolled"
    except Exception as e:  # no link yet at first boot is normal
        return f"not enrolled yet ({e}); the worker retries at each sync"
    finally:
        db.close()


def _step(name: str, fn: Callable, *args) -> object:
    try:
        result = fn(*args)
        log.info("%s: %s", name, result if isinstance(result, str) else "ok")
        return result
    except Exception as e:  # one failing step must not stop the box from booting
        log.error("%s failed: %s", name, e)
        return None


FAT_SITE = "/boot/firmware/espace-site.toml"
RUN_SITE = "/run/espace/site.toml"  # what /etc/espace/site.toml points to on the image
FAT_IDENTITY = "espace-identity.txt"


def choose_site(fat_site: Path, run_site: Path, data_dir: Path | None = None):
    """The site file the box runs with: the one on the FAT partition when it is good
    (kept as the last good one on the data partition), else the last good one, with
    the FAT file's problems in ``site-status.txt`` for the kiosk, ``espace doctor`` and
    ``espace fleet status``. Returns (site, problem text or "")."""
    from appliance import settings
    from appliance.errors import ConfigError

    try:
        site = settings.load(fat_site)
    except ConfigError as e:
        problem = str(e)
        last = _last_good(data_dir)
        if last is None:
            raise
        site = settings.load(last)
        _write(run_site, last.read_text())
        _write(site.data_dir / SITE_STATUS, f"{fat_site}: not used, the box runs its last "
               f"good site file (fix the file on the boot partition, then reboot):\n"
               f"{problem}\n")
        return settings.load(run_site), problem
    text = Path(fat_site).read_text(encoding="utf-8")
    _write(run_site, text)
    _write(site.data_dir / LAST_GOOD_SITE, text)
    (site.data_dir / SITE_STATUS).unlink(missing_ok=True)
    return settings.load(run_site), ""


def _last_good(data_dir: Path | None) -> Path | None:
    for d in ([data_dir] if data_dir else []) + [Path("/var/lib/espace")]:
        p = d / LAST_GOOD_SITE
        if p.is_file():
            return p
    return None


def show_identity(identity: dict, boot_dir: Path, root: Path = Path("/"),
                  run: Callable = _run) -> str:
    """The SSH host-key fingerprints where a technician can read them before trusting
    the box (issue 21): the console (this log and the login prompt's /etc/issue.d) and
    ``espace-identity.txt`` on the FAT partition, readable from any laptop."""
    fps = {k: v for k, v in identity.items() if k.startswith("ssh_")}
    for kind, fp in fps.items():
        log.info("SSH host key (%s): %s", kind.removeprefix("ssh_"), fp)
    text = "".join(f"{k}={v}\n" for k, v in identity.items())
    issue = root / "etc/issue.d"
    if issue.is_dir() and os.access(issue, os.W_OK) and not _read_only(issue):
        _write(issue / "espace.issue", f"Espace {identity.get('site_id', '')}: "
               + ", ".join(f"{k.removeprefix('ssh_')} {v}" for k, v in fps.items()) + "\n")
    target = boot_dir / FAT_IDENTITY
    if target.exists() and target.read_text(errors="replace") == text:
        return f"{target} up to date"
    try:
        _write(target, text)
    except OSError:  # the FAT partition is mounted read-only: open it for this one write
        run(["mount", "-o", "remount,rw", str(boot_dir)])
        try:
            _write(target, text)
        finally:
            run(["mount", "-o", "remount,ro", str(boot_dir)])
    return f"fingerprints written to {target}"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="espace-boot: %(message)s",
                        stream=sys.stdout)
    from appliance.errors import ConfigError

    root = Path("/")
    try:
        site, problem = choose_site(Path(FAT_SITE), Path(RUN_SITE))
    except ConfigError as e:
        log.error("the site file has problems; fix it on the boot partition:\n%s", e)
        return 1
    if problem:
        log.error("the site file on the boot partition has problems; running the last good "
                  "one. Fix it, then reboot:\n%s", problem)
    data = site.data_dir
    first = not (data / MARKER).exists()
    if first:
        _step("grow data partition", grow_data_partition, root)
        _step("ssh host keys", ensure_host_keys, data)
    identity = _step("identity", ensure_identity, site)
    if identity:
        log.info("box %s, site %s", identity.get("box_id"), identity.get("site_id"))
        _step("show identity", show_identity, identity, Path(FAT_SITE).parent, root)
    if os.access(root / "etc", os.W_OK) and not _read_only(root / "etc"):
        _step("apply site file", apply_site, site, root)
    else:  # e.g. `systemd-nspawn --read-only`, or espace.overlay=no on the kernel line
        log.warning("apply site file: the root is read-only without an overlay; the "
                    "configuration baked into the image stays")
    _step("enrol", enrol, site)
    _chown_data(data)
    if first:
        _write(data / MARKER, "done\n")
    try:  # units rendered above must be seen by systemd before they start
        _run(["systemctl", "daemon-reload"])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        log.warning("systemctl daemon-reload: %s", e)
    return 0


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return True


# Kept root's on the data partition: the services' user must not change what root runs
# (releases), reads as its own keys (ssh) or shows technicians (identity, site status).
ROOT_OWNED = ("ssh", "lost+found", "releases")


def _chown_data(data: Path) -> None:
    """The services run as ``espace`` and own what they write. The top directory is
    ``root:espace`` mode 1775: ``espace`` creates its files there, and the sticky bit
    keeps it from renaming or removing root's entries (``releases``, ``ssh``...)."""
    import pwd

    try:
        pw = pwd.getpwnam("espace")
    except KeyError:
        return
    os.lchown(data, 0, pw.pw_gid)
    os.chmod(data, 0o1775)  # noqa: S103 - sticky: see the docstring
    _secure_releases(data)
    for dirpath, dirnames, filenames in os.walk(data):
        if Path(dirpath) == data:
            dirnames[:] = [d for d in dirnames if d not in ROOT_OWNED]
            filenames = [f for f in filenames if not _is_roots(data / f)]
            names = [os.path.join(dirpath, f) for f in filenames]
        else:
            names = [dirpath, *(os.path.join(dirpath, f) for f in filenames)]
        for name in names:
            os.lchown(name, pw.pw_uid, pw.pw_gid)


def _is_roots(path: Path) -> bool:
    """Files root writes at the top of the data partition (identity, markers, status)."""
    return path.name in (MARKER, "identity.txt", SITE_STATUS, LAST_GOOD_SITE)


def _secure_releases(data: Path) -> None:
    """``releases`` must be root's all the way down: one made by anyone else (before the
    sticky bit, or by hand) is moved aside, never used (image_build/release.py checks
    every file again before root runs it)."""
    rel = data / "releases"
    try:
        st = rel.lstat()
    except FileNotFoundError:
        return
    import stat as stat_mod

    if st.st_uid != 0 or not stat_mod.S_ISDIR(st.st_mode) or st.st_mode & 0o022:
        aside = data / "releases.refused"
        if aside.exists() or aside.is_symlink():
            import shutil

            shutil.rmtree(aside) if aside.is_dir() and not aside.is_symlink() else aside.unlink()
        os.replace(rel, aside)
        log.error("%s was not root's: moved to %s, the factory version runs", rel, aside)


if __name__ == "__main__":
    sys.exit(main())
