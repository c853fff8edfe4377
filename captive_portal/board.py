"""The citizens' board: read, ask or propose (by text or voice), support, flag.

Thin views over :mod:`appliance.board.rules`. Every form works without JavaScript;
``static/board/voice.js`` adds in-browser recording where the phone allows it (with the
box's one recorder, ``appliance/static/recorder.js``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from appliance import blobs, csrf, privacy, scripts, throttle
from appliance.board import forms, rules
from appliance.board.messages import AGE_LABELS, error_text, theme_label
from appliance.board.models import Post
from appliance.board.rules import BoardError, Draft
from appliance.db import database
from appliance.labels.web import labels_version
from appliance.models import Commune, Official

bp = Blueprint("board", __name__, url_prefix="/board", template_folder="templates",
               static_folder="static/board", static_url_path="/static")

DRAFT_FIELDS = ("kind", "target", "theme", "body", "alias", "age_group", "gender")
# Icons drawn in templates/board/_icons.svg; a theme naming another icon gets "other".
BOARD_ICONS = frozenset({"health", "sanitation", "water", "education", "youth",
                         "womens_rights", "taxes", "land", "security", "other"})


def _voice_js() -> Path:
    return Path(bp.static_folder) / "voice.js"


@bp.app_template_global()
def voice_js_url() -> str:
    """The recorder script's URL, versioned by its content: phones cache it for a
    year, and an updated box must not run last week's script. Pages load the core's
    ``script_url('recorder.js')`` before it."""
    return url_for("board.voice_js", v=scripts.packed(_voice_js()).version)


@bp.get("/voice.js")
def voice_js():
    """Served from memory, gzipped once (:mod:`appliance.scripts`)."""
    return scripts.response(_voice_js())


@bp.context_processor
def _board_context() -> dict:
    site = current_app.config["SITE"]
    return {"themes": site.board.themes, "theme_label": theme_label,
            "theme_by_id": {t["id"]: t for t in site.board.themes},
            "age_labels": AGE_LABELS, "board_icons": BOARD_ICONS}


def _site():
    return current_app.config["SITE"]


def _client(scope: str) -> str:
    return privacy.client_hash(request.remote_addr or "0.0.0.0", scope=scope)  # noqa: S104


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 9 else None


CACHE_SIZE = 128
_cache_lock = threading.Lock()


def _board_version() -> tuple:
    """Changes whenever anything shown on the board changes: every post, support,
    answer recorded here and moderation decision adds an outbox event; answers and
    forwards from central add a row."""
    return tuple(database.execute_sql(
        "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'),"
        " (SELECT max(id) FROM board_answer), (SELECT max(id) FROM board_forward)"
    ).fetchone())


@bp.get("/")
def index():
    """The board. Rendered pages are kept per (language, query, board version): 20
    phones opening the board after a debate cost one render, not 20."""
    cache = current_app.extensions.setdefault("board_pages", OrderedDict())
    key = (getattr(g, "lang", ""), request.query_string, _board_version(), labels_version())
    with _cache_lock:
        html = cache.get(key)
        if html is not None:
            cache.move_to_end(key)
            return html
    html = _render_index()
    with _cache_lock:
        cache[key] = html
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return html


def _render_index() -> str:
    theme = request.args.get("theme", "")
    if theme not in {t["id"] for t in _site().board.themes}:
        theme = ""
    state = request.args.get("state", "")
    state = state if state in rules.STATUS_FILTERS else ""
    sort = request.args.get("sort", "new")
    sort = sort if sort in rules.SORTS else "new"
    kind = request.args.get("kind", "")
    kind = kind if kind in ("question", "proposal") else ""
    commune_id = _int_arg("commune")
    page = _int_arg("page") or 1
    posts, more = rules.board_page(theme=theme, commune_id=commune_id, state=state, sort=sort,
                                   page=page, kinds=(kind,) if kind else rules.KINDS)
    filters = {"theme": theme, "state": state, "sort": sort, "kind": kind,
               "commune": commune_id or ""}

    def link(**changes) -> str:
        args = {k: v for k, v in {**filters, **changes}.items() if v}
        if args.get("sort") == "new":
            del args["sort"]
        return url_for("board.index", **args)

    return render_template("board/index.html", posts=posts, more=more, page=page,
                           filters=filters, link=link, forwards=rules.forwards_of(posts),
                           communes=list(Commune.select().order_by(Commune.name)))


def _targets() -> list[tuple[Commune, list[Official]]]:
    officials: dict[int, list[Official]] = {}
    for o in Official.select().order_by(Official.name):
        officials.setdefault(o.commune_id, []).append(o)
    return [(c, officials.get(c.id, [])) for c in Commune.select().order_by(Commune.name)]


def _form(draft: Draft, error: str = "", field: str = "", status: int = 200):
    return render_template("board/new.html", draft=draft, error=error, error_field=field,
                           targets=_targets(), limits=_site().board), status


@bp.get("/new")
def new():
    kind = request.args.get("kind", "question")
    target = request.args.get("target", "")
    return _form(Draft(kind=kind if kind in rules.KINDS else "question", target=target))


def _voice_upload(field: str = "voice") -> bytes | None:
    """The uploaded voice note's bytes (its name and declared type are ignored)."""
    upload = request.files.get(field)
    if upload is None:
        return None
    limit = _site().board.max_voice_bytes
    data = upload.stream.read(limit + 1)
    if not data:
        return None
    if len(data) > limit:
        raise BoardError("voice_too_large", "voice", max_bytes=limit)
    return data


