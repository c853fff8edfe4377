"""Courses as the box understands them: a ZIM built by ``espace course build`` from a
folder a trainer writes (``course.toml`` + Markdown or HTML lessons + media).

The folder::

    course.toml
    lessons/lire-a.md        (or .html)
    media/a.ogg, media/chat.png ...

``course.toml``::

    id = "alpha-1"                 # the course's name on the box (a-z, 0-9, -)
    title = "Lire et écrire 1"
    language = "bm"                # our code (fr, bm, snk, ff) or ISO 639-3
    description = "..."            # optional
    [[modules]]
    title = "Les voyelles"
    [[modules.lessons]]
    id = "a"
    title = "La lettre a"
    file = "lessons/a.md"
    audio = "media/a.ogg"          # optional: listened to the end counts
    [[modules.lessons.exercises]]
    type = "choice"                # multiple choice, pictures and audio optional
    question = "Où est le chat ?"
    audio = "media/q.ogg"
    answer = 1                     # index (from 0) of the right choice
    choices = [{ text = "chien", image = "media/chien.png" }, { text = "chat" }]
    [[modules.lessons.exercises]]
    type = "read_aloud"            # "record yourself reading this": recorded in the
    text = "a  ba  ma"             # page, sent to the group's trainer at central
    [[modules.lessons.exercises]]
    type = "photo"                 # "take a photo of your writing" (phone's camera)
    text = "Écris : ba  ma"        # optional: what to write

In the ZIM: lessons under ``lesson/<id>``, media under ``media/<name>``, a main page
listing them, and the whole structure (answers included) in the metadata
``X-Espace-Course`` (JSON), which the library never serves, so answers are checked on
the box and never reach a phone. Tags carry ``_category:course``.
"""

from __future__ import annotations

import functools
import html
import json
import mimetypes
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from appliance.errors import EspaceError

META_KEY = "X-Espace-Course"
TAG = "_category:course"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
MAX_MEDIA = 50 * 1024 * 1024
MEDIA_TYPES = {
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".mp4": "video/mp4",
}
EXERCISE_TYPES = ("choice", "read_aloud", "photo")
# The exercises whose work (a recording, a photo) goes to a trainer (learning/coaching.py).
WORK_TYPES = ("read_aloud", "photo")
ISO3 = {"fr": "fra", "bm": "bam", "snk": "snk", "ff": "ful", "en": "eng", "ar": "ara"}
# Lessons in HTML are the trainer's, yet shown inside the box's own pages: no script.
_UNSAFE_HTML = re.compile(
    r"<\s*(script|iframe|object|embed|form)\b|\bon[a-z]+\s*=|javascript:", re.IGNORECASE
)


class CourseError(EspaceError):
    """A course folder or manifest the builder refuses; names the file and field."""

    def __init__(self, where: str, problem: str, fix: str = "") -> None:
        super().__init__(f"{where}: {problem}", fix or "correct course.toml (see docs/learning.md)")


@dataclass
class Choice:
    text: str = ""
    image: str = ""
    audio: str = ""


@dataclass
class Exercise:
    type: str
    question: str = ""
    text: str = ""
    audio: str = ""
    answer: int = -1
    choices: list[Choice] = field(default_factory=list)


@dataclass
class Lesson:
    id: str
    title: str
    file: str = ""
    audio: str = ""
    exercises: list[Exercise] = field(default_factory=list)
    # A MOOC ZIM's lesson (learning/mooc.py): its video, and its own page in the ZIM,
    # shown by the library's reader; audio and video are then ZIM paths, not media/.
    video: str = ""
    page: str = ""


@dataclass
class Module:
    title: str
    lessons: list[Lesson] = field(default_factory=list)


