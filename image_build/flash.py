"""``espace image flash IMG DEVICE``: write a card safely.

Refuses: anything that is not a whole disk, the disk the running system is on (also
under LVM or LUKS), a disk with a mounted partition (found by device number or, for
btrfs, by mount source), a swap partition, a partition under LVM/LUKS/RAID, a disk
smaller than the image. Shows the device's model and
size and asks before writing. Writes with bmaptool and the image's block map (empty
blocks are skipped: a 1.4 GB image with 700 MB of data writes 700 MB), then reads
back every mapped range and checks it against the map's SHA-256.

Everything that reads the system takes its root (``/sys``, ``/proc/self/mountinfo``)
as a parameter so tests feed it fixture trees.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import xml.etree.ElementTree as ET  # noqa: S405 - our own bmap file, written by bmaptool
from dataclasses import dataclass
from pathlib import Path

from .errors import FlashRefused, ImageError


@dataclass
class Device:
    path: str
    name: str
    model: str
    size: int
    removable: bool


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def _devnum(sys_block: Path) -> str:
    return _read(sys_block / "dev")  # "8:16"


def mounted_devnums(mountinfo: str) -> dict[str, str]:
    """major:minor -> mount point of every mounted block file system."""
    out = {}
    for line in mountinfo.splitlines():
        f = line.split()
        if len(f) > 4:
            out.setdefault(f[2], f[4])
    return out


def mounted_sources(mountinfo: str) -> dict[str, str]:
    """Device name (``sdb1``, ``dm-0``...) -> mount point, from the mount *source*: btrfs
    (and other multi-device file systems) show an anonymous 0:N device number, so the
    number alone misses them."""
    out = {}
    for line in mountinfo.splitlines():
        head, sep, tail = line.partition(" - ")
        f, t = head.split(), tail.split()
        if sep and len(f) > 4 and len(t) > 1 and t[1].startswith("/dev/"):
            out.setdefault(os.path.basename(os.path.realpath(t[1]))
                           if t[1].startswith("/dev/mapper/") else os.path.basename(t[1]), f[4])
    return out


def swap_devices(swaps: str) -> set[str]:
    """Device names in use as swap (/proc/swaps)."""
    return {os.path.basename(line.split()[0]) for line in swaps.splitlines()[1:]
            if line.split() and line.split()[1:2] == ["partition"]}


def holders(sysdir: Path) -> list[Path]:
    """Devices stacked on this one (LVM, LUKS, RAID: dm-N, mdN), recursively."""
    out = []
    hdir = sysdir / "holders"
    if hdir.is_dir():
        for h in sorted(hdir.iterdir()):
            real = Path(os.path.realpath(h))
            out += [real, *holders(real)]
    return out


def _system_mount(where: str | None) -> bool:
    return where == "/" or (where or "").startswith(("/boot", "/usr", "/var", "/home")) \
        and where not in ("/boot/firmware",)


def refuse(device: Path, *, sys_root: Path = Path("/sys"), mountinfo: str | None = None,
           image_size: int = 0, stat_fn=os.stat, swaps: str | None = None) -> Device:
    """The device's description if it may be written; FlashRefused otherwise."""
    dev = str(device)
    try:
        st = stat_fn(dev)
    except FileNotFoundError:
        raise FlashRefused(f"{dev}: no such device",
                           fix="plug the card in and look for it with lsblk") from None
    if not stat.S_ISBLK(st.st_mode):
        raise FlashRefused(f"{dev} is not a block device", fix="give the card's device, "
                           "e.g. /dev/sdb or /dev/mmcblk0 (see lsblk)")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    link = sys_root / "dev/block" / f"{major}:{minor}"
    sysdir = Path(os.path.realpath(link)) if link.exists() else sys_root / "class/block" / \
        Path(dev).name
    name = sysdir.name
    if (sysdir / "partition").exists():
        disk = sysdir.parent.name
        raise FlashRefused(f"{dev} is a partition, not a whole card",
                           fix=f"give the whole device: /dev/{disk}")
    if mountinfo is None:
        mountinfo = _read(Path("/proc/self/mountinfo"))
    if swaps is None:
        swaps = _read(Path("/proc/swaps"))
    mounted = mounted_devnums(mountinfo)
    by_source = mounted_sources(mountinfo)
    swapping = swap_devices(swaps)
    parts = [sysdir] + sorted(p for p in sysdir.iterdir() if (p / "partition").exists()) \
        if sysdir.is_dir() else [sysdir]
    for p in parts:
        where = mounted.get(_devnum(p)) or by_source.get(p.name)
        if _system_mount(where):
            raise FlashRefused(f"{dev} holds the running system ({'/dev/' + p.name} is "
                               f"mounted on {where})", fix="choose the SD card, not this "
                               "computer's disk (see lsblk)")
        if where:
            raise FlashRefused(f"{dev} is in use: /dev/{p.name} is mounted on {where}",
                               fix=f"unmount it first: umount /dev/{p.name}")
        if p.name in swapping:
            raise FlashRefused(f"{dev} is in use: /dev/{p.name} is swap space",
                               fix=f"turn it off first: swapoff /dev/{p.name}")
        for h in holders(p):  # LVM, LUKS, RAID on this partition
            kind = _read(h / "dm/uuid").split("-")[0] or h.name
            name = _read(h / "dm/name") or h.name
            where = mounted.get(_devnum(h)) or by_source.get(h.name)
            if h.name in swapping:
                where = "swap"
            if _system_mount(where):
                raise FlashRefused(f"{dev} holds the running system (/dev/{p.name} under "
                                   f"{kind} {name}, mounted on {where})",
                                   fix="choose the SD card, not this computer's disk (see "
                                       "lsblk)")
            raise FlashRefused(f"{dev} is in use: /dev/{p.name} is under {kind} {name}"
                               + (f", mounted on {where}" if where else ""),
                               fix=_release_fix(kind, name, where))
    size = int(_read(sysdir / "size", "0") or 0) * 512
    model = " ".join(x for x in (_read(sysdir / "device/vendor"),
                                 _read(sysdir / "device/model")) if x) or "unknown model"
    info = Device(dev, name, model, size, _read(sysdir / "removable") == "1")
    if image_size and size and size < image_size:
        raise FlashRefused(f"{dev} ({_gb(size)}) is smaller than the image "
                           f"({_gb(image_size)})", fix="use a card of at least 4 GB")
    return info


