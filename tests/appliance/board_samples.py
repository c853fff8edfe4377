"""Small, structurally valid audio files of each container the board accepts, built
in Python (no codec needed: the board checks containers, not sound)."""

from __future__ import annotations

import io
import math
import struct
import wave


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        period = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * i / 16)))
                          for i in range(16))  # a 500 Hz tone at 8 kHz
        n = int(seconds * rate)
        w.writeframes((period * (n // 16 + 1))[: n * 2])
    return buf.getvalue()


def _ogg_page(body: bytes, granule: int, seq: int, htype: int = 0, serial: int = 7) -> bytes:
    lacing = []
    n = len(body)
    while n >= 255:
        lacing.append(255)
        n -= 255
    lacing.append(n)
    return (b"OggS" + struct.pack("<BBqIIIB", 0, htype, granule, serial, seq, 0, len(lacing))
            + bytes(lacing) + body)


def ogg_opus(seconds: float = 1.0, salt: bytes = b"") -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    pages = [_ogg_page(head, 0, 0, htype=2), _ogg_page(b"OpusTags" + b"\0" * 8 + salt, 0, 1)]
    packets = max(1, int(seconds * 50))
    for i in range(packets):
        last = i == packets - 1
        pages.append(_ogg_page(b"\xfc" + bytes(40), 312 + (i + 1) * 960, i + 2,
                               htype=4 if last else 0))
    return b"".join(pages)


def _ebml_size(n: int) -> bytes:
    return (0x01 << 56 | n).to_bytes(8, "big")


def _el(eid: int, payload: bytes) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + _ebml_size(len(payload)) + payload


UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def webm_opus(seconds: float = 1.0) -> bytes:
    """Like Chrome's MediaRecorder output: unknown-size segment and clusters, no
    duration in Info; the length comes from the block timecodes."""
    header = _el(0x1A45DFA3, _el(0x4286, b"\x01") + _el(0x4282, b"webm")
                 + _el(0x4287, b"\x04"))
    info = _el(0x1549A966, _el(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    tracks = _el(0x1654AE6B, _el(0xAE, _el(0xD7, b"\x01") + _el(0x86, b"A_OPUS")))
    clusters = b""
    total_ms = int(seconds * 1000)
    for start in range(0, total_ms + 1, 10_000):
        blocks = b""
        for rel in range(0, min(10_000, total_ms - start + 1), 20):
            # Opus TOC 0xfc: one 20 ms CELT frame, as Chrome records.
            blocks += _el(0xA3, b"\x81" + struct.pack(">h", rel) + b"\x80" + b"\xfc" + bytes(29))
        clusters += b"\x1f\x43\xb6\x75" + UNKNOWN + _el(0xE7, start.to_bytes(4, "big")) + blocks
    return header + b"\x18\x53\x80\x67" + UNKNOWN + info + tracks + clusters


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4(seconds: float = 1.0, brand: bytes = b"M4A ") -> bytes:
    ftyp = _box(b"ftyp", brand + b"\0\0\0\0" + brand + b"isom")
    mvhd = _box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000, int(seconds * 1000))
                + bytes(80))
    return ftyp + _box(b"moov", mvhd) + _box(b"mdat", bytes(2000))


def amr(seconds: float = 1.0) -> bytes:
    return b"#!AMR\n" + (b"\x3c" + bytes(31)) * int(seconds * 50)


def mp3(seconds: float = 1.0) -> bytes:
    frame = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * max(3, int(seconds / 0.026122))


def speech_like_wav(path, seconds: float = 3.0, rate: int = 48000) -> None:
    """A tone that rises and falls, standing in for a voice at chromium's fake
    microphone (``--use-file-for-fake-audio-capture``)."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        amp = 0.5 + 0.5 * math.sin(2 * math.pi * 3 * t)
        frames += struct.pack("<h", int(9000 * amp * math.sin(2 * math.pi * (220 + 80 * t) * t)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def launch_with_fake_microphone(browser, wav_path):
    """A second chromium from the session's Playwright, with the fake audio device."""
    from tests.support import CHROMIUM_ARGS, require_program

    path = require_program("chromium", "chromium")
    return browser.browser_type.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS + [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav_path}",
        "--autoplay-policy=no-user-gesture-required"])


ALL = {"ogg": ogg_opus, "webm": webm_opus, "mp4": mp4, "amr": amr, "mp3": mp3, "wav": wav}


# --- hostile voice notes (tests/appliance/test_board_audio.py, bench/hostile.py) --------


def ogg_opus_lying(real_seconds: float, claimed_seconds: float) -> bytes:
    """Opus packets for ``real_seconds`` whose last granule position says
    ``claimed_seconds``."""
    data = bytearray(ogg_opus(real_seconds))
    last = data.rfind(b"OggS")
    struct.pack_into("<q", data, last + 6, 312 + int(claimed_seconds * 48000))
    return bytes(data)


def webm_opus_lying(real_seconds: float, claimed_seconds: float) -> bytes:
    """Blocks for ``real_seconds`` with an Info duration of ``claimed_seconds`` and
    every block timecode at 0."""
    data = webm_opus(real_seconds)
    info = _el(0x1549A966, _el(0x2AD7B1, (1_000_000).to_bytes(3, "big"))
               + _el(0x4489, struct.pack(">d", claimed_seconds * 1000)))
    old_info = _el(0x1549A966, _el(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    return data.replace(old_info, info, 1)


def amr_no_data(size: int) -> bytes:
    """``size`` bytes of 1-byte NO_DATA frames: the most frames per byte."""
    return b"#!AMR\n" + b"\x7c" * (size - 6)


def ogg_empty_packets(size: int) -> bytes:
    """Headers, then pages each ending 255 empty packets: the most pieces per byte."""
    head = ogg_opus(0.02)
    page = _ogg_page(b"", 0, 5)[:26] + bytes([255]) + bytes(255)
    return head + page * ((size - len(head)) // len(page))


def webm_voids(size: int) -> bytes:
    """A WebM whose segment is full of empty Void elements after one real block."""
    data = webm_opus(0.02)
    return data + b"\xec\x80" * ((size - len(data)) // 2)


def mp4_lying(real_seconds: float, claimed_seconds: float) -> bytes:
    """AAC frames (1024 samples at 44.1 kHz) for ``real_seconds`` in a file whose mvhd,
    mdhd and time stamps all say ``claimed_seconds``."""
    frames = int(real_seconds * 44100 / 1024)
    ftyp = _box(b"ftyp", b"M4A \0\0\0\0M4A isom")
    mvhd = _box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 1000,
                                                    int(claimed_seconds * 1000)) + bytes(80))
    mdhd = _box(b"mdhd", b"\0\0\0\0" + struct.pack(">IIII", 0, 0, 44100,
                                                    int(claimed_seconds * 44100)) + bytes(4))
    mp4a = _box(b"mp4a", bytes(8) + bytes(8) + struct.pack(">HHHH", 1, 16, 0, 0)
                + struct.pack(">I", 44100 << 16))
    stsd = _box(b"stsd", b"\0\0\0\0" + struct.pack(">I", 1) + mp4a)
    delta = max(1, int(claimed_seconds * 44100 / max(frames, 1)))
    stts = _box(b"stts", b"\0\0\0\0" + struct.pack(">III", 1, frames, delta))
    stsz = _box(b"stsz", b"\0\0\0\0" + struct.pack(">II", 6, frames))
    stbl = _box(b"stbl", stsd + stts + stsz)
    trak = _box(b"trak", _box(b"mdia", mdhd + _box(b"minf", stbl)))
    return ftyp + _box(b"moov", mvhd + trak) + _box(b"mdat", bytes(6 * frames))
