"""A box advertises ``_espace._tcp`` in one network namespace; ``espace fleet
discover``'s browser finds it from another, over a veth pair (real mDNS multicast)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager

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
        yield box, laptop, tag
    finally:
        for ns in (box, laptop):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _in_ns(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-m", "provisioning.mdns", *args]


def test_advertised_box_is_discovered_from_another_namespace(two_namespaces):
    box, laptop, _ = two_namespaces
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
    _, laptop, _ = two_namespaces
    found = subprocess.run(_in_ns(laptop, "discover", "2"), capture_output=True, text=True,
                           cwd=ROOT, timeout=60)
    assert found.returncode == 0 and found.stdout == ""


@contextmanager
def _advertising(ns: str, *args: str):
    adv = subprocess.Popen(_in_ns(ns, "advertise", *args), stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert adv.stdout.readline().strip() == "advertising", adv.stderr.read()
        yield adv
    finally:
        adv.stdin.close()
        try:
            adv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            adv.kill()
            adv.wait()
        adv.stdout.close()
        adv.stderr.close()


def test_an_address_that_comes_after_the_worker_is_announced(two_namespaces):
    """A cable plugged in late, a slow DHCP lease: the box had no address when its
    advertiser started, and is found within 10 s of getting one (issue 21)."""
    box, laptop, tag = two_namespaces
    subprocess.run(["ip", "-n", box, "addr", "flush", "dev", f"mb{tag}"], check=True)
    with _advertising(box, "kita", "Espace de Kita", "0.2.0", "-", "c0ffee12"):
        empty = subprocess.run(_in_ns(laptop, "discover", "2"), capture_output=True,
                               text=True, cwd=ROOT, timeout=60)
        assert empty.stdout == ""  # nothing to announce yet
        subprocess.run(["ip", "-n", box, "addr", "add", "10.88.0.1/24", "dev", f"mb{tag}"],
                       check=True)
        found = subprocess.run(_in_ns(laptop, "discover", "10", "1", "hosts"),
                               capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert found.returncode == 0, found.stderr
    assert [ln.split("\t") for ln in found.stdout.splitlines()] == [
        ["kita", "Espace de Kita", "0.2.0", "10.88.0.1", "80", "espace-kita-c0ffee.local."]]


def test_two_cards_with_one_site_id_have_their_own_names_and_see_each_other(
        two_namespaces, tmp_path):
    """Two cards flashed with the same site file: each is listed at its own address under
    its own host name, and each lists the other for the kiosk and `espace doctor`."""
    box, laptop, _ = two_namespaces
    twins_a, twins_b = tmp_path / "a.json", tmp_path / "b.json"
    with _advertising(box, "diema", "Espace de Diéma", "0.2.0", "-", "aaaa1111", str(twins_a)), \
            _advertising(laptop, "diema", "Espace de Diéma", "0.2.0", "-", "bbbb2222",
                         str(twins_b)):
        found = subprocess.run(_in_ns(laptop, "discover", "20", "2", "hosts"),
                               capture_output=True, text=True, cwd=ROOT, timeout=60)
        rows = sorted(ln.split("\t") for ln in found.stdout.splitlines())
        assert [(r[3], r[5]) for r in rows] == [("10.88.0.1", "espace-diema-aaaa11.local."),
                                                ("10.88.0.2", "espace-diema-bbbb22.local.")]
        deadline = time.monotonic() + 20
        while not (twins_a.exists() and twins_b.exists()
                   and json.loads(twins_a.read_text()) and json.loads(twins_b.read_text())):
            assert time.monotonic() < deadline, "the boxes never saw each other"
            time.sleep(0.5)
        assert json.loads(twins_a.read_text()) == [
            {"host": "espace-diema-bbbb22.local.", "address": "10.88.0.2", "box": "bbbb2222"}]
        assert json.loads(twins_b.read_text())[0]["address"] == "10.88.0.1"
    assert json.loads(twins_a.read_text()) == []  # stopped: nothing stale for the kiosk
