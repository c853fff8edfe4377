"""Voice notes checked by content, never by file name or declared type.

:func:`probe` recognises the containers phones and browsers actually produce:
Ogg/Opus (Firefox's MediaRecorder), WebM/Opus (Chrome's), MP4/M4A/3GP (Android and
iOS recorders), AMR (older Androids), MP3 and WAV. For each it checks the magic bytes
*and* walks enough of the structure (pages, elements, boxes, frames, chunks) to reject
junk, a renamed executable or a truncated header. It returns the MIME type to serve
the note with and its duration, measured from what the file holds where a claim could
lie: Ogg/Opus and WebM/Opus by the packets' own frame counts (RFC 6716 TOC bytes), not
the granule position or Info duration they declare; AMR and MP3 by counting frames;
Vorbis at least its packets' shortest length; MP4 by its tracks' samples (AAC and AMR
frames counted, not ``mvhd``); WAV by its data size.

The work is bounded: a parser walks at most :func:`budget_for` pieces (pages, packets,
elements, boxes, frames) for the longest allowed note, and stops as soon as what it
counted is longer than allowed, so a crafted 3 MB file of tiny pieces costs the same
as a real note before it is refused.

Pure functions over bytes: no file system, no subprocess, no codec.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


class AudioError(ValueError):
    """Not a voice note we accept; ``str(e)`` says why (for logs, not visitors)."""


class AudioTooLong(AudioError):
    """Holds more audio than ``max_seconds`` (counted from the content)."""


DEFAULT_MAX_SECONDS = 900.0


def budget_for(max_seconds: float) -> int:
    """Pieces a real note of ``max_seconds`` may have: recorders make 50 Opus packets,
    AMR frames or WebM blocks a second (20 ms each; 100 at 10 ms), MP3 38 frames, plus
    a page or cluster now and then."""
    return int(max_seconds * 120) + 1000


class _Budget:
    """Counts the pieces a parser walks and the seconds it has measured so far."""

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds
        self.left = budget_for(max_seconds)
        self.seconds = 0.0

    def spend(self, pieces: int = 1) -> None:
        self.left -= pieces
        if self.left < 0:
            raise AudioError("too many pieces for a voice note")

    def add(self, seconds: float) -> None:
        self.seconds += seconds
        if self.seconds > self.max_seconds + 0.5:
            raise AudioTooLong(f"longer than {self.max_seconds:g} s")


@dataclass(frozen=True)
class AudioInfo:
    container: str  # ogg, webm, mp4, amr, mp3, wav
    mime: str
    seconds: float | None  # None when it cannot be computed cheaply
    codec: str = ""


EXTENSIONS = {"ogg": "ogg", "webm": "webm", "mp4": "m4a", "amr": "amr", "mp3": "mp3",
              "wav": "wav"}


def probe(data: bytes, max_seconds: float = DEFAULT_MAX_SECONDS) -> AudioInfo:
    """Identify ``data``; raise :class:`AudioError` if it is not a well-formed audio file,
    :class:`AudioTooLong` if it holds more than ``max_seconds`` of audio."""
    try:
        info = _probe(data, _Budget(max_seconds))
    except AudioError:
        raise
    except (struct.error, IndexError, KeyError, ValueError, OverflowError) as e:
        # A parser tripping on hostile bytes is a refusal, never a crash.
        raise AudioError(f"malformed file ({type(e).__name__})") from e
    if info.seconds is not None and info.seconds > max_seconds + 0.5:
        raise AudioTooLong(f"longer than {max_seconds:g} s")
    return info


def _probe(data: bytes, budget: _Budget) -> AudioInfo:
    if len(data) < 12:
        raise AudioError("too short to be audio")
    head = data[:16]
    if head.startswith(b"OggS"):
        return _ogg(data, budget)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _webm(data, budget)
    if head[4:8] == b"ftyp":
        return _mp4(data, budget)
    if head.startswith(b"#!AMR"):
        return _amr(data, budget)
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return _wav(data, budget)
    if head.startswith(b"ID3") or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return _mp3(data, budget)
    raise AudioError("unknown format")


# --- Ogg (RFC 3533) with Opus (RFC 7845) or Vorbis ------------------------------------------


_OPUS_MS = (10, 20, 40, 60)


def opus_packet_ms(head: bytes) -> float:
    """Duration of an Opus packet from its TOC byte (and frame count byte), RFC 6716
    section 3.1; 0 for an empty packet."""
    if not head:
        return 0.0
    config, code = head[0] >> 3, head[0] & 3
    if config < 12:
        frame = _OPUS_MS[config % 4]
    elif config < 16:
        frame = 10 if config % 2 == 0 else 20
    else:
        frame = (2.5, 5, 10, 20)[config % 4]
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        if len(head) < 2:
            raise AudioError("Opus packet without its frame count")
        frames = head[1] & 0x3F
    ms = frame * frames
    if ms > 120:
        raise AudioError("Opus packet longer than 120 ms")
    return ms


def _ogg(data: bytes, budget: _Budget) -> AudioInfo:
    pos, pages, serial, last_granule = 0, 0, None, -1
    first_packet = b""
    n = len(data)
    packets, head, opus = 0, b"", None
    vorbis_min = 0.0
    while pos < n:
        budget.spend()
        if n - pos < 27 or data[pos:pos + 4] != b"OggS":
            raise AudioError(f"broken Ogg page at byte {pos}")
        version, htype, granule, page_serial, _seq, _crc, nseg = struct.unpack_from(
            "<BBqIIIB", data, pos + 4)
        if version != 0:
            raise AudioError("unknown Ogg version")
        if pages == 0:
            if not htype & 0x02:
                raise AudioError("first Ogg page is not a beginning of stream")
            serial = page_serial
        if n - pos < 27 + nseg:
            raise AudioError("truncated Ogg page")
        lacing = data[pos + 27:pos + 27 + nseg]
        body_len = sum(lacing)
        body_start = pos + 27 + nseg
        if body_start + body_len > n:
            raise AudioError("truncated Ogg page")
        if pages == 0:
            first_packet = data[body_start:body_start + body_len]
            opus = first_packet.startswith(b"OpusHead")
            if first_packet.startswith(b"\x01vorbis") and len(first_packet) >= 30:
                rate = struct.unpack_from("<I", first_packet, 12)[0]
                short = 1 << (first_packet[28] & 0x0F)
                vorbis_min = short / 2 / rate if rate else 0.0
        if page_serial == serial:
            if granule != -1:
                last_granule = granule
            # The packets this page ends: each one's audio, from its own bytes.
            seg = body_start
            for size in lacing:
                if len(head) < 2:
                    head += data[seg:seg + min(size, 2 - len(head))]
                seg += size
                if size < 255:
                    budget.spend()
                    packets += 1
                    if packets > 2:  # after the two header packets
                        budget.add(opus_packet_ms(head) / 1000 if opus else vorbis_min)
                    head = b""
        pos = body_start + body_len
        pages += 1
    if first_packet.startswith(b"OpusHead") and len(first_packet) >= 19:
        pre_skip = struct.unpack_from("<H", first_packet, 10)[0]
        measured = max(0.0, budget.seconds - pre_skip / 48000)
        return AudioInfo("ogg", "audio/ogg", measured, "opus")
    if first_packet.startswith(b"\x01vorbis") and len(first_packet) >= 16:
        rate = struct.unpack_from("<I", first_packet, 12)[0]
        if not rate:
            raise AudioError("Vorbis header without a sample rate")
        # The granule position says how long; the packets say at least how long.
        return AudioInfo("ogg", "audio/ogg", max(max(0, last_granule) / rate, budget.seconds),
                         "vorbis")
    raise AudioError("Ogg stream is neither Opus nor Vorbis")


# --- WebM / Matroska (EBML) --------------------------------------------------------------

_EBML, _DOCTYPE, _SEGMENT = 0x1A45DFA3, 0x4282, 0x18538067
_CLUSTER, _TIMECODE, _SIMPLEBLOCK, _BLOCKGROUP, _BLOCK = 0x1F43B675, 0xE7, 0xA3, 0xA0, 0xA1
_INFO, _TIMECODESCALE, _DURATION, _TRACKS = 0x1549A966, 0x2AD7B1, 0x4489, 0x1654AE6B
_TOP = {0x114D9B74, _INFO, _TRACKS, _CLUSTER, 0x1C53BB6B, 0x1941A469, 0x1043A770,
        0x1254C367}  # SeekHead, Info, Tracks, Cluster, Cues, Attachments, Chapters, Tags
_UNKNOWN = -1


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-size integer at ``pos``: (value, next position)."""
    if pos >= len(data):
        raise AudioError("truncated EBML")
    first = data[pos]
    if first == 0:
        raise AudioError("invalid EBML length")
    length = 9 - first.bit_length()
    if pos + length > len(data):
        raise AudioError("truncated EBML")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    all_ones = value == (1 << (8 - length)) - 1 and not keep_marker
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
        all_ones = all_ones and b == 0xFF
    if all_ones:
        return _UNKNOWN, pos + length
    return value, pos + length


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(id, size or _UNKNOWN, start of payload)."""
    eid, pos = _vint(data, pos, keep_marker=True)
    size, pos = _vint(data, pos, keep_marker=False)
    return eid, size, pos


def _uint(b: bytes) -> int:
    return int.from_bytes(b, "big") if b else 0


def _webm(data: bytes, budget: _Budget) -> AudioInfo:
    n = len(data)
    eid, size, pos = _element(data, 0)
    if eid != _EBML or size == _UNKNOWN or pos + size > n:
        raise AudioError("broken EBML header")
    doctype, end = b"", pos + size
    while pos < end:
        cid, csize, cpos = _element(data, pos)
        if csize == _UNKNOWN or cpos + csize > end:
            raise AudioError("broken EBML header")
        if cid == _DOCTYPE:
            doctype = data[cpos:cpos + csize].rstrip(b"\0")
        pos = cpos + csize
    if doctype not in (b"webm", b"matroska"):
        raise AudioError("EBML file that is not WebM")
    eid, seg_size, pos = _element(data, end)
    if eid != _SEGMENT:
        raise AudioError("WebM without a segment")
    seg_end = n if seg_size == _UNKNOWN else min(n, pos + seg_size)
    scale, duration, codec = 1_000_000, None, ""
    cluster_tc, last_ms, clusters = 0, 0.0, 0
    cluster_end = -1
    blocks = 0
    while pos < seg_end:
        if seg_end - pos < 2:
            break
        budget.spend()
        cid, csize, cpos = _element(data, pos)
        inside_cluster = pos < cluster_end
        if inside_cluster and cid in _TOP:
            cluster_end = -1  # an unknown-size cluster ends where the next top element starts
            inside_cluster = False
        if cid == _CLUSTER:
            clusters += 1
            cluster_end = seg_end if csize == _UNKNOWN else cpos + csize
            pos = cpos
            continue
        if csize == _UNKNOWN:
            raise AudioError("WebM element of unknown size")
        if cpos + csize > seg_end:
            # MediaRecorder output cut mid-block is still a playable note; a header cut
            # short is not.
            if inside_cluster and clusters:
                break
            raise AudioError("truncated WebM")
        payload = data[cpos:cpos + csize]
        if cid == _INFO:
            scale, duration = _webm_info(payload, scale)
        elif cid == _TRACKS:
            codec = "opus" if b"A_OPUS" in payload else "vorbis" if b"A_VORBIS" in payload \
                else ""
        elif inside_cluster and cid == _TIMECODE:
            cluster_tc = _uint(payload[:8])
        elif inside_cluster and cid in (_SIMPLEBLOCK, _BLOCKGROUP):
            block = payload
            if cid == _BLOCKGROUP:
                bid, bsize, bpos = _element(payload, 0)
                block = payload[bpos:bpos + bsize] if bid == _BLOCK else b""
            if len(block) >= 4:
                _track, tpos = _vint(block, 0, keep_marker=False)
                rel = struct.unpack_from(">h", block, tpos)[0] if tpos + 2 <= len(block) else 0
                last_ms = max(last_ms, (cluster_tc + rel) * scale / 1e6)
                blocks += 1
                if codec == "opus":
                    budget.add(_webm_block_ms(block, tpos + 3) / 1000)
                elif not codec:
                    raise AudioError("WebM audio before its track description")
        pos = cpos + csize
    if not codec:
        raise AudioError("WebM without an Opus or Vorbis audio track")
    if not clusters:
        raise AudioError("WebM without audio data")
    # Opus: what the blocks hold, whatever Info or the timecodes claim.
    seconds = budget.seconds if codec == "opus" else (duration if duration else last_ms / 1000)
    return AudioInfo("webm", "audio/webm", seconds, codec)


def _webm_block_ms(block: bytes, start: int) -> float:
    """Audio in a (Simple)Block's Opus frames: ``start`` is just past its flags byte."""
    if start > len(block):
        raise AudioError("truncated WebM block")
    flags = block[start - 1]
    if flags & 0x06:  # laced: several Opus packets; each at most 120 ms (RFC 6716)
        if start >= len(block):
            raise AudioError("truncated WebM lacing")
        count = block[start] + 1
        return count * max(opus_packet_ms(block[start + 1:start + 3]) if
                           start + 1 < len(block) else 0.0, 20.0)
    return opus_packet_ms(block[start:start + 2])