# Refused voice notes (not audio, too long, too large) cost parsing: after
# throttle.REFUSALS_ALLOWED in 10 minutes, a phone's next large uploads are refused
# unparsed (here, and unread by the server: appliance.server).
_VOICE_REFUSALS = ("voice_not_audio", "voice_too_long", "voice_too_large")


def _refusals() -> throttle.Recent:
    return throttle.upload_refusals(current_app)


@bp.post("/new")
def create():
    phone = _client("day")
    address = request.remote_addr or ""
    if _refusals().blocked(address) and (request.content_length or 0) > 64 * 1024:
        return _form(Draft(), error_text(BoardError(
            "rate_limited", "", per_hour=throttle.REFUSALS_ALLOWED)), status=429)
    if not forms.urlencoded_is_utf8():
        return _form(Draft(), error_text(BoardError("invalid_utf8")), "body", status=400)
    draft = Draft(**{f: request.form.get(f, "") for f in DRAFT_FIELDS})
    if not csrf.valid():
        return _form(draft, error_text(BoardError("csrf")), status=400)
    try:
        voice = _voice_upload()
        post = rules.create_post(draft, voice, site=_site(),
                                 data_dir=current_app.config["DATA_DIR"], author_hash=phone)
    except BoardError as e:
        if e.code in _VOICE_REFUSALS:
            _refusals().note(address)
        status = 429 if e.code == "rate_limited" else 413 if e.code == "voice_too_large" else 400
        return _form(draft, error_text(e), e.field, status=status)
    return redirect(url_for("board.sent", code=post.code), code=303)


@bp.get("/sent/<code>")
def sent(code: str):
    post = rules.find(code) or abort(404)
    return render_template("board/sent.html", post=post)


@bp.get("/find")
def find():
    code = request.args.get("code", "")
    post = rules.find(code)
    if post is None:
        return render_template("board/find.html", code=code[:12],
                               error=error_text(BoardError("no_such_post")) if code else ""), \
            404 if code else 200
    return redirect(url_for("board.post", code=post.code), code=303)


def _post_or_404(code: str) -> Post:
    return rules.find(code) or abort(404)


@bp.get("/p/<code>")
def post(code: str):
    p = _post_or_404(code)
    if p.status == "merged" and p.merged_into_id:
        return redirect(url_for("board.post", code=p.merged_into.code), code=301)
    answers = list(p.answers.order_by(rules.Answer.id)) if p.status == "published" else []
    forwards = list(p.forwards.order_by(rules.Forward.id)) if p.status == "published" else []
    return render_template("board/post.html", post=p, answers=answers, forwards=forwards,
                           notice=request.args.get("done", ""))


@bp.post("/p/<code>/support")
def support(code: str):
    p = _post_or_404(code)
    if not csrf.valid():
        abort(400)
    try:
        new = rules.support(p, _client("box"))
    except BoardError:
        abort(404)
    return redirect(url_for("board.post", code=p.code, done="support" if new else "again"),
                    code=303)


@bp.post("/p/<code>/flag")
def flag(code: str):
    p = _post_or_404(code)
    if not csrf.valid() or p.status != "published":
        abort(400)
    try:
        rules.flag(p, _client("box"), request.form.get("reason", ""))
    except BoardError:
        abort(400)
    return redirect(url_for("board.post", code=p.code, done="flag"), code=303)


@bp.get("/voice/<sha>")
def voice(sha: str):
    if not blobs.HEX64.fullmatch(sha):
        abort(404)
    mime = rules.visible_voice(sha)
    path = rules.voice_file(current_app.config["DATA_DIR"], sha) if mime else None
    if path is None:
        abort(404)
    response = send_file(path.resolve(), mimetype=mime, conditional=True, etag=sha,
                         max_age=365 * 24 * 3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
