"""Small ZIMs shaped like the field's MOOCs, written with libzim's creator (never
downloaded): what openedx2zim and kolibri2zim (v3) write, per their templates and
scraper code (entry paths, the side menu and sequence list, channel.json and
topics/<slug>.json, tags), plus a plain ZIM and broken ones.

Entry paths are chosen so that their sorted order (how a ZIM stores them) differs from
the course's order: the reader must follow the menus, not the paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

from libzim.writer import Creator, Hint, Item, StringProvider

from appliance.demo_zim import illustration_png

# Not real codecs: the box serves bytes, it does not decode them. Large enough to be
# streamed from the file (learning.media.STREAM_MIN) and to seek in.
VIDEO = bytes((i * 7 + i // 251) % 256 for i in range(300_000))
AUDIO = b"ID3\x04\x00" + bytes((i * 13) % 256 for i in range(120_000))


class _Item(Item):
    def __init__(self, path, title, mime, data, front=False):
        super().__init__()
        self._a = (path, title, mime, data, front)

    def get_path(self):
        return self._a[0]

    def get_title(self):
        return self._a[1]

    def get_mimetype(self):
        return self._a[2]

    def get_contentprovider(self):
        return StringProvider(self._a[3])

    def get_hints(self):
        media = not self._a[2].startswith(("text/", "application/json"))
        return {Hint.FRONT_ARTICLE: self._a[4], Hint.COMPRESS: not media}


def _zim(out: Path, meta: dict, main: str, entries: list[tuple]) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with Creator(str(out)).config_verbose(False).config_indexing(False, "fra") as c:
        if main:
            c.set_mainpath(main)
        for k, v in meta.items():
            c.add_metadata(k, v)
        c.add_illustration(48, illustration_png())
        for e in entries:
            c.add_item(_Item(*e))
    return out


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f'<script src="../../../../../assets/base.js"></script></head>'
        f"<body>{body}</body></html>"
    )


# --- openedx2zim ---------------------------------------------------------------------------

EDX = "course/gestion-communale"
# (chapter, [(sequential, [(vertical slug, vertical title, media)])]) in the course's order.
EDX_OUTLINE = [
    (
        "Semaine 1 : la commune",
        "semaine-1",
        [
            (
                "Le conseil communal",
                "le-conseil",
                [
                    ("qui-vote", "Qui vote ?", "video"),
                    ("le-budget", "Le budget", ""),
                ],
            ),
            ("Le maire", "le-maire", [("role-du-maire", "Rôle du maire", "audio")]),
        ],
    ),
    ("Introduction", "introduction", []),  # a chapter without sequentials: no module
    (
        "Semaine 2 : les impôts",
        "semaine-2",
        [("La taxe de développement", "la-taxe", [("a-quoi-sert", "À quoi sert-elle ?", "")])],
    ),
]


def _edx_menu() -> str:
    out = ['<div class="zim-course-index"><nav class="zim-course-navigation" aria-label="Course">']
    for title, slug, seqs in EDX_OUTLINE:
        if not seqs:
            continue
        out.append(
            f'<a class="zim-button-chapter chapter" role="button"><span class="zim-group-heading"'
            f' aria-label="{title}"><span class="icon fa fa-caret-right"></span>'
            f"\n  {title}\n</span></a>"
            '<div class="zim-chapter-content-container"><div class="zim-chapter-menu">'
        )
        for seq_title, seq_slug, verticals in seqs:
            first = verticals[0][0]
            out.append(
                f'<div class="zim-menu-item"><a href="../../{EDX}/{slug}/{seq_slug}/{first}'
                f'/index.html"><p>\n {seq_title}\n</p></a></div>'
            )
        out.append("</div></div>")
    out.append("</nav></div>")
    return "".join(out)


def openedx_zim(out: Path, *, seq_nav: bool = True) -> Path:
    """A MOOC as openedx2zim writes it (``--remove-seq-nav`` when not ``seq_nav``)."""
    entries = [
        (
            "index.html",
            "Gestion communale",
            "text/html",
            _page("Gestion communale", f'<a href="{EDX}/index.html">Commencer le cours</a>'),
            True,
        ),
        (f"{EDX}/index.html", "Gestion communale", "text/html", _page("Menu", _edx_menu()), True),
        ("assets/base.js", "", "application/javascript", "/* openedx2zim */"),
    ]
    for _title, slug, seqs in EDX_OUTLINE:
        for _seq_title, seq_slug, verticals in seqs:
            nav = "".join(
                f'<li><a data-id="block-v1:x+{v}" data-page-title="{vt}" '
                f'href="../../../../../{EDX}/{slug}/{seq_slug}/{v}/index.html" title="{vt}">'
                '<i class="icon fa fa-book"></i></a></li>'
                for v, vt, _m in verticals
            )
            for v, vt, media in verticals:
                base = f"{EDX}/{slug}/{seq_slug}/{v}"
                body = _edx_menu().replace("../../", "../../../../../")
                if seq_nav:
                    body += (
                        '<div class="zim-sequence-nav"><nav class="zim-sequence-list-wrapper">'
                        f'<ol id="zim-sequence-list" role="tablist">{nav}</ol></nav></div>'
                    )
                body += f"<h2>{vt}</h2><p>Le texte de la leçon.</p>"
                if media == "video":
                    body += (
                        '<div class="xblock"><video class="video-js" controls preload="auto">'
                        f'<source src="{v}-video/video.mp4" type="video/mp4" />'
                        f'<track kind="subtitles" src="{v}-video/fr.vtt" srclang="fr" />'
                        "</video></div>"
                    )
                    entries.append((f"{base}/{v}-video/video.mp4", "", "video/mp4", VIDEO))
                    entries.append((f"{base}/{v}-video/fr.vtt", "", "text/vtt", "WEBVTT\n"))
                elif media == "audio":
                    body += (
                        f'<audio controls><source src="{v}-audio/audio.mp3" type="audio/mpeg">'
                        "</audio>"
                    )
                    entries.append((f"{base}/{v}-audio/audio.mp3", "", "audio/mpeg", AUDIO))
                entries.append((f"{base}/index.html", vt, "text/html", _page(vt, body), True))
    meta = {
        "Name": "sahelink_gestion_communale_fr",
        "Title": "Gestion communale (SaheLink)",
        "Description": "MOOC pour les élus",
        "Language": "fra",
        "Creator": "SaheLink",
        "Publisher": "openZIM",
        "Date": "2025-06-01",
        "Tags": "_category:mooc;openedx",
        "Scraper": "openedx2zim 1.0",
    }
    return _zim(out, meta, "index.html", entries)


# --- kolibri2zim ---------------------------------------------------------------------------


def _topic(title: str, sections: list[dict], parents: list[str]) -> str:
    return json.dumps(
        {
            "parents": parents,
            "title": title,
            "description": "",
            "sections": sections,
            "thumbnail": None,
        }
    )


def _section(slug, title, kind, subsections=()):
    return {
        "slug": slug,
        "title": title,
        "description": "",
        "kind": kind,
        "thumbnail": None,
        "subsections": [
            {"slug": s, "title": t, "description": "", "kind": k, "thumbnail": None}
            for s, t, k in subsections
        ],
    }


def _kolibri_leaf(title: str, kind: str, file: str) -> str:
    tag = "video" if kind == "video" else "audio"
    mime = "video/mp4" if kind == "video" else "audio/mp3"
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        '<link href="../assets/videojs/video-js.css" rel="stylesheet" /></head><body>'
        f'<h1>{title}</h1><{tag} class="video-js vjs-default-skin" data-setup="{{}}">'
        f'<source src="../{file}" type="{mime}" /></{tag}>'
        '<script src="../assets/videojs/video.js"></script></body></html>'
    )


def kolibri_zim(out: Path) -> Path:
    """A Kolibri channel as kolibri2zim (v3, Vue UI) writes it."""
    root = _topic(
        "Alphabétisation fonctionnelle",
        [
            _section("bienvenue", "Bienvenue", "video"),
            _section(
                "lecture",
                "Lecture",
                "topic",
                [("les-voyelles", "Les voyelles", "audio"), ("syllabes", "Syllabes", "topic")],
            ),
            _section(
                "ecriture", "Écriture", "topic", [("tracer-a", "Tracer la lettre a", "video")]
            ),
            _section("vide", "Vide", "topic"),
        ],
        [],
    )
    entries = [
        ("index.html", "Alphabétisation", "text/html", "<!DOCTYPE html><div id=app></div>", True),
        ("channel.json", "Alphabétisation", "application/json", json.dumps({"root": "alpha"})),
        ("topics/alpha.json", "Alphabétisation", "application/json", root),
        (
            "topics/lecture.json",
            "Lecture",
            "application/json",
            _topic(
                "Lecture",
                [
                    _section("les-voyelles", "Les voyelles", "audio"),
                    _section("syllabes", "Syllabes", "topic", [("ba-be-bi", "ba be bi", "audio")]),
                    _section("perdu", "Une leçon absente du ZIM", "audio"),
                ],
                ["alpha"],
            ),
        ),
        (
            "topics/syllabes.json",
            "Syllabes",
            "application/json",
            _topic("Syllabes", [_section("ba-be-bi", "ba be bi", "audio")], ["alpha", "lecture"]),
        ),
        (
            "topics/ecriture.json",
            "Écriture",
            "application/json",
            _topic("Écriture", [_section("tracer-a", "Tracer la lettre a", "video")], ["alpha"]),
        ),
        ("topics/vide.json", "Vide", "application/json", _topic("Vide", [], ["alpha"])),
    ]
    for slug, title, kind, fid in [
        ("bienvenue", "Bienvenue", "video", "0a1b2c3d.mp4"),
        ("les-voyelles", "Les voyelles", "audio", "9f8e7d6c.mp3"),
        ("ba-be-bi", "ba be bi", "audio", "5a5a5a5a.mp3"),
        ("tracer-a", "Tracer la lettre a", "video", "77aa77aa.mp4"),
    ]:
        entries.append(
            (f"static/{slug}", title, "text/html", _kolibri_leaf(title, kind, fid), True)
        )
        entries.append(
            (
                fid,
                "",
                "video/mp4" if kind == "video" else "audio/mpeg",
                VIDEO if kind == "video" else AUDIO,
            )
        )
    meta = {
        "Name": "kolibri_alpha_fonctionnelle",
        "Title": "Alphabétisation fonctionnelle",
        "Description": "Une chaîne Kolibri",
        "Language": "bam",
        "Creator": "GAFE",
        "Publisher": "openZIM",
        "Date": "2025-06-01",
        "Tags": "_category:other;kolibri;_videos:yes",
    }
    return _zim(out, meta, "index.html", entries)


# --- not courses ---------------------------------------------------------------------------


def plain_zim(out: Path) -> Path:
    """A book: a main page linking articles, no course structure."""
    entries = [
        (
            "Accueil",
            "Santé",
            "text/html",
            _page("Santé", '<a href="Paludisme">Paludisme</a>'),
            True,
        ),
        ("Paludisme", "Paludisme", "text/html", _page("Paludisme", "<p>Moustiquaires.</p>"), True),
    ]
    meta = {
        "Name": "wikimed_fr_mini",
        "Title": "Santé (mini)",
        "Description": "Articles",
        "Language": "fra",
        "Creator": "Wikipedia",
        "Publisher": "openZIM",
        "Date": "2025-06-01",
        "Tags": "_category:wikipedia;_pictures:no",
    }
    return _zim(out, meta, "Accueil", entries)


def broken_openedx_zim(out: Path) -> Path:
    """Tagged openedx, but its pages carry no course menu (a scraper's layout changed)."""
    meta = {
        "Name": "edx_sans_menu",
        "Title": "MOOC sans menu",
        "Description": "x",
        "Language": "fra",
        "Creator": "x",
        "Publisher": "openZIM",
        "Date": "2025-06-01",
        "Tags": "_category:mooc;openedx",
    }
    page = _page("Accueil", "<p>Bienvenue</p>")
    return _zim(out, meta, "index.html", [("index.html", "Accueil", "text/html", page, True)])


def corrupt_cluster(zim: Path, entry_path: str) -> None:
    """Spoil the compression byte of the cluster holding ``entry_path``: libzim can no
    longer read that entry (the rest of the file is intact)."""
    import struct

    from appliance.zimfile import DirectAccess

    fd = os.open(zim, os.O_RDWR)
    try:
        da = DirectAccess(fd)
        for i in range(da.entry_count):
            _mime, ns, path, cluster, _blob = da._dirent(i)
            if ns == "C" and path == entry_path:
                at = struct.unpack("<Q", os.pread(fd, 8, da.cluster_ptr_pos + 8 * cluster))[0]
                os.pwrite(fd, b"\x0f", at)
                return
        raise AssertionError(f"{entry_path} not in {zim}")
    finally:
        os.close(fd)
