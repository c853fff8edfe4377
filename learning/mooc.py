"""MOOC ZIMs made by openZIM's scrapers, read as courses where their structure allows.

The field's MOOCs come as ZIMs that nobody here built; two scrapers write a structure
we can follow (docs/learning.md has the details and the sources):

- **openedx2zim** (tags ``openedx``, ``_category:mooc``): pages at
  ``course/<course>/<chapter>/<sequential>/<vertical>/index.html``. Every page carries
  the side menu ``nav.zim-course-navigation``: each chapter's heading
  (``span.zim-group-heading``) then its sequentials (``div.zim-menu-item a``, linking to
  their first vertical). A vertical lists its sequential's verticals in order
  (``ol#zim-sequence-list a[data-page-title]``). ZIM paths are sorted by name, so the
  order comes from these menus, never from the paths. A chapter is a module, a vertical
  a lesson; its video is ``<video><source src=".../video.mp4">``.
- **kolibri2zim** (v3: tags ``kolibri``): ``channel.json`` names the root topic;
  ``topics/<slug>.json`` holds a topic's title and its ``sections`` in order, each with
  ``slug``, ``title``, ``kind`` and (one level down) ``subsections``. A leaf (video,
  audio, document, html5, exercise...) is the page ``static/<slug>``, its media linked
  from there (``<source src="../<file id>.mp4">``). Each topic section of the root is a
  module, the leaves under it (depth first) its lessons.

Anything else (a plain ZIM: Wikipedia, a website) stays a book of the library; the
reason is kept so the kiosk can say why (:class:`Reading`). Lessons of a MOOC are its
own pages, shown by the library's reader; the box tracks opened and listened (its audio
or video played to the end) and serves the media through :mod:`learning.media`.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from .course import ISO3, Course, Lesson, Module

MAX_PAGE = 4 * 1024 * 1024  # a navigation page larger than this is not parsed
MAX_LESSONS = 5000
MAX_DEPTH = 8  # nested topics followed below a module

# Why a ZIM is not a course: a code the kiosk turns into words (learning/kiosk.py).
NO_STRUCTURE = "no_structure"  # a plain ZIM: no course structure we know
BROKEN = "broken"  # looks like a MOOC, but its menu or channel file cannot be followed
EMPTY = "empty"  # the structure is there, with no lesson page in it
UNREADABLE = "unreadable"  # libzim cannot open the file
DUPLICATE = "duplicate"  # another ZIM already carries a course with this id


class _Broken(Exception):
    """The structure a scraper writes is there but cannot be followed."""


@dataclass
class Reading:
    """What a ZIM of the library is for learning: a course, or a book and why."""

    course: Course | None
    reason: str = ""  # one of the codes above when ``course`` is None
    detail: str = ""  # for a technician: the entry or field that stopped us
    title: str = ""


def lesson_id(path: str) -> str:
    """A lesson's stable id from its page's path (progress is kept by it)."""
    return hashlib.blake2b(path.encode("utf-8"), digest_size=6).hexdigest()


def course_id(name: str, fallback: str) -> str:
    raw = (name or fallback or "mooc").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", raw).strip("-")[:42] or "mooc"
    return f"mooc-{slug}"


def _meta(archive, key: str) -> str:
    try:
        return bytes(archive.get_metadata(key)).decode("utf-8", "replace").strip()
    except (RuntimeError, KeyError):
        return ""


def _item(archive, path: str):
    """The item at ``path`` (redirects followed), or None."""
    try:
        entry = archive.get_entry_by_path(path)
        for _ in range(8):
            if not entry.is_redirect:
                break
            entry = entry.get_redirect_entry()
        return entry.get_item()
    except (RuntimeError, KeyError):
        return None


def _text(archive, path: str) -> str | None:
    item = _item(archive, path)
    if item is None or item.size > MAX_PAGE:
        return None
    return bytes(item.content).decode("utf-8", "replace")


def _join(base_page: str, href: str) -> str | None:
    """The ZIM path a relative link of ``base_page`` leads to (None: elsewhere)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(base_page), unquote(parts.path)))
    if target.startswith(("../", "/")) or target in ("..", "."):
        return None
    return target


# --- media found in a lesson page -----------------------------------------------------------


