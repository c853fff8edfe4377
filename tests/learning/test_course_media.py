"""A course's audio and video over real HTTP (waitress on loopback): byte ranges so a
phone can seek and resume (206, 416, 304, If-Range), for a course built here and a
MOOC ZIM; an absent, unlisted or corrupt entry is a clear 404, never a 500."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from learning import course as course_mod
from tests.learning import mooc_zims
from tests.learning.course_folder import OGG, write_course
from tests.support import LiveServer

BIG = OGG + bytes((i * 31) % 251 for i in range(200_000))  # streamed from the file


@pytest.fixture
def served(app, tmp_path):
    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    folder = write_course(tmp_path / "alpha")
    (folder / "media" / "a.ogg").write_bytes(BIG)
    course_mod.build(folder, content / "alpha-1.zim")
    mooc_zims.openedx_zim(content / "gestion.zim")
    with LiveServer(app) as server:
        yield server, content


def get(server, path: str, **headers) -> tuple[int, dict, bytes]:
    u = urlsplit(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_a_lesson_audio_seeks_and_resumes_with_ranges(served):
    server, _content = served
    url = "/learn/media/alpha-1/media/a.ogg"
    status, h, body = get(server, url)
    assert status == 200 and body == BIG
    assert h["accept-ranges"] == "bytes" and h["content-type"] == "audio/ogg"
    etag = h["etag"]

    status, h, body = get(server, url, Range="bytes=1000-1999")
    assert status == 206 and body == BIG[1000:2000]
    assert h["content-range"] == f"bytes 1000-1999/{len(BIG)}"
    assert h["content-length"] == "1000"
    # a download cut at 150 000 bytes resumes where it stopped
    status, h, body = get(server, url, Range="bytes=150000-", **{"If-Range": etag})
    assert status == 206 and body == BIG[150000:]
    status, h, body = get(server, url, Range="bytes=-10")
    assert status == 206 and body == BIG[-10:]
    # another version in the phone's cache: the whole entry, not a piece of it
    status, h, body = get(server, url, Range="bytes=0-9", **{"If-Range": '"other"'})
    assert status == 200 and body == BIG
    status, h, body = get(server, url, Range=f"bytes={len(BIG)}-")
    assert status == 416 and h["content-range"] == f"bytes */{len(BIG)}"
    status, h, body = get(server, url, **{"If-None-Match": etag})
    assert status == 304 and body == b""

    small = "/learn/media/alpha-1/media/q.ogg"  # answered from memory
    status, h, body = get(server, small, Range="bytes=4-9")
    assert status == 206 and body == OGG[4:10]


def test_a_mooc_video_is_served_with_ranges_and_only_what_its_lessons_use(served):
    from learning import catalogue

    server, content = served
    c = catalogue.course(content, "mooc-sahelink-gestion-communale-fr")[1]
    video = c.lessons()[0].video
    url = f"/learn/media/{c.id}/{video}"
    status, h, body = get(server, url, Range="bytes=100000-100099")
    assert status == 206 and body == mooc_zims.VIDEO[100000:100100]
    assert h["content-type"] == "video/mp4"
    status, _h, body = get(server, url)
    assert status == 200 and body == mooc_zims.VIDEO
    # pages and other entries of the MOOC are the library's, not this route's
    status, _h, _b = get(server, f"/learn/media/{c.id}/{c.lessons()[0].page}")
    assert status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/learn/media/alpha-1/media/absent.ogg",
        "/learn/media/alpha-1/lesson/a",  # not under media/
        "/learn/media/alpha-1/media/../lesson/a",
        "/learn/media/no-such-course/media/a.ogg",
    ],
)
def test_absent_media_is_a_404(served, path):
    server, _content = served
    status, _h, _b = get(server, path)
    assert status == 404


def test_a_corrupt_entry_is_a_404_not_a_500(served):
    server, content = served
    zim = content / "alpha-1.zim"
    mooc_zims.corrupt_cluster(zim, "media/media/chat.png")  # a small entry: read by libzim
    mooc_zims.corrupt_cluster(zim, "media/media/a.ogg")  # a large one, same cluster
    for path in ("/learn/media/alpha-1/media/chat.png", "/learn/media/alpha-1/media/a.ogg"):
        status, _h, body = get(server, path, Range="bytes=0-99")
        assert status == 404, (path, body[:200])
        assert b"Traceback" not in body
    # a ZIM cut short (a copy that stopped): every media entry is a 404
    zim.write_bytes(zim.read_bytes()[:4096])
    status, _h, _b = get(server, "/learn/media/alpha-1/media/q.ogg")
    assert status == 404