def _webm_info(payload: bytes, scale: int) -> tuple[int, float | None]:
    pos, duration = 0, None
    while pos < len(payload):
        cid, csize, cpos = _element(payload, pos)
        if csize == _UNKNOWN or cpos + csize > len(payload):
            raise AudioError("broken WebM info")
        value = payload[cpos:cpos + csize]
        if cid == _TIMECODESCALE:
            scale = _uint(value) or scale
        elif cid == _DURATION and csize in (4, 8):
            duration = struct.unpack(">f" if csize == 4 else ">d", value)[0]
        pos = cpos + csize
    return scale, (duration * scale / 1e9 if duration else None)


# --- MP4 / M4A / 3GP (ISO BMFF) ------------------------------------------------------------

_BRANDS = (b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"iso5", b"iso6", b"3gp4",
           b"3gp5", b"3gp6", b"3gp7", b"3g2a", b"3ge6", b"3gg6", b"dash", b"qt  ", b"MSNV",
           b"avc1", b"M4V ", b"mp71", b"f4a ", b"kddi", b"3g2b", b"3g2c")


def _boxes(data: bytes, start: int, end: int, budget: _Budget):
    pos = start
    while pos < end:
        budget.spend()
        if end - pos < 8:
            raise AudioError("truncated MP4 box")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise AudioError("truncated MP4 box")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise AudioError(f"MP4 box {kind!r} runs past the end")
        if not all(32 <= c < 127 for c in kind):
            raise AudioError("MP4 box with an invalid type")
        yield kind, pos + header, pos + size
        pos += size


