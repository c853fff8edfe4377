"""The disk image, without mounting anything, and the files that go with it.

The host kernel may have no vfat and ``losetup -P`` may make no partition devices
(see MACHINE-NOTES), so each partition is built as a file (mkfs.vfat + mcopy,
``mkfs.ext4 -d``) and copied into the image at its offset with
``dd conv=notrunc,sparse``. The MBR table is written by sfdisk from a script.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from .build import FIRST_MIB, SECTOR, MiB, run, write_json
from .errors import ImageError
from .recipe import BOOT_LABEL, DATA_LABEL, ROOT_LABEL, Recipe

SITE_ON_BOOT = "espace-site.toml"

BOOT_README = """Espace: this is the boot partition of an Espace SD card.

espace-site.toml is the box's configuration. You may edit it here, from any
computer, before the first boot or at any time later: the box reads it at every
boot. Check it first with:  espace config check espace-site.toml

config.txt and cmdline.txt are written by Debian's raspi-firmware package; edit
/etc/default/raspi-firmware* in the image instead.
"""


def du_bytes(root: Path) -> tuple[int, int]:
    """(bytes the tree needs on ext4 with 4 KiB blocks, number of inodes)."""
    total, seen, inodes = 0, set(), 0
    for dirpath, _dirnames, filenames in os.walk(root):
        total += 4096
        inodes += 1
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_ino, st.st_dev) in seen:
                continue
            seen.add((st.st_ino, st.st_dev))
            inodes += 1
            total += -(-st.st_size // 4096) * 4096
    return total, inodes


def _uuid(*parts: str) -> str:
    """A UUID derived from the image's identity: rebuilding gives the same ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "espace:" + ":".join(parts)))


def make_fat(path: Path, size_mib: int, label: str, files: dict[str, bytes],
             tree: Path | None) -> None:
    path.unlink(missing_ok=True)
    run(["mkfs.vfat", "-n", label, "-i", "e5ace001", "-C", str(path), str(size_mib * 1024)])
    entries = sorted(tree.iterdir()) if tree and tree.is_dir() else []
    if entries:
        run(["mcopy", "-s", "-p", "-m", "-i", str(path), *map(str, entries), "::/"])
    for name, data in files.items():
        tmp = path.parent / name
        tmp.write_bytes(data)
        run(["mcopy", "-o", "-i", str(path), str(tmp), f"::/{name}"])
        tmp.unlink()


