"""What makes the Pi image small and quick to build, on fixture trees: the curated
initramfs module list, kernel modules pruned (with their dependencies kept) and
xz-compressed, the copies a read-only root never reads, the venv's sources and debug
information, the root ext4 built tight."""

from __future__ import annotations

import lzma
import os
import shutil
import subprocess
from pathlib import Path

from tests.support import require_program

KVER = "6.1.0-99-arm64"


def _modules_tree(root: Path) -> Path:
    """lib/modules/KVER with a few modules and their modules.dep."""
    moddir = root / "usr/lib/modules" / KVER
    mods = {
        "kernel/drivers/gpu/drm/vc4/vc4.ko": ["kernel/drivers/gpu/drm/drm.ko"],
        "kernel/drivers/gpu/drm/drm.ko": [],
        "kernel/drivers/gpu/drm/amd/amdgpu/amdgpu.ko": ["kernel/drivers/gpu/drm/drm.ko"],
        "kernel/drivers/gpu/drm/nouveau/nouveau.ko": [],
        "kernel/drivers/infiniband/core/ib_core.ko": [],
        # a kept module that needs a pruned one: the pruned one stays
        "kernel/fs/smb/client/cifs.ko": ["kernel/drivers/infiniband/core/ib_core.ko"],
        "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko": [],
        "kernel/drivers/net/ethernet/broadcom/genet/genet.ko": [],
        "kernel/drivers/net/wireless/broadcom/brcm80211/brcmfmac/brcmfmac.ko": [],
        "kernel/drivers/net/usb/lan78xx.ko": [],
        "kernel/drivers/scsi/sd_mod.ko": [],
        "kernel/drivers/scsi/qla2xxx/qla2xxx.ko": [],
        "kernel/net/netfilter/nf_tables.ko": [],
        "kernel/sound/pci/hda/snd-hda-intel.ko": [],
        "kernel/sound/usb/snd-usb-audio.ko": [],
    }
    for rel in mods:
        (moddir / rel).parent.mkdir(parents=True, exist_ok=True)
        (moddir / rel).write_bytes(b"\x7fELF module " + rel.encode() * 50)
    (moddir / "modules.dep").write_text(
        "".join(f"{m}: {' '.join(d)}\n" for m, d in mods.items()))
    return moddir


def test_prune_modules_drops_what_a_pi_cannot_have_and_keeps_dependencies(tmp_path):
    from image_build.rootfs import module_dirs, prune_modules

    moddir = _modules_tree(tmp_path)
    assert module_dirs(tmp_path) == [moddir]
    removed, freed = prune_modules(moddir)
    left = {str(p.relative_to(moddir)) for p in moddir.rglob("*.ko")}
    assert left == {
        "kernel/drivers/gpu/drm/vc4/vc4.ko", "kernel/drivers/gpu/drm/drm.ko",
        "kernel/drivers/infiniband/core/ib_core.ko",  # cifs needs it
        "kernel/fs/smb/client/cifs.ko",
        "kernel/drivers/net/ethernet/broadcom/genet/genet.ko",  # the Pi 4's Ethernet
        "kernel/drivers/net/wireless/broadcom/brcm80211/brcmfmac/brcmfmac.ko",
        "kernel/drivers/net/usb/lan78xx.ko", "kernel/drivers/scsi/sd_mod.ko",
        "kernel/net/netfilter/nf_tables.ko", "kernel/sound/usb/snd-usb-audio.ko"}
    assert removed == 5 and freed > 0
    # empty directories go too
    assert not (moddir / "kernel/drivers/gpu/drm/amd").exists()
    assert not (moddir / "kernel/drivers/net/ethernet/intel").exists()


def test_prune_patterns_cover_trees_not_names():
    from image_build.rootfs import MODULE_KEEP, MODULE_PRUNE, _matches

    assert _matches("drivers/net/ethernet/intel/e1000e/e1000e.ko", MODULE_PRUNE)
    assert _matches("drivers/net/ethernet/broadcom/genet/genet.ko", MODULE_KEEP)
    # a module file directly in a pruned pattern's parent is not a tree under it
    assert not _matches("drivers/net/ethernet/jme.ko", MODULE_PRUNE)
    assert not _matches("drivers/gpu/drm/amdgpu_helper.ko", MODULE_PRUNE)
    for kept in ("drivers/net/wireless/realtek/rtl8xxxu/rtl8xxxu.ko",
                 "drivers/net/usb/rtl8150.ko", "drivers/staging/r8188eu/r8188eu.ko",
                 "net/netfilter/nf_tables.ko", "fs/exfat/exfat.ko", "fs/fat/vfat.ko",
                 "drivers/gpu/drm/vc4/vc4.ko", "drivers/gpu/drm/v3d/v3d.ko",
                 "drivers/gpu/drm/panel/panel-raspberrypi-touchscreen.ko",
                 "drivers/input/touchscreen/edt-ft5x06.ko", "sound/soc/bcm/snd-soc-bcm2835-i2s.ko",
                 "drivers/mmc/host/sdhci-iproc.ko", "drivers/usb/dwc2/dwc2.ko",
                 "drivers/virtio/virtio_mmio.ko", "drivers/block/virtio_blk.ko"):
        assert not _matches(kept, MODULE_PRUNE), kept


