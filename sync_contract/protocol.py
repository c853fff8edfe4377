"""The sync protocol, version 1: frames, signatures, compression, streams.

Part of :mod:`sync_contract`, the one package the box and central share; it must stay
free of box and central imports (no models, no settings, no Flask).

Wire format (HTTP/1.1 POST, one persistent connection per sync)::

    request  = MAGIC | box_id (16 raw bytes) | signature (64) | len (u32) | zjson | tail
    response = MAGIC | signature (64)                        | len (u32) | zjson | tail

``zjson`` is the canonical JSON message (sorted keys, no spaces, UTF-8) compressed with
zstd; ``tail`` is raw bytes (a blob or file piece) that are already compressed media
and gain nothing from zstd. The box signs with its Ed25519 key
``DOMAIN | path | box_id | sha256(len | zjson)``; central answers with its own key over
``DOMAIN_RESP | request digest | sha256(len | zjson)``, so a response cannot be replayed
to another request. The signature is checked *before* decompression, and
decompression is bounded (no zip bomb). The tail is not in the signature so that it can
be checked piece by piece as it streams in (a cut keeps what arrived): the signed
message lists the SHA-256 of each 64 KiB piece of the tail (``ph``, for blob uploads),
or the receiver already holds signed piece hashes (file downloads, from the catalogue).

Every operation is idempotent: replaying a signed request (a duplicate, a retry after a
lost response, a file imported twice from a USB stick) changes nothing the second time.
That is why requests carry no nonce.

Messages (``t`` names the type; fields are short because bytes are money):

* ``exchange`` request: ``push`` = list of ``[stream, after, events]`` where ``after`` is
  the box's acknowledged sequence for that stream and ``events`` are
  ``[seq, uuid, kind, created_at, payload]``; ``cursor`` = last central down-event id the
  box applied; ``want`` = most payload bytes the box accepts back; ``st`` = status
  (``ver``, ``pending``, ``disk``, ``content``, ``last_seq``; ``clock``: the box's own
  clock, Unix seconds, which central compares with its own; ``err`` and ``err_at``: why
  the box's syncs failed since its last success, and since when, only when they did).
  Response: ``acks`` = ``{stream: seq}`` the highest sequence of that stream central has
  stored with everything before it; ``down`` = list of ``[id, kind, payload]``;
  ``more`` = true when more down-events are waiting.
* ``blob`` request: ``sha``, ``size``, ``off`` (offset of the tail), ``ph`` (base64
  SHA-256 of every 64 KiB piece from piece ``off // PIECE`` to the end of the tail),
  tail = bytes from ``off``. Response: ``have`` (bytes central holds: whole pieces are
  verified, a cut may leave part of one that is verified when it completes), ``done``.
  An ``off`` other than central's ``have`` writes nothing and returns ``have``: this is
  how the box learns where to resume, and why the create is idempotent.
* ``file`` request: ``sha``, ``off``, ``len``; response tail = the bytes, ``size``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import uuid
from dataclasses import dataclass
from typing import Any

import zstandard
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .streams import STREAMS  # noqa: F401 - the protocol's push names them

VERSION = 1
MAGIC = b"ES\x00\x01"
DOMAIN = b"espace-sync-v1-req\x00"
DOMAIN_RESP = b"espace-sync-v1-resp\x00"
CONTENT_TYPE = "application/x-espace-sync"

PATH_ENROLL = "/sync/v1/enroll"
PATH_EXCHANGE = "/sync/v1/x"
PATH_BLOB = "/sync/v1/b"
PATH_FILE = "/sync/v1/f"

PIECE = 64 * 1024  # blob/file piece verified as a unit
MAX_JSON = 16 * 2**20  # largest decompressed message accepted
MAX_TAIL = 4 * 2**20
ZSTD_LEVEL = 12


class ProtocolError(ValueError):
    """A frame that is malformed, too large, of another version, or badly signed."""


def canonical(obj: Any) -> bytes:
    """The one JSON encoding both sides sign and compress: sorted keys, no spaces."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode()


