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
import re
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
    # Chromium's own UI languages (chromium-l10n, 119 MB): the kiosk's French only.
    "path-exclude=/usr/lib/chromium/locales/*",
    "path-include=/usr/lib/chromium/locales/en-US.pak",
    "path-include=/usr/lib/chromium/locales/fr.pak",
)


MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"  # shipped with mmdebstrap


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
        # Only the modules that find and mount the root (MODULES=list): ~20 instead of
        # the ~1000 of MODULES=most, each of which costs emulated modprobe/modinfo/cp
        # calls at build time (9 of the rootfs stage's minutes).
        put("etc/initramfs-tools/conf.d/espace-modules", INITRAMFS_CONF)
        put("etc/initramfs-tools/modules", initramfs_modules_text())
        put("etc/default/raspi-extra-cmdline", files.RASPI_EXTRA_CMDLINE)
        put("etc/default/raspi-firmware-custom", files.RASPI_CONFIG_CUSTOM)
    return dest


INITRAMFS_CONF = """# Espace: only the modules listed in /etc/initramfs-tools/modules (and those the
# hooks add: overlay), not MODULES=most. See image_build/rootfs.py.
MODULES=list
"""

# What the initramfs needs to find and mount the root of a Raspberry Pi 3B+, 4 or
# Zero 2 W (and of the qemu virt machine of bench/image.py), with why. Everything else
# (Wi-Fi, sound, display, USB sticks' file systems...) loads from the root once it is
# mounted. Drivers that Debian's arm64 kernel builds in (mmc_core, mmc_block,
# pinctrl-bcm2835, clk-bcm2835, clk-raspberrypi, the firmware mailbox, bcm2835-dma,
# gpio-raspberrypi-exp, pcie-brcmstb, virtio core) need no line. The initramfs loads
# the listed modules at boot; modprobe pulls their dependencies in (sdhci,
# sdhci-pltfm, usbcore, scsi_mod, jbd2, mbcache, crc16...).
INITRAMFS_MODULES = (
    ("bcm2835", "SD card of the Pi 3B+ and Zero 2 W (the bcm2835 sdhost controller)"),
    ("sdhci-iproc", "SD card of the Pi 4 (emmc2); on the 3B+ and Zero 2 W the Wi-Fi's SDIO"),
    ("fixed", "Pi 4: the SD card's supply is a fixed regulator switched by a GPIO; "
              "without it the SD controller waits for its regulator for ever"),
    ("gpio-regulator", "Pi 4: the SD card's 1.8/3.3 V I/O supply (UHS modes)"),
    ("reset-raspberrypi", "Pi 4: the firmware reset that loads the VL805 USB 3 chip's "
                          "firmware (USB boot from the blue ports)"),
    ("xhci-pci", "Pi 4: the VL805 USB 3 controller behind pcie-brcmstb (USB boot)"),
    ("dwc2", "Pi 3B+ and Zero 2 W: the SoC's USB controller (USB boot, USB card readers); "
             "also the Pi 4's USB-C port"),
    ("phy-generic", "the dwc2's USB PHY (usb-nop-xceiv in the device tree)"),
    ("usb-storage", "a root on a USB stick, SSD or card reader"),
    ("uas", "the same, USB attached SCSI (most USB 3 SSD adapters)"),
    ("sd_mod", "SCSI disks: what usb-storage and uas show"),
    ("ext4", "the root and data file systems"),
    ("crc32c_generic", "ext4's metadata checksums (metadata_csum)"),
    ("overlay", "the RAM overlay on the read-only root (also added by the espace hook)"),
    ("usbhid", "a USB keyboard at the initramfs rescue shell"),
    ("hid-generic", "the driver of that keyboard (usbhid finds it, hid-generic drives it)"),
    ("virtio_pci", "qemu virt machine (bench/image.py): the PCI transport of its disk"),
    ("virtio_mmio", "qemu virt machine: the MMIO transport"),
    ("virtio_blk", "qemu virt machine: the disk"),
    ("virtio_net", "qemu virt machine: the network card (the bench times the portal "
                   "over it)"),
)


