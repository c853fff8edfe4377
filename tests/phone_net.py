"""A phone in its own network namespace, reaching the box on a hotspot-like address.

Chromium treats ``http://127.0.0.1`` as a secure context (microphone, service workers,
``crypto.randomUUID`` work there) while a phone on the hotspot sees a plain-HTTP,
insecure origin: a visitor page tested on loopback can pass while every phone fails
(``/work/shared/MACHINE-NOTES.md``). :class:`PhoneNet` makes a namespace joined to the
test's own namespace by a veth pair; the test's live server listens on the near end's
address, and Playwright starts Debian's chromium inside the namespace through a small
wrapper (its pipe to chromium crosses ``ip netns exec`` unchanged).

Needs root and iproute2. :meth:`PhoneNet.close` is safe to call twice.
"""

# Test tooling: fixed argv of system programs.
# ruff: noqa: S603, S607

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path


class PhoneNet:
    def __init__(self, workdir: Path) -> None:
        tag = f"{os.getpid() % 1000:03d}{secrets.token_hex(2)}"
        self.ns = f"espi{tag}"
        self.host_if = f"eih{tag}"
        self.phone_if = f"eip{tag}"
        # A /30 picked at random in 10.232.0.0/16: engineers' tests share this machine's
        # root namespace, so a fixed subnet would collide.
        block = secrets.randbelow(16384) * 4
        base = f"10.232.{block // 256}.{block % 256}"
        octets = base.split(".")
        self.box_address = ".".join(octets[:3] + [str(int(octets[3]) + 1)])
        self.phone_address = ".".join(octets[:3] + [str(int(octets[3]) + 2)])
        self.subnet = f"{base}/30"
        self.wrapper = Path(workdir) / "chromium-in-phone-ns"
        self.closed = False

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def __enter__(self) -> PhoneNet:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self._ip("netns", "add", self.ns)
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.phone_if)
        self._ip("link", "set", self.phone_if, "netns", self.ns)
        self._ip("address", "add", f"{self.box_address}/30", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._ip("-n", self.ns, "link", "set", "lo", "up")
        self._ip("-n", self.ns, "address", "add", f"{self.phone_address}/30", "dev",
                 self.phone_if)
        self._ip("-n", self.ns, "link", "set", self.phone_if, "up")
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        ip = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "ip"
        self.wrapper.write_text(f'#!/bin/sh\nexec {ip} netns exec {self.ns} {chromium} "$@"\n')
        self.wrapper.chmod(0o755)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        pids = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True,
                              text=True, check=False).stdout.split()
        for pid in pids:  # only chromium started by this test runs in it
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, check=False)
