"""The box's system configuration (hostapd, dnsmasq, nftables, systemd), mDNS, fleet tools."""


def contribute(registry) -> None:
    """``espace network ...`` (the hotspot's system configuration), ``espace fleet
    ...`` (boxes over SSH, mDNS) and the kiosk's Internet tab (today's use of the
    shared uplink) (see :mod:`espace.registry`)."""
    from appliance.msgids import N_

    from .fleet_cli import fleet
    from .network_cli import network

    registry.command(network)
    registry.command(fleet)
    registry.blueprint("provisioning.kiosk:bp")  # imported by the app only
    registry.kiosk_tab("kiosk_internet.index", N_("Internet"), "wifi", order=85)
