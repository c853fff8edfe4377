from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.content_cache.zims import build_zim

_CACHE: dict[str, Path] = {}


@pytest.fixture
def site_doc(tmp_path) -> dict:
    """The shared site, with French as the default visitor language: the test books
    are French and Bambara, and the tests say which language a visitor reads."""
    from tests.support import make_site

    doc = make_site(tmp_path)
    doc["site"]["default_language"] = "fr"
    return doc


@pytest.fixture(scope="session")
def zim_store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zims")


def _cached(store: Path, key: str, **kw) -> Path:
    if key not in _CACHE:
        _CACHE[key] = build_zim(store / f"{key}.zim", name=key, **kw)
    return _CACHE[key]


@pytest.fixture(scope="session")
def sante_zim(zim_store) -> Path:
    """French health lessons (the full test ZIM)."""
    return _cached(zim_store, "sante")


@pytest.fixture(scope="session")
def mooc_zim(zim_store) -> Path:
    """A Bambara course tagged as a MOOC."""
    return _cached(zim_store, "kalan", title="Kalan: jamana", language="bam",
                   tags="mooc;_category:mooc;kalan")


@pytest.fixture(scope="session")
def precompressed_stores(zim_store, sante_zim, mooc_zim) -> Path:
    """The precompressed stores of both test ZIMs, built once per session."""
    from content_cache.precompressed import DIR, build

    for z in (sante_zim, mooc_zim):
        build(z, zim_store, z.stem)
    return zim_store / DIR


@pytest.fixture(params=["zim", "precompressed"])
def library_app(request, app, sante_zim, mooc_zim):
    """The app with both test ZIMs in its content directory; every test using it runs
    twice: text read from the ZIMs, then from their precompressed stores (the same
    answers are expected, byte for byte once decompressed)."""
    from content_cache import library, views

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    for z in (sante_zim, mooc_zim):
        shutil.copy(z, content / z.name)
    if request.param == "precompressed":
        shutil.copytree(request.getfixturevalue("precompressed_stores"),
                        content / ".precompressed")
    views.HOT.clear()
    try:
        yield app
    finally:
        library.forget(content)
        views.HOT.clear()


@pytest.fixture
def lclient(library_app):
    return library_app.test_client()


@pytest.fixture(scope="session")
def video_zim(zim_store) -> Path:
    """A French ZIM whose video is a real WebM (made with ffmpeg) and an article
    that plays it."""
    from tests.content_cache.zims import _Entry, make_webm, page
    from tests.support import require_program

    require_program("ffmpeg", "ffmpeg")
    if "video" not in _CACHE:
        webm = zim_store / "clip-real.webm"
        make_webm(webm)
        body = ('<p>Regardez la vidéo.</p><video id="v" controls preload="metadata" '
                'width="320" src="../media/clip.webm"></video>')
        _CACHE["video"] = build_zim(
            zim_store / "video.zim", name="video", title="Vidéos de santé", video=webm,
            extra=[_Entry("lecons/video", "La vidéo", "text/html", page("La vidéo", body))])
    return _CACHE["video"]

