"""What the sync brings for the secure origin, and what it sends back.

Down ``tls.name`` ``{"name"}``: central named this box; keep the name, make the key
if needed, and queue the CSR (up ``tls.csr`` ``{"name", "csr"}``, stream ``civic``) in
the same transaction that applies the down-event.
Down ``tls.certificate`` ``{"name", "chain", "not_after"}``: install it if it fits the
key and name and is newer than the one held.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance import outbox
from sync_contract import kinds

log = logging.getLogger("espace.tls")

DOWN_NAME = kinds.TLS_NAME.name
DOWN_CERTIFICATE = kinds.TLS_CERTIFICATE.name
UP_CSR = kinds.TLS_CSR.name
MAX_NAME = 200


def apply_name(payload: dict, data_dir: Path, address: str) -> str:
    """Inside the caller's transaction. Returns who applied it ("tls") or ""."""
    from . import store  # x509 when a record comes: most syncs bring none

    name = str(payload.get("name", "")).strip().lower() if isinstance(payload, dict) else ""
    labels = name.split(".")
    if (
        not name
        or len(name) > MAX_NAME
        or len(labels) < 3
        or not all(
            lab and lab.isascii() and all(c.isalnum() or c == "-" for c in lab) for lab in labels
        )
    ):
        log.warning("ignored a malformed name from central")
        return ""
    store.set_name(data_dir, name, address)
    outbox.append(kinds.TLS_CSR, {"name": name, "csr": store.make_csr(data_dir, name)})
    return "tls"


def apply_certificate(payload: dict, data_dir: Path) -> str:
    from . import store

    chain = payload.get("chain") if isinstance(payload, dict) else None
    try:
        installed = store.install(data_dir, chain)  # type: ignore[arg-type]
    except store.CertificateRejected as e:
        log.warning("certificate from central not installed: %s", e)
        own = store.name(data_dir)
        if isinstance(e, store.KeyMismatch) and own:
            # The key changed (a new SD card): ask again with the key this box holds.
            outbox.append(kinds.TLS_CSR, {"name": own, "csr": store.make_csr(data_dir, own)})
        return ""
    if installed:
        log.info("certificate installed for %s", store.name(data_dir))
    return "tls"


def register_sync(registry) -> None:
    """The sync's handlers for what central sends the secure origin."""
    registry.add(
        kinds.TLS_NAME,
        lambda payload, options: apply_name(
            payload, Path(options.data_dir), options.hotspot_address
        ),
    )
    registry.add(
        kinds.TLS_CERTIFICATE,
        lambda payload, options: apply_certificate(payload, Path(options.data_dir)),
    )
