"""What the box itself has to tell a technician, read from files ``espace-boot`` (root)
and the worker write on the data partition: the SSH host-key fingerprints
(``identity.txt``), a site file on the FAT partition that was not used
(``site-status.txt``), and other boxes on the LAN announcing this site's id
(``lan-twins.json``). Shown by the kiosk's health page and ``espace doctor``."""

from __future__ import annotations

import json
from pathlib import Path

SITE_STATUS = "site-status.txt"
IDENTITY = "identity.txt"
LAN_TWINS = "lan-twins.json"


def identity(data_dir: Path) -> dict[str, str]:
    """box_id, site_id, ssh_ed25519, ssh_rsa... ({} before the first boot)."""
    try:
        text = (Path(data_dir) / IDENTITY).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def fingerprints(data_dir: Path) -> dict[str, str]:
    """Key type -> SHA256 fingerprint of the box's SSH host keys."""
    return {k.removeprefix("ssh_"): v for k, v in identity(data_dir).items()
            if k.startswith("ssh_")}


def site_problem(data_dir: Path) -> str:
    """Why the site file on the FAT partition is not the one running ("" when it is)."""
    try:
        return (Path(data_dir) / SITE_STATUS).read_text(encoding="utf-8",
                                                         errors="replace").strip()
    except OSError:
        return ""


def lan_twins(data_dir: Path) -> list[dict]:
    """Other boxes seen on the LAN with this box's site id (by the worker's mDNS)."""
    try:
        twins = json.loads((Path(data_dir) / LAN_TWINS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [t for t in twins if isinstance(t, dict)] if isinstance(twins, list) else []
