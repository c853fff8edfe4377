"""Voice notes are recognised by their bytes: each accepted container parses, and
junk, truncations and disguised files are refused."""

import contextlib
import os

import pytest

from appliance import audio
from tests.appliance import board_samples as samples


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_each_container_is_recognised_with_its_duration(name):
    info = audio.probe(samples.ALL[name](12.0))
    assert info.container == name
    assert info.mime.startswith("audio/")
    assert info.seconds == pytest.approx(12.0, abs=0.1)


def test_3gp_brand_is_served_as_3gpp():
    assert audio.probe(samples.mp4(2, brand=b"3gp4")).mime == "audio/3gpp"


@pytest.mark.parametrize("name", sorted(samples.ALL))
def test_truncated_files_are_refused(name):
    data = samples.ALL[name](3.0)
    # webm, mp3: header only (no audio data, too few frames); others: cut mid-structure
    cut = data[:60] if name in ("webm", "mp3") else data[:-7]
    with pytest.raises(audio.AudioError):
        audio.probe(cut)


@pytest.mark.parametrize("junk", [
    b"",
    b"OggS",
    b"<html><script>alert(1)</script></html>" * 10,
    b"\x7fELF\x02\x01\x01" + bytes(200),
    b"%PDF-1.4\n" + bytes(300),
    b"PK\x03\x04" + bytes(300),
    b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(100),
    b"\xff\xfb" + bytes(500),
    b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"not mp3 at all" * 20,
    b"#!AMR\n\xff" + bytes(40),
    b"\x1a\x45\xdf\xa3\x84\x42\x82\x81x" + bytes(40),
    b"\x00\x00\x00\x18ftypjunk\x00\x00\x00\x00junkjunk" + bytes(40),
])
def test_junk_is_refused(junk):
    with pytest.raises(audio.AudioError):
        audio.probe(junk)


def test_random_bytes_never_crash_the_prober():
    rng = __import__("random").Random(4)
    for _name, make in samples.ALL.items():
        data = bytearray(make(1.0))
        for _ in range(300):
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            with contextlib.suppress(audio.AudioError):
                audio.probe(bytes(mutated))
    for _ in range(200):
        with contextlib.suppress(audio.AudioError):
            audio.probe(os.urandom(rng.randint(0, 3000)))


def test_ogg_that_is_not_opus_or_vorbis_is_refused():
    data = samples.ogg_opus(1).replace(b"OpusHead", b"FLACHead", 1)
    with pytest.raises(audio.AudioError):
        audio.probe(data)


def test_webm_without_audio_track_is_refused():
    with pytest.raises(audio.AudioError):
        audio.probe(samples.webm_opus(1).replace(b"A_OPUS", b"V_VP80"))


# --- hostile notes: duration from the content, work bounded ------------------------------


@pytest.mark.parametrize("make", [samples.ogg_opus_lying, samples.webm_opus_lying,
                                  samples.mp4_lying])
def test_duration_is_what_the_file_holds_not_what_it_claims(make):
    lying = make(real_seconds=400, claimed_seconds=10)
    with pytest.raises(audio.AudioTooLong):
        audio.probe(lying, max_seconds=180)
    honest = make(real_seconds=30, claimed_seconds=10)
    assert audio.probe(honest, max_seconds=180).seconds == pytest.approx(30, abs=0.1)


@pytest.mark.parametrize("make", [samples.amr_no_data, samples.ogg_empty_packets,
                                  samples.webm_voids])
def test_crafted_files_are_refused_within_a_bounded_walk(make, monkeypatch):
    """3 MB of the smallest pieces a format allows: refused after at most the pieces a
    real note of the allowed length has, not after walking all of them."""
    walked = []
    real_spend = audio._Budget.spend

    def spend(self, pieces=1):
        walked.append(pieces)
        real_spend(self, pieces)

    monkeypatch.setattr(audio._Budget, "spend", spend)
    data = make(3_000_000)
    with pytest.raises(audio.AudioError):
        audio.probe(data, max_seconds=180)
    assert sum(walked) <= audio.budget_for(180) + 1