def _params(size: int) -> zstandard.ZstdCompressionParameters:
    """Level 12 with its tables capped: a batch is at most about 1 MiB, and level 12's
    own tables (tens of MB) would not fit the sync's memory budget on a Pi."""
    window = max(10, min(21, (max(size, 1) - 1).bit_length()))
    return zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL, source_size=size, window_log=window, hash_log=min(window, 18),
        chain_log=min(window, 18))


def compress(data: bytes, level: int = ZSTD_LEVEL) -> bytes:
    return zstandard.ZstdCompressor(compression_params=_params(len(data))).compress(data)


MAX_WINDOW = 1 << 21  # compress() never uses a larger window (see _params)


def decompress(data: bytes, limit: int = MAX_JSON) -> bytes:
    """Decompress one zstd frame, refusing it as soon as it grows past ``limit`` bytes:
    a 12 KB frame of zeros must not take hundreds of MB before being refused. The
    decoder's window is capped too, so a frame cannot make it allocate a large one."""
    chunks: list[bytes] = []
    size = 0
    try:
        reader = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW).stream_reader(data)
        with reader:
            while True:
                chunk = reader.read(min(limit + 1 - size, 1 << 20) or 1)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ProtocolError("message too large")
                chunks.append(chunk)
    except zstandard.ZstdError as e:
        raise ProtocolError(f"bad zstd data: {e}") from None
    return b"".join(chunks)