@dataclass
class Course:
    id: str
    title: str
    language: str
    description: str = ""
    modules: list[Module] = field(default_factory=list)
    source: str = "espace"  # espace (built here), openedx or kolibri (learning/mooc.py)

    def lessons(self) -> list[Lesson]:
        return [lesson for m in self.modules for lesson in m.lessons]

    def _index(self) -> dict[str, tuple[int, Lesson]]:
        # A MOOC may have thousands of lessons, and a learner's standing looks each up:
        # built once, again only if modules or lessons were added since (the builder
        # appends them while it reads a manifest).
        size = (len(self.modules), sum(len(m.lessons) for m in self.modules))
        held = self.__dict__.get("_by_id")
        if held is None or held[0] != size:
            index = {x.id: (i, x) for i, m in enumerate(self.modules) for x in m.lessons}
            held = self.__dict__["_by_id"] = (size, index)
        return held[1]

    def lesson(self, lesson_id: str) -> Lesson | None:
        found = self._index().get(lesson_id)
        return found[1] if found else None

    def module_of(self, lesson_id: str) -> int:
        found = self._index().get(lesson_id)
        return found[0] if found else -1

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> Course:
        return cls(
            id=d["id"],
            title=d["title"],
            language=d["language"],
            description=d.get("description", ""),
            modules=[
                Module(
                    m["title"],
                    [
                        Lesson(
                            lesson["id"],
                            lesson["title"],
                            lesson.get("file", ""),
                            lesson.get("audio", ""),
                            [
                                Exercise(
                                    e["type"],
                                    e.get("question", ""),
                                    e.get("text", ""),
                                    e.get("audio", ""),
                                    e.get("answer", -1),
                                    [Choice(**c) for c in e.get("choices", [])],
                                )
                                for e in lesson.get("exercises", [])
                            ],
                        )
                        for lesson in m["lessons"]
                    ],
                )
                for m in d["modules"]
            ],
        )


# --- reading the manifest ------------------------------------------------------------------


