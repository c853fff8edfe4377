"""The kiosk's Labels tab: a facilitator who speaks a language corrects a label's text
and records it spoken, for the visitors' pages of every box of the region."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from .. import csrf
from ..kiosk import bp
from ..kiosk.auth import facilitator_required
from ..languages import LANGUAGES
from . import keys, rules
from .web import for_language

# What the tab can edit: the texts of catalogue strings and site themes; every label
# can be recorded.
EDITABLE_TEXT = ("msg:", "theme:")


def _languages() -> list:
    return [LANGUAGES[c] for c in current_app.config["SITE"].site.languages]


def _lang() -> str:
    offered = [lang.code for lang in _languages()]
    lang = request.values.get("lang", "")
    return lang if lang in offered else next((c for c in offered if c != "fr"), offered[0])


def error_text(e: rules.LabelError) -> str:
    return {
        "clip_too_large": gettext("The recording is too long: say only the label."),
        "clip_too_long": gettext("The recording is too long: say only the label."),
        "not_audio": gettext("This recording could not be read. Record again."),
        "not_opus": gettext("This recording could not be read. Record again."),
        "text_too_long": gettext("The text is too long."),
        "bad_text": gettext("The text contains invisible characters. Type it again."),
        "empty": gettext("Type the text or record it."),
        "photo_too_large": gettext("The photo could not be used. Take it again."),
        "not_photo": gettext("The photo could not be used. Take it again."),
    }.get(e.code, gettext("This label cannot be saved."))


@bp.get("/labels")
@facilitator_required
def labels():
    lang = _lang()
    group = request.args.get("group", "screens")
    group = group if group in keys.groups() else "screens"
    texts, clips = for_language(lang)
    site = current_app.config["SITE"]
    here = keys.labels_of(group, site, lang)
    saved = g.lang, g.language
    g.lang, g.language = lang, LANGUAGES[lang]  # what visitors read in that language
    try:
        theirs = dict(keys.labels_of(group, site, lang))
    finally:
        g.lang, g.language = saved
    rows = [(key, shown, texts.get(key) or theirs.get(key, ""), key in clips)
            for key, shown in here]
    return render_template("kiosk/labels.html", rows=rows, lang=lang, group=group,
                           groups=keys.groups(), languages=_languages())


@bp.route("/labels/edit", methods=["GET", "POST"])
@facilitator_required
@csrf.protect
def label_edit():
    lang = _lang()
    key = request.values.get("key", "")
    try:
        rules.check_key(key)
    except rules.LabelError:
        return redirect(url_for("kiosk.labels", lang=lang), code=303)
    error = ""
    text = request.form.get("text", "")
    if request.method == "POST":
        upload = request.files.get("voice")
        clip = upload.stream.read(rules.MAX_CLIP_BYTES + 1) if upload else b""
        picture = request.files.get("photo")
        photo = picture.stream.read(rules.MAX_PHOTO_BYTES + 1) if picture else b""
        try:
            if photo and key.startswith("official:"):
                rules.set_photo(key[len("official:"):], photo, current_app.config["DATA_DIR"])
            if clip or (text and key.startswith(EDITABLE_TEXT)) or not photo:
                rules.record(key, lang, text=text if key.startswith(EDITABLE_TEXT) else "",
                             clip=clip or None, data_dir=current_app.config["DATA_DIR"])
        except rules.LabelError as e:
            error = error_text(e)
        else:
            flash(gettext("Label saved."), "ok")
            return redirect(url_for("kiosk.labels", lang=lang,
                                    group=request.form.get("group", "screens")), code=303)
    texts, clips = for_language(lang)
    clip = clips.get(key)
    return render_template("kiosk/label_edit.html", key=key, lang=LANGUAGES[lang],
                           text=text or texts.get(key, ""), clip=clip, error=error,
                           editable=key.startswith(EDITABLE_TEXT),
                           group=request.values.get("group", "screens"),
                           max_seconds=int(rules.MAX_CLIP_SECONDS),
                           max_bytes=rules.MAX_CLIP_BYTES), 400 if error else 200
