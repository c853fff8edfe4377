"""Build the real Raspberry Pi image (arm64, under qemu-user on this machine) and boot
it with qemu-system-aarch64 (virt machine, cortex-a53, the image's own kernel and
initrd from its FAT partition, user networking with a forwarded port).

Prints: build time (warm package cache), image size, compressed size, time from
power-on until the portal answers over the emulated network, what first boot did
(data partition grown, overlay root), and the memory in use once the boot is over with
1 GiB (Pi 3B+) and 512 MiB (Zero 2 W) of RAM, read over SSH with a key of the bench's
own put in the card's site file.

Targets (issue 7): build < 20 min warm on 2 cores, image < 1.5 GB, .xz < 500 MB.

    sudo .venv/bin/python bench/image.py [--out DIR] [--skip-build IMG] [--variant pi-headless]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SITE = """[site]
id = "bench-kayes"
name = "Espace de Kayes (banc)"
communes = ["Kayes"]

# Under qemu's user network the box is 10.0.2.15 on eth0: the bench makes eth0 the
# hotspot side so the portal answers on the forwarded port as it does on the Wi-Fi.
[hotspot]
interface = "eth0"
address = "10.0.2.15"
subnet = "10.0.2.0/24"

# A second card as the uplink (qemu's second user network, 10.0.3.0/24): the hotspot's
# firewall refuses SSH from phones, the uplink's LAN is where technicians log in from.
[uplink]
interface = "eth1"
"""

TARGET_BUILD_S = 20 * 60
TARGET_IMG = 1.5e9
TARGET_XZ = 500e6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(out: Path, site: Path, variant: str = "pi") -> tuple[Path, float]:
    import resource

    from image_build.build import Builder, Options

    opts = Options(site_path=site, out_dir=out, variant=variant)
    print(f"build: load average at the start {os.getloadavg()[0]:.1f}", flush=True)
    t = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = Builder(opts, log=lambda line: print(line, flush=True)).run()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"build: CPU time of the build's processes {cpu / 60:.1f} min; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    for name, secs in result["timings"].items():
        print(f"  stage {name}: {secs / 60:.1f} min", flush=True)
    return result["image"], time.monotonic() - t


def initrd_modules(initrd: Path) -> dict:
    """What the image's initrd holds (lsinitramfs, from initramfs-tools-core on the
    host): its module count and which of the curated list (image_build.rootfs) are
    missing."""
    from image_build.rootfs import INITRAMFS_MODULES

    out = {"initrd_mb": initrd.stat().st_size / 1e6, "initrd_modules": None,
           "initrd_missing": None, "initrd_set": set()}
    try:
        names = subprocess.run(["lsinitramfs", str(initrd)], capture_output=True, text=True,
                               check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return out
    mods = {re.sub(r"\.ko(\.\w+)?$", "", Path(n).name).replace("-", "_")
            for n in names if re.search(r"\.ko(\.\w+)?$", n)}
    out["initrd_modules"] = len(mods)
    out["initrd_set"] = mods
    # built-in ones are not files; `modules.builtin` in the initrd lists them
    builtin = {Path(n).stem.replace("-", "_") for n in _builtin(initrd)}
    out["initrd_missing"] = [m for m, _ in INITRAMFS_MODULES
                             if m.replace("-", "_") not in mods | builtin]
    return out


PI_DTBS = ("bcm2837-rpi-3-b-plus.dtb", "bcm2711-rpi-4-b.dtb", "bcm2837-rpi-zero-2-w.dtb")


def dt_check(img: Path, fat: str, initrd_mods: set[str]) -> dict[str, tuple[list, list]]:
    """For each Pi's device tree (from the FAT partition): the enabled nodes whose driver
    is a module of the image (modules.alias, read from the root with debugfs), split
    into those the initrd has and those that load from the root later. A storage or
    USB controller in the second list would leave that board without its root. Needs
    dtc (device-tree-compiler); empty without it."""
    import fnmatch
    import json
    import shutil

    if not shutil.which("dtc"):
        return {}
    parts = json.loads(subprocess.run(["sfdisk", "-J", str(img)], capture_output=True,
                                      text=True, check=True).stdout)["partitiontable"]
    root_off = parts["partitions"][1]["start"] * 512
    text = subprocess.run(["debugfs", "-R", "ls -p /usr/lib/modules", f"{img}?offset={root_off}"],
                          capture_output=True, text=True).stdout
    kver = next((f.split("/")[5] for f in text.splitlines() if f.count("/") >= 6
                 and f.split("/")[5] not in (".", "..")), None)
    if not kver:
        return {}
    alias_text = subprocess.run(["debugfs", "-R", f"cat /usr/lib/modules/{kver}/modules.alias",
                                 f"{img}?offset={root_off}"], capture_output=True,
                                text=True).stdout
    aliases = [(a[1], a[2].replace("-", "_")) for a in
               (line.split(" ", 2) for line in alias_text.splitlines())
               if len(a) == 3 and a[1].startswith("of:")]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dtb in PI_DTBS:
            local = Path(tmp) / dtb
            if subprocess.run(["mcopy", "-o", "-i", fat, f"::/{dtb}", str(local)],
                              capture_output=True).returncode:
                continue
            dts = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(local)],
                                 capture_output=True, text=True).stdout
            early, late = set(), set()
            for name, compat, status in _dt_nodes(dts):
                if status not in ("okay", "ok"):
                    continue
                for c in compat:
                    key = f"of:N{name}T(null)C{c}"
                    for pat, mod in aliases:
                        if fnmatch.fnmatchcase(key, pat) or fnmatch.fnmatchcase(key + "C", pat):
                            (early if mod in initrd_mods else late).add(mod)
            out[dtb] = (sorted(early), sorted(late - early))
    return out


def _dt_nodes(dts: str):
    """(node name, compatible strings, status) of every node of a .dts text."""
    stack: list[dict] = []
    for line in dts.splitlines():
        line = line.strip()
        m = re.match(r"^(?:[\w\-]+:\s*)?([\w@,.\-]+|/)\s*\{", line)
        if m:
            stack.append({"name": m.group(1).split("@")[0], "compat": [], "status": "okay"})
        elif line.startswith("};") and stack:
            n = stack.pop()
            yield n["name"], n["compat"], n["status"]
        elif line.startswith("compatible =") and stack:
            stack[-1]["compat"] = re.findall(r'"([^"]+)"', line)
        elif line.startswith("status =") and stack:
            stack[-1]["status"] = re.findall(r'"([^"]+)"', line)[0]


def _builtin(initrd: Path) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(["unmkinitramfs", str(initrd), tmp], capture_output=True)
        if r.returncode:
            return []
        return [line for p in Path(tmp).rglob("modules.builtin")
                for line in p.read_text().splitlines()]


def _bench_key(work: Path) -> Path:
    key = work / "bench_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench",
                        "-f", str(key)], check=True)
    return key


# The largest processes by resident memory, as "KB NAME" lines: the image is minbase,
# without procps (no ps), but it has python3.
_TOP_RSS = """
import glob
rows = []
for f in glob.glob("/proc/[0-9]*/status"):
    try:
        d = dict(line.split(":", 1) for line in open(f) if ":" in line)
    except OSError:
        continue
    if "VmRSS" in d:
        rows.append((int(d["VmRSS"].split()[0]), d["Name"].strip()))
