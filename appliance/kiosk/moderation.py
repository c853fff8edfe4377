"""The facilitator's board queue on the kiosk: publish, hide with a reason, merge
duplicates, and record an official's answer (typed or by voice) during a debate.

Thin views over :mod:`appliance.board.rules`; every decision reaches the outbox there.
"""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext

from .. import blobs, csrf
from ..board import forms, rules
from ..board.messages import HIDE_REASONS, error_text, theme_label
from ..board.models import Post
from ..board.rules import BoardError
from ..models import Commune, Official
from . import bp
from .auth import current_facilitator, facilitator_required


def _context() -> dict:
    site = current_app.config["SITE"]
    return {"theme_by_id": {t["id"]: t for t in site.board.themes},
            "theme_label": theme_label, "csrf_token": csrf.token,
            "limits": site.board}


def _post(code: str) -> Post:
    return rules.find(code) or abort(404)


@bp.get("/moderation")
@facilitator_required
def moderation():
    return moderation_page(request.args.get("error", ""))


def moderation_page(error: str = "", status: int = 200):
    return render_template("kiosk/moderation.html", posts=rules.queue(),
                           reasons=[str(r) for r in HIDE_REASONS],
                           message=request.args.get("message", ""),
                           error=error, **_context()), status


def _back(message: str = "", error: str = "", to: str = "kiosk.moderation"):
    args = {"message": message} if message else {"error": error} if error else {}
    return redirect(url_for(to, **args), code=303)


@bp.post("/moderation/<code>/<action>")
@facilitator_required
def decide(code: str, action: str):
    if not csrf.valid():
        # Refused with the queue and the reason on it (400), before anything is read.
        return moderation_page(error_text(BoardError("csrf")), status=400)
    post = _post(code)
    who = current_facilitator() or ""
    try:
        if action == "publish":
            rules.publish(post, who)
            return _back(gettext("%(code)s is on the board.", code=post.code))
        if action == "hide":
            reason = request.form.get("reason_text", "").strip() or request.form.get("reason", "")
            rules.hide(post, reason, who)
            return _back(gettext("%(code)s is hidden.", code=post.code))
        if action == "merge":
            target = rules.find(request.form.get("into", ""))
            if target is None:
                raise BoardError("no_such_post", "into")
            rules.merge(post, target, who)
            return _back(gettext("%(code)s is merged into %(into)s.", code=post.code,
                                 into=target.code))
    except BoardError as e:
        return _back(error=f"{post.code}: {error_text(e)}")
    abort(404)


@bp.get("/moderation/answers")
@facilitator_required
def waiting():
    commune_id = request.args.get("commune", "")
    commune_id = int(commune_id) if commune_id.isdigit() and len(commune_id) < 9 else None
    return render_template("kiosk/moderation_waiting.html",
                           posts=rules.waiting_for_answer(commune_id),
                           communes=list(Commune.select().order_by(Commune.name)),
                           commune_id=commune_id, message=request.args.get("message", ""),
                           **_context())


def _answer_form(post: Post, error: str = "", values: dict | None = None, status: int = 200):
    officials = list(Official.select().where(Official.commune == post.commune_id)
                     .order_by(Official.name))
    others = list(Official.select().where(Official.commune != post.commune_id)
                  .order_by(Official.name))
    return render_template("kiosk/moderation_answer.html", post=post, error=error,
                           officials=officials + others, values=values or {},
                           answers=list(post.answers), **_context()), status


@bp.get("/moderation/<code>/answer")
@facilitator_required
def answer_form(code: str):
    return _answer_form(_post(code))


@bp.post("/moderation/<code>/answer")
@facilitator_required
def answer(code: str):
    post = _post(code)
    if not forms.urlencoded_is_utf8():
        return _answer_form(post, error_text(BoardError("invalid_utf8")), status=400)
    values = {k: request.form.get(k, "") for k in ("official", "official_name", "body")}
    if not csrf.valid():
        return _answer_form(post, error_text(BoardError("csrf")), values, 400)
    official = values["official"]
    try:
        upload = request.files.get("voice")
        limit = current_app.config["SITE"].board.max_voice_bytes
        data = upload.stream.read(limit + 1) if upload else b""
        if len(data) > limit:
            raise BoardError("voice_too_large", "voice", max_bytes=limit)
        rules.answer(post, official_id=int(official) if official.isdigit() else None,
                     official_name=values["official_name"], body=values["body"],
                     voice_data=data or None, recorded_by=current_facilitator() or "",
                     site=current_app.config["SITE"], data_dir=current_app.config["DATA_DIR"])
    except BoardError as e:
        return _answer_form(post, error_text(e), values, 400)
    return _back(gettext("The answer to %(code)s is saved.", code=post.code),
                 to="kiosk.waiting")


@bp.get("/moderation/voice/<sha>")
@facilitator_required
def moderation_voice(sha: str):
    """Any voice note of the board, pending ones included (the facilitator listens
    before publishing)."""
    if not blobs.HEX64.fullmatch(sha):
        abort(404)
    post = Post.get_or_none(Post.voice_sha256 == sha)
    mime = post.voice_mime if post else None
    if mime is None:
        ans = rules.Answer.get_or_none(rules.Answer.voice_sha256 == sha)
        mime = ans.voice_mime if ans else None
    path = rules.voice_file(current_app.config["DATA_DIR"], sha) if mime else None
    if path is None:
        abort(404)
    return send_file(path.resolve(), mimetype=mime, conditional=True, etag=sha)


@bp.get("/moderation/officials")
@facilitator_required
def officials():
    return _officials_page()


def _officials_page(error: str = "", values: dict | None = None, status: int = 200):
    return render_template(
        "kiosk/moderation_officials.html", error=error, values=values or {},
        officials=list(Official.select(Official, Commune).join(Commune)
                       .order_by(Commune.name, Official.name)),
        communes=list(Commune.select().order_by(Commune.name)),
        message=request.args.get("message", ""), **_context()), status


@bp.post("/moderation/officials")
@facilitator_required
def save_official():
    values = {k: request.form.get(k, "") for k in ("id", "name", "role", "commune", "gender")}
    if not forms.urlencoded_is_utf8():
        return _officials_page(error_text(BoardError("invalid_utf8")), status=400)
    if not csrf.valid():
        return _officials_page(error_text(BoardError("csrf")), values, 400)
    try:
        official = rules.save_official(
            name=values["name"], role=values["role"], gender=values["gender"],
            commune_id=int(values["commune"]) if values["commune"].isdigit() else None,
            official_id=int(values["id"]) if values["id"].isdigit() else None)
    except BoardError as e:
        return _officials_page(error_text(e), values, 400)
    return _back(gettext("%(name)s is saved.", name=official.name), to="kiosk.officials")