def initramfs_modules_text() -> str:
    lines = ["# Espace: the modules the initramfs needs to mount the root (MODULES=list in",
             "# conf.d/espace-modules). Written by image_build/rootfs.py; why each is here:"]
    for name, why in INITRAMFS_MODULES:
        lines.append(f"# {name}: {why}")
        lines.append(name)
    return "\n".join(lines) + "\n"


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
            # /usr merged with symlinks up front, as debootstrap does, and the real
            # usr-is-merged package: otherwise bookworm's init-system-helpers pulls in
            # usrmerge, whose conversion script runs (emulated) perl, and perl stays
            # in the image (50 MB) though nothing else needs it.
            f"--hook-dir={MERGED_USR_HOOKS}",
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
    # The site file lives on the FAT partition, editable from any laptop; espace-boot
    # copies it to /run at every boot when it is good, else the last good one, so a bad
    # value on the card cannot take the portal down (image_build/boot.py choose_site).
    (root / "etc/espace").mkdir(parents=True, exist_ok=True)
    _symlink(root / "etc/espace/site.toml", "/run/espace/site.toml")
    # etc/issue.d: espace-boot puts the SSH fingerprints above the console's login prompt.
    for d in ("var/lib/espace", "boot/firmware", "etc/issue.d"):
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


# --- smaller: what a Raspberry Pi 3B+, 4 or Zero 2 W can never use --------------------

# Kernel module trees (under lib/modules/VERSION/kernel; ``*`` matches one directory)
# for hardware that cannot be on these boards: they have no PCIe slot (the Pi 4's one
# lane is wired to its VL805 USB chip), no SATA, FireWire or InfiniBand, and their
# display, sound and camera blocks are Broadcom's. Netfilter, wireless and every USB
# Wi-Fi or Ethernet driver (drivers/net/wireless, drivers/net/usb, drivers/staging),
# file systems, sound (USB, Broadcom, codecs), vc4/v3d, panels and bridges, input and
# touchscreens, virtio (the qemu bench) all stay. A kept module that needs a pruned
# one keeps it too (see prune_modules).
MODULE_PRUNE = (
    "drivers/gpu/drm/amd", "drivers/gpu/drm/radeon", "drivers/gpu/drm/nouveau",  # PCIe GPUs
    "drivers/gpu/drm/ast", "drivers/gpu/drm/qxl", "drivers/gpu/drm/vmwgfx",  # servers, VMs
    "drivers/gpu/drm/hyperv",
    # other SoCs' display and GPU blocks
    "drivers/gpu/drm/msm", "drivers/gpu/drm/tegra", "drivers/gpu/drm/rockchip",
    "drivers/gpu/drm/imx", "drivers/gpu/drm/meson", "drivers/gpu/drm/sun4i",
    "drivers/gpu/drm/hisilicon", "drivers/gpu/drm/etnaviv", "drivers/gpu/drm/lima",
    "drivers/gpu/drm/panfrost", "drivers/gpu/drm/mxsfb", "drivers/gpu/drm/arm",
    "drivers/infiniband",  # PCIe host channel adapters
    "drivers/net/ethernet/*",  # PCIe and other SoCs' Ethernet (the Pi 4's genet is kept)
    "drivers/scsi/*",  # SAS/FC/RAID PCIe adapters (scsi_mod, sd_mod, sg, sr_mod stay)
    "drivers/target",  # SCSI target: storage servers
    "drivers/nvme",  # no PCIe slot (USB-NVMe adapters are uas)
    "drivers/media/pci", "drivers/media/firewire",  # PCI capture cards, FireWire
    "drivers/media/platform",  # other SoCs' cameras and codecs
    "drivers/firewire", "drivers/xen", "drivers/hv", "drivers/cxl", "drivers/nvdimm",
    "sound/pci", "sound/firewire", "sound/xen",  # PCI sound cards, FireWire, Xen
    "sound/soc/fsl", "sound/soc/hisilicon", "sound/soc/meson", "sound/soc/qcom",
    "sound/soc/rockchip", "sound/soc/sunxi", "sound/soc/tegra",  # other SoCs' audio
)
MODULE_KEEP = ("drivers/net/ethernet/broadcom",)  # genet: the Pi 4's Ethernet


def _matches(rel: str, patterns) -> bool:
    """``rel`` (a module's path under kernel/) is in one of the trees ``patterns``."""
    from fnmatch import fnmatchcase

    parts = rel.split("/")
    for pat in patterns:
        n = pat.count("/") + 1
        if len(parts) > n and fnmatchcase("/".join(parts[:n]), pat):
            return True
    return False


def module_dirs(root: Path) -> list[Path]:
    """lib/modules/VERSION of each kernel in ``root`` (merged /usr or not)."""
    for base in ("usr/lib/modules", "lib/modules"):
        d = root / base
        if d.is_dir() and not d.is_symlink():
            return sorted(p for p in d.iterdir() if (p / "modules.dep").exists())
    return []


