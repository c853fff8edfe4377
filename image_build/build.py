"""``espace image build``: the plan, the checks before anything starts, the stages.

Stages (each prints its number, what it does, then how long it took):

1. wheels     Espace and its pinned dependencies as wheels for the target
2. rootfs     Debian with mmdebstrap (package cache kept between builds)
3. espace     the venv, units, first boot, read-only root, the site's config baked in
4. assemble   MBR: FAT boot (firmware, config.txt, cmdline.txt, espace-site.toml),
              ext4 root (read-only at run time), ext4 data (grown at first boot)
5. outputs    .img, .img.xz, .bmap, SHA256SUMS, manifest.json

Nothing is mounted: the FAT partition is made with mkfs.vfat + mtools, the ext4 ones
with ``mkfs.ext4 -d``, and both are copied into the image with dd.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import python_env, rootfs
from . import recipe as recipes
from .errors import ImageError
from .recipe import BOOT_LABEL, DATA_LABEL, ROOT_LABEL, Recipe

MiB = 1024 * 1024
SECTOR = 512
FIRST_MIB = 4  # the first partition starts at 4 MiB (SD erase-block aligned)
UPDATE_INITRAMFS = "/usr/sbin/update-initramfs"

# (program, Debian package) the build needs on the host.
TOOLS = [("mmdebstrap", "mmdebstrap"), ("sfdisk", "fdisk"), ("mkfs.ext4", "e2fsprogs"),
         ("debugfs", "e2fsprogs"), ("mkfs.vfat", "dosfstools"), ("mcopy", "mtools"),
         ("xz", "xz-utils"), ("bmaptool", "bmap-tools"), ("dpkg-query", "dpkg")]
# What booting the Pi image under qemu needs (bench/image.py): the emulator, the
# initramfs reader (lsinitramfs, unmkinitramfs; the image's initrd is zstd-compressed),
# the device-tree compiler the bench checks the initrd against, and ssh to read the
# memory in use. Not ipxe-qemu: the bench turns the network card's option ROM off
# (``romfile=``; it only serves firmware network boot, and the bench boots the kernel
# directly), so no efi-virtio.rom is needed wherever a distribution puts it.
BOOT_TOOLS = [("qemu-system-aarch64", "qemu-system-arm"),
              ("lsinitramfs", "initramfs-tools-core"), ("unmkinitramfs", "initramfs-tools-core"),
              ("zstd", "zstd"), ("dtc", "device-tree-compiler"),
              ("ssh", "openssh-client"), ("ssh-keygen", "openssh-client")]
# Free space needed in the work directory, in MiB (rootfs tree + partitions + image
# + compressed image + package cache, measured on this recipe with some margin).
SPACE_MIB = {"pi": 7000, "pi-headless": 5000, "reduced": 2500}


@dataclass
class Options:
    site_path: Path
    out_dir: Path
    variant: str = "pi"
    work_dir: Path | None = None
    cache_dir: Path | None = None
    mirror: str = recipes.MIRROR
    compress: bool = True
    xz_level: int = 3
    keep_work: bool = False

    def __post_init__(self) -> None:
        self.site_path = Path(self.site_path)
        self.out_dir = Path(self.out_dir)
        self.work_dir = Path(self.work_dir or self.out_dir / "work")
        self.cache_dir = Path(self.cache_dir or Path(os.environ.get(
            "XDG_CACHE_HOME", Path.home() / ".cache")) / "espace-image")


@dataclass
class Stage:
    name: str
    what: str
    run: Callable[[], object]
    detail: list[str] = field(default_factory=list)


def _which(program: str) -> str | None:
    return shutil.which(program, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                      "/sbin:/bin")


def foreign(recipe: Recipe) -> bool:
    return recipe.arch != recipes.debian_arch()


def binfmt_ok(arch: str, binfmt_dir: Path = Path("/proc/sys/fs/binfmt_misc")) -> bool:
    name = {"arm64": "qemu-aarch64", "armhf": "qemu-arm", "amd64": "qemu-x86_64"}[arch]
    entry = binfmt_dir / name
    try:
        return entry.read_text().splitlines()[0].strip() == "enabled"
    except (FileNotFoundError, IndexError, PermissionError):
        return False


def preflight(opts: Options, recipe: Recipe, *, which=_which, free_mib=None,
              euid: int | None = None, binfmt=binfmt_ok) -> list[str]:
    """Every problem that would stop the build, each naming the package to install or
    the space to free; empty when the build can start."""
    problems = []
    tools = list(TOOLS)
    if recipe.kernel:
        # depmod after compressing the modules; strip for the wheels' debug information
        tools += [("depmod", "kmod"), (python_env.strip_program(recipe.arch),
                                       _binutils(recipe.arch))]
    missing = sorted({pkg for prog, pkg in tools if not which(prog)})
    if missing:
        problems.append(f"missing programs: apt-get install {' '.join(missing)}")
    if foreign(recipe):
        # mmdebstrap checks it can run the foreign architecture with arch-test; without
        # it the build stops a few seconds in, after the plan looked fine.
        if not which("arch-test"):
            problems.append("missing programs: apt-get install arch-test (mmdebstrap's "
                            f"check that {recipe.arch} programs run here)")
        if not which(f"qemu-{_qemu(recipe.arch)}-static"):
            problems.append(f"building {recipe.arch} on {recipes.debian_arch()} needs "
                            "emulation: apt-get install qemu-user-static binfmt-support")
        elif not binfmt(recipe.arch):
            problems.append(f"qemu-{_qemu(recipe.arch)} is not registered with binfmt_misc: "
                            "apt-get install binfmt-support, then "
                            f"update-binfmts --enable qemu-{_qemu(recipe.arch)} (mount "
                            "binfmt_misc on /proc/sys/fs/binfmt_misc first if it is empty)")
    if (os.geteuid() if euid is None else euid) != 0:
        problems.append("must run as root (mmdebstrap's root mode keeps file owners; "
                        "try: sudo espace image build ...)")
    need = SPACE_MIB.get(recipe.name, 7000)
    probe = opts.work_dir
    while not probe.exists():
        probe = probe.parent
    have = free_mib(probe) if free_mib else shutil.disk_usage(probe).free // MiB
    if have < need:
        problems.append(f"not enough disk space in {probe}: {have} MiB free, {need} MiB "
                        "needed (free some space or pass --work-dir elsewhere)")
    return problems


def boot_preflight(*, which=_which) -> list[str]:
    """What booting the image under qemu (bench/image.py) lacks, as one line naming
    the packages; empty when nothing is missing."""
    missing = sorted({pkg for prog, pkg in BOOT_TOOLS if not which(prog)})
    if missing:
        return [f"to boot the image in qemu (bench/image.py): apt-get install "
                f"{' '.join(missing)}"]
    return []


def _binutils(arch: str) -> str:
    if arch == recipes.debian_arch():
        return "binutils"
    return "binutils-" + python_env.strip_program(arch).removesuffix("-strip").replace("_", "-")


def _qemu(arch: str) -> str:
    return {"arm64": "aarch64", "armhf": "arm", "amd64": "x86_64"}[arch]


def image_name(site, recipe: Recipe) -> str:
    return f"espace-{site.site.id}-{recipe.name}-{python_env.espace_version()}"


class Builder:
    """One build: the plan (``stages()``) and its state. ``log`` prints a line."""

    def __init__(self, opts: Options, log: Callable[[str], None] = print) -> None:
        from appliance import settings

        self.opts = opts
        self.log = log
        self.recipe = recipes.get(opts.variant, mirror=opts.mirror)
        self.site = settings.load(opts.site_path)  # a bad site file stops us first
        self.site_bytes = opts.site_path.read_bytes()
        work = opts.work_dir
        assert work is not None and opts.cache_dir is not None
        self.root = work / "root"
        self.wheels = work / "wheels"
        self.pre = work / "pre"
        self.apt_cache = opts.cache_dir / f"apt-{self.recipe.suite}-{self.recipe.arch}"
        self.name = image_name(self.site, self.recipe)
        self.img = opts.out_dir / f"{self.name}.img"
        self.wheel_hashes: dict[str, str] = {}
        self.notes: list[str] = []
        self.rendered = False
        self.layout: dict[str, int] = {}
        self.timings: dict[str, float] = {}

    # -- the plan ----------------------------------------------------------------------

    def stages(self) -> list[Stage]:
        r = self.recipe
        return [
            Stage("wheels", f"Espace {python_env.espace_version()} and its pinned "
                  f"dependencies as {r.arch} wheels", self.stage_wheels,
                  [f"pip download --platform {python_env.PLATFORMS[r.arch][0]} "
                   f"--only-binary=:all: ({len(python_env.pins())} pins) -> {self.wheels}"]),
            Stage("rootfs", f"Debian {r.suite} {r.arch} ({r.variant} + {len(r.packages)} "
                  f"packages) with mmdebstrap" + (" under qemu-user" if foreign(r) else ""),
                  self.stage_rootfs, [" ".join(self._mmdebstrap_argv())]),
            Stage("espace", "venv, units, first boot, read-only root, site config baked in",
                  self.stage_espace, [f"site {self.site.site.id} from {self.opts.site_path}"]),
            Stage("assemble", "MBR image: FAT boot, ext4 root (read-only), ext4 data",
                  self.stage_assemble, [f"{BOOT_LABEL} {r.boot_mb} MiB, {ROOT_LABEL} sized "
                                        f"to fit, {DATA_LABEL} {r.data_mb} MiB (grown at "
                                        f"first boot) -> {self.img}"]),
            Stage("outputs", ".img.xz, .bmap, SHA256SUMS, manifest.json", self.stage_outputs,
                  [f"xz -T0 -{self.opts.xz_level}" if self.opts.compress else "no xz",
                   "bmaptool create"]),
        ]

    def _mmdebstrap_argv(self) -> list[str]:
        argv = rootfs.mmdebstrap_argv(self.recipe, self.root, self.apt_cache, self.pre)
        if self.recipe.kernel:
            # raspi-firmware wrote cmdline.txt when it installed; with our
            # /etc/default/raspi-firmware in place, its kernel hook writes it again.
            from . import files

            # Generating the initramfs is the slowest step under emulation, and package
            # triggers would run it twice (the kernel's postinst, then `update-initramfs
            # -u` for each later hook): divert it during the install, run it once at the
            # end, with our overlay script and raspi-firmware's settings in place.
            divert = ("chroot \"$1\" dpkg-divert --quiet --local --rename --add "
                      f"{UPDATE_INITRAMFS} && ln -sf /bin/true \"$1{UPDATE_INITRAMFS}\"")
            argv.insert(-3, f"--essential-hook={divert}")
            hook = ("cat > \"$1/etc/default/raspi-firmware\" <<'EOF'\n"
                    + files.RASPI_FIRMWARE_DEFAULT + "EOF\n"
                    f"rm -f \"$1{UPDATE_INITRAMFS}\" && chroot \"$1\" dpkg-divert --quiet "
                    f"--local --rename --remove {UPDATE_INITRAMFS}\n"
                    "chroot \"$1\" update-initramfs -c -k all\n"
                    # (update-initramfs already ran it; again in case it had no initrd)
                    "for v in \"$1\"/boot/vmlinuz-*; do chroot \"$1\" env "
                    "DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware "
                    "\"${v##*/vmlinuz-}\"; done")
            argv.insert(-3, f"--customize-hook={hook}")
        return argv

    def plan_text(self) -> str:
        lines = [f"Image {self.img.name} for site {self.site.site.id} "
                 f"({self.recipe.name}, {self.recipe.arch}, Debian {self.recipe.suite})",
                 f"work dir {self.opts.work_dir}, package cache {self.apt_cache}"]
        for i, st in enumerate(self.stages(), 1):
            lines.append(f"[{i}/5] {st.name}: {st.what}")
            lines += [f"      {d}" for d in st.detail]
        return "\n".join(lines)

    def check(self) -> None:
        problems = preflight(self.opts, self.recipe)
        if problems:
            raise ImageError("cannot build the image:\n" + "\n".join(f"  - {p}" for p in problems),
                             fix="fix the problems above; nothing was started")

    def run(self) -> dict:
        self.check()
        self.opts.out_dir.mkdir(parents=True, exist_ok=True)
        self.opts.work_dir.mkdir(parents=True, exist_ok=True)
        stages = self.stages()
        total = time.monotonic()
        for i, st in enumerate(stages, 1):
            self.log(f"[{i}/{len(stages)}] {st.name}: {st.what}")
            t = time.monotonic()
            st.run()
            self.timings[st.name] = time.monotonic() - t
            self.log(f"[{i}/{len(stages)}] {st.name}: done in {_dur(self.timings[st.name])}")
        self.timings["total"] = time.monotonic() - total
        if not self.opts.keep_work:
            shutil.rmtree(self.opts.work_dir, ignore_errors=True)
        self.log(f"built {self.img} in {_dur(self.timings['total'])}")
        return {"image": self.img, "timings": self.timings, "layout": self.layout}

    # -- stages ------------------------------------------------------------------------

    def stage_wheels(self) -> None:
        self.wheel_hashes = python_env.download_wheels(self.recipe.arch, self.wheels)
        self.log(f"    {len(self.wheel_hashes)} wheels")

    def stage_rootfs(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.apt_cache.mkdir(parents=True, exist_ok=True)
        rootfs.pre_tree(self.recipe, self.pre)
        cached = len(list(self.apt_cache.glob("*.deb")))
        self.log(f"    package cache: {cached} packages in {self.apt_cache}")
        rootfs.run_mmdebstrap(self._mmdebstrap_argv(), log=self.log)

    def stage_espace(self) -> None:
        from .boot import apply_site

        python_env.install_venv(self.root, self.wheels, self.recipe.arch)
        self.notes += rootfs.customise(self.root, self.recipe)
        if self.recipe.kernel:
            rootfs.slim_kernel(self.root, log=self.log)
            freed = rootfs.slim_kiosk(self.root)
            if freed:
                self.log(f"    chromium: {freed // MiB} MB of developer-only files dropped")
        # The site's system config baked in (first boot applies it again from the FAT
        # file, which a technician may have edited since).
        written = apply_site(self.site, self.root)
        self.rendered = any("systemd/network" not in str(p) and "espace/authorized" not in
                            str(p) and not str(p).endswith(("hostname", "hosts"))
                            for p in written)
        units = {"espace-boot.service", "espace-web.service", "espace-worker.service",
                 "systemd-networkd.service", "ssh.service"}
        units |= {p.name for p in written if p.suffix in (".service", ".timer")}
        if self.recipe.kernel:
            units |= {"hostapd.service", "dnsmasq.service", "nftables.service",
                      "espace-kiosk.service"}  # enable_unit skips a unit that is absent
        for unit in sorted(units):
            rootfs.enable_unit(self.root, unit)
        # hostapd ships masked in Debian until configured: unmask it on the Pi.
        mask = self.root / "etc/systemd/system/hostapd.service"
        if mask.is_symlink() and os.readlink(mask) == "/dev/null":
            mask.unlink()
        self.log(f"    venv in /opt/espace/venv; {len(units)} units enabled; "
                 f"render_system: {'yes' if self.rendered else 'not available'}")

    def stage_assemble(self) -> None:
        from .assemble import assemble

        self.layout = assemble(self.root, self.site_bytes, self.recipe, self.img,
                               self.opts.work_dir, log=self.log)

    def stage_outputs(self) -> None:
        from .assemble import finish

        finish(self.img, self.manifest(), compress=self.opts.compress,
               xz_level=self.opts.xz_level, log=self.log)

    def manifest(self) -> dict:
        """Everything that went in, and nothing that changes from one run to the next
        (no dates, no paths): the same inputs give the same manifest."""
        return {
            "espace": {"version": python_env.espace_version(),
                       "source_sha256": python_env.source_digest()},
            "recipe": self.recipe.as_dict(),
            "site": {"id": self.site.site.id,
                     "file_sha256": hashlib.sha256(self.site_bytes).hexdigest()},
            "python": {"pins": python_env.pins(), "wheels": self.wheel_hashes},
            "render_system": self.rendered,
            "packages": [{"name": n, "version": v, "arch": a}
                         for n, v, a in rootfs.packages(self.root)],
        }


def _dur(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{seconds:.1f}s"


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, **kw)  # noqa: S603
    if r.returncode:
        raise ImageError(f"{argv[0]} failed: {(r.stderr or r.stdout).strip()[-400:]}",
                         fix=f"command was: {' '.join(map(str, argv))}")
    return r
