"""``espace network apply``: the rendered files onto the running system.

Steps: render into a staging directory; check with dnsmasq and nft; remember what
each target path holds now; write every file atomically; reload what changed. If a
check or a reload fails, every path gets back what it held and the services are
reloaded again, so the box keeps the configuration it had.

Accepted phones survive a reload of the nftables table: the elements are read
before and put back after, and in shared-uplink mode their quota use is saved to the
data partition before and restored after (:mod:`provisioning.quotas`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from . import allowlist as al
from . import checks, quotas, render, shaping
from .checks import NetworkError

Runner = Callable[[Sequence[str]], None]


def run_checked(argv: Sequence[str]) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120,  # noqa: S603
                          check=False)
    if done.returncode != 0:
        raise NetworkError(f"`{' '.join(argv)}` failed: "
                           f"{(done.stderr or done.stdout).strip()[:300]}")


@dataclass
class Saved:
    """What a path held before apply: text, a symlink target, or nothing."""

    kind: str  # "file", "link", "absent"
    data: bytes | str = b""


def _save(path: Path) -> Saved:
    if path.is_symlink():
        return Saved("link", os.readlink(path))
    if path.exists():
        return Saved("file", path.read_bytes())
    return Saved("absent")


def _restore(path: Path, saved: Saved) -> None:
    tmp = path.with_name(f".{path.name}.espace-restore")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    if saved.kind == "absent":
        if path.is_symlink() or path.exists():
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if saved.kind == "link":
        os.symlink(saved.data, tmp)
    else:
        tmp.write_bytes(saved.data)  # type: ignore[arg-type]
    os.replace(tmp, path)


def _same(path: Path, item: str | render.Symlink) -> bool:
    if isinstance(item, render.Symlink):
        return path.is_symlink() and os.readlink(path) == item.target
    return not path.is_symlink() and path.is_file() and path.read_text(errors="replace") == item


def reload_commands(site: SimpleNamespace, changed: set[str]) -> list[list[str]]:
    """What to run for the files that changed, in order."""
    cmds: list[list[str]] = []
    if any(p.startswith("/etc/systemd/") for p in changed):
        cmds.append(["systemctl", "daemon-reload"])
    if "/etc/sysctl.d/90-espace.conf" in changed:
        cmds.append(["sysctl", "-p", "/etc/sysctl.d/90-espace.conf"])
    if changed & {"/etc/espace/nftables.nft", "/etc/nftables.conf"}:
        cmds.append(["nft", "-f", "/etc/espace/nftables.nft"])
    if changed & {"/etc/systemd/system/espace-hotspot.service"}:
        cmds.append(["systemctl", "restart", "espace-hotspot.service"])
    if changed & {"/etc/dnsmasq.d/espace.conf",
                  "/etc/systemd/system/dnsmasq.service.d/espace.conf"}:
        cmds.append(["systemctl", "restart", "dnsmasq.service"])
    if render.is_wireless(site.hotspot.interface) and changed & {
            "/etc/hostapd/hostapd.conf", "/etc/systemd/system/hostapd.service"}:
        cmds.append(["systemctl", "restart", "hostapd.service"])
    if not render.is_wireless(site.hotspot.interface) and render.OPTIONAL[0] in changed:
        cmds.append(["systemctl", "stop", "hostapd.service"])
    if any("espace-allowlist" in p for p in changed):
        cmds.append(["systemctl", "restart", "espace-allowlist.socket",
                     "espace-allowlist.service"])
    units = {"/etc/systemd/system/espace-web.service": "espace-web.service",
             "/etc/systemd/system/espace-worker.service": "espace-worker.service"}
    restart = [unit for path, unit in units.items() if path in changed]
    if restart:
        # try-restart: only what runs already (not during an image build's first boot).
        cmds.append(["systemctl", "try-restart", *restart])
    timer = "/etc/systemd/system/timers.target.wants/espace-quota-reset.timer"
    if timer in changed:
        verb = "start" if render.mode(site) == "uplink" else "stop"
        cmds.append(["systemctl", verb, "espace-quota-reset.timer"])
    if any("espace-shaping" in p for p in changed) or render.SHAPING in changed:
        # try-restart would leave it stopped the first time: start it when enabled.
        verb = "restart" if shaping.enabled(site) else "stop"
        cmds.append(["systemctl", verb, "espace-shaping.service"])
    return cmds


def apply(site: SimpleNamespace, root: Path = Path("/"), *, runner: Runner = run_checked,
          check: bool = True, echo: Callable[[str], None] = lambda s: None,
          nft: al.Nft | None = None, leaf_qdisc: str = shaping.LEAF) -> list[str]:
    """Write the rendered files under ``root`` and reload; return the changed paths.
    Rolls back and raises :class:`NetworkError` if anything fails. ``leaf_qdisc``:
    see :func:`provisioning.shaping.batch` (tests on a kernel without fq_codel)."""
    files = render.render_files(site, leaf_qdisc=leaf_qdisc)
    if check:
        with tempfile.TemporaryDirectory(prefix="espace-network-") as staging:
            render.render_system(site, Path(staging), leaf_qdisc=leaf_qdisc)
            checks.check_dnsmasq(Path(staging, "etc/dnsmasq.d/espace.conf"))
            checks.check_nft(Path(staging, "etc/espace/nftables.nft"))
            if shaping.enabled(site):
                checks.check_tc(Path(staging, render.SHAPING.lstrip("/")), site)
    changed = {p for p, item in files.items() if not _same(root / p.lstrip("/"), item)}
    stale = {p for p in render.optional_links(root) if p not in files}
    changed |= stale
    if not changed:
        echo("nothing changed")
        return []
    saved = {p: _save(root / p.lstrip("/")) for p in changed}
    reload_table = "/etc/espace/nftables.nft" in changed
    accepted = _accepted(site, nft) if reload_table else None
    try:
        for p in sorted(changed):
            if p in stale:
                (root / p.lstrip("/")).unlink()
                echo(f"removed {p}")
            else:
                render._write_atomic(root / p.lstrip("/"), files[p])
                echo(f"wrote {p}")
        for cmd in reload_commands(site, changed):
            echo("running " + " ".join(cmd))
            runner(cmd)
        if accepted:
            _restore_accepted(site, nft, accepted)
        backend = al.NftBackend(site.hotspot.subnet, quotas.Policy.from_site(site), nft=nft)
        if reload_table and backend.nft.has_table():  # (not when writing an image's root)
            echo(f"{backend.restore()} phone(s) restored with their quota use")
    except (NetworkError, OSError, subprocess.SubprocessError) as e:
        echo(f"failed: {e}; putting the previous configuration back")
        for p, s in saved.items():
            _restore(root / p.lstrip("/"), s)
        for cmd in reload_commands(site, changed):
            try:
                runner(cmd)
            except (NetworkError, OSError, subprocess.SubprocessError) as again:
                echo(f"while rolling back: {again}")
        raise NetworkError(f"network apply failed and was rolled back: {e}",
                           "read the message above, fix site.toml, run "
                           "`espace network apply` again") from None
    return sorted(changed)


def _accepted(site: SimpleNamespace, nft: al.Nft | None) -> dict | None:
    """The accepted phones in the kernel, and the quota use kept on disk first
    (the reload is about to zero the kernel's counters)."""
    backend = al.NftBackend(site.hotspot.subnet, quotas.Policy.from_site(site), nft=nft)
    try:
        entries = backend.entries()
    except al.AllowlistError:
        return None  # no table loaded yet
    with contextlib.suppress(al.AllowlistError):
        backend.save()
    return entries


def _restore_accepted(site: SimpleNamespace, nft: al.Nft | None, entries: dict) -> None:
    """Put the accepted phones back in the sets (their quotas: :meth:`restore`)."""
    backend = al.NftBackend(site.hotspot.subnet, nft=nft)
    for mac, left in entries.get("mac", {}).items():
        if left > 0:
            with contextlib.suppress(al.AllowlistError):
                backend.nft.apply(al.allow_batch(mac, site.hotspot.address, left))
    for ip, left in entries.get("ip", {}).items():
        if left > 0:
            with contextlib.suppress(al.AllowlistError):
                backend.allow(None, ip, left)
