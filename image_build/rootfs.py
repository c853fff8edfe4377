"""The root filesystem: mmdebstrap, then what Espace adds on top of plain Debian.

mmdebstrap builds into a directory (root mode, chroot; qemu-user through binfmt when
the target is not the host's architecture). The package cache is kept between builds
in a directory outside the chroot (mmdebstrap's documented sync-in / sync-out
recipe), so a second build downloads only the package lists.

Everything after mmdebstrap is done from the host on the directory (files, symlinks,
the Python venv): no emulation, and each step is a function a test can run on a
fixture directory.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from . import files
from .recipe import Recipe

# Paths dpkg leaves out of the image: documentation, man pages, translations of
# programs (the portal has its own). The copyright files stay (licences).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*", "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*", "path-include=/usr/share/locale/locale.alias",
    "path-exclude=/usr/share/lintian/*",
)


def pre_tree(recipe: Recipe, dest: Path) -> Path:
    """Files that must be in place before the packages install (copied in by the
    essential hook): the initramfs overlay script and hook, so that the initramfs is
    generated once, with them, when linux-image-arm64 installs; and the settings
    raspi-firmware reads when it writes cmdline.txt and config.txt."""
    shutil.rmtree(dest, ignore_errors=True)
    put = _writer(dest)
    put("etc/dpkg/dpkg.cfg.d/01-espace-excludes", "\n".join(DPKG_EXCLUDES) + "\n")
    if recipe.kernel:
        put("etc/initramfs-tools/scripts/init-bottom/espace-overlay", files.OVERLAY_SCRIPT, 0o755)
        put("etc/initramfs-tools/hooks/espace-overlay", files.OVERLAY_HOOK, 0o755)
        put("etc/default/raspi-extra-cmdline", files.RASPI_EXTRA_CMDLINE)
        put("etc/default/raspi-firmware-custom", files.RASPI_CONFIG_CUSTOM)
    return dest


def _writer(root: Path):
    def put(rel: str, text: str, mode: int = 0o644) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    return put


def mmdebstrap_argv(recipe: Recipe, target: Path, cache: Path, pre: Path) -> list[str]:
    """The mmdebstrap command line for ``recipe`` (printed by --dry-run)."""
    q = shlex.quote
    argv = ["mmdebstrap", f"--variant={recipe.variant}", f"--architectures={recipe.arch}",
            f"--components={','.join(recipe.components)}",
            f"--include={','.join(sorted(recipe.packages))}",
            "--aptopt=APT::Install-Recommends \"false\"",
            "--aptopt=Acquire::Languages \"none\"",
            # Emulated dpkg is the slow part; unsafe-io skips fsyncs of a throwaway tree.
            "--dpkgopt=force-unsafe-io",
            *(f"--dpkgopt={x}" for x in DPKG_EXCLUDES),
            "--skip=essential/unlink",
            f"--setup-hook=mkdir -p {q(str(cache))} \"$1\"/var/cache/apt/archives/",
            f"--setup-hook=sync-in {q(str(cache))} /var/cache/apt/archives/",
            f"--essential-hook=tar -C {q(str(pre))} -c . | tar -C \"$1\" -x --no-same-owner",
            f"--customize-hook=sync-out /var/cache/apt/archives {q(str(cache))}",
            recipe.suite, str(target), recipe.mirror]
    return argv


def run_mmdebstrap(argv: list[str], env: dict | None = None, log=print) -> None:
    from .errors import ImageError

    full_env = {**os.environ, "LC_ALL": "C.UTF-8", **(env or {})}
    tail: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                          text=True, env=full_env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-20:]
            # mmdebstrap's own progress lines ("I: ...") are the stage's progress.
            if line.startswith(("I: ", "E: ", "W: ")):
                log("    " + line)
    if proc.returncode:
        raise ImageError("mmdebstrap failed:\n" + "\n".join(tail),
                         fix="read the lines above; a network error is worth a retry "
                             "(downloaded packages are cached)")


def customise(root: Path, recipe: Recipe) -> list[str]:
    """Espace's files on top of Debian. Returns notes for the build log."""
    notes: list[str] = []
    put = _writer(root)
    put("etc/fstab", files.FSTAB)
    put("etc/ssh/sshd_config.d/espace.conf", files.SSHD_CONFIG)
    put("usr/local/bin/espace", files.LAUNCHER, 0o755)
    put("usr/local/sbin/espace-boot", files.BOOT_LAUNCHER, 0o755)
    put("usr/lib/systemd/system/espace-boot.service", files.BOOT_UNIT)
    put("usr/lib/systemd/system/espace-web.service", files.WEB_UNIT)
    put("usr/lib/systemd/system/espace-worker.service", files.WORKER_UNIT)
    put("etc/hostname", "espace\n")
    # The site file lives on the FAT partition, editable from any laptop.
    (root / "etc/espace").mkdir(parents=True, exist_ok=True)
    _symlink(root / "etc/espace/site.toml", "/boot/firmware/espace-site.toml")
    for d in ("var/lib/espace", "boot/firmware"):
        (root / d).mkdir(parents=True, exist_ok=True)
    # Host keys made by openssh-server's postinst would be the same on every card.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # An empty machine-id: systemd makes one at boot (in the RAM overlay).
    if (root / "etc").is_dir():
        (root / "etc/machine-id").write_text("")
    _add_user(root)
    if recipe.kernel:
        if "cage" in recipe.packages:
            put("usr/lib/systemd/system/espace-kiosk.service", files.KIOSK_UNIT)
            put("etc/pam.d/espace-kiosk", files.KIOSK_PAM)
        # raspi-firmware copied the kernel and initrd to /boot/firmware (the FAT side);
        # the root's copies would only serve a kernel upgrade, which a read-only root
        # never does (a new image does).
        for p in [*(root / "boot").glob("vmlinuz-*"), *(root / "boot").glob("initrd.img-*")]:
            p.unlink()
        # Also written by the customize hook that re-ran raspi-firmware's kernel hook.
        put("etc/default/raspi-firmware", files.RASPI_FIRMWARE_DEFAULT)
    # No point in keeping these on a read-only root (apt lists: ~100 MB).
    for rel in ("var/lib/apt/lists", "var/cache/apt"):
        for p in (root / rel).glob("*"):
            if p.is_file():
                p.unlink()
    # Timers that write to a read-only root every day would only fail.
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer",
                  "dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer"):
        (root / "etc/systemd/system/timers.target.wants" / timer).unlink(missing_ok=True)
    return notes