def prune_modules(moddir: Path, prune=MODULE_PRUNE, keep=MODULE_KEEP) -> tuple[int, int]:
    """Delete the modules of ``moddir`` (lib/modules/VERSION) under the ``prune`` trees,
    except those under ``keep`` and those a kept module depends on (modules.dep lists
    every module's dependencies, transitively). Returns (modules removed, bytes freed);
    run depmod afterwards."""
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        if ":" in line:
            mod, rest = line.split(":", 1)
            deps[mod] = rest.split()
    drop = {m for m in deps if m.startswith("kernel/")
            and _matches(m[len("kernel/"):], prune) and not _matches(m[len("kernel/"):], keep)}
    needed = {d for m in deps if m not in drop for d in deps[m]}
    while needed & drop:  # modules.dep is transitive; the loop is a safety net
        drop -= needed
        needed = {d for m in deps if m not in drop for d in deps[m]}
    removed = freed = 0
    for mod in sorted(drop):
        path = moddir / mod
        if path.is_file():
            freed += path.stat().st_size
            path.unlink()
            removed += 1
    for d in sorted((p for p in (moddir / "kernel").rglob("*") if p.is_dir()),
                    key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    return removed, freed


def compress_modules(moddir: Path) -> tuple[int, int]:
    """xz every .ko of ``moddir`` on the host, as the kernel's own ``make
    modules_install`` would (CRC32 check, 1 MiB dictionary: little memory to load one
    on a 512 MB Zero 2 W); bookworm's kmod and initramfs-tools load .ko.xz. Returns
    (bytes before, bytes after); run depmod afterwards."""
    import lzma
    from concurrent.futures import ThreadPoolExecutor

    filters = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 20}]

    def one(path: Path) -> tuple[int, int]:
        data = path.read_bytes()
        out = lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                            filters=filters)
        dest = path.with_name(path.name + ".xz")
        dest.write_bytes(out)
        dest.chmod(path.stat().st_mode & 0o7777)
        path.unlink()
        return len(data), len(out)

    kos = sorted(moddir.rglob("*.ko"))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # lzma frees the GIL
        sizes = list(pool.map(one, kos))
    return sum(a for a, _ in sizes), sum(b for _, b in sizes)


_MODINFO = re.compile(rb"(?:^|\x00)(firmware|alias)=([^\x00]+)")
# Buses a Pi 3B+, 4 or Zero 2 W can have a device on: USB, SDIO, the device tree
# (no PCIe slot: a driver with only pci: aliases never binds).
PI_BUSES = ("usb:", "sdio:", "of:")


def module_firmware(moddir: Path, buses=PI_BUSES) -> set[str]:
    """Firmware files (relative to lib/firmware) that the modules of ``moddir`` name
    (MODULE_FIRMWARE, in their .modinfo), for modules that can bind on one of
    ``buses`` (or have no device alias at all: libraries shared by drivers). .ko or
    .ko.xz."""
    import lzma

    names: set[str] = set()
    for path in sorted([*moddir.rglob("*.ko"), *moddir.rglob("*.ko.xz")]):
        data = path.read_bytes()
        if path.suffix == ".xz":
            data = lzma.decompress(data)
        fw, aliases = [], []
        for key, value in _MODINFO.findall(data):
            (fw if key == b"firmware" else aliases).append(value.decode(errors="replace"))
        if fw and (not aliases or any(a.startswith(buses) for a in aliases)):
            names.update(fw)
    return names


# Firmware packages of which only the files a kept module names stay (USB Wi-Fi
# adapters for the hotspot: MT7612U and RT5370 (docs/network.md), MT7601U, RTL8188/
# 8192/8821 (rtl8xxxu, r8188eu, rtw88), AR9271 (ath9k_htc); USB Ethernet adapters;
# USB Bluetooth dongles). firmware-brcm80211 (the Pis' own Wi-Fi) is never pruned.
FIRMWARE_PRUNED = ("firmware-misc-nonfree", "firmware-realtek", "firmware-atheros")
# Names a kept driver loads without declaring them: ath9k_htc (AR9271, AR7010 USB
# adapters) asks for ath9k_htc/htc_9271-1.4.0.fw, then falls back to the old name,
# which is the one Debian's firmware-atheros ships.
FIRMWARE_ALSO_KEEP = ("htc_9271.fw", "htc_7010.fw")