def _mp4(data: bytes, budget: _Budget) -> AudioInfo:
    seen: dict[bytes, tuple[int, int]] = {}
    for kind, start, end in _boxes(data, 0, len(data), budget):
        seen.setdefault(kind, (start, end))
    start, end = seen[b"ftyp"]
    brands = [data[i:i + 4] for i in range(start, end, 4) if i != start + 4]
    if not any(b in _BRANDS for b in brands):
        raise AudioError("MP4 with no brand we know")
    if b"moov" not in seen:
        raise AudioError("MP4 without a movie header (recording not finished?)")
    seconds = None
    mstart, mend = seen[b"moov"]
    for kind, start, end in _boxes(data, mstart, mend, budget):
        if kind == b"mvhd" and end - start >= 20:
            version = data[start]
            if version == 1 and end - start >= 32:
                timescale, duration = struct.unpack_from(">IQ", data, start + 20)
            else:
                timescale, duration = struct.unpack_from(">II", data, start + 12)
            if not timescale:
                raise AudioError("MP4 with a zero time scale")
            seconds = duration / timescale
    if seconds is None:
        raise AudioError("MP4 without mvhd")
    # mvhd is a claim; each track's samples are what the file holds.
    for kind, start, end in _boxes(data, mstart, mend, budget):
        if kind == b"trak":
            seconds = max(seconds, _mp4_track_seconds(data, start, end, budget))
    mime = "audio/3gpp" if any(b.startswith(b"3g") for b in brands) else "audio/mp4"
    return AudioInfo("mp4", mime, seconds)


