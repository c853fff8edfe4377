"""The builder's pieces without building: the plan and its checks, flashing's refusals
(fixture /sys trees), block-map verification, the boot steps on a fixture root."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support import make_site


def _site_file(tmp_path: Path, extra: str = "") -> Path:
    p = tmp_path / "site.toml"
    p.write_text('[site]\nid = "nioro-du-sahel"\nname = "Espace de Nioro"\n'
                 'communes = ["Nioro"]\n' + extra)
    return p


# --- plan and preflight -----------------------------------------------------------------


def test_dry_run_prints_the_plan_and_builds_nothing(tmp_path):
    from click.testing import CliRunner

    from appliance.cli import cli

    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["image", "build", "--site", str(_site_file(tmp_path)),
                                 "--out", str(out), "--dry-run"])
    assert r.exit_code == 0, r.output
    for i, stage in enumerate(("wheels", "rootfs", "espace", "assemble", "outputs"), 1):
        assert f"[{i}/5] {stage}:" in r.output
    assert "mmdebstrap --variant=minbase --architectures=arm64" in r.output
    assert "non-free-firmware" in r.output and "raspi-firmware" in r.output
    assert not out.exists()


def test_bad_site_file_stops_before_anything(tmp_path):
    bad = tmp_path / "site.toml"
    bad.write_text('[site]\nid = "x"\n')
    r = subprocess.run([sys.executable, "-c", "from appliance.cli import main; main()",
                        "image", "build", "--site", str(bad), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "site.id" in r.stderr and not (tmp_path / "o").exists()


def test_preflight_names_packages_and_space(tmp_path):
    from image_build import recipe
    from image_build.build import Options, preflight

    opts = Options(site_path=tmp_path / "s.toml", out_dir=tmp_path)
    problems = preflight(opts, recipe.pi(), which=lambda p: None, free_mib=lambda p: 100,
                         euid=1000, binfmt=lambda a: False)
    text = "\n".join(problems)
    assert "apt-get install binutils-aarch64-linux-gnu bmap-tools dosfstools dpkg e2fsprogs " \
           "fdisk kmod mmdebstrap mtools xz-utils" in text
    assert "qemu-user-static binfmt-support" in text
    assert "must run as root" in text
    assert "100 MiB free, 7000 MiB needed" in text
    ok = preflight(opts, recipe.pi(), which=lambda p: "/usr/bin/" + p,
                   free_mib=lambda p: 10**6, euid=0, binfmt=lambda a: False)
    assert ok == ["qemu-aarch64 is not registered with binfmt_misc: apt-get install "
                  "binfmt-support, then update-binfmts --enable qemu-aarch64 (mount "
                  "binfmt_misc on /proc/sys/fs/binfmt_misc first if it is empty)"]
    assert preflight(opts, recipe.pi(), which=lambda p: "/usr/bin/" + p,
                     free_mib=lambda p: 10**6, euid=0, binfmt=lambda a: True) == []


def test_preflight_names_arch_test_for_a_foreign_build(tmp_path):
    """mmdebstrap stopped 3.5 s into a build on a host without arch-test (issue 21)."""
    from image_build import recipe
    from image_build.build import Options, preflight

    opts = Options(site_path=tmp_path / "s.toml", out_dir=tmp_path)
    problems = preflight(opts, recipe.pi(), which=lambda p: None if p == "arch-test" else p,
                         free_mib=lambda p: 10**6, euid=0, binfmt=lambda a: True)
    assert problems == ["missing programs: apt-get install arch-test (mmdebstrap's check "
                        "that arm64 programs run here)"]


def test_boot_preflight_names_every_package_the_qemu_boot_needs():
    """The bench's qemu boot failed after a full build (issue 21): the check looked for
    /usr/share/qemu/efi-virtio.rom, which no bookworm package provides there."""
    from image_build.build import boot_preflight

    assert boot_preflight(which=lambda p: None) == [
        "to boot the image in qemu (bench/image.py): apt-get install device-tree-compiler "
        "initramfs-tools-core openssh-client qemu-system-arm zstd"]
    assert boot_preflight(which=lambda p: p) == []


def test_bench_qemu_needs_no_network_option_rom(tmp_path):
    """bench/image.py's qemu command line turns the network card's option ROM off, so it
    starts without efi-virtio.rom (ipxe-qemu, a recommends of qemu-system-arm); the same
    line asking for a ROM that is not there fails (the check can fail)."""
    import importlib.util

    from tests.support import require_program

    require_program("qemu-system-aarch64", "qemu-system-arm")
    spec = importlib.util.spec_from_file_location(
        "bench_image", Path(__file__).resolve().parents[2] / "bench/image.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    disk = tmp_path / "card.img"
    disk.write_bytes(b"\0" * 1024 * 1024)
    argv = bench.qemu_argv(tmp_path / "vmlinuz", tmp_path / "initrd.img", disk, mem_mib=128,
                           forwards={}, console=tmp_path / "console.log")
    assert "virtio-net-pci,netdev=n0,romfile=" in argv
    # A kernel that never runs: -S keeps the CPU stopped once every device is made, and
    # the monitor's "quit" ends it. A device that cannot be made stops qemu before that.
    for name in ("vmlinuz", "initrd.img"):
        (tmp_path / name).write_bytes(b"\0" * 4096)
    argv[argv.index("-monitor") + 1] = "stdio"
    argv.append("-S")
    ok = subprocess.run(argv, input="quit\n", capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    argv[argv.index("virtio-net-pci,netdev=n0,romfile=")] = (
        f"virtio-net-pci,netdev=n0,romfile={tmp_path}/efi-virtio.rom")
    missing = subprocess.run(argv, input="quit\n", capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0
    assert "efi-virtio.rom" in missing.stderr


def test_every_host_package_is_in_the_docs():
    from image_build.build import BOOT_TOOLS, TOOLS

    docs = (Path(__file__).resolve().parents[2] / "docs/image.md").read_text()
    for _, package in [*TOOLS, *BOOT_TOOLS, ("", "arch-test"), ("", "qemu-user-static"),
                       ("", "binfmt-support"), ("", "binutils-aarch64-linux-gnu"),
                       ("", "kmod")]:
        assert package in docs, package


def test_binfmt_entry_is_read(tmp_path):
    from image_build.build import binfmt_ok

    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/libexec/x\n")
    assert binfmt_ok("arm64", tmp_path)
    (tmp_path / "qemu-aarch64").write_text("disabled\n")
    assert not binfmt_ok("arm64", tmp_path)
    assert not binfmt_ok("armhf", tmp_path)


def test_pi_recipe_has_what_the_issue_lists():
    from image_build import recipe

    pi = recipe.pi()
    for pkg in ("raspi-firmware", "linux-image-arm64", "firmware-brcm80211", "wireless-regdb",
                "hostapd", "dnsmasq", "nftables", "cage", "chromium", "python3",
                "systemd-sysv", "openssh-server", "e2fsprogs"):
        assert pkg in pi.packages
    assert pi.components == ("main", "non-free-firmware") and pi.arch == "arm64"
    reduced = recipe.reduced("x86_64")
    assert reduced.arch == "amd64" and "raspi-firmware" not in reduced.packages
    assert set(reduced.packages) < set(pi.packages)
    headless = recipe.get("pi-headless")
    assert "chromium" not in headless.packages and "cage" not in headless.packages
    assert "chromium-l10n" in pi.packages and "chromium-l10n" not in headless.packages
    assert "hostapd" in headless.packages and headless.kernel


def test_kiosk_chromium_speaks_french_and_keeps_only_that_translation():
    from image_build import files, rootfs

    exec_line = next(ln for ln in files.KIOSK_UNIT.splitlines() if ln.startswith("ExecStart="))
    assert "--lang=fr" in exec_line.split()
    ex = rootfs.DPKG_EXCLUDES
    i = ex.index("path-exclude=/usr/lib/chromium/locales/*")
    assert "path-include=/usr/lib/chromium/locales/fr.pak" in ex[i + 1:]
    assert "path-include=/usr/lib/chromium/locales/en-US.pak" in ex[i + 1:]


def test_wheel_pins_come_from_this_environment():
    from importlib import metadata

    from image_build.python_env import pins

    p = pins()
    assert p["flask"] == metadata.version("flask")
    assert "pytest" not in p  # test extras stay out of the image


# --- flashing: refusals on fixture /sys trees ------------------------------------------


def _sys_tree(tmp_path: Path) -> Path:
    sys_root = tmp_path / "sys"
    for name, dev, parts in (("sda", "8:0", [("sda1", "8:1"), ("sda2", "8:2")]),
                             ("sdb", "8:16", [("sdb1", "8:17")])):
        d = sys_root / "devices/pci0/block" / name
        d.mkdir(parents=True)
        (d / "dev").write_text(dev + "\n")
        (d / "size").write_text(str(32 * 10**9 // 512) + "\n")
        (d / "removable").write_text("1\n" if name == "sdb" else "0\n")
        (d / "device").mkdir()
        (d / "device/vendor").write_text("Generic \n")
        (d / "device/model").write_text("SD Reader\n" if name == "sdb" else "SSD\n")
        (sys_root / "dev/block").mkdir(parents=True, exist_ok=True)
        os.symlink(d, sys_root / "dev/block" / dev)
        for part, pdev in parts:
            (d / part).mkdir()
            (d / part / "partition").write_text("1\n")
            (d / part / "dev").write_text(pdev + "\n")
            os.symlink(d / part, sys_root / "dev/block" / pdev)
    return sys_root


def _blk(major: int, minor: int):
    def fake_stat(path):
        return SimpleNamespace(st_mode=stat.S_IFBLK | 0o660, st_rdev=os.makedev(major, minor))
    return fake_stat


MOUNTS = ("22 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw\n"
          "23 22 8:1 / /boot/efi rw - vfat /dev/sda1 rw\n")


def test_flash_refuses_the_system_disk(tmp_path):
    from image_build.errors import FlashRefused
    from image_build.flash import refuse

    with pytest.raises(FlashRefused, match="holds the running system"):
        refuse(Path("/dev/sda"), sys_root=_sys_tree(tmp_path), mountinfo=MOUNTS,
               stat_fn=_blk(8, 0))


def test_flash_refuses_a_mounted_card_and_a_partition(tmp_path):
    from image_build.errors import FlashRefused
    from image_build.flash import refuse

    sys_root = _sys_tree(tmp_path)
    mounts = MOUNTS + "40 22 8:17 / /media/tech/ESPACEBOOT rw - vfat /dev/sdb1 rw\n"
    with pytest.raises(FlashRefused, match=r"umount /dev/sdb1"):
        refuse(Path("/dev/sdb"), sys_root=sys_root, mountinfo=mounts, stat_fn=_blk(8, 16))
    with pytest.raises(FlashRefused, match="give the whole device: /dev/sdb"):
        refuse(Path("/dev/sdb1"), sys_root=sys_root, mountinfo=MOUNTS, stat_fn=_blk(8, 17))


def test_flash_refuses_non_devices_and_small_cards(tmp_path):
    from image_build.errors import FlashRefused
    from image_build.flash import describe, refuse

    f = tmp_path / "file.img"
    f.write_bytes(b"x")
    with pytest.raises(FlashRefused, match="not a block device"):
        refuse(f)
    with pytest.raises(FlashRefused, match="no such device"):
        refuse(tmp_path / "nope")
    sys_root = _sys_tree(tmp_path)
    info = refuse(Path("/dev/sdb"), sys_root=sys_root, mountinfo=MOUNTS, stat_fn=_blk(8, 16))
    assert describe(info) == "/dev/sdb: Generic SD Reader, 32.0 GB, removable"
    with pytest.raises(FlashRefused, match="smaller than the image"):
        refuse(Path("/dev/sdb"), sys_root=sys_root, mountinfo=MOUNTS, stat_fn=_blk(8, 16),
               image_size=64 * 10**9)


def test_flash_cli_shows_the_card_and_asks(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from appliance.cli import cli
    from image_build import flash

    img = tmp_path / "a.img"
    img.write_bytes(b"\0" * 4096)
    monkeypatch.setattr(flash, "refuse", lambda dev, **kw: flash.Device(str(dev), "sdb",
                                                                  "Generic SD", 16 * 10**9,
                                                                  True))
    wrote = []
    monkeypatch.setattr(flash, "flash_image", lambda *a, **k: wrote.append(a))
    r = CliRunner().invoke(cli, ["image", "flash", str(img), "/dev/sdb"], input="n\n")
    assert "Generic SD, 16.0 GB, removable" in r.output and r.exit_code == 1 and not wrote
    r = CliRunner().invoke(cli, ["image", "flash", str(img), "/dev/sdb"], input="y\n")
    assert r.exit_code == 0 and wrote


def test_bmap_verification_reads_back_mapped_ranges(tmp_path):
    from image_build.errors import ImageError
    from image_build.flash import verify

    img = tmp_path / "a.img"
    with open(img, "wb") as f:
        f.truncate(64 * 4096)
        f.seek(4096 * 3)
        f.write(os.urandom(4096 * 2))
    bmap = tmp_path / "a.bmap"
    subprocess.run(["bmaptool", "create", "-o", str(bmap), str(img)], check=True,
                   capture_output=True)
    assert verify(img, bmap, log=lambda m: None) == 2 * 4096
    from image_build.flash import bmap_for, image_size

    assert bmap_for(tmp_path / "a.img.xz") == bmap_for(img) == bmap
    assert image_size(bmap) == 64 * 4096
    with open(img, "r+b") as f:
        f.seek(4096 * 4 + 10)
        f.write(b"corrupt")
    with pytest.raises(ImageError, match="verification failed"):
        verify(img, bmap, log=lambda m: None)


# --- boot steps on a fixture root ------------------------------------------------------


def _site(tmp_path, **sections):
    from appliance import settings

    return settings.validate(make_site(tmp_path, **sections), str(tmp_path / "site.toml"))


def test_apply_site_writes_hostname_keys_rendered_config_and_network(tmp_path):
    from image_build.boot import apply_site

    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake tech@kayes"
    site = _site(tmp_path, fleet={"ssh_keys": [key]}, hotspot={"interface": "wlan0"})
    root = tmp_path / "root"
    written = apply_site(site, root)
    assert (root / "etc/hostname").read_text() == "espace-test-site\n"
    assert (root / "etc/espace/authorized_keys/root").read_text() == key + "\n"
    net = (root / "etc/systemd/network/10-espace-hotspot.network").read_text()
    assert "Name=wlan0" in net and "Address=10.42.0.1/24" in net
    assert "DHCP=yes" in (root / "etc/systemd/network/20-espace-uplink.network").read_text()
    # The hotspot's own files come from provisioning.render.render_system.
    assert (root / "etc/hostapd/hostapd.conf").exists()
    assert all(p.is_relative_to(root) for p in written)
    apply_site(site, root)  # idempotent


def test_host_keys_made_once(tmp_path):
    from image_build.boot import ensure_host_keys

    pubs = ensure_host_keys(tmp_path)
    first = [p.read_text() for p in pubs]
    assert [p.name for p in pubs] == ["ssh_host_ed25519_key.pub", "ssh_host_rsa_key.pub"]
    assert oct((tmp_path / "ssh/ssh_host_ed25519_key").stat().st_mode & 0o777) == "0o600"
    assert [p.read_text() for p in ensure_host_keys(tmp_path)] == first


def test_identity_is_the_database_box_id(tmp_path):
    from appliance.db import database
    from image_build.boot import ensure_host_keys, ensure_identity

    site = _site(tmp_path)
    ensure_host_keys(site.data_dir)
    try:
        ident = ensure_identity(site)
    finally:
        database.close()
    text = (site.data_dir / "identity.txt").read_text()
    assert f"box_id={ident['box_id']}" in text and len(ident["box_id"]) == 36
    assert "ssh_ed25519=SHA256:" in text


def test_grow_data_partition_uses_the_labelled_partition(tmp_path):
    from image_build.boot import grow_data_partition

    root = tmp_path
    (root / "dev/disk/by-label").mkdir(parents=True)
    (root / "dev/mmcblk0p3").write_text("")
    os.symlink(root / "dev/mmcblk0p3", root / "dev/disk/by-label/espace-data")
    disk = root / "sys/devices/mmc/block/mmcblk0"
    (disk / "mmcblk0p3").mkdir(parents=True)
    (disk / "mmcblk0p3/partition").write_text("3\n")
    (root / "sys/class/block").mkdir(parents=True)
    os.symlink(disk / "mmcblk0p3", root / "sys/class/block/mmcblk0p3")
    calls = []

    def run(argv, **kw):
        calls.append(argv)
        out = ""
        if argv[:2] == ["sfdisk", "--dump"]:
            out = f"{root}/dev/mmcblk0p3 : start= 1054720, size= 60000000, type=83\n"
        return SimpleNamespace(stdout=out)

    msg = grow_data_partition(root, run=run)
    assert calls[0] == ["sfdisk", "--no-reread", "--no-tell-kernel", "-N", "3", "/dev/mmcblk0"]
    assert ["resizepart", "/dev/mmcblk0", "3", "60000000"] in calls
    assert calls[-1] == ["resize2fs", str(root / "dev/mmcblk0p3")]
    assert "grown" in msg
    assert "not grown" in grow_data_partition(tmp_path / "empty", run=run)


def test_enable_unit_follows_install_section(tmp_path):
    from image_build import files
    from image_build.rootfs import enable_unit

    unit = tmp_path / "usr/lib/systemd/system/espace-boot.service"
    unit.parent.mkdir(parents=True)
    unit.write_text(files.BOOT_UNIT)
    (link,) = enable_unit(tmp_path, "espace-boot.service")
    assert link == tmp_path / "etc/systemd/system/sysinit.target.wants/espace-boot.service"
    assert os.readlink(link) == "/usr/lib/systemd/system/espace-boot.service"
    assert enable_unit(tmp_path, "missing.service") == []


def test_same_source_same_digest():
    from image_build.python_env import source_digest

    assert source_digest() == source_digest()
    assert len(source_digest()) == len(hashlib.sha256().hexdigest())


def test_flash_onto_a_loop_device_writes_and_verifies(tmp_path):
    """A real block device (a loop device over a file): refuse() reads the real /sys and
    mounts, bmaptool writes, the read-back matches."""
    from tests.support import require_program, require_root

    require_root("loop devices")
    require_program("losetup", "mount")
    require_program("bmaptool", "bmap-tools")
    from image_build.flash import flash_image, refuse

    img = tmp_path / "small.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
        f.seek(1 << 20)
        f.write(os.urandom(256 << 10))
    subprocess.run(["bmaptool", "create", "-o", str(tmp_path / "small.bmap"), str(img)],
                   check=True, capture_output=True)
    card = tmp_path / "card"
    with open(card, "wb") as f:
        f.truncate(16 << 20)
    dev = subprocess.run(["losetup", "-f", "--show", str(card)], capture_output=True,
                         text=True, check=True).stdout.strip()
    try:
        info = refuse(Path(dev), image_size=img.stat().st_size)
        assert info.size == 16 << 20
        lines = []
        flash_image(img, Path(dev), log=lines.append)
        assert lines[-2] == "verified 0.2 MiB against the block map"  # 256 KiB of data
        assert lines[-1].startswith("done")
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)
    with open(card, "rb") as c, open(img, "rb") as i:
        c.seek(1 << 20)
        i.seek(1 << 20)
        assert c.read(256 << 10) == i.read(256 << 10)


def test_babel_pruned_to_the_locales_we_format_with(tmp_path):
    from babel import Locale

    from appliance.languages import LANGUAGES
    from image_build.python_env import babel_keep, prune_babel

    data = tmp_path / "babel" / "locale-data"
    data.mkdir(parents=True)
    for name in ("root", "fr", "fr_ML", "en", "en_US_POSIX", "bm", "ff_Latn_SN", "ar",
                 "ar_MR", "de", "zh_Hant_TW"):
        (data / f"{name}.dat").write_bytes(b"x" * 10)
    assert prune_babel(tmp_path) == 20
    assert sorted(p.stem for p in data.iterdir()) == [
        "ar", "ar_MR", "bm", "en", "en_US_POSIX", "ff_Latn_SN", "fr", "fr_ML", "root"]
    for lang in LANGUAGES.values():  # every formats locale is real and kept
        assert Locale.parse(lang.formats).language in babel_keep()


def test_read_only_root_is_shrunk_without_journal(tmp_path):
    from tests.support import require_program

    require_program("mkfs.ext4", "e2fsprogs")
    from image_build.assemble import du_bytes, make_ext4

    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc/hostname").write_text("espace\n")
    (tree / "big").write_bytes(os.urandom(3 << 20))
    used, inodes = du_bytes(tree)
    mib = make_ext4(tmp_path / "r.ext4", 200, "espace-root", tree, "seed",
                    inodes=inodes + 1024, read_only=True)
    assert mib < 20 and (tmp_path / "r.ext4").stat().st_size == mib << 20
    header = subprocess.run(["dumpe2fs", "-h", str(tmp_path / "r.ext4")], capture_output=True,
                            text=True).stdout
    assert "has_journal" not in header
    out = subprocess.run(["debugfs", "-R", "cat /etc/hostname", str(tmp_path / "r.ext4")],
                         capture_output=True, text=True).stdout
    assert out == "espace\n"


# --- flashing: what the first refusals missed (issue 21) -------------------------------


def _dm(sys_root: Path, part: str, dm: str, devnum: str, uuid: str, name: str) -> None:
    """A device-mapper device (LVM or LUKS) stacked on ``part`` of sda."""
    d = sys_root / "devices/virtual/block" / dm
    (d / "dm").mkdir(parents=True)
    (d / "dev").write_text(devnum + "\n")
    (d / "dm/uuid").write_text(uuid + "\n")
    (d / "dm/name").write_text(name + "\n")
    holders = sys_root / "devices/pci0/block/sda" / part / "holders"
    holders.mkdir(exist_ok=True)
    os.symlink(d, holders / dm)


def test_flash_refuses_a_btrfs_mount_found_by_its_source(tmp_path):
    """btrfs shows an anonymous 0:N device number in mountinfo: only the source names
    the partition."""
    from image_build.errors import FlashRefused
    from image_build.flash import refuse

    mounts = MOUNTS + "41 22 0:45 / /media/tech/data rw - btrfs /dev/sdb1 rw,space_cache\n"
    with pytest.raises(FlashRefused, match=r"/dev/sdb1 is mounted on /media/tech/data"):
        refuse(Path("/dev/sdb"), sys_root=_sys_tree(tmp_path), mountinfo=mounts,
               stat_fn=_blk(8, 16), swaps="")


def test_flash_refuses_a_swap_partition(tmp_path):
    from image_build.errors import FlashRefused
    from image_build.flash import refuse

    swaps = ("Filename\tType\tSize\tUsed\tPriority\n"
             "/dev/sdb1                               partition\t1048572\t0\t-2\n")
    with pytest.raises(FlashRefused, match=r"/dev/sdb1 is swap space.*swapoff /dev/sdb1"):
        refuse(Path("/dev/sdb"), sys_root=_sys_tree(tmp_path), mountinfo=MOUNTS,
               stat_fn=_blk(8, 16), swaps=swaps)


@pytest.mark.parametrize("uuid,name,kind", [
    ("LVM-Xy12AbCd", "vg0-root", "LVM"),
    ("CRYPT-LUKS2-0123456789abcdef-sda2_crypt", "sda2_crypt", "CRYPT"),
])
def test_flash_refuses_a_disk_whose_root_is_on_lvm_or_luks(tmp_path, uuid, name, kind):
    """The root is /dev/mapper/...: its partition's number is not in mountinfo."""
    from image_build.errors import FlashRefused
    from image_build.flash import refuse

    sys_root = _sys_tree(tmp_path)
    _dm(sys_root, "sda2", "dm-0", "254:0", uuid, name)
    mounts = ("22 1 254:0 / / rw,relatime - ext4 /dev/mapper/" + name + " rw\n"
              "23 22 8:1 / /boot rw - ext2 /dev/sda1 rw\n")
    # The unmounted-partition check alone would pass sda1 only if /boot were elsewhere:
    # drop the /boot line to see the LVM/LUKS refusal itself.
    mounts = mounts.splitlines()[0] + "\n"
    with pytest.raises(FlashRefused, match=rf"holds the running system \(/dev/sda2 under "
                                           rf"{kind} {name}, mounted on /\)"):
        refuse(Path("/dev/sda"), sys_root=sys_root, mountinfo=mounts, stat_fn=_blk(8, 0),
               swaps="")


