"""Kernel queueing on the uplink: the box's own traffic first, phones share the rest.

Rendered from ``uplink.*`` into ``/etc/espace/shaping.tc`` (a ``tc -batch`` file) and
loaded by ``espace-shaping.service`` when the uplink's interface appears.

How the queues tell the box from the phones: nftables masquerades the phones'
connections to source ports 49152-65535 (``PHONE_PORTS``), and the box's own
connections use ports below (``net.ipv4.ip_local_port_range``, rendered in the
sysctl file). A ``u32`` filter on that port range sorts packets into two HTB classes,
both ways:

- uploads: HTB on the uplink itself (after NAT, the source port is the mapped one);
- downloads: the uplink's ingress is redirected to an IFB device (``espace-ifb``)
  with the same HTB (before de-NAT, the destination port is the mapped one).

The box's class is guaranteed ``box_share_percent`` of the rate and has priority for
spare bandwidth; the phones' class gets the rest and may borrow everything the box
does not use. Shaping just under the uplink's real rate (``down_kbit``/``up_kbit``)
keeps the queue in the box, where these rules apply, instead of in the 3G modem.
Each class ends in ``fq_codel`` (per-connection fair queueing with a short queue).
"""

from __future__ import annotations

from types import SimpleNamespace

IFB = "espace-ifb"
PHONE_PORTS = "49152-65535"
BOX_PORTS = "32768 49151"  # net.ipv4.ip_local_port_range on the box
# u32 matches the port's two top bits: 49152 = 0xc000, so ports 49152-65535.
PORT_MASK = "0xc000 0xc000"
LEAF = "fq_codel"


def enabled(site: SimpleNamespace) -> bool:
    """Queueing applies when phones share an uplink whose rates are known."""
    up = site.uplink
    return bool(up.interface) and up.client_daily_mb > 0 and up.down_kbit > 0 \
        and up.up_kbit > 0


def _tree(dev: str, kbit: int, share: int, port: str, leaf: str) -> list[str]:
    box = max(8, kbit * share // 100)
    phones = max(8, kbit - box)
    return [
        f"qdisc replace dev {dev} root handle 1: htb default 10",
        f"class replace dev {dev} parent 1: classid 1:1 htb rate {kbit}kbit "
        f"ceil {kbit}kbit quantum 1514",
        # The box: guaranteed its share, first to borrow what is spare.
        f"class replace dev {dev} parent 1:1 classid 1:10 htb rate {box}kbit "
        f"ceil {kbit}kbit prio 0 quantum 1514",
        # Phones: the rest, and all of it when the box is idle.
        f"class replace dev {dev} parent 1:1 classid 1:20 htb rate {phones}kbit "
        f"ceil {kbit}kbit prio 1 quantum 1514",
        f"qdisc replace dev {dev} parent 1:10 handle 10: {leaf}",
        f"qdisc replace dev {dev} parent 1:20 handle 20: {leaf}",
        f"filter replace dev {dev} parent 1: protocol ip prio 1 handle 800::801 u32 "
        f"match ip protocol 6 0xff match ip {port} {PORT_MASK} flowid 1:20",
        f"filter replace dev {dev} parent 1: protocol ip prio 1 handle 800::802 u32 "
        f"match ip protocol 17 0xff match ip {port} {PORT_MASK} flowid 1:20",
    ]


def batch(site: SimpleNamespace, leaf: str = LEAF) -> list[str]:
    """The ``tc -batch`` lines (empty when queueing is off). ``leaf`` is the qdisc
    in each class (``fq_codel`` on the box; a test kernel without it may use
    ``pfifo``)."""
    if not enabled(site):
        return []
    up = site.uplink
    dev, share = up.interface, up.box_share_percent
    return [
        *_tree(dev, up.up_kbit, share, "sport", leaf),
        f"qdisc replace dev {dev} handle ffff: ingress",
        f"filter replace dev {dev} parent ffff: protocol all prio 1 handle 800::801 u32 "
        f"match u32 0 0 action mirred egress redirect dev {IFB}",
        *_tree(IFB, up.down_kbit, share, "dport", leaf),
    ]


def setup_commands(site: SimpleNamespace) -> list[list[str]]:
    """What runs before the batch: a fresh IFB device, and no old qdisc."""
    dev = site.uplink.interface
    return [["ip", "link", "add", IFB, "type", "ifb"], ["ip", "link", "set", IFB, "up"],
            ["tc", "qdisc", "del", "dev", dev, "root"],
            ["tc", "qdisc", "del", "dev", dev, "ingress"]]


def teardown_commands(site: SimpleNamespace) -> list[list[str]]:
    dev = site.uplink.interface
    return [["tc", "qdisc", "del", "dev", dev, "root"],
            ["tc", "qdisc", "del", "dev", dev, "ingress"],
            ["ip", "link", "del", IFB]]
