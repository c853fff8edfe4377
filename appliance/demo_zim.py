"""A small French ZIM of lessons on how a commune works, built with libzim's writer,
with a full-text index, so that development and tests have real content."""

from __future__ import annotations

import html
import os
import struct
import zlib
from pathlib import Path

from libzim.writer import Creator, Hint, Item, StringProvider

LESSONS = [
    ("conseil-communal", "Le conseil communal",
     "Le conseil communal est élu par les habitants de la commune pour cinq ans. "
     "Il vote le budget, le plan de développement et les taxes locales. Ses séances "
     "sont publiques : chaque citoyen peut y assister."),
    ("maire", "Le maire et ses adjoints",
     "Le maire est élu par le conseil communal parmi ses membres. Il exécute les "
     "décisions du conseil, gère le personnel communal et représente la commune. "
     "Les adjoints reçoivent des délégations : état civil, assainissement, éducation."),
    ("budget", "Le budget communal",
     "Le budget prévoit les recettes (taxes, dotations de l'État, partenaires) et les "
     "dépenses (écoles, centres de santé, points d'eau). Il est voté chaque année et "
     "son exécution doit être rendue publique lors d'une restitution."),
    ("participation", "Participer à la vie de la commune",
     "Les citoyens, les femmes et les jeunes peuvent interpeller leurs élus, proposer "
     "des projets, participer aux débats publics et aux grins thématiques. La "
     "restitution publique du budget est un moment pour demander des comptes."),
    ("etat-civil", "L'état civil",
     "Déclarer une naissance, un mariage ou un décès à la mairie protège les droits "
     "de chacun : l'acte de naissance est nécessaire pour l'école et les examens."),
]


class _Page(Item):
    def __init__(self, path: str, title: str, body: str, front: bool = True) -> None:
        super().__init__()
        self._path, self._title, self._body, self._front = path, title, body, front

    def get_path(self) -> str:
        return self._path

    def get_title(self) -> str:
        return self._title

    def get_mimetype(self) -> str:
        return "text/html"

    def get_contentprovider(self):
        return StringProvider(self._body)

    def get_hints(self):
        return {Hint.FRONT_ARTICLE: self._front}


def _page(title: str, body_html: str) -> str:
    return (f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>'
            f"{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
            f"{body_html}</body></html>")


def illustration_png(size: int = 48, rgb: tuple[int, int, int] = (31, 111, 74)) -> bytes:
    """A plain square PNG, as ZIM metadata requires an illustration."""
    row = b"\x00" + bytes(rgb) * size
    raw = zlib.compress(row * size, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw)
            + chunk(b"IEND", b""))


def build_demo_zim(path: Path) -> None:
    """Write the demo ZIM atomically (a half-built file never appears at ``path``)."""
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    with Creator(str(tmp)).config_verbose(False).config_indexing(True, "fra") as creator:
        creator.set_mainpath("index")
        for key, value in {
            "Name": "espace_demo-commune_fr", "Title": "Comment fonctionne la commune",
            "Description": "Cinq leçons courtes sur la commune et la participation citoyenne",
            "Language": "fra", "Creator": "Espace", "Publisher": "Espace",
            "Date": "2026-11-01", "Tags": "mooc;_category:gouvernance",
        }.items():
            creator.add_metadata(key, value)
        creator.add_illustration(48, illustration_png())
        links = "".join(f'<li><a href="{k}">{html.escape(t)}</a></li>' for k, t, _ in LESSONS)
        creator.add_item(_Page("index", "Comment fonctionne la commune",
                               _page("Comment fonctionne la commune", f"<ol>{links}</ol>")))
        for i, (key, title, text) in enumerate(LESSONS):
            nxt = f'<p><a href="{LESSONS[i + 1][0]}">Leçon suivante</a></p>' \
                if i + 1 < len(LESSONS) else ""
            creator.add_item(_Page(key, title, _page(title, f"<p>{html.escape(text)}</p>{nxt}")))
        creator.add_redirection("accueil", "Accueil", "index", {Hint.FRONT_ARTICLE: False})
    os.replace(tmp, path)
