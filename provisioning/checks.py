"""Check rendered files with the real programs before they reach the system.

``dnsmasq --test`` and ``nft -c`` check without changing anything. hostapd has no
check mode: it reads its file, then fails at the driver when there is no radio (as
on a build machine); :func:`hostapd_config_errors` tells the configuration's errors
from the driver's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from appliance.errors import EspaceError

SBIN = "/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"


class NetworkError(EspaceError):
    """The box's network configuration could not be checked, applied or read."""


def program(name: str, package: str) -> str:
    path = shutil.which(name, path=SBIN)
    if not path:
        raise NetworkError(f"{name} is not installed", f"apt-get install {package}")
    return path


def _run(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                          check=False)


def check_dnsmasq(conf: Path) -> None:
    done = _run([program("dnsmasq", "dnsmasq"), "--test", "-C", str(conf)])
    if done.returncode != 0:
        raise NetworkError(f"{conf}: dnsmasq refuses it: {done.stderr.strip()}",
                           "check hotspot.* in site.toml")


def check_nft(ruleset: Path) -> None:
    done = _run([program("nft", "nftables"), "-c", "-f", str(ruleset)])
    if done.returncode != 0:
        raise NetworkError(f"{ruleset}: nft refuses it: {done.stderr.strip()[:500]}",
                           "check hotspot.* and uplink.* in site.toml")


CONFIG_ERROR = re.compile(
    r"^(Line \d+: .*|\d+ errors? found in configuration file.*|"
    r"Failed to read or parse configuration.*|Could not open configuration file.*)$",
    re.MULTILINE)
DRIVER_ERROR = re.compile(r"nl80211|Failed to initialize driver|Could not read interface|"
                          r"driver initialization failed|Failed to set up interface")


def hostapd_config_errors(output: str) -> list[str]:
    """The configuration errors in hostapd's output (driver failures are not)."""
    return [m.group(0).strip() for m in CONFIG_ERROR.finditer(output)]


def hostapd_reached_driver(output: str) -> bool:
    """Whether hostapd got past its configuration to the driver."""
    return bool(DRIVER_ERROR.search(output))


def check_hostapd(conf: Path, prefix: list[str] | None = None) -> str:
    """Run hostapd on ``conf`` where there is no radio (``prefix`` may put it in an
    empty network namespace); raise on a configuration error; return its output."""
    done = _run([*(prefix or []), program("hostapd", "hostapd"), "-d", str(conf)], timeout=20)
    output = done.stdout + done.stderr
    errors = hostapd_config_errors(output)
    if errors:
        raise NetworkError(f"{conf}: hostapd refuses it: {'; '.join(errors)}",
                           "check hotspot.* in site.toml")
    return output


def check_tc(batch: Path, site) -> None:
    """Load the uplink's queueing (a ``tc -batch`` file) in a scratch network
    namespace with an interface of the uplink's name: tc has no check mode, and this
    touches nothing of the running system. Needs root, like ``nft -c``."""
    from .shaping import IFB

    ip, tc = program("ip", "iproute2"), program("tc", "iproute2")
    ns = f"espace-check-{os.getpid()}"
    fix = "check uplink.* in site.toml (a kernel without fq_codel cannot load it either)"
    done = _run([ip, "netns", "add", ns])
    if done.returncode != 0:
        raise NetworkError(f"cannot check {batch}: {done.stderr.strip()}", "run as root")
    try:
        for argv in ([ip, "-n", ns, "link", "add", site.uplink.interface, "type", "veth",
                      "peer", "name", "espace-chk0"],
                     [ip, "-n", ns, "link", "add", IFB, "type", "ifb"],
                     [ip, "-n", ns, "link", "set", site.uplink.interface, "up"],
                     [ip, "-n", ns, "link", "set", IFB, "up"],
                     [tc, "-n", ns, "-batch", str(batch)]):
            done = _run(argv)
            if done.returncode != 0:
                raise NetworkError(f"{batch}: tc refuses it: {done.stderr.strip()[:500]}", fix)
    finally:
        _run([ip, "netns", "del", ns])