def test_flash_refuses_an_open_luks_volume_on_the_card(tmp_path):
    from image_build.errors import FlashRefused
    from image_build.flash import refuse

    sys_root = _sys_tree(tmp_path)
    d = sys_root / "devices/virtual/block/dm-3"
    (d / "dm").mkdir(parents=True)
    (d / "dev").write_text("254:3\n")
    (d / "dm/uuid").write_text("CRYPT-LUKS2-abc-stick\n")
    (d / "dm/name").write_text("stick\n")
    (sys_root / "devices/pci0/block/sdb/sdb1/holders").mkdir()
    os.symlink(d, sys_root / "devices/pci0/block/sdb/sdb1/holders/dm-3")
    with pytest.raises(FlashRefused, match=r"under CRYPT stick.*cryptsetup close stick"):
        refuse(Path("/dev/sdb"), sys_root=sys_root, mountinfo=MOUNTS, stat_fn=_blk(8, 16),
               swaps="")


def test_bmaptool_refusal_is_one_line_with_the_right_fix():
    from image_build.flash import bmaptool_refusal

    busy = ("bmaptool: \x1b[91mERROR\x1b[0m: An error occurred, here is the traceback:\n"
            "Traceback (most recent call last):\n"
            '  File "/usr/lib/python3/dist-packages/bmaptools/CLI.py", line 116, in open\n'
            "    descriptor = os.open(path, os.O_WRONLY | os.O_EXCL)\n\n"
            "bmaptool: \x1b[91mERROR\x1b[0m: cannot open block device '/dev/sdb' in "
            "exclusive mode: [Errno 16] Device or resource busy: '/dev/sdb'\n")
    message, fix = bmaptool_refusal(busy)
    assert message == ("cannot open block device '/dev/sdb' in exclusive mode: [Errno 16] "
                       "Device or resource busy: '/dev/sdb'")
    assert "unmount" in fix and "plugged in" not in fix
    small = ("bmaptool: ERROR: the image file 'a.img' has size 8.0 MiB and it will not fit "
             "the block device '/dev/sdb' which has 4.0 MiB capacity\n")
    assert bmaptool_refusal(small)[1] == "use a larger card"


