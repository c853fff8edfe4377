"""The box's system configuration (hostapd, dnsmasq, nftables, systemd), mDNS, fleet tools."""


def contribute(registry) -> None:
    """``espace network ...`` (the hotspot's system configuration) and ``espace fleet
    ...`` (boxes over SSH, mDNS) (see :mod:`espace.registry`)."""
    from .fleet_cli import fleet
    from .network_cli import network

    registry.command(network)
    registry.command(fleet)