def test_modules_are_xz_compressed_as_the_kernel_does(tmp_path):
    from image_build.rootfs import compress_modules

    moddir = _modules_tree(tmp_path)
    ko = moddir / "kernel/drivers/net/usb/lan78xx.ko"
    data = ko.read_bytes()
    ko.chmod(0o600)
    before, after = compress_modules(moddir)
    assert not list(moddir.rglob("*.ko"))
    xz = ko.with_name("lan78xx.ko.xz")
    assert lzma.decompress(xz.read_bytes()) == data
    # stream flags: CRC32 check (what the kernel's modules_install writes)
    assert xz.read_bytes()[6:8] == b"\x00\x01"
    assert (xz.stat().st_mode & 0o777) == 0o600
    assert before > after > 0


def test_slim_kernel_drops_the_copies_on_the_fat_side(tmp_path, monkeypatch):
    from image_build import rootfs

    root = tmp_path / "root"
    moddir = _modules_tree(root)
    dtbs = root / "usr/lib" / f"linux-image-{KVER}"
    for vendor in ("broadcom", "rockchip", "qcom"):
        (dtbs / vendor).mkdir(parents=True)
        (dtbs / vendor / f"{vendor}-board.dtb").write_bytes(b"dtb")
    (root / "usr/lib/raspi-firmware").mkdir(parents=True)
    (root / "usr/lib/raspi-firmware/start4.elf").write_bytes(b"fw")
    ran = []
    monkeypatch.setattr(rootfs, "depmod", lambda r, m: ran.append((r, m.name)))
    lines = []
    rootfs.slim_kernel(root, log=lines.append)
    assert ran == [(root, KVER)]
    assert sorted(p.name for p in dtbs.iterdir()) == ["broadcom"]
    assert not (root / "usr/lib/raspi-firmware").exists()
    assert not list(moddir.rglob("*.ko")) and list(moddir.rglob("*.ko.xz"))
    assert "5 pruned" in lines[0] and "xz-compressed" in lines[0]


def _a_real_module(tmp_path: Path) -> Path | None:
    """loop.ko from the host's kernel, else from a kernel package in the builder's apt
    cache (a previous Pi build), uncompressed."""
    host = Path("/lib/modules") / os.uname().release
    found = sorted(host.rglob("loop.ko*")) if host.is_dir() else []
    if found:
        src = found[0]
        data = src.read_bytes()
        if src.suffix == ".xz":
            data = lzma.decompress(data)
        elif src.suffix == ".zst":
            data = subprocess.run(["zstd", "-dc", str(src)], capture_output=True,
                                  check=True).stdout
        out = tmp_path / "loop.ko"
        out.write_bytes(data)
        return out
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "espace-image"
    for deb in sorted(cache.glob("apt-*/linux-image-[0-9]*.deb")):
        x = tmp_path / "deb"
        x.mkdir(exist_ok=True)
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(x), "--wildcards", "*/block/loop.ko"],
                       input=tar.stdout, capture_output=True)
        found = sorted(x.rglob("loop.ko"))
        if found:
            return found[0]
    return None


def _a_made_module(tmp_path: Path) -> Path:
    """A minimal relocatable ELF with a .modinfo section, made with binutils: what
    depmod reads of a module (a fresh CI machine has no kernel modules at all)."""
    require_program("objcopy", "binutils")
    obj, info, ko = tmp_path / "m.o", tmp_path / "modinfo", tmp_path / "made" / "loop.ko"
    ko.parent.mkdir()
    subprocess.run(["as", "-o", str(obj), "/dev/null"], check=True)
    info.write_bytes(b"license=GPL\0depends=\0name=loop\0"
                     b"vermagic=" + KVER.encode() + b" SMP mod_unload\0alias=fs-espacetest\0")
    subprocess.run(["objcopy", "--add-section", f".modinfo={info}", "--set-section-flags",
                    ".modinfo=alloc,readonly", str(obj), str(ko)], check=True)
    return ko