def fitted_mib(used: int, inodes: int) -> int:
    """A first guess at the smallest ext4 holding ``used`` bytes of files (du_bytes)
    and ``inodes`` inodes of 256 bytes, no journal: the files, the inode tables and 8
    MiB for bitmaps, group descriptors and directories' extent blocks. make_ext4 grows
    it when the files do not fit. (resize2fs -M from a roomy file system left ~190 MB
    free in the Pi's root: its estimate keeps slack for files it would have to move.)"""
    return -(-(used + inodes * 256) // MiB) + 8


def make_ext4(path: Path, size_mib: int, label: str, tree: Path | None, seed: str,
              reserved: int = 0, inodes: int | None = None, read_only: bool = False) -> int:
    """An ext4 file system in ``path``; returns its size in MiB.

    ``read_only`` (the root): no journal and no room to grow (it is never written),
    then shrunk to its minimum with ``resize2fs -M``."""
    path.unlink(missing_ok=True)
    argv = ["mkfs.ext4", "-q", "-F", "-L", label, "-b", "4096", "-m", str(reserved),
            "-U", _uuid(seed, label), "-E", f"hash_seed={_uuid(seed, label, 'hash')},"
            "root_owner=0:0"]
    argv += ["-N", str(inodes)] if inodes else ["-i", "8192"]
    if read_only:
        argv += ["-O", "^has_journal,^resize_inode"]
    if tree is not None:
        argv += ["-d", str(tree)]
    if not read_only:
        run([*argv, str(path), f"{size_mib}M"])
        return size_mib
    # The read-only root: built at the fitted size, 3 % (4 MiB at least) larger at
    # each failure (mkfs -d stops with "Could not allocate block" when the files do not
    # fit), then shrunk with resize2fs -M (from a tight start, it trims the last free
    # blocks).
    for _attempt in range(20):
        r = subprocess.run([*argv, str(path), f"{size_mib}M"], capture_output=True, text=True)  # noqa: S603
        if r.returncode == 0:
            break
        path.unlink(missing_ok=True)
        size_mib = max(int(size_mib * 1.03) + 1, size_mib + 4)
    else:
        raise ImageError(f"mkfs.ext4 cannot fit {tree} in {size_mib} MiB: "
                         f"{(r.stderr or r.stdout).strip()[-300:]}",
                         fix="check the free space of the work directory")
    run(["e2fsck", "-fy", str(path)])
    run(["resize2fs", "-M", str(path)])
    blocks = int(next(line.split(":")[1] for line in run(["dumpe2fs", "-h", str(path)]).stdout
                      .splitlines() if line.startswith("Block count:")))
    mib = -(-blocks * 4096 // MiB)
    with open(path, "r+b") as f:
        f.truncate(mib * MiB)
    return mib


def assemble(root: Path, site_bytes: bytes, recipe: Recipe, img: Path, work: Path,
             log=print) -> dict[str, int]:
    """Write ``img``; returns the layout (start and size of each partition, in MiB)."""
    work.mkdir(parents=True, exist_ok=True)
    firmware = root / "boot/firmware"
    boot_file, root_file, data_file = work / "boot.vfat", work / "root.ext4", work / "data.ext4"
    seed = hashlib.sha256(site_bytes).hexdigest()[:16] + recipe.name

    make_fat(boot_file, recipe.boot_mb, BOOT_LABEL,
             {SITE_ON_BOOT: site_bytes, "ESPACE.TXT": BOOT_README.encode()}, firmware)
    log(f"    {BOOT_LABEL}: {recipe.boot_mb} MiB FAT with the firmware and {SITE_ON_BOOT}")
    # The firmware now lives on the FAT partition; the root keeps the empty mount point.
    for p in firmware.iterdir() if firmware.is_dir() else []:
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()

    used, inodes = du_bytes(root)
    root_inodes = inodes + inodes // 10 + 1024
    root_mib = make_ext4(root_file, fitted_mib(used, root_inodes), ROOT_LABEL, root, seed,
                         inodes=root_inodes, read_only=True)
    log(f"    {ROOT_LABEL}: {root_mib} MiB ext4, no journal ({used // MiB} MiB of files)")
    make_ext4(data_file, recipe.data_mb, DATA_LABEL, None, seed, reserved=1)
    log(f"    {DATA_LABEL}: {recipe.data_mb} MiB ext4, grown to the card at first boot")

    layout = {"boot_start": FIRST_MIB, "boot_size": recipe.boot_mb}
    layout["root_start"] = layout["boot_start"] + recipe.boot_mb
    layout["root_size"] = root_mib
    layout["data_start"] = layout["root_start"] + root_mib
    layout["data_size"] = recipe.data_mb
    total = layout["data_start"] + recipe.data_mb
    img.parent.mkdir(parents=True, exist_ok=True)
    img.unlink(missing_ok=True)
    with open(img, "wb") as f:
        f.truncate(total * MiB)
    per = MiB // SECTOR
    script = (f"label: dos\nlabel-id: 0x{seed[:8]}\nunit: sectors\n\n"
              f"start={layout['boot_start'] * per}, size={layout['boot_size'] * per}, "
              "type=c, bootable\n"
              f"start={layout['root_start'] * per}, size={layout['root_size'] * per}, type=83\n"
              f"start={layout['data_start'] * per}, size={layout['data_size'] * per}, type=83\n")
    run(["sfdisk", "--quiet", str(img)], input=script)
    for name, part in (("boot", boot_file), ("root", root_file), ("data", data_file)):
        run(["dd", f"if={part}", f"of={img}", "bs=1M", f"seek={layout[name + '_start']}",
             "conv=notrunc,sparse", "status=none"])
        part.unlink()
    log(f"    {img.name}: {total} MiB, MBR with 3 partitions")
    return layout


def finish(img: Path, manifest: dict, *, compress: bool = True, xz_level: int = 3,
           log=print) -> list[Path]:
    """.bmap, .img.xz, manifest.json and SHA256SUMS beside ``img``."""
    out = [img]
    bmap = img.with_suffix(".bmap")
    run(["bmaptool", "create", "-o", str(bmap), str(img)])
    out.append(bmap)
    log(f"    {bmap.name}: block map (flashing skips the empty blocks)")
    if compress:
        xz = img.with_name(img.name + ".xz")
        xz.unlink(missing_ok=True)
        run(["xz", "-T0", f"-{xz_level}", "--keep", "--force", str(img)])
        out.append(xz)
        log(f"    {xz.name}: {xz.stat().st_size // MiB} MiB")
    mpath = img.with_name(img.stem + ".manifest.json")
    write_json(mpath, manifest)
    out.append(mpath)
    sums = img.with_name(img.stem + ".SHA256SUMS")
    lines = []
    for p in out:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(4 * MiB), b""):
                h.update(chunk)
        lines.append(f"{h.hexdigest()}  {p.name}\n")
    sums.write_text("".join(lines))
    out.append(sums)
    log(f"    {sums.name}, {mpath.name} ({len(manifest['packages'])} packages)")
    return out
