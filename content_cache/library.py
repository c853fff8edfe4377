"""Find the ZIM files of the library and read their metadata with libzim."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from libzim.reader import Archive


@dataclass(frozen=True)
class Book:
    name: str
    path: Path
    title: str
    language: str
    description: str
    article_count: int


def _meta(archive: Archive, key: str) -> str:
    try:
        return bytes(archive.get_metadata(key)).decode("utf-8", "replace")
    except KeyError:
        return ""


def read_book(path: Path) -> Book:
    archive = Archive(path)
    return Book(name=path.stem, path=path, title=_meta(archive, "Title") or path.stem,
                language=_meta(archive, "Language"), description=_meta(archive, "Description"),
                article_count=archive.article_count)


def scan(content_dir: Path) -> list[Book]:
    books = []
    for path in sorted(Path(content_dir).glob("*.zim")):
        try:
            books.append(read_book(path))
        except RuntimeError:
            continue  # unreadable file: `espace doctor` reports it
    return books