def _child(data: bytes, start: int, end: int, path: list[bytes], budget: _Budget):
    """(start, end) of the box at ``path`` below ``start:end``, or None."""
    for kind, cstart, cend in _boxes(data, start, end, budget):
        if kind == path[0]:
            return (cstart, cend) if len(path) == 1 else _child(data, cstart, cend,
                                                                path[1:], budget)
    return None


def _mp4_track_seconds(data: bytes, start: int, end: int, budget: _Budget) -> float:
    """A track's length from its sample table: the time stamps (stts) and, for AAC and
    AMR, the number of coded frames it holds (stsz), whichever is longer."""
    mdhd = _child(data, start, end, [b"mdia", b"mdhd"], budget)
    stbl = _child(data, start, end, [b"mdia", b"minf", b"stbl"], budget)
    if mdhd is None or stbl is None:
        return 0.0
    version = data[mdhd[0]]
    timescale = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))[0]
    stamped = 0.0
    stts = _child(data, stbl[0], stbl[1], [b"stts"], budget)
    if stts is not None and timescale:
        count = struct.unpack_from(">I", data, stts[0] + 4)[0]
        if stts[0] + 8 + 8 * count > stts[1]:
            raise AudioError("MP4 time table runs past its box")
        budget.spend(count)
        stamped = sum(n * d for n, d in struct.iter_unpack(
            ">II", data[stts[0] + 8:stts[0] + 8 + 8 * count])) / timescale
    frames = 0
    stsz = _child(data, stbl[0], stbl[1], [b"stsz"], budget)
    if stsz is not None:
        size, frames = struct.unpack_from(">II", data, stsz[0] + 4)
        if size:
            held = size * frames
        else:
            if stsz[0] + 12 + 4 * frames > stsz[1]:
                raise AudioError("MP4 size table runs past its box")
            budget.spend(frames)
            held = sum(v for (v,) in struct.iter_unpack(
                ">I", data[stsz[0] + 12:stsz[0] + 12 + 4 * frames]))
        if held > len(data):
            raise AudioError("MP4 samples larger than the file")
    coded = 0.0
    stsd = _child(data, stbl[0], stbl[1], [b"stsd"], budget)
    if stsd is not None and stsd[1] - stsd[0] >= 16:
        entry = data[stsd[0] + 12:stsd[0] + 16]
        if entry == b"mp4a" and stsd[1] - stsd[0] >= 8 + 8 + 28:
            rate = struct.unpack_from(">I", data, stsd[0] + 8 + 8 + 24)[0] >> 16
            coded = frames * 1024 / rate if rate else 0.0  # an AAC frame: 1024 samples
        elif entry in (b"samr", b"sawb"):
            coded = frames * 0.02  # at least one 20 ms AMR frame a sample
    return max(stamped, coded)


