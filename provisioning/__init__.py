"""The box's system configuration (hostapd, dnsmasq, nftables, systemd), mDNS, fleet tools."""