def test_depmod_indexes_compressed_modules(tmp_path):
    require_program("depmod", "kmod")
    from image_build.rootfs import compress_modules, depmod

    src = _a_real_module(tmp_path) or _a_made_module(tmp_path)
    moddir = tmp_path / "root/lib/modules" / KVER
    (moddir / "kernel").mkdir(parents=True)
    shutil.copy(src, moddir / "kernel/loop.ko")
    (moddir / "modules.dep").write_text("")
    compress_modules(moddir)
    depmod(tmp_path / "root", moddir)
    assert "kernel/loop.ko.xz:" in (moddir / "modules.dep").read_text()
    assert (moddir / "modules.alias.bin").exists()
    if src.parent.name == "made":
        assert "alias fs-espacetest loop" in (moddir / "modules.alias").read_text()


def test_initramfs_takes_only_the_curated_modules(tmp_path):
    from image_build import recipe, rootfs

    pre = rootfs.pre_tree(recipe.pi(), tmp_path / "pre")
    conf = (pre / "etc/initramfs-tools/conf.d/espace-modules").read_text()
    assert "MODULES=list" in conf.splitlines()
    text = (pre / "etc/initramfs-tools/modules").read_text()
    listed = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    names = [m for m, _ in rootfs.INITRAMFS_MODULES]
    assert listed == names
    for must in ("bcm2835", "sdhci-iproc", "dwc2", "xhci-pci", "usb-storage", "uas", "ext4",
                 "overlay", "crc32c_generic", "virtio_blk", "virtio_pci", "virtio_mmio"):
        assert must in names
    for name, why in rootfs.INITRAMFS_MODULES:  # each says why it is there
        assert f"# {name}: {why}" in text and len(why) > 10
    # the reduced image has no kernel, so no initramfs settings
    red = rootfs.pre_tree(recipe.reduced(), tmp_path / "red")
    assert not (red / "etc/initramfs-tools").exists()


def test_venv_loses_sources_stubs_and_debug_info(tmp_path):
    from image_build import python_env
    from image_build.recipe import debian_arch

    site = tmp_path / "site-packages"
    (site / "libzim").mkdir(parents=True)
    for name in ("libzim.cpp", "libzim.pyx", "libzim.h", "reader.pyi", "__init__.py"):
        (site / "libzim" / name).write_text("x" * 100)
    (site / "pkg").mkdir()
    (site / "pkg" / "data.json").write_text("{}")
    # a real shared library of the host's architecture, with its debug information
    so = next((p for p in (Path(python_env.__file__).resolve().parents[1] / ".venv")
               .rglob("*.so") if p.is_file()), None)
    strip = shutil.which(python_env.strip_program(debian_arch()))
    if so is not None:
        shutil.copy(so, site / "pkg" / "_speedups.so")
        # a debug section to strip, whatever the wheel shipped
        if strip and shutil.which("objcopy"):
            note = tmp_path / "note"
            note.write_bytes(b"d" * 50000)
            subprocess.run(["objcopy", f"--add-section=.debug_espace={note}",
                            str(site / "pkg" / "_speedups.so")], check=True)
    before = (site / "pkg" / "_speedups.so").stat().st_size if so else 0
    removed, freed = python_env.slim_site_packages(site, debian_arch())
    assert sorted(p.name for p in (site / "libzim").iterdir()) == ["__init__.py"]
    assert removed == 4 and (site / "pkg" / "data.json").exists()
    if so is not None and strip:
        after = (site / "pkg" / "_speedups.so").stat().st_size
        assert after < before - 40000 and freed >= 400 + before - after
        assert (site / "pkg" / "_speedups.so").read_bytes()[:4] == b"\x7fELF"