# --- AMR (RFC 4867 storage format) -----------------------------------------------------

_AMR_NB = (12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0)  # bytes after the header
_AMR_WB = (17, 23, 32, 36, 40, 46, 50, 58, 60, 5, 0, 0, 0, 0, 0, 0)


def _amr(data: bytes, budget: _Budget) -> AudioInfo:
    if data.startswith(b"#!AMR\n"):
        pos, sizes, mime = 6, _AMR_NB, "audio/amr"
    elif data.startswith(b"#!AMR-WB\n"):
        pos, sizes, mime = 9, _AMR_WB, "audio/amr-wb"
    else:
        raise AudioError("AMR header unknown (multichannel AMR is not accepted)")
    frames, n = 0, len(data)
    while pos < n:
        # Every frame is 20 ms, NO_DATA (1 byte) ones too: counting is the duration.
        budget.spend()
        budget.add(0.02)
        header = data[pos]
        if header & 0x83:  # padding bits must be zero
            raise AudioError(f"broken AMR frame at byte {pos}")
        mode = (header >> 3) & 0x0F
        size = sizes[mode]
        if size == 0 and mode not in (15,):
            raise AudioError(f"AMR frame of reserved mode {mode}")
        pos += 1 + size
        frames += 1
    if pos != n:
        raise AudioError("truncated AMR frame")
    if not frames:
        raise AudioError("AMR without frames")
    return AudioInfo("amr", mime, frames * 0.02, "amr")


