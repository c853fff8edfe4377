"""Spoken labels on the visitor pages: the clips served by hash, and ``say(key)``, the
speaker beside a labelled control (a link to the clip without JavaScript; with it, the
clip plays in place). No clip in the visitor's language: no speaker, never another
language's clip."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, send_file
from flask_babel import gettext
from markupsafe import Markup, escape

from .. import blobs
from . import rules

bp = Blueprint("labels", __name__)

STATE = "espace.labels"
ONE_YEAR = 365 * 24 * 3600


def labels_version() -> int:
    """The labels' version, read once per request (one indexed query)."""
    if "labels_version" not in g:
        try:
            g.labels_version = rules.version()
        except Exception:  # noqa: BLE001 - before migration 0025 (tests of old schemas)
            g.labels_version = 0
    return g.labels_version


def for_language(lang: str) -> tuple[dict[str, str], dict[str, rules.Clip]]:
    """(texts, clips) of ``lang``, kept per app until a label is added."""
    version = labels_version()
    state = current_app.extensions.setdefault(STATE, {"version": -1, "langs": {}})
    if state["version"] != version:
        state["version"], state["langs"] = version, {}
    found = state["langs"].get(lang)
    if found is None:
        found = rules.current(lang, current_app.config["DATA_DIR"]) if version else ({}, {})
        if not (version and rules.missing_clips()):  # else: look again once it is here
            state["langs"][lang] = found
    return found


def clip_url(key: str, lang: str | None = None) -> str | None:
    clip = for_language(lang or g.lang)[1].get(key)
    return f"/labels/clip/{clip.sha256}" if clip else None


def msg_key(label) -> str:
    """The key of a catalogue string given as a msgid or as a lazy string."""
    args = getattr(label, "_args", None)
    return "msg:" + (args[0] if args else str(label))


def say(key: str, lang: str | None = None) -> Markup:
    """The speaker of ``key`` in the visitor's language (or ``lang``: a language's own
    name is spoken in that language), or nothing."""
    url = clip_url(key, lang)
    if url is None:
        return Markup("")
    g.say_used = True
    return Markup('<a class="say" href="{}" data-say aria-label="{}"><svg class="icon" '
                  'aria-hidden="true"><use xlink:href="#i-say" href="#i-say"/></svg></a>'
                  ).format(url, gettext("Listen"))


def say_msg(label) -> Markup:
    return say(msg_key(label))


def say_code(code: str) -> Markup:
    """One speaker that reads a code sign by sign, if every sign has a clip."""
    urls = [clip_url(f"char:{c}") for c in code if not c.isspace()]
    if not urls or None in urls:
        return Markup("")
    g.say_used = True
    return Markup('<a class="say say-code" href="{}" data-say="{}" aria-label="{}"><svg '
                  'class="icon" aria-hidden="true"><use xlink:href="#i-say" href="#i-say"/>'
                  '</svg></a>').format(urls[0], " ".join(urls), gettext("Listen"))


def code_signs(code: str) -> Markup:
    """A code as its signs, each a link to its clip where one exists (without JavaScript
    a visitor taps each sign to hear it)."""
    out = []
    for c in code:
        url = None if c.isspace() else clip_url(f"char:{c}")
        out.append(Markup('<a href="{}" data-say>{}</a>').format(url, c) if url
                   else escape(c))
    return Markup("").join(out)


@bp.get("/labels/clip/<sha>")
def clip(sha: str):
    mime = rules.clip_mime(sha) if blobs.HEX64.fullmatch(sha) else None
    if mime is None:
        abort(404)
    path = blobs.path_for(current_app.config["DATA_DIR"], sha)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=mime, max_age=ONE_YEAR, conditional=True, etag=sha)
    # Never rendered as a page, whatever its bytes (a clip comes from other boxes too).
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.get("/labels/photo/<sha>")
def photo(sha: str):
    """An official's face, only if an official has it."""
    from ..models import Official

    if not blobs.HEX64.fullmatch(sha) or not Official.select().where(
            Official.photo_sha256 == sha).exists():
        abort(404)
    path = blobs.path_for(current_app.config["DATA_DIR"], sha)
    if not path.is_file():
        abort(404)
    with open(path, "rb") as f:
        mime = rules.photo_type(f.read(16)) or "application/octet-stream"
    return send_file(path, mimetype=mime, max_age=ONE_YEAR, conditional=True, etag=sha)


def init_app(app) -> None:
    from .keys import theme_key

    app.add_template_global(theme_key)
    app.add_template_global(say)
    app.add_template_global(say_msg)
    app.add_template_global(say_code)
    app.add_template_global(code_signs)
