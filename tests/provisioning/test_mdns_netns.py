"""A box advertises ``_espace._tcp`` in one network namespace; ``espace fleet
discover``'s browser finds it from another, over a veth pair (real mDNS multicast)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from tests.support import ROOT, require_program, require_root

pytestmark = [pytest.mark.netns]


@pytest.fixture
def two_namespaces():
    require_root("network namespaces")
    require_program("ip", "iproute2")
    tag = uuid.uuid4().hex[:6]
    box, laptop = f"mdns-box-{tag}", f"mdns-lap-{tag}"
    try:
        for ns in (box, laptop):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "link", "add", f"mb{tag}", "netns", box, "type", "veth",
                        "peer", "name", f"ml{tag}", "netns", laptop], check=True)
        for ns, dev, addr in ((box, f"mb{tag}", "10.88.0.1/24"),
                              (laptop, f"ml{tag}", "10.88.0.2/24")):
            subprocess.run(["ip", "-n", ns, "addr", "add", addr, "dev", dev], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", dev, "multicast", "on", "up"],
                           check=True)
        yield box, laptop
    finally:
        for ns in (box, laptop):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _in_ns(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-m", "provisioning.mdns", *args]


def test_advertised_box_is_discovered_from_another_namespace(two_namespaces):
    box, laptop = two_namespaces
    adv = subprocess.Popen(_in_ns(box, "advertise", "nioro-du-sahel", "Espace de Nioro",
                                  "0.1.0", "10.88.0.1"),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert adv.stdout.readline().strip() == "advertising", adv.stderr.read()
        # Returns as soon as one box answers; 20 s is only the upper bound.
        found = subprocess.run(_in_ns(laptop, "discover", "20", "1"), capture_output=True,
                               text=True, cwd=ROOT, timeout=60)
        assert found.returncode == 0, found.stderr
        lines = [ln.split("\t") for ln in found.stdout.splitlines()]
        assert lines == [["nioro-du-sahel", "Espace de Nioro", "0.1.0", "10.88.0.1", "80"]]
    finally:
        adv.stdin.close()
        try:
            adv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            adv.kill()
            adv.wait()
        adv.stdout.close()
        adv.stderr.close()


def test_nothing_found_on_an_empty_lan(two_namespaces):
    _, laptop = two_namespaces
    found = subprocess.run(_in_ns(laptop, "discover", "2"), capture_output=True, text=True,
                           cwd=ROOT, timeout=60)
    assert found.returncode == 0 and found.stdout == ""
