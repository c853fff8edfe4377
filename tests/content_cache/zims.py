"""Build small, real ZIM files for the library's tests with libzim's writer."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

from libzim.writer import Creator, FileProvider, Hint, Item, StringProvider

from appliance.demo_zim import illustration_png

NKO = "ߒߞߏ ߞߊ߬ ߞߊ߲߬ ߘߐ߫ ߛߓߍߛߎ߲ ߘߌ߫"  # N'Ko script
ARABIC = "الماء النظيف يحمي صحة الأطفال في القرية"
LARGE_SIZE = 3 * 1024 * 1024 + 17  # a media entry much larger than a read buffer


class _Entry(Item):
    def __init__(self, path: str, title: str, mimetype: str, data=None, file: Path | None = None,
                 front: bool = True, compress: bool | None = None) -> None:
        super().__init__()
        self._path, self._title, self._mime = path, title, mimetype
        self._data, self._file, self._front, self._compress = data, file, front, compress

    def get_path(self):
        return self._path

    def get_title(self):
        return self._title

    def get_mimetype(self):
        return self._mime

    def get_contentprovider(self):
        # A new provider each call: libzim reads it once for the index, once to store.
        if self._file is not None:
            return FileProvider(str(self._file))
        return StringProvider(self._data)

    def get_hints(self):
        hints = {Hint.FRONT_ARTICLE: self._front}
        if self._compress is not None:
            hints[Hint.COMPRESS] = self._compress
        return hints


def page(title: str, body: str, lang: str = "fr", rtl: bool = False) -> str:
    d = ' dir="rtl"' if rtl else ""
    return (f'<!DOCTYPE html><html lang="{lang}"{d}><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{title}</title><style>body{{color:#222}}</style></head>'
            f'<body class="zim"><h1>{title}</h1>{body}</body></html>')


def make_webm(path: Path, seconds: int = 12) -> bool:
    """A small real WebM (VP8) with ffmpeg, if installed; True when made."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return False
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=160x120:rate=10:duration={seconds}", "-c:v", "libvpx",
                    "-b:v", "100k", "-g", "10", "-an", str(path)], check=True, timeout=120)
    return True


def build_zim(path: Path, *, name: str = "sante", title: str = "Santé au village",
              language: str = "fra", tags: str = "santé;_category:health",
              video: Path | None = None, extra: list[_Entry] | None = None) -> Path:
    """A ZIM with lessons linked in order from the main page, a redirect, a video,
    non-ASCII paths, N'Ko and Arabic pages and a large entry."""
    tmp_dir = path.parent
    large = tmp_dir / f"{name}-large.bin"
    rnd = random.Random(42)
    large.write_bytes(rnd.randbytes(LARGE_SIZE))
    if video is None:
        video = tmp_dir / f"{name}-video.webm"
        if not video.exists():
            # Not a playable video, but real bytes of a known size for Range tests.
            video.write_bytes(b"\x1aE\xdf\xa3" + rnd.randbytes(600_000))
    lessons = [
        ("lecons/eau-potable", "L'eau potable",
         "Faire bouillir l'eau du puits protège contre le choléra et la diarrhée."),
        ("lecons/lavage-des-mains", "Le lavage des mains",
         "Se laver les mains au savon avant de manger et après les toilettes."),
        ("lecons/moustiquaire", "La moustiquaire",
         "Dormir sous une moustiquaire imprégnée protège du paludisme."),
    ]
    links = "".join(f'<li><a href="{p}">{t}</a></li>' for p, t, _ in lessons)
    entries = [
        _Entry("index", title, "text/html",
               page(title, f'<ol>{links}</ol><p><a href="https://example.org/">externe</a></p>'
                    '<p><a href="accueil">Accueil</a></p>')),
        _Entry("santé/hygiène des mains", "Hygiène des mains", "text/html",
               page("Hygiène des mains", "<p>Le savon élimine les microbes : hygiène "
                    "élémentaire.</p>")),
        _Entry("nko/ߒߞߏ", "ߒߞߏ ߞߊ߲", "text/html", page("ߒߞߏ", f"<p>{NKO}</p>", "nqo", True)),
        _Entry("ar/الماء", "الماء النظيف", "text/html",
               page("الماء النظيف", f"<p>{ARABIC}</p>", "ar", True)),
        _Entry("media/clip.webm", "Vidéo", "video/webm", file=video, front=False,
               compress=False),
        _Entry("s/style.css", "style", "text/css", "body{color:#222}\n" * 100, front=False),
        _Entry("media/petit.ogg", "Son", "audio/ogg", data="OggS" + "x" * 5000, front=False,
               compress=False),
        _Entry("data/large.bin", "Grand fichier", "application/octet-stream", file=large,
               front=False, compress=False),
        _Entry("grand-article", "Grand article", "text/html",
               page("Grand article", "<p>" + "Le paludisme tue. " * 20000 + "</p>")),
    ]
    for p, t, text in lessons:
        entries.append(_Entry(p, t, "text/html",
                              page(t, f"<p>{text}</p><p><a href='../index'>Sommaire</a></p>")))
    entries.extend(extra or [])
    part = path.with_name(path.name + ".building")
    with Creator(str(part)).config_verbose(False).config_indexing(True, language) as creator:
        creator.set_mainpath("index")
        for key, value in {"Name": name, "Title": title, "Language": language,
                           "Description": f"{title} : leçons courtes", "Creator": "Espace tests",
                           "Publisher": "Espace", "Date": "2026-11-28", "Tags": tags}.items():
            creator.add_metadata(key, value)
        creator.add_illustration(48, illustration_png())
        for e in entries:
            creator.add_item(e)
        creator.add_redirection("accueil", "Accueil", "index", {Hint.FRONT_ARTICLE: False})
        creator.add_redirection("vieux/chemin", "Ancien chemin", "lecons/eau-potable",
                                {Hint.FRONT_ARTICLE: False})
    os.replace(part, path)
    large.unlink()
    return path


def close_live(server) -> None:
    """Close a LiveServer once its client connections are gone: waitress's loop
    selecting on a channel that a task thread is closing at shutdown raises EBADF."""
    import time

    from waitress.channel import HTTPChannel

    deadline = time.monotonic() + 10
    while (any(isinstance(c, HTTPChannel) for c in list(server.server._map.values()))
           and time.monotonic() < deadline):
        time.sleep(0.01)  # waiting for a condition, bounded; not a timing assumption
    server.close()