for kb, name in sorted(rows, reverse=True)[:5]:
    print(kb, name)
"""


def memory_after_boot(port: int, key: Path, timeout: float = 600) -> dict | None:
    """Memory in use once systemd says the boot is over (MemTotal - MemAvailable of
    /proc/meminfo), read over SSH with the bench's own key (the site file's ssh_keys)."""
    argv = ["ssh", "-i", str(key), "-p", str(port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10",
            "-o", "LogLevel=ERROR", "root@127.0.0.1",
            "systemctl is-system-running --wait >/dev/null; cat /proc/meminfo; "
            f"python3 -c {shlex.quote(_TOP_RSS)}"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            return None
        if r.returncode == 0 and "MemAvailable" in r.stdout:
            info = {m.group(1): int(m.group(2)) for m in
                    re.finditer(r"^(\w+):\s+(\d+) kB", r.stdout, re.M)}
            top = [line.split(None, 1) for line in r.stdout.splitlines()
                   if re.match(r"^\s*\d+ \S", line)]
            return {"total_mib": info["MemTotal"] // 1024,
                    "used_mib": (info["MemTotal"] - info["MemAvailable"]) // 1024,
                    "available_mib": info["MemAvailable"] // 1024,
                    "top": [(int(rss) // 1024, name) for rss, name in top[:5]]}
        time.sleep(5)
    return None


def qemu_argv(kernel: Path, initrd: Path, disk: Path, *, mem_mib: int,
              forwards: dict[int, int], console: Path,
              uplink_forwards: dict[int, int] | None = None) -> list[str]:
    """The qemu-system-aarch64 command line: the virt machine with the image's own
    kernel and initrd, the card as a virtio disk, user networking forwarding
    ``forwards`` (host port on loopback -> box port) to eth0 (the hotspot) and
    ``uplink_forwards`` to eth1 (the uplink, 10.0.3.0/24). ``romfile=`` turns the
    network cards' option ROM off: it only serves firmware network boot (the kernel is
    given directly), and without it qemu needs no efi-virtio.rom, which Debian ships in
    ipxe-qemu under /usr/lib/ipxe/qemu, a recommends of qemu-system-arm."""
    def fwd(ports: dict[int, int]) -> str:
        return "".join(f",hostfwd=tcp:127.0.0.1:{host}-:{guest}" for host, guest in ports.items())

    argv = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53", "-smp", "2",
            "-m", str(mem_mib), "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "root=LABEL=espace-root ro rootwait console=ttyAMA0 net.ifnames=0",
            "-drive", f"if=none,file={disk},format=raw,id=hd",
            "-device", "virtio-blk-pci,drive=hd",
            "-netdev", f"user,id=n0{fwd(forwards)}",
            "-device", "virtio-net-pci,netdev=n0,romfile="]
    if uplink_forwards is not None:
        argv += ["-netdev", f"user,id=n1,net=10.0.3.0/24{fwd(uplink_forwards)}",
                 "-device", "virtio-net-pci,netdev=n1,romfile="]
    return argv + ["-display", "none", "-serial", f"file:{console}", "-monitor", "none"]


def boot(img: Path, work: Path, timeout: float = 900, mem_mib: int = 1024) -> dict:
    """Boot a copy of ``img`` (grown to 4 GB, as a card larger than the image) with
    ``mem_mib`` of RAM, time the portal's first answer, then read the memory in use."""
    from image_build.build import FIRST_MIB, MiB

    work.mkdir(parents=True, exist_ok=True)
    disk = work / "card.img"
    subprocess.run(["cp", "--sparse=always", str(img), str(disk)], check=True)
    subprocess.run(["truncate", "-s", "4G", str(disk)], check=True)
    fat = f"{disk}@@{FIRST_MIB * MiB}"
    # The bench's SSH key in the card's site file (the FAT copy is the one the box reads).
    key = _bench_key(work)
    site = work / "espace-site.toml"
    pub = (work / "bench_key.pub").read_text().strip()
    site.write_text(SITE + f'\n[fleet]\nssh_keys = ["{pub}"]\n')
    subprocess.run(["mcopy", "-o", "-i", fat, str(site), "::/espace-site.toml"], check=True)
    ssh_port = _free_port()
    names = subprocess.run(["mdir", "-b", "-i", fat, "::/"], capture_output=True, text=True,
                           check=True).stdout.split()
    kernel = next(n for n in names if re.search(r"/vmlinuz-[^/]*$", n))
    initrd = next(n for n in names if re.search(r"/initrd\.img-[^/]*$", n))
    for src, dest in ((kernel, "vmlinuz"), (initrd, "initrd.img")):
        subprocess.run(["mcopy", "-o", "-i", fat, src, str(work / dest)], check=True)
    initramfs = initrd_modules(work / "initrd.img")
    initramfs["boards"] = (dt_check(disk, fat, initramfs["initrd_set"])
                           if initramfs["initrd_modules"] is not None else {})
    port = _free_port()
    console = work / "console.log"
    argv = qemu_argv(work / "vmlinuz", work / "initrd.img", disk, mem_mib=mem_mib,
                     forwards={port: 80}, uplink_forwards={ssh_port: 22}, console=console)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    answered = None
    body = ""
    try:
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise SystemExit("qemu stopped: " + proc.stderr.read().decode()[-500:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:  # noqa: S310
                    if r.status == 200:
                        body = r.read().decode(errors="replace")
                        answered = time.monotonic() - t0
                        break
            except OSError:
                pass
            time.sleep(2)
        memory = memory_after_boot(ssh_port, key) if answered is not None else None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    log = console.read_text(errors="replace") if console.exists() else ""
    login = re.search(r"\[\s*(\d+\.\d+)\].*Reached target.*Multi-User", log)
    return {"portal_s": answered, "portal_ok": "Espace de Kayes" in body, **initramfs,
            "memory": memory, "mem_mib": mem_mib,
            "overlay": "root is a RAM overlay" in log,
            "grown": "grown to the end of" in log,
            "kernel": Path(kernel).name, "console": console,
            "multi_user_s": float(login.group(1)) if login else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "espace-bench-image")
    ap.add_argument("--skip-build", type=Path, metavar="IMG", help="boot this image only")
    ap.add_argument("--variant", default="pi", choices=("pi", "pi-headless"),
                    help="pi-headless: the Pi image without the kiosk")
    args = ap.parse_args()
    from image_build.build import boot_preflight

    # Before a 10-minute build: the boot at its end needs these too.
    for problem in boot_preflight():
        raise SystemExit(f"bench/image.py: {problem}")
    args.out.mkdir(parents=True, exist_ok=True)
    site = args.out / "site.toml"
    site.write_text(SITE)
    if args.skip_build:
        img, build_s = args.skip_build, None
    else:
        img, build_s = build(args.out, site, args.variant)
    xz = img.with_name(img.name + ".xz")
    size = img.stat().st_size
    xz_size = xz.stat().st_size if xz.exists() else None
    print(f"\nimage: {img}", flush=True)
    res = boot(img, args.out / "boot")
    (args.out / "boot" / "card.img").unlink(missing_ok=True)
    # The Zero 2 W has 512 MiB: the same card booted again with that much.
    small = boot(img, args.out / "boot-512", mem_mib=512)
    (args.out / "boot-512" / "card.img").unlink(missing_ok=True)
    print("\n== bench/image.py (2 cores, arm64 under qemu-user; boot under qemu-system TCG) ==")
    print("load average now (1/5/15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores (the machine is shared)")
    if build_s is not None:
        print(f"build time (warm cache): {build_s / 60:6.1f} min   target < {TARGET_BUILD_S // 60} "
              f"min   {'OK' if build_s < TARGET_BUILD_S else 'OVER'}")
    print(f"image size:              {size / 1e9:6.2f} GB    target < 1.5 GB   "
          f"{'OK' if size < TARGET_IMG else 'OVER'}")
    if xz_size:
        print(f"compressed (.img.xz):    {xz_size / 1e6:6.0f} MB    target < 500 MB   "
              f"{'OK' if xz_size < TARGET_XZ else 'OVER'}")
    if res["portal_s"] is None:
        print(f"portal: did not answer (console log: {res['console']})")
    else:
        print(f"portal answered after:   {res['portal_s']:6.0f} s     (emulated Cortex-A53; a "
              f"real Pi is several times faster)  page ok: {res['portal_ok']}")
    if res["initrd_modules"] is not None:
        print(f"initrd:                  {res['initrd_mb']:6.1f} MB, {res['initrd_modules']} "
              f"modules; curated modules missing: {', '.join(res['initrd_missing']) or 'none'}")
    for dtb, (early, late) in res.get("boards", {}).items():
        print(f"{dtb}: drivers in the initrd: {', '.join(early)}; from the root: "
              f"{', '.join(late)}")
    if res["multi_user_s"]:
        print(f"multi-user target at:    {res['multi_user_s']:6.0f} s (kernel clock)")
    for r in (small, res):
        m = r["memory"]
        if m is None:
            print(f"memory after boot, {r['mem_mib']} MiB: not read (portal or SSH did not "
                  f"answer; console log {r['console']})")
        else:
            print(f"memory after boot, {r['mem_mib']:4d} MiB: {m['used_mib']:4d} MiB used, "
                  f"{m['available_mib']} MiB available (of {m['total_mib']}); largest: "
                  + ", ".join(f"{name} {mib} MiB" for mib, name in m["top"]))
    print(f"first boot: data partition grown: {res['grown']}; root is a RAM overlay on the "
          f"read-only ext4: {res['overlay']}; kernel {res['kernel']}")


if __name__ == "__main__":
    main()