def prune_firmware(root: Path, keep: set[str], packages=FIRMWARE_PRUNED) -> tuple[int, int]:
    """Delete the firmware files of ``packages`` (their dpkg file lists) that are not in
    ``keep`` (names relative to lib/firmware, as modules name them) nor the target of a
    kept link. Returns (files removed, bytes freed)."""
    kept: set[Path] = set()
    for base in ("usr/lib/firmware", "lib/firmware"):
        fwdir = root / base
        if fwdir.is_dir():
            for name in keep:
                p = fwdir / name
                if p.exists() or p.is_symlink():
                    kept.add(p.resolve())
                    kept.add(p.parent.resolve() / p.name)
            break
    removed = freed = 0
    dirs: set[Path] = set()
    for pkg in packages:
        lst = next((q for q in (root / "var/lib/dpkg/info").glob(f"{pkg}.list")), None) \
            or next(iter((root / "var/lib/dpkg/info").glob(f"{pkg}:*.list")), None)
        if lst is None:
            continue
        for line in lst.read_text().splitlines():
            if "/firmware/" not in line:
                continue
            p = root / line.lstrip("/")
            if p.is_dir() and not p.is_symlink():
                dirs.add(p)
                continue
            if not (p.exists() or p.is_symlink()):
                continue
            real = p.parent.resolve() / p.name
            if real in kept:
                continue
            if not p.is_symlink():
                freed += p.stat().st_size
            p.unlink()
            removed += 1
            dirs.update(q for q in p.parents
                        if q.is_relative_to(root) and _below_firmware(q.relative_to(root)))
    for d in sorted(dirs, key=lambda x: len(x.parts), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    return removed, freed


def _below_firmware(rel: Path) -> bool:
    """``rel`` is a directory inside (not equal to) lib/firmware or usr/lib/firmware."""
    parts = rel.parts
    for base in (("lib", "firmware"), ("usr", "lib", "firmware")):
        if parts[:len(base)] == base and len(parts) > len(base):
            return True
    return False


def depmod(root: Path, moddir: Path) -> None:
    """The host's depmod on the image's modules (same kmod as bookworm's)."""
    from .build import run

    run(["depmod", "-b", str(root), moddir.name])


def slim_kernel(root: Path, log=print) -> None:
    """The Pi's kernel side, once the packages are installed and raspi-firmware has
    copied the kernel, initrd, device trees and firmware to /boot/firmware (the FAT
    side, which is what the boards boot): prune and compress the modules, and drop the
    copies a read-only root never reads again (a kernel or firmware upgrade is a new
    image, never a package upgrade on the box)."""
    firmware: set[str] = set()
    for moddir in module_dirs(root):
        removed, freed = prune_modules(moddir)
        before, after = compress_modules(moddir)
        depmod(root, moddir)
        firmware |= module_firmware(moddir)
        log(f"    modules {moddir.name}: {removed} pruned ({freed // MiB} MB), the rest "
            f"xz-compressed {before // MiB} -> {after // MiB} MB")
    removed, freed = prune_firmware(root, firmware | set(FIRMWARE_ALSO_KEEP))
    log(f"    firmware: {removed} files removed that no USB, SDIO or on-board driver "
        f"names ({freed // MiB} MB)")
    # Device trees of every arm64 board Debian supports: raspi-firmware copied the
    # Broadcom ones (the Pis) to the FAT partition; keep those, drop the other vendors.
    for dtbs in (root / "usr/lib").glob("linux-image-*"):
        for vendor in dtbs.iterdir():
            if vendor.is_dir() and vendor.name != "broadcom":
                shutil.rmtree(vendor)
    # The boot firmware (start*.elf, fixup*.dat, bootcode.bin) is on the FAT partition.
    shutil.rmtree(root / "usr/lib/raspi-firmware", ignore_errors=True)


# Chromium's Vulkan validation layer: a developer's debugging aid, loaded only when
# VK_INSTANCE_LAYERS asks for it (20 MB).
CHROMIUM_UNUSED = ("libVkLayer_khronos_validation.so", "libVkLayer_khronos_validation.so.TOC")


def slim_kiosk(root: Path) -> int:
    freed = 0
    for name in CHROMIUM_UNUSED:
        p = root / "usr/lib/chromium" / name
        if p.exists():
            freed += p.stat().st_size
            p.unlink()
    return freed


MiB = 1024 * 1024