class _Media(HTMLParser):
    """``src`` of <audio>, <video> and their <source>s, with the element's kind."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []  # (kind, src)
        self._inside = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("audio", "video"):
            self._inside = tag
            if a.get("src"):
                self.found.append((tag, a["src"]))
        elif tag == "source" and self._inside and a.get("src"):
            self.found.append((self._inside, a["src"]))

    def handle_endtag(self, tag):
        if tag in ("audio", "video"):
            self._inside = ""


def _media_of(archive, page: str, html_text: str) -> tuple[str, str]:
    """The first audio and the first video of a page that exist in the ZIM (an entry
    whose MIME type says audio or video: a video element may hold audio only)."""
    parser = _Media()
    parser.feed(html_text)
    audio = video = ""
    for _kind, src in parser.found:
        target = _join(page, src)
        item = _item(archive, target) if target else None
        if item is None:
            continue
        mime = item.mimetype.split(";")[0]
        if mime.startswith("audio/") and not audio:
            audio = target
        elif mime.startswith("video/") and not video:
            video = target
    return audio, video


def _lesson(archive, page: str, title: str) -> Lesson | None:
    text = _text(archive, page)
    if text is None:
        return None
    audio, video = _media_of(archive, page, text)
    return Lesson(lesson_id(page), title.strip()[:300] or page, audio=audio, video=video, page=page)


# --- openedx2zim ---------------------------------------------------------------------------


class _EdxMenu(HTMLParser):
    """The chapters of the side menu and, in each, its sequentials' links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chapters: list[tuple[str, list[tuple[str, str]]]] = []
        self._in_nav = 0
        self._heading = 0  # depth of <span> inside the chapter's heading
        self._item: str | None = None  # href of the menu item being read
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "nav" and "zim-course-navigation" in classes:
            self._in_nav = 1
            return
        if not self._in_nav:
            return
        if tag == "nav":
            self._in_nav += 1
        if tag == "span" and self._heading:
            self._heading += 1
        elif tag == "span" and "zim-group-heading" in classes:
            self._heading, self._text = 1, []
        elif tag == "a" and self.chapters and a.get("href") and "chapter" not in classes:
            self._item, self._text = a["href"], []

    def handle_endtag(self, tag):
        if not self._in_nav:
            return
        if tag == "nav":
            self._in_nav -= 1
        elif tag == "span" and self._heading:
            self._heading -= 1
            if not self._heading:
                self.chapters.append((" ".join("".join(self._text).split()), []))
        elif tag == "a" and self._item is not None:
            self.chapters[-1][1].append((self._item, " ".join("".join(self._text).split())))
            self._item = None

    def handle_data(self, data):
        if self._heading or self._item is not None:
            self._text.append(data)


class _EdxSequence(HTMLParser):
    """The verticals of a sequential, in order: ``ol#zim-sequence-list a``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, str]] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "ol" and a.get("id") == "zim-sequence-list":
            self._in = True
        elif tag == "a" and self._in and a.get("href"):
            self.items.append((a["href"], a.get("data-page-title") or a.get("title") or ""))

    def handle_endtag(self, tag):
        if tag == "ol":
            self._in = False


def _edx_menu_page(archive) -> tuple[str, str] | None:
    """A page carrying the course's side menu: the main page, or the course menu
    (``course/<slug>/index.html``) it links to."""
    try:
        main = archive.main_entry.get_item().path if archive.has_main_entry else ""
    except RuntimeError:
        main = ""
    tried = []
    if main:
        tried.append(main)
        text = _text(archive, main)
        if text and "zim-course-navigation" in text:
            return main, text
        for href in re.findall(r'href="([^"]*course/[^"/]+/index\.html)"', text or ""):
            target = _join(main, href)
            if target and target not in tried:
                tried.append(target)
                page = _text(archive, target)
                if page and "zim-course-navigation" in page:
                    return target, page
    return None


def read_openedx(archive) -> list[Module]:
    """The chapters and their verticals, in the menus' order (raises :class:`_Broken`)."""
    found = _edx_menu_page(archive)
    if found is None:
        raise _Broken("no page with the course menu (nav.zim-course-navigation)")
    menu_path, menu_text = found
    menu = _EdxMenu()
    menu.feed(menu_text)
    if not menu.chapters:
        raise _Broken(f"{menu_path}: the course menu lists no chapter")
    modules, seen, count = [], set(), 0
    for title, sequentials in menu.chapters:
        module = Module(title or "—")
        for href, seq_title in sequentials:
            first = _join(menu_path, href)
            text = _text(archive, first) if first else None
            if text is None:
                continue
            seq = _EdxSequence()
            seq.feed(text)
            verticals = [(_join(first, h), t) for h, t in seq.items] or [(first, seq_title)]
            for page, vtitle in verticals:
                if not page or page in seen or count >= MAX_LESSONS:
                    continue
                lesson = _lesson(archive, page, vtitle or seq_title)
                if lesson is not None:
                    seen.add(page)
                    count += 1
                    module.lessons.append(lesson)
        if module.lessons:
            modules.append(module)
    return modules