# --- MP3 (MPEG-1/2/2.5 layer III) ------------------------------------------------------

_MP3_RATES = {  # version bits -> bitrates in kbit/s by index (layer III)
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0),
}
_MP3_SAMPLE = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame(data: bytes, pos: int) -> tuple[int, float] | None:
    """(frame length, seconds) of a layer III frame header at ``pos``, or None."""
    if pos + 4 > len(data):
        return None
    b1, b2, b3 = data[pos + 1], data[pos + 2], data[pos + 3]
    if data[pos] != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    if version == 1 or layer != 1:  # reserved version; only layer III
        return None
    rate_i, sample_i, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if sample_i == 3 or rate_i in (0, 15) or b3 & 3 == 2:
        return None
    bitrate = _MP3_RATES[3 if version == 3 else 2][rate_i] * 1000
    sample_rate = _MP3_SAMPLE[version][sample_i]
    samples = 1152 if version == 3 else 576
    length = samples // 8 * bitrate // sample_rate + padding
    return length, samples / sample_rate


def _mp3(data: bytes, budget: _Budget) -> AudioInfo:
    pos, n = 0, len(data)
    if data.startswith(b"ID3"):
        if n < 10:
            raise AudioError("truncated ID3 tag")
        s = data[6:10]
        if any(b & 0x80 for b in s):
            raise AudioError("broken ID3 tag size")
        pos = 10 + (s[0] << 21 | s[1] << 14 | s[2] << 7 | s[3]) + (10 if data[5] & 0x10 else 0)
    frames, seconds = 0, 0.0
    while pos < n:
        budget.spend()
        frame = _mp3_frame(data, pos)
        if frame is None:
            if data[pos:pos + 3] == b"TAG" and n - pos == 128:  # ID3v1 trailer
                break
            if frames >= 3 and n - pos < 2048:  # junk after the last frame: tolerated
                break
            raise AudioError(f"broken MP3 frame at byte {pos}")
        pos += frame[0]
        seconds += frame[1]
        budget.add(frame[1])
        frames += 1
    if frames < 3:
        raise AudioError("MP3 with fewer than 3 frames")
    return AudioInfo("mp3", "audio/mpeg", seconds, "mp3")


# --- WAV ----------------------------------------------------------------------------


def _wav(data: bytes, budget: _Budget) -> AudioInfo:
    pos, n = 12, len(data)
    fmt = None
    while pos + 8 <= n:
        budget.spend()
        cid, size = struct.unpack_from("<4sI", data, pos)
        start = pos + 8
        if cid == b"fmt ":
            if size < 16 or start + size > n:
                raise AudioError("broken WAV fmt chunk")
            fmt = struct.unpack_from("<HHIIHH", data, start)
        elif cid == b"data":
            if fmt is None:
                raise AudioError("WAV data before its format")
            audio_format, channels, rate, byte_rate, align, bits = fmt
            if audio_format not in (1, 3, 6, 7, 0x11, 0xFFFE) or not (1 <= channels <= 8) \
                    or not (4000 <= rate <= 192000) or not byte_rate or not align:
                raise AudioError("WAV format we do not accept")
            available = min(size, n - start)
            if available < size and size != 0xFFFFFFFF:
                raise AudioError("truncated WAV data")
            return AudioInfo("wav", "audio/wav", available / byte_rate, "pcm")
        pos = start + size + (size & 1)
    raise AudioError("WAV without data")
