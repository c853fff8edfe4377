"""Where an uncompressed entry's bytes sit in a ZIM file, so media is streamed with
``os.pread`` instead of loading the whole item (libzim's Python binding has no
direct-access call: ``item.content`` reads a 60 MB video into memory).

Only the parts of the openZIM format needed for that are read: the header, the
path pointer list (sorted by namespace then path, binary-searched), the dirent and
the cluster's blob offsets. Anything unexpected returns ``None`` and the caller
falls back to ``item.content``.
"""

from __future__ import annotations

import os
import struct

MAGIC = 72173914  # 0x044D495A, "ZIM\x04" little-endian
HEADER = struct.Struct("<IHH16sIIQQQQIIQ")
COMPRESSION_NONE = (0, 1)


def is_zim_header(data: bytes) -> bool:
    return len(data) >= 4 and struct.unpack_from("<I", data)[0] == MAGIC


class DirectAccess:
    """Locate blobs in one open ZIM file descriptor. Thread-safe (pread only)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        head = os.pread(fd, HEADER.size, 0)
        (magic, self.major, _minor, _uuid, self.entry_count, self.cluster_count,
         self.path_ptr_pos, _title_ptr, self.cluster_ptr_pos, _mime, _main, _layout,
         _checksum) = HEADER.unpack(head)
        if magic != MAGIC:
            raise ValueError("not a ZIM file")

    def _dirent(self, index: int) -> tuple[int, str, str, int, int] | None:
        ptr = struct.unpack("<Q", os.pread(self.fd, 8, self.path_ptr_pos + 8 * index))[0]
        raw = os.pread(self.fd, 16 + 512, ptr)
        mime, param_len, ns = struct.unpack_from("<HBc", raw)
        if mime == 0xFFFF:  # redirect: no cluster
            head, cluster, blob = 12, -1, -1
        elif mime in (0xFFFE, 0xFFFD):  # link target / deleted (old formats)
            head, cluster, blob = 8, -1, -1
        else:
            cluster, blob = struct.unpack_from("<II", raw, 8)
            head = 16
        rest = raw[head:]
        end = rest.find(b"\0")
        if end < 0:  # a path longer than we read
            rest = os.pread(self.fd, head + 65536, ptr)[head:]
            end = rest.find(b"\0")
        path = rest[:end].decode("utf-8", "replace")
        return mime, ns.decode("latin-1"), path, cluster, blob

    def locate(self, path: str, namespace: str = "C") -> tuple[int, int] | None:
        """``(offset, size)`` of the entry's bytes in the file, or None when it is
        compressed, a redirect or not found."""
        key = (namespace, path.encode("utf-8"))
        lo, hi = 0, self.entry_count
        while lo < hi:
            mid = (lo + hi) // 2
            _mime, ns, p, cluster, blob = self._dirent(mid)
            k = (ns, p.encode("utf-8"))
            if k < key:
                lo = mid + 1
            elif k > key:
                hi = mid
            else:
                if cluster < 0:
                    return None
                return self._blob(cluster, blob)
        return None

    def _blob(self, cluster: int, blob: int) -> tuple[int, int] | None:
        if cluster >= self.cluster_count:
            return None
        start = struct.unpack("<Q", os.pread(self.fd, 8, self.cluster_ptr_pos + 8 * cluster))[0]
        info = os.pread(self.fd, 1, start)[0]
        if info & 0x0F not in COMPRESSION_NONE:
            return None
        width = 8 if info & 0x10 else 4
        fmt = "<QQ" if width == 8 else "<II"
        a, b = struct.unpack(fmt, os.pread(self.fd, 2 * width, start + 1 + width * blob))
        if b < a:
            return None
        return start + 1 + a, b - a