def test_root_ext4_is_built_tight_and_grows_when_the_guess_is_short(tmp_path):
    require_program("mkfs.ext4", "e2fsprogs")
    from image_build.assemble import du_bytes, fitted_mib, make_ext4

    tree = tmp_path / "tree"
    (tree / "usr/lib").mkdir(parents=True)
    for i in range(40):
        (tree / "usr/lib" / f"f{i}").write_bytes(os.urandom(200_000))
    used, inodes = du_bytes(tree)
    guess = fitted_mib(used, inodes + 1024)
    mib = make_ext4(tmp_path / "r.ext4", guess, "espace-root", tree, "seed",
                    inodes=inodes + 1024, read_only=True)
    assert mib <= guess and mib * (1 << 20) < used * 1.5
    # a guess far too small still gives a file system with every file
    mib2 = make_ext4(tmp_path / "s.ext4", 2, "espace-root", tree, "seed",
                     inodes=inodes + 1024, read_only=True)
    assert mib2 <= mib + 4
    r = subprocess.run(["e2fsck", "-fn", str(tmp_path / "s.ext4")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout
    ls = subprocess.run(["debugfs", "-R", "ls -l /usr/lib", str(tmp_path / "s.ext4")],
                        capture_output=True, text=True).stdout
    assert ls.count(" 200000 ") == 40


def test_firmware_kept_is_what_usb_sdio_and_board_drivers_name(tmp_path):
    from image_build.rootfs import compress_modules, module_firmware

    moddir = tmp_path / "lib/modules" / KVER
    (moddir / "kernel").mkdir(parents=True)
    mods = {
        "rt2800usb.ko": b"\0alias=usb:v148Fp5370d*\0firmware=rt2870.bin\0",
        "mt76x2u.ko": b"\0firmware=mt7662_rom_patch.bin\0firmware=mt7662.bin\0"
                      b"alias=usb:v0E8Dp7612d*\0",
        "brcmfmac.ko": b"\0firmware=brcm/brcmfmac43455-sdio.bin\0alias=sdio:c*v02D0d4345*\0",
        "vc4.ko": b"\0firmware=vc4/fake.bin\0alias=of:N*T*Cbrcm,bcm2835-vc4\0",
        "ath10k_pci.ko": b"\0firmware=ath10k/QCA988X/hw2.0/firmware-5.bin\0"
                         b"alias=pci:v0000168Cd0000003Csv*\0",  # PCIe only: no Pi has it
        "btlib.ko": b"\0firmware=rtl_bt/rtl8761b_fw.bin\0",  # a library: no alias
    }
    for name, info in mods.items():
        (moddir / "kernel" / name).write_bytes(b"\x7fELF" + b"x" * 100 + info + b"y" * 50)
    compress_modules(moddir)  # .ko.xz are read too
    assert module_firmware(moddir) == {
        "rt2870.bin", "mt7662_rom_patch.bin", "mt7662.bin", "brcm/brcmfmac43455-sdio.bin",
        "vc4/fake.bin", "rtl_bt/rtl8761b_fw.bin"}


def test_prune_firmware_only_touches_the_listed_packages(tmp_path):
    from image_build.rootfs import prune_firmware

    root = tmp_path / "root"
    fw = root / "usr/lib/firmware"
    (root / "lib").parent.mkdir(parents=True, exist_ok=True)
    fw.mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")  # merged /usr: dpkg lists say /lib/firmware
    files = {"rt2870.bin": "firmware-misc-nonfree", "mt7662.bin": "firmware-misc-nonfree",
             "mediatek/mt7662.bin": "firmware-misc-nonfree",
             "i915/skl_dmc.bin": "firmware-misc-nonfree",
             "ath10k/QCA988X/hw2.0/firmware-5.bin": "firmware-atheros",
             "ath9k_htc/htc_9271-1.4.0.fw": "firmware-atheros",
             "brcm/brcmfmac43455-sdio.bin": "firmware-brcm80211",
             "brcm/brcmfmac43430-sdio.raspberrypi,3-model-b.txt": "firmware-brcm80211"}
    lists: dict[str, list[str]] = {}
    for rel, pkg in files.items():
        (fw / rel).parent.mkdir(parents=True, exist_ok=True)
        (fw / rel).write_bytes(b"f" * 1000)
        lists.setdefault(pkg, ["/lib/firmware"]).append(f"/lib/firmware/{rel}")
    # a kept name that is a link into a directory the package also ships
    (fw / "mt7662_rom_patch.bin").symlink_to("mediatek/mt7662_rom_patch.bin")
    (fw / "mediatek/mt7662_rom_patch.bin").write_bytes(b"p" * 10)
    lists["firmware-misc-nonfree"] += ["/lib/firmware/mt7662_rom_patch.bin",
                                       "/lib/firmware/mediatek",
                                       "/lib/firmware/mediatek/mt7662_rom_patch.bin",
                                       "/lib/firmware/i915"]
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    for pkg, lines in lists.items():
        (info / f"{pkg}.list").write_text("\n".join(lines) + "\n")
    keep = {"rt2870.bin", "mt7662.bin", "mt7662_rom_patch.bin", "ath9k_htc/htc_9271-1.4.0.fw",
            "brcm/brcmfmac43455-sdio.bin"}
    removed, freed = prune_firmware(root, keep)
    left = sorted(str(p.relative_to(fw)) for p in fw.rglob("*") if not p.is_dir())
    assert left == sorted([
        "rt2870.bin", "mt7662.bin", "mt7662_rom_patch.bin", "mediatek/mt7662_rom_patch.bin",
        "ath9k_htc/htc_9271-1.4.0.fw",
        # firmware-brcm80211 is not pruned, even what no module names (the per-board .txt)
        "brcm/brcmfmac43455-sdio.bin", "brcm/brcmfmac43430-sdio.raspberrypi,3-model-b.txt"])
    assert removed == 3 and freed == 3000
    assert not (fw / "i915").exists() and not (fw / "ath10k").exists()
