"""``espace image flash IMG DEVICE``: write a card safely.

Refuses: anything that is not a whole disk, the disk the running system is on, a disk
with a mounted partition, a disk smaller than the image. Shows the device's model and
size and asks before writing. Writes with bmaptool and the image's block map (empty
blocks are skipped: a 1.4 GB image with 700 MB of data writes 700 MB), then reads
back every mapped range and checks it against the map's SHA-256.

Everything that reads the system takes its root (``/sys``, ``/proc/self/mountinfo``)
as a parameter so tests feed it fixture trees.
"""

from __future__ import annotations

import hashlib
import os
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


def refuse(device: Path, *, sys_root: Path = Path("/sys"), mountinfo: str | None = None,
           image_size: int = 0, stat_fn=os.stat) -> Device:
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
    mounted = mounted_devnums(mountinfo)
    parts = [sysdir] + sorted(p for p in sysdir.iterdir() if (p / "partition").exists()) \
        if sysdir.is_dir() else [sysdir]
    for p in parts:
        where = mounted.get(_devnum(p))
        if where == "/" or (where or "").startswith(("/boot", "/usr", "/var", "/home")) and \
                where not in ("/boot/firmware",):
            raise FlashRefused(f"{dev} holds the running system ({'/dev/' + p.name} is "
                               f"mounted on {where})", fix="choose the SD card, not this "
                               "computer's disk (see lsblk)")
        if where:
            raise FlashRefused(f"{dev} is in use: /dev/{p.name} is mounted on {where}",
                               fix=f"unmount it first: umount /dev/{p.name}")
    size = int(_read(sysdir / "size", "0") or 0) * 512
    model = " ".join(x for x in (_read(sysdir / "device/vendor"),
                                 _read(sysdir / "device/model")) if x) or "unknown model"
    info = Device(dev, name, model, size, _read(sysdir / "removable") == "1")
    if image_size and size and size < image_size:
        raise FlashRefused(f"{dev} ({_gb(size)}) is smaller than the image "
                           f"({_gb(image_size)})", fix="use a card of at least 4 GB")
    return info


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
        raise ImageError(f"bmaptool failed: {r.stderr.strip()[-300:]}",
                         fix="check the card is still plugged in and not write-protected")
    with open(device, "rb+") as f:
        os.fsync(f.fileno())
    verify(device, bmap, log=log)
    log("done: the card can be removed")