def _str(d: dict, key: str, where: str, required: bool = True, limit: int = 300) -> str:
    value = d.get(key, "")
    if not isinstance(value, str):
        raise CourseError(f"{where}.{key}", f"must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise CourseError(f"{where}.{key}", "is missing", f'add {key} = "..." to {where}')
    if len(value) > limit:
        raise CourseError(f"{where}.{key}", f"is longer than {limit} characters")
    return value


def _media(folder: Path, d: dict, key: str, where: str) -> str:
    rel = _str(d, key, where, required=False)
    if not rel:
        return ""
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise CourseError(f"{where}.{key}", f"{rel!r} is outside the course folder")
    if not path.is_file():
        raise CourseError(
            f"{where}.{key}",
            f"file {rel!r} not found",
            f"put the file at {folder / rel} or correct the path",
        )
    if path.suffix.lower() not in MEDIA_TYPES:
        raise CourseError(
            f"{where}.{key}",
            f"{rel!r}: unsupported type {path.suffix!r}",
            "use one of " + ", ".join(sorted(MEDIA_TYPES)),
        )
    if path.stat().st_size > MAX_MEDIA:
        raise CourseError(f"{where}.{key}", f"{rel!r} is larger than {MAX_MEDIA // 2**20} MiB")
    return path.relative_to(folder.resolve()).as_posix()


def _list(d: dict, key: str, where: str, required: bool = True) -> list[dict]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise CourseError(f"{where}.{key}", "must be a list of tables ([[...]])")
    if required and not value:
        raise CourseError(f"{where}.{key}", "is empty", f"add at least one [[{key}]]")
    return value


def read_manifest(folder: Path) -> Course:
    """The course a folder describes, every file it names checked; raises
    :class:`CourseError` naming the file and field."""
    folder = Path(folder)
    manifest = folder / "course.toml"
    if not manifest.is_file():
        raise CourseError(str(manifest), "not found", "write course.toml in the course folder")
    try:
        doc = tomllib.loads(manifest.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CourseError(
            str(manifest), f"is not UTF-8 ({e.reason} at byte {e.start})", "save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise CourseError(str(manifest), f"is not valid TOML: {e}") from None
    top = "course.toml"
    cid = _str(doc, "id", top)
    if not ID_RE.match(cid):
        raise CourseError(f"{top}.id", f"{cid!r} must be lower-case letters, digits and -")
    course = Course(
        id=cid,
        title=_str(doc, "title", top),
        language=_str(doc, "language", top, limit=8),
        description=_str(doc, "description", top, required=False, limit=2000),
    )
    seen: set[str] = set()
    for mi, m in enumerate(_list(doc, "modules", top)):
        mw = f"{top}.modules[{mi}]"
        module = Module(_str(m, "title", mw))
        for li, lesson in enumerate(_list(m, "lessons", mw)):
            lw = f"{mw}.lessons[{li}]"
            lid = _str(lesson, "id", lw)
            if not ID_RE.match(lid):
                raise CourseError(f"{lw}.id", f"{lid!r} must be lower-case letters, digits and -")
            if lid in seen:
                raise CourseError(f"{lw}.id", f"{lid!r} is used twice")
            seen.add(lid)
            out = Lesson(lid, _str(lesson, "title", lw), audio=_media(folder, lesson, "audio", lw))
            rel = _str(lesson, "file", lw, required=not out.audio)
            if rel:
                path = (folder / rel).resolve()
                if not path.is_relative_to(folder.resolve()) or not path.is_file():
                    raise CourseError(f"{lw}.file", f"file {rel!r} not found in the course folder")
                if path.suffix.lower() not in (".md", ".html", ".htm"):
                    raise CourseError(f"{lw}.file", f"{rel!r} must be .md or .html")
                out.file = path.relative_to(folder.resolve()).as_posix()
            for ei, ex in enumerate(_list(lesson, "exercises", lw, required=False)):
                out.exercises.append(_exercise(folder, ex, f"{lw}.exercises[{ei}]"))
            module.lessons.append(out)
        course.modules.append(module)
    return course


def _exercise(folder: Path, ex: dict, where: str) -> Exercise:
    kind = _str(ex, "type", where)
    if kind not in EXERCISE_TYPES:
        raise CourseError(f"{where}.type", f"{kind!r} is not one of {', '.join(EXERCISE_TYPES)}")
    out = Exercise(
        kind,
        question=_str(ex, "question", where, required=False),
        audio=_media(folder, ex, "audio", where),
    )
    if kind in WORK_TYPES:
        out.text = _str(ex, "text", where, required=kind == "read_aloud", limit=2000)
        return out
    for ci, c in enumerate(_list(ex, "choices", where)):
        cw = f"{where}.choices[{ci}]"
        choice = Choice(
            _str(c, "text", cw, required=False),
            _media(folder, c, "image", cw),
            _media(folder, c, "audio", cw),
        )
        if not (choice.text or choice.image or choice.audio):
            raise CourseError(cw, "has no text, image or audio")
        out.choices.append(choice)
    if len(out.choices) < 2:
        raise CourseError(f"{where}.choices", "needs at least two choices")
    answer = ex.get("answer")
    if (
        not isinstance(answer, int)
        or isinstance(answer, bool)
        or not 0 <= answer < len(out.choices)
    ):
        raise CourseError(
            f"{where}.answer",
            f"must be the index (0 to {len(out.choices) - 1}) of the right choice",
        )
    out.answer = answer
    return out


# --- writing the ZIM -----------------------------------------------------------------------


@functools.cache
def _entry_class() -> type:
    """libzim's writer is imported only when a course is built: this module is reached
    from the pull handlers (learning.sync), which every ``espace`` command loads."""
    from libzim.writer import Hint, Item, StringProvider

    class _Entry(Item):
        def __init__(
            self, path: str, title: str, mime: str, data: bytes | str, front: bool = False
        ) -> None:
            super().__init__()
            self._p, self._t, self._m, self._d, self._f = path, title, mime, data, front

        def get_path(self) -> str:
            return self._p

        def get_title(self) -> str:
            return self._t

        def get_mimetype(self) -> str:
            return self._m

        def get_contentprovider(self):
            return StringProvider(self._d)

        def get_hints(self):
            return {
                Hint.FRONT_ARTICLE: self._f,
                Hint.COMPRESS: not self._m.startswith(("audio/", "image/", "video/")),
            }

    return _Entry


def lesson_html(folder: Path, lesson: Lesson) -> str:
    """A lesson's body as HTML: Markdown rendered with raw HTML off; HTML checked."""
    if not lesson.file:
        return ""
    path = folder / lesson.file
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise CourseError(
            lesson.file, f"is not UTF-8 ({e.reason} at byte {e.start})", "save the file as UTF-8"
        ) from None
    if path.suffix.lower() == ".md":
        from markdown_it import MarkdownIt

        return MarkdownIt("commonmark", {"html": False}).render(text)
    bad = _UNSAFE_HTML.search(text)
    if bad:
        raise CourseError(
            lesson.file,
            f"contains {bad.group(0)!r}: scripts, frames, forms "
            "and event handlers are not allowed in a lesson",
            "remove it or write the lesson in Markdown",
        )
    return text


def _page(title: str, lang: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title></head><body><h1 dir="auto">'
        f"{html.escape(title)}</h1>{body}</body></html>"
    )


def build(folder: Path, out: Path) -> Course:
    """Build the course ZIM of ``folder`` at ``out`` (atomically: a cut build leaves no
    file at ``out``)."""
    from libzim.writer import Creator

    from appliance.demo_zim import illustration_png

    _Entry = _entry_class()  # noqa: N806 - the class
    folder = Path(folder)
    course = read_manifest(folder)
    bodies = {x.id: lesson_html(folder, x) for x in course.lessons()}
    media = sorted({p for x in course.lessons() for p in _media_of(x)})
    out = Path(out)
    tmp = out.with_name(f".{out.name}.building")
    tmp.unlink(missing_ok=True)
    lang3 = ISO3.get(course.language, course.language)
    try:
        with Creator(str(tmp)).config_verbose(False).config_indexing(True, lang3) as creator:
            creator.set_mainpath("index")
            for key, value in {
                "Name": f"espace_course_{course.id}",
                "Title": course.title,
                "Description": course.description or course.title,
                "Language": lang3,
                "Creator": "Espace",
                "Publisher": "Espace",
                "Date": "2026-01-01",
                "Tags": f"mooc;{TAG}",
                META_KEY: course.to_json(),
            }.items():
                creator.add_metadata(key, value)
            creator.add_illustration(48, illustration_png())
            links = "".join(
                f"<h2>{html.escape(m.title)}</h2><ol>"
                + "".join(
                    f'<li><a href="lesson/{x.id}">{html.escape(x.title)}</a></li>'
                    for x in m.lessons
                )
                + "</ol>"
                for m in course.modules
            )
            creator.add_item(
                _Entry(
                    "index",
                    course.title,
                    "text/html",
                    _page(course.title, course.language, links),
                    True,
                )
            )
            for x in course.lessons():
                audio = (
                    (
                        f'<audio controls preload="none" src="../media/{html.escape(x.audio)}">'
                        "</audio>"
                    )
                    if x.audio
                    else ""
                )
                creator.add_item(
                    _Entry(
                        f"lesson/{x.id}",
                        x.title,
                        "text/html",
                        _page(x.title, course.language, audio + bodies[x.id]),
                        True,
                    )
                )
            for rel in media:
                mime = MEDIA_TYPES.get(Path(rel).suffix.lower()) or mimetypes.guess_type(rel)[0]
                creator.add_item(
                    _Entry(
                        f"media/{rel}",
                        rel,
                        mime or "application/octet-stream",
                        (folder / rel).read_bytes(),
                    )
                )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return course


def _media_of(lesson: Lesson) -> list[str]:
    out = [lesson.audio]
    for e in lesson.exercises:
        out.append(e.audio)
        for c in e.choices:
            out += [c.image, c.audio]
    return [p for p in out if p]


# --- reading a course ZIM ------------------------------------------------------------------


def read_course(path: Path) -> Course | None:
    """The course a ZIM carries (None for a ZIM that is not one of ours)."""
    from libzim.reader import Archive

    try:
        archive = Archive(str(path))
        raw = bytes(archive.get_metadata(META_KEY)).decode("utf-8")
        return Course.from_dict(json.loads(raw))
    except (RuntimeError, KeyError, ValueError, TypeError):
        return None


def media_bytes(path: Path, rel: str) -> tuple[bytes, str] | None:
    from libzim.reader import Archive

    try:
        item = Archive(str(path)).get_entry_by_path(f"media/{rel}").get_item()
        return bytes(item.content), item.mimetype
    except (RuntimeError, KeyError):
        return None


def lesson_body(path: Path, lesson_id: str) -> str:
    """The lesson's HTML body (between <body> and </body>, title dropped)."""
    from libzim.reader import Archive

    try:
        item = Archive(str(path)).get_entry_by_path(f"lesson/{lesson_id}").get_item()
    except (RuntimeError, KeyError):
        return ""
    text = bytes(item.content).decode("utf-8", "replace")
    body = text.split("</h1>", 1)[-1]
    return body.rsplit("</body>", 1)[0]


def installed(content_dir: Path) -> dict[str, tuple[Path, Course]]:
    """Every course ZIM of the content directory, by course id."""
    out: dict[str, tuple[Path, Course]] = {}
    for p in sorted(Path(content_dir).glob("*.zim")):
        c = read_course(p)
        if c is not None:
            out[c.id] = (p, c)
    return out
