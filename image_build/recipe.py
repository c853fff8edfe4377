"""What goes into an Espace SD image: the Debian recipe, one for the Raspberry Pi
(arm64) and a reduced one for the build host's architecture (CI boots it with
systemd-nspawn). Both share the same code path; only the package list differs.

A recipe is plain data. Everything that changes the image is in it, so that the
manifest can list it as the build's inputs: the same recipe, the same site file and
the same wheels give the same manifest.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"

# Labels are how the kernel, fstab and first boot find the partitions: the card may be
# /dev/mmcblk0 on a Pi, /dev/sda in a USB reader, /dev/vda under qemu.
BOOT_LABEL = "ESPACEBOOT"  # FAT: 11 characters at most, upper case
ROOT_LABEL = "espace-root"
DATA_LABEL = "espace-data"

# Packages every variant has: the init system, Python for Espace, the tools first
# boot needs (sfdisk/resizepart to grow the data partition, resize2fs), SSH for the
# fleet tools. minbase has no DHCP client and no e2fsprogs: systemd-networkd is the
# DHCP client, e2fsprogs is listed.
COMMON = (
    "systemd-sysv", "udev", "dbus", "python3",
    "ca-certificates", "iproute2", "e2fsprogs", "fdisk", "util-linux", "openssh-server",
    "tzdata", "procps", "less",
)

# The Raspberry Pi: Debian's own kernel and firmware (raspi-firmware copies the
# kernel, initrd and device trees to the FAT partition and writes config.txt and
# cmdline.txt from /etc/default/raspi-*), Wi-Fi firmware and regulatory database,
# the hotspot (hostapd, dnsmasq, nftables), the kiosk (cage + chromium); zstd so
# the initramfs is compressed with it (gzip otherwise: slower under emulation).
PI = (
    "raspi-firmware", "linux-image-arm64", "initramfs-tools", "firmware-brcm80211",
    "wireless-regdb", "iw", "rfkill", "hostapd", "dnsmasq", "nftables", "cage",
    "chromium", "chromium-l10n", "fonts-dejavu-core", "dosfstools", "libpam-systemd", "zstd",
    # Firmware for USB Wi-Fi adapters (the hotspot's second radio: MT7612U, RT5370,
    # MT7601U, Realtek, AR9271), USB Ethernet and Bluetooth dongles; pruned to the
    # files the kernel's USB/SDIO drivers name (rootfs.prune_firmware).
    "firmware-misc-nonfree", "firmware-realtek", "firmware-atheros",
    # NTFS USB sticks (content import): bookworm's 6.1 kernel is built without ntfs3,
    # so NTFS goes through FUSE (mount -t ntfs-3g). vfat and exfat are in the kernel.
    "ntfs-3g",
    # The secure origin's TLS listener (docs/secure-origin.md); its own nginx.service
    # is masked by the rendered units, espace-tls.service runs it.
    "nginx-light",
    "gammu-smsd", "usb-modeswitch",  # SMS for basic phones: a USB GSM modem (docs/sms.md)
)

# CI: the same recipe, reduced to what the nspawn boot test needs.
REDUCED = ()


@dataclass(frozen=True)
class Recipe:
    """The Debian side of an image: architecture, suite, mirror, components, packages."""

    name: str
    arch: str
    packages: tuple[str, ...]
    suite: str = SUITE
    mirror: str = MIRROR
    components: tuple[str, ...] = ("main",)
    variant: str = "minbase"
    kernel: bool = False  # has a kernel and initrd: a bootable card, not just a root
    boot_mb: int = 256
    data_mb: int = 64  # first boot grows it to fill the card
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["packages"] = sorted(self.packages)
        d["components"] = list(self.components)
        return d


def debian_arch(machine: str | None = None) -> str:
    m = machine or platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "amd64": "amd64",
            "i686": "i386", "armv7l": "armhf"}.get(m, m)


def pi(mirror: str = MIRROR) -> Recipe:
    """The Raspberry Pi 3B+, 4 and Zero 2 W image (arm64). Debian's kernel does not
    boot the Pi 5 yet."""
    return Recipe(name="pi", arch="arm64", packages=COMMON + PI, mirror=mirror,
                  components=("main", "non-free-firmware"), kernel=True,
                  boot_mb=160)  # firmware + one kernel and initrd: ~90 MB


# chromium-l10n: Chromium's own texts in French on the kiosk (form checks, error
# pages); dpkg keeps only its French file (rootfs.DPKG_EXCLUDES).
KIOSK = ("cage", "chromium", "chromium-l10n", "fonts-dejavu-core", "libpam-systemd")


def pi_headless(mirror: str = MIRROR) -> Recipe:
    """The Pi image for a box without a touchscreen: no kiosk (cage, chromium and the
    Mesa/GTK stack they pull in, about 550 MB)."""
    full = pi(mirror)
    return Recipe(name="pi-headless", arch=full.arch, mirror=mirror,
                  packages=tuple(p for p in full.packages if p not in KIOSK),
                  components=full.components, kernel=True, boot_mb=full.boot_mb)


def reduced(arch: str | None = None, mirror: str = MIRROR) -> Recipe:
    """The host architecture, no kernel, no firmware: CI builds it and boots its root
    with systemd-nspawn to check the same assembly, first boot and units."""
    return Recipe(name="reduced", arch=debian_arch(arch), packages=COMMON + REDUCED,
                  mirror=mirror, boot_mb=32, kernel=False)


RECIPES = {"pi": pi, "pi-headless": pi_headless, "reduced": reduced}


def get(name: str, mirror: str = MIRROR) -> Recipe:
    try:
        return RECIPES[name](mirror=mirror)
    except KeyError:
        from .errors import ImageError

        raise ImageError(f"unknown image variant {name!r}",
                         fix=f"use one of: {', '.join(RECIPES)}") from None