def test_flash_refusals_on_real_loop_devices(tmp_path):
    """A loop device in use as swap is refused before writing; one that is mounted and
    still written (flash_image alone) gets bmaptool's refusal as one line and its fix."""
    from tests.support import require_program, require_root

    require_root("loop devices, swapon, mount")
    for prog, pkg in (("losetup", "mount"), ("bmaptool", "bmap-tools"),
                      ("mkswap", "util-linux"), ("mkfs.ext4", "e2fsprogs")):
        require_program(prog, pkg)
    from image_build.errors import FlashRefused, ImageError
    from image_build.flash import flash_image, refuse

    img = tmp_path / "small.img"
    img.write_bytes(b"\1" * (1 << 20))
    subprocess.run(["bmaptool", "create", "-o", str(tmp_path / "small.bmap"), str(img)],
                   check=True, capture_output=True)
    card = tmp_path / "card"
    with open(card, "wb") as f:
        f.truncate(16 << 20)
    dev = subprocess.run(["losetup", "-f", "--show", str(card)], capture_output=True,
                         text=True, check=True).stdout.strip()
    try:
        subprocess.run(["mkswap", dev], check=True, capture_output=True)
        subprocess.run(["swapon", dev], check=True, capture_output=True)
        try:
            with pytest.raises(FlashRefused, match=rf"{dev} is swap space.*swapoff {dev}"):
                refuse(Path(dev))
        finally:
            subprocess.run(["swapoff", dev], check=True)
        subprocess.run(["mkfs.ext4", "-q", dev], check=True)
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        subprocess.run(["mount", dev, str(mnt)], check=True)
        try:
            with pytest.raises(FlashRefused, match=f"mounted on {mnt}"):
                refuse(Path(dev))
            with pytest.raises(ImageError) as e:
                flash_image(img, Path(dev), log=lambda line: None)
            assert "\n" not in str(e.value) and "Traceback" not in str(e.value)
            assert "exclusive mode" in str(e.value) and "unmount" in e.value.fix
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)


def test_worker_starts_once_the_network_is_online(tmp_path):
    """Its mDNS announcement and first sync need an address (issue 21)."""
    from image_build import files
    from provisioning.render import render_system
    from tests.support import make_site

    for text in (files.WORKER_UNIT,):
        assert "After=network-online.target" in text and "Wants=network-online.target" in text
    from appliance import settings

    site = settings.validate(make_site(tmp_path), str(tmp_path / "site.toml"))
    render_system(site, tmp_path / "root")
    unit = next((tmp_path / "root").rglob("espace-worker.service")).read_text()
    assert "After=network-online.target" in unit and "Wants=network-online.target" in unit


def test_the_wheel_is_built_from_every_package_pyproject_ships():
    """The image's wheel was built from a hand-kept list that missed `espace` (the
    composition root): every command of the image died with ModuleNotFoundError."""
    import tomllib

    from image_build.python_env import PACKAGES, SOURCE

    include = tomllib.loads((SOURCE / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["packages"]["find"]["include"]
    assert set(PACKAGES) == {p.rstrip("*") for p in include}
    assert "espace" in PACKAGES