# --- keys --------------------------------------------------------------------------


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def load_private(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public(b64: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(b64, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as e:
        raise ProtocolError(f"bad public key: {e}") from None


# --- frames ------------------------------------------------------------------------


def body_digest(zjson: bytes) -> bytes:
    h = hashlib.sha256(struct.pack(">I", len(zjson)))
    h.update(zjson)
    return h.digest()


@dataclass
class Request:
    box_id: str
    message: dict
    tail: bytes
    digest: bytes


def encode_request(key: Ed25519PrivateKey, box_id: str, path: str, message: dict,
                   tail: bytes = b"") -> bytes:
    """A signed request frame for ``path`` (the path is signed: a blob piece cannot be
    replayed as an exchange)."""
    zjson = compress(canonical({"v": VERSION, **message}))
    digest = body_digest(zjson)
    box = uuid.UUID(box_id).bytes
    sig = key.sign(DOMAIN + path.encode() + b"\x00" + box + digest)
    return MAGIC + box + sig + struct.pack(">I", len(zjson)) + zjson + tail


def encode_request_parts(key: Ed25519PrivateKey, box_id: str, path: str,
                         parts: list[bytes]) -> bytes:
    """Like :func:`encode_request` for a message already written as canonical JSON in
    pieces (the client's batches), compressed as a stream."""
    size = sum(len(p) for p in parts)
    compressor = zstandard.ZstdCompressor(compression_params=_params(size)).compressobj(
        size=size)
    out = [compressor.compress(p) for p in parts]
    out.append(compressor.flush())
    zjson = b"".join(out)
    digest = body_digest(zjson)
    box = uuid.UUID(box_id).bytes
    sig = key.sign(DOMAIN + path.encode() + b"\x00" + box + digest)
    return MAGIC + box + sig + struct.pack(">I", len(zjson)) + zjson


def peek_box(frame: bytes) -> str:
    """The box id a request frame claims (not yet verified)."""
    if len(frame) < 88 or frame[:4] != MAGIC:
        raise ProtocolError("not an Espace sync v1 request")
    return str(uuid.UUID(bytes=frame[4:20]))


def decode_request(frame: bytes, path: str, public_key: Ed25519PublicKey) -> Request:
    """Check the signature, then decompress: raises ProtocolError on anything wrong."""
    box_id = peek_box(frame)
    sig = frame[20:84]
    (n,) = struct.unpack(">I", frame[84:88])
    zjson, tail = frame[88:88 + n], frame[88 + n:]
    if len(zjson) != n:
        raise ProtocolError("truncated frame")
    if len(tail) > MAX_TAIL:
        raise ProtocolError("tail too large")
    digest = body_digest(zjson)
    try:
        public_key.verify(sig, DOMAIN + path.encode() + b"\x00" + frame[4:20] + digest)
    except InvalidSignature:
        raise ProtocolError("bad signature") from None
    message = _load(zjson)
    return Request(box_id, message, tail, digest)


def encode_response(key: Ed25519PrivateKey, request_digest: bytes, message: dict,
                    tail: bytes = b"") -> bytes:
    zjson = compress(canonical({"v": VERSION, **message}))
    sig = key.sign(DOMAIN_RESP + request_digest + body_digest(zjson))
    return MAGIC + sig + struct.pack(">I", len(zjson)) + zjson + tail


def decode_response(frame: bytes, request_digest: bytes,
                    public_key: Ed25519PublicKey) -> tuple[dict, bytes]:
    if len(frame) < 72 or frame[:4] != MAGIC:
        raise ProtocolError("not an Espace sync v1 response")
    sig = frame[4:68]
    (n,) = struct.unpack(">I", frame[68:72])
    zjson, tail = frame[72:72 + n], frame[72 + n:]
    if len(zjson) != n:
        raise ProtocolError("truncated response")
    try:
        public_key.verify(sig, DOMAIN_RESP + request_digest + body_digest(zjson))
    except InvalidSignature:
        raise ProtocolError("bad response signature") from None
    return _load(zjson), tail


def request_digest_of(frame: bytes) -> bytes:
    (n,) = struct.unpack(">I", frame[84:88])
    return body_digest(frame[88:88 + n])


def head_length(frame_start: bytes) -> int:
    """Bytes of a request frame before its tail, from its first 88 bytes."""
    if len(frame_start) < 88 or frame_start[:4] != MAGIC:
        raise ProtocolError("not an Espace sync v1 request")
    (n,) = struct.unpack(">I", frame_start[84:88])
    if n > MAX_JSON:
        raise ProtocolError("message too large")
    return 88 + n


def _load(zjson: bytes) -> dict:
    try:
        message = json.loads(decompress(zjson))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"bad JSON: {e}") from None
    if not isinstance(message, dict) or message.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {message.get('v')!r}"
                            if isinstance(message, dict) else "message is not an object")
    return message


# --- message helpers -----------------------------------------------------------------


def event_row(seq: int, event_uuid: str, kind: str, created_at: str, payload: Any) -> list:
    return [seq, event_uuid, kind, created_at, payload]


def validate_push(push: Any) -> list[tuple[str, int, list]]:
    """The ``push`` field, checked: streams known, sequences increasing and > after."""
    if not isinstance(push, list):
        raise ProtocolError("push must be a list")
    out = []
    for item in push:
        if not (isinstance(item, list) and len(item) == 3 and item[0] in STREAMS
                and isinstance(item[1], int) and isinstance(item[2], list)):
            raise ProtocolError("push item must be [stream, after, events]")
        stream, after, events = item
        last = after
        for ev in events:
            if not (isinstance(ev, list) and len(ev) == 5 and isinstance(ev[0], int)
                    and isinstance(ev[1], str) and isinstance(ev[2], str)):
                raise ProtocolError("event must be [seq, uuid, kind, created_at, payload]")
            if ev[0] <= last:
                raise ProtocolError("event sequences must increase")
            last = ev[0]
        out.append((stream, after, events))
    return out


def piece_hash(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def piece_hashes(data: bytes, piece: int = PIECE) -> list[str]:
    return [piece_hash(data[i:i + piece]) for i in range(0, len(data), piece)]