# --- kolibri2zim ---------------------------------------------------------------------------


def _json(archive, path: str):
    text = _text(archive, path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_kolibri(archive) -> list[Module]:
    """The root's topics and the leaves under each (raises :class:`_Broken`)."""
    channel = _json(archive, "channel.json")
    if not isinstance(channel, dict) or not isinstance(channel.get("root"), str):
        raise _Broken("channel.json is missing, not JSON or has no root")
    root = _json(archive, f"topics/{channel['root']}.json")
    if not isinstance(root, dict) or not isinstance(root.get("sections"), list):
        raise _Broken(f"topics/{channel['root']}.json is missing or has no sections")
    counted = [0]
    seen: set[str] = set()
    expanded: set[str] = {channel["root"]}

    def leaves(section: dict, depth: int) -> list[Lesson]:
        if not isinstance(section, dict) or not isinstance(section.get("slug"), str):
            return []
        slug, kind = section["slug"], section.get("kind", "")
        if kind != "topic":
            page = f"static/{slug}"
            if page in seen or counted[0] >= MAX_LESSONS:
                return []
            lesson = _lesson(archive, page, str(section.get("title") or slug))
            if lesson is None:
                return []
            seen.add(page)
            counted[0] += 1
            return [lesson]
        if depth > MAX_DEPTH or slug in expanded:
            return []  # a topic listed twice (or in a loop) is followed once
        expanded.add(slug)
        topic = _json(archive, f"topics/{slug}.json")
        children = topic.get("sections") if isinstance(topic, dict) else None
        if not isinstance(children, list):  # an older file: its subsections only
            children = section.get("subsections") or []
        return [x for child in children for x in leaves(child, depth + 1)]

    modules: list[Module] = []
    loose = Module(str(root.get("title") or "—"))  # leaves right under the root
    for section in root["sections"]:
        if not isinstance(section, dict):
            continue
        if section.get("kind") == "topic":
            module = Module(str(section.get("title") or section.get("slug") or "—"))
            module.lessons = leaves(section, 1)
            if module.lessons:
                modules.append(module)
        else:
            loose.lessons += leaves(section, 1)
    if loose.lessons:
        modules.insert(0, loose)
    return modules


# --- any ZIM -------------------------------------------------------------------------------


def read(path) -> Reading:
    """How a ZIM of the library is read for learning (never raises for a bad file)."""
    from libzim.reader import Archive

    from .course import META_KEY, read_course

    try:
        archive = Archive(str(path))
    except (RuntimeError, OSError, ValueError) as e:
        return Reading(None, UNREADABLE, str(e)[:200])
    title = _meta(archive, "Title")
    if _meta(archive, META_KEY):
        own = read_course(path)
        if own is not None:
            return Reading(own, title=title)
        return Reading(None, BROKEN, f"metadata {META_KEY} cannot be read", title)
    tags = {t.strip().lower() for t in _meta(archive, "Tags").split(";")}
    try:
        if "kolibri" in tags or _item(archive, "channel.json") is not None:
            source, modules = "kolibri", read_kolibri(archive)
        elif "openedx" in tags or _edx_menu_page(archive) is not None:
            source, modules = "openedx", read_openedx(archive)
        else:
            return Reading(None, NO_STRUCTURE, "", title)
    except _Broken as e:
        return Reading(None, BROKEN, str(e), title)
    except (RuntimeError, UnicodeError, ValueError, RecursionError) as e:
        return Reading(None, BROKEN, f"{type(e).__name__}: {e}"[:200], title)
    if not modules:
        return Reading(None, EMPTY, f"{source}: no lesson page behind its structure", title)
    lang3 = _meta(archive, "Language").split(",")[0].strip()
    language = {v: k for k, v in ISO3.items()}.get(lang3, lang3 or "und")
    course = Course(
        id=course_id(_meta(archive, "Name"), path.stem),
        title=title or path.stem,
        language=language,
        description=_meta(archive, "Description"),
        modules=modules,
        source=source,
    )
    return Reading(course, title=course.title)
