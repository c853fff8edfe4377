"""The box's TLS key, its name and the certificate central obtained for it.

Everything lives in ``DATA_DIR/tls/``:

- ``key.pem``: the box's ECDSA P-256 key, made here once (0600); it never leaves the box.
  P-256 because a Raspberry Pi signs a handshake with it several times faster than
  with RSA 2048 (see docs/secure-origin.md).
- ``name``: the stable name central gave this box (``<site>.<domain>``).
- ``fullchain.pem``: the certificate and its intermediates, replaced only by a newer
  one that matches the key and the name.
- ``hosts/espace``: a hosts file for dnsmasq (``hostsdir``), so that the name answers
  with the box on the hotspot in every mode, offline or with an uplink.

Every write is atomic (temporary file, fsync, rename, fsync of the directory): a power
cut leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.blobs import fsync_dir
from appliance.errors import EspaceError

# cryptography (about 10 MB of RSS) is imported where a key or a certificate is read:
# the web process reads one only once central has given the box a certificate.
if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

TLS_DIR = "tls"
MAX_CHAIN_CHARS = 64 * 1024
_key_lock = threading.Lock()


class CertificateRejected(EspaceError):
    """A certificate from central does not fit this box (other key, other name)."""


class KeyMismatch(CertificateRejected):
    """The certificate is for another key than this box's (the SD card was replaced)."""


def tls_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / TLS_DIR


def hosts_dir(data_dir: Path | str) -> Path:
    return tls_dir(data_dir) / "hosts"


def write_atomic(path: Path, data: bytes, mode: int = 0o644, tmp_dir: Path | None = None) -> None:
    """Write, fsync, rename, fsync the directory. ``tmp_dir`` (same filesystem) keeps
    the half-written file out of a directory someone watches (dnsmasq's hostsdir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = (tmp_dir or path.parent) / (path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def private_key(data_dir: Path | str) -> ec.EllipticCurvePrivateKey:
    """The box's key, made once. Safe to call from several threads."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tls_dir(data_dir) / "key.pem"
    with _key_lock:
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            write_atomic(
                path,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
                mode=0o600,
            )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def make_csr(data_dir: Path | str, name: str) -> str:
    """A CSR for ``name`` signed with the box's key (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = private_key(data_dir)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def set_name(data_dir: Path | str, name: str, address: str) -> None:
    """Keep the box's name and tell dnsmasq to answer it with ``address``."""
    d = tls_dir(data_dir)
    write_atomic(d / "name", name.encode("ascii") + b"\n")
    write_atomic(hosts_dir(data_dir) / "espace", f"{address} {name}\n".encode("ascii"), tmp_dir=d)


def name(data_dir: Path | str) -> str:
    try:
        return (tls_dir(data_dir) / "name").read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _leaf(chain_pem: bytes) -> x509.Certificate:
    from cryptography import x509

    return x509.load_pem_x509_certificate(chain_pem)


def _names(leaf: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


def install(data_dir: Path | str, chain_pem: str) -> bool:
    """Install a chain from central if it is for this box's key and name and newer than
    the one held. Returns whether it was installed; raises
    :class:`CertificateRejected` when it does not fit."""
    from cryptography.hazmat.primitives import serialization

    if not isinstance(chain_pem, str) or not chain_pem or len(chain_pem) > MAX_CHAIN_CHARS:
        raise CertificateRejected("the certificate is missing or too large")
    try:
        leaf = _leaf(chain_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise CertificateRejected("the certificate is not PEM") from None
    own = (
        private_key(data_dir)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    theirs = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if own != theirs:
        raise KeyMismatch(
            "the certificate is for another key", "the box sends its CSR again at the next sync"
        )
    want = name(data_dir)
    names = _names(leaf)
    if want not in names:
        raise CertificateRejected(f"the certificate names {names}, not {want!r}")
    path = tls_dir(data_dir) / "fullchain.pem"
    held = status(data_dir)
    if held.not_after is not None and (
        held.not_after > leaf.not_valid_after_utc
        or path.read_text("ascii", errors="replace") == chain_pem
    ):
        return False  # an older or the same certificate, replayed
    write_atomic(path, chain_pem.encode("ascii"))
    return True


@dataclass(frozen=True)
class Status:
    name: str
    not_before: dt.datetime | None
    not_after: dt.datetime | None
    valid: bool
    reason: str  # why not valid: "no name", "no certificate", "expired", ...

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "valid": self.valid,
            "reason": self.reason,
            "not_after": self.not_after.isoformat() if self.not_after else None,
        }


def status(data_dir: Path | str, now: dt.datetime | None = None) -> Status:
    """What the box holds and whether it is valid ``now`` (aware UTC)."""
    now = now or dt.datetime.now(dt.UTC)
    own = name(data_dir)
    try:
        leaf = _leaf((tls_dir(data_dir) / "fullchain.pem").read_bytes())
    except (OSError, ValueError):
        return Status(
            own, None, None, False, "no name from central yet" if not own else "no certificate yet"
        )
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if own not in _names(leaf):
        # Central renamed the box (the region's domain changed): until the certificate
        # for the new name arrives, the old one would fail in every browser.
        return Status(own, start, end, False, "certificate for another name")
    if now >= end:
        return Status(own, start, end, False, "expired")
    if now < start:
        return Status(own, start, end, False, "not yet valid (check the clock)")
    return Status(own, start, end, True, "")


def _stamp(path: str) -> tuple[int, int, int] | None:
    """What changes when ``path`` is written (atomically, by rename), None if absent:
    a box without a name or certificate yet must not read both files on every call."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class StatusCache:
    """:func:`status` remembered until the certificate or the name file changes (two
    ``stat`` per call, a missing file included): the portal asks on every Enter and
    every HTTPS response, and the captive portal on every request for another host."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self._key: tuple | None = None
        self._status: Status | None = None
        self._lock = threading.Lock()
        d = tls_dir(self.data_dir)
        self._files = (str(d / "fullchain.pem"), str(d / "name"))

    def get(self, now: dt.datetime | None = None) -> Status:
        if now is not None:
            return status(self.data_dir, now)
        key = (_stamp(self._files[0]), _stamp(self._files[1]))
        with self._lock:
            if key != self._key or self._status is None:
                self._status = status(self.data_dir)
                self._key = key
            found = self._status
        if (
            found.valid
            and found.not_after is not None
            and dt.datetime.now(dt.UTC) >= found.not_after
        ):
            return status(self.data_dir, now)  # it expired while cached
        return found
