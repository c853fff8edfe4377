"""Portal acceptance: how long from "Enter" to the first success answer on a probe,
and what the allow-list costs with 250 accepted phones.

Runs the real programs in network namespaces (provisioning.lab): needs root,
iproute2, nftables, dnsmasq and udhcpc. Run alone:

    sudo .venv/bin/python bench/portal_accept.py

Figures printed:
- Enter -> first 204 on the Android probe, through the root helper (one
  ``espace network allowlist-helper`` process per request, as on the box) and with
  the portal changing nft itself; median and worst of N.
- The allow-list with 250 accepted phones: time to accept one more, time to list
  the sets (what the portal does every 30 s), and forwarding throughput of an
  accepted phone through the uplink's NAT with 1 vs 251 entries and quotas.

References: Apple's sheet and Android re-probe right after the page load, so
Enter -> success should stay well under 1 s on the Pi; the per-packet cost of
nftables set lookups is a hash lookup, so 250 entries should not change throughput
measurably.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provisioning import allowlist as al  # noqa: E402
from provisioning.lab import BOX_ADDRESS, INTERNET_SERVER, HotspotLab  # noqa: E402

ROUNDS = 15
CLIENTS = 250
DOWNLOAD = 40_000_000


def _site(tmp: Path) -> dict:
    return {"site": {"id": "bench-site", "name": "Espace bench", "communes": ["Nioro"],
                     "languages": ["fr", "bm"]},
            "storage": {"data_dir": str(tmp / "data")},
            "uplink": {"client_daily_mb": 10000}}


def _fake_clients(n: int) -> tuple[list[dict], list[str]]:
    cmds: list[dict] = []
    macs = []
    for i in range(n):
        mac = f"02:00:00:00:{i // 256:02x}:{i % 256:02x}"
        ip = f"10.199.0.{i % 250 + 2}"
        macs.append(mac)
        cmds += al.allow_batch(mac, ip, 3600, 10_000 * 2**20)
    return cmds, macs


def enter_to_success(helper: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp, \
            HotspotLab(Path(tmp), _site(Path(tmp)), helper=helper) as lab:
        lab.dhcp()
        totals = []
        for _ in range(ROUNDS):
            # Forget the phone in the kernel so that every round is a real accept.
            lab.box_run(["nft", "flush", "set", "inet", "espace", "allowed_mac"])
            r = lab.phone_lab("accept", f"http://{BOX_ADDRESS}/welcome")
            assert r["status"] == 303 and r["probe"]["seconds"] is not None, r
            totals.append(r["total_seconds"])
        return totals


def allowlist_cost() -> dict:
    with tempfile.TemporaryDirectory() as tmp, \
            HotspotLab(Path(tmp), _site(Path(tmp)), uplink=True) as lab:
        lab.dhcp()
        assert lab.phone_lab("accept", f"http://{BOX_ADDRESS}/welcome")["status"] == 303
        nft = al.Nft(prefix=["ip", "netns", "exec", lab.box])
        backend = al.NftBackend(lab.site.hotspot.subnet, 10_000 * 2**20, nft=nft)

        def throughput() -> float:
            started = time.monotonic()
            r = lab.phone_lab("download", f"http://{INTERNET_SERVER}/bytes/{DOWNLOAD}", "10")
            assert r["outcome"] == "complete", r
            return r["bytes"] / (time.monotonic() - started) / 1e6

        def timed(f, n=5) -> float:
            times = []
            for _ in range(n):
                started = time.monotonic()
                f()
                times.append(time.monotonic() - started)
            return statistics.median(times)

        out = {"throughput_1": statistics.median([throughput() for _ in range(3)]),
               "accept_1": timed(lambda: backend.allow("02:aa:00:00:00:01", "10.199.0.250", 60)),
               "list_1": timed(backend.entries)}
        cmds, _ = _fake_clients(CLIENTS)
        started = time.monotonic()
        nft.apply(cmds)
        out["bulk_add"] = time.monotonic() - started
        entries = backend.entries()
        out["entries"] = len(entries["mac"]) + len(entries["ip"])
        out["throughput_n"] = statistics.median([throughput() for _ in range(3)])
        out["accept_n"] = timed(lambda: backend.allow("02:aa:00:00:00:02", "10.199.0.251", 60))
        out["list_n"] = timed(backend.entries)
        listing = nft.run(["-j", "list", "table", "inet", "espace"])
        out["listing_bytes"] = len(listing)
        return out


def main() -> None:
    print(f"portal acceptance in network namespaces ({ROUNDS} rounds)")
    for helper, label in ((True, "through the root helper (as on the box)"),
                          (False, "portal runs nft itself")):
        t = enter_to_success(helper)
        print(f"  Enter -> first 204 on the Android probe, {label}: median "
              f"{statistics.median(t) * 1000:.0f} ms, worst {max(t) * 1000:.0f} ms "
              "(reference: well under 1 s)")
    c = allowlist_cost()
    print(f"allow-list with {c['entries']} accepted phones (each with a quota):")
    print(f"  adding {CLIENTS} phones in one nft batch: {c['bulk_add'] * 1000:.0f} ms")
    print(f"  accepting one more phone: {c['accept_1'] * 1000:.1f} ms with 1 entry, "
          f"{c['accept_n'] * 1000:.1f} ms with {c['entries']}")
    print(f"  listing the sets (portal cache refresh, every 30 s): {c['list_1'] * 1000:.1f} ms "
          f"-> {c['list_n'] * 1000:.1f} ms; JSON {c['listing_bytes'] / 1024:.0f} KiB")
    print(f"  NAT throughput of an accepted phone: {c['throughput_1']:.0f} MB/s with 1 "
          f"entry, {c['throughput_n']:.0f} MB/s with {c['entries']} (reference: no "
          "measurable change, set lookups are hashed)")
    json.dump(c, sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