def _symlink(link: Path, target: str) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def _add_user(root: Path) -> None:
    """The ``espace`` system user, with a fixed uid/gid so files on the data partition
    keep their owner across images."""
    uid = files.ESPACE_UID
    for name, line in (("passwd", f"espace:x:{uid}:{uid}:Espace:/var/lib/espace:"
                                  "/usr/sbin/nologin\n"),
                       ("group", f"espace:x:{uid}:\n"),
                       ("shadow", "espace:!:19000::::::\n"),
                       ("gshadow", "espace:!::\n")):
        path = root / "etc" / name
        if not path.exists():
            continue
        text = path.read_text()
        if not any(ln.startswith("espace:") for ln in text.splitlines()):
            path.write_text(text + line)


def enable_unit(root: Path, name: str) -> list[Path]:
    """`systemctl enable` done by hand: a symlink in each WantedBy target's .wants
    (no systemd needed on the build host). /etc units win over /usr/lib ones."""
    made = []
    for base in ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"):
        unit = root / base / name
        if unit.exists():
            break
    else:
        return made
    wanted: list[str] = []
    section = None
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and line.startswith(("WantedBy=", "RequiredBy=")):
            wanted += line.split("=", 1)[1].split()
    for target in wanted:
        wants = root / "etc/systemd/system" / (target + ".wants")
        wants.mkdir(parents=True, exist_ok=True)
        link = wants / name
        _symlink(link, "/" + str(unit.relative_to(root)))
        made.append(link)
    return made


def packages(root: Path) -> list[tuple[str, str, str]]:
    """(package, version, architecture) of every installed package, sorted."""
    r = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W",  # noqa: S603,S607
                        "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"],
                       capture_output=True, text=True, check=True)
    out = []
    for line in r.stdout.splitlines():
        status, name, version, arch = line.split("\t")
        if status.startswith("ii"):
            out.append((name, version, arch))
    return sorted(out)