def _release_fix(kind: str, name: str, where: str | None) -> str:
    first = ("swapoff /dev/mapper/" + name + ", then " if where == "swap"
             else f"umount {where}, then " if where else "")
    if kind == "CRYPT":
        return f"{first}close it: cryptsetup close {name}"
    if kind == "LVM":
        return f"{first}deactivate its volume group: vgchange -an (see lvs)"
    return f"{first}stop what holds it (see lsblk)"


def bmaptool_refusal(output: str) -> tuple[str, str]:
    """bmaptool's own error as one line, and the fix that matches it (its output is
    coloured and carries a Python traceback)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    errors = [line.split("ERROR:", 1)[1].strip() for line in plain.splitlines()
              if "ERROR:" in line and "here is the traceback" not in line]
    message = errors[-1] if errors else (plain.strip().splitlines() or ["no output"])[-1]
    low = message.lower()
    if "exclusive mode" in low or "busy" in low:
        fix = ("something holds the card: unmount its partitions, swapoff, close LUKS or "
               "LVM on it (see lsblk), then retry")
    elif "will not fit" in low or "no space" in low:
        fix = "use a larger card"
    elif "permission denied" in low:
        fix = "run as root: sudo espace image flash ..."
    elif "read-only" in low:
        fix = "the card is write-protected: slide its lock switch, then retry"
    elif "checksum" in low or "mismatch" in low:
        fix = "the image is damaged: copy it again and check it with its SHA256SUMS"
    else:
        fix = "check the card is still plugged in and not write-protected"
    return message, fix


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


def describe(d: Device) -> str:
    return (f"{d.path}: {d.model}, {_gb(d.size)}"
            + (", removable" if d.removable else ", NOT removable: check this is the card"))


def bmap_ranges(bmap: Path) -> tuple[int, list[tuple[int, int, str]]]:
    """(block size, [(first block, last block, sha256)]) from a bmaptool file."""
    tree = ET.parse(bmap)  # noqa: S314
    bs = int(tree.findtext("BlockSize", "4096").strip())
    ranges = []
    for r in tree.iter("Range"):
        text = (r.text or "").strip()
        first, _, last = text.partition("-")
        ranges.append((int(first), int(last or first), r.get("chksum", "")))
    return bs, ranges


def verify(device: Path, bmap: Path, log=print) -> int:
    """Read back every mapped range of ``device``; return the bytes checked."""
    bs, ranges = bmap_ranges(bmap)
    checked = 0
    with open(device, "rb") as f:
        for first, last, chksum in ranges:
            f.seek(first * bs)
            h = hashlib.sha256()
            left = (last - first + 1) * bs
            while left:
                chunk = f.read(min(left, 4 << 20))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
            if chksum and h.hexdigest() != chksum:
                raise ImageError(f"verification failed: blocks {first}-{last} differ on "
                                 f"{device}", fix="the card may be worn or fake: try "
                                 "another card")
            checked += (last - first + 1) * bs
    log(f"verified {checked / (1 << 20):.1f} MiB against the block map")
    return checked


def bmap_for(img: Path) -> Path:
    """The block map beside an .img or .img.xz."""
    if img.suffix == ".xz":
        img = img.with_suffix("")
    return img.with_suffix(".bmap")


def image_size(bmap: Path) -> int:
    """The image's size from its block map (0 if there is none)."""
    if not bmap.exists():
        return 0
    tree = ET.parse(bmap)  # noqa: S314
    return int((tree.findtext("ImageSize") or "0").strip())


def flash_image(img: Path, device: Path, log=print) -> None:
    bmap = bmap_for(img)
    if not bmap.exists():
        raise ImageError(f"no block map beside {img} ({bmap.name})",
                         fix="use the .img and .bmap from `espace image build` together")
    log(f"writing {img.name} to {device} (bmaptool, only the mapped blocks)")
    r = subprocess.run(["bmaptool", "copy", "--bmap", str(bmap), str(img), str(device)],  # noqa: S603,S607
                       capture_output=True, text=True)
    if r.returncode:
        message, fix = bmaptool_refusal(r.stderr + "\n" + r.stdout)
        raise ImageError(f"bmaptool refused: {message}", fix=fix)
    with open(device, "rb+") as f:
        os.fsync(f.fileno())
    verify(device, bmap, log=log)
    log("done: the card can be removed")
