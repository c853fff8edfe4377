"""What the board says to people, in their language: error sentences for each
:class:`~appliance.board.rules.BoardError` code and labels of the default themes."""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext

from .rules import BoardError

THEME_LABELS = {
    "health": lazy_gettext("Health"),
    "sanitation": lazy_gettext("Sanitation"),
    "water": lazy_gettext("Water"),
    "education": lazy_gettext("Education"),
    "youth": lazy_gettext("Youth"),
    "womens_rights": lazy_gettext("Women's rights"),
    "taxes": lazy_gettext("Taxes"),
    "land": lazy_gettext("Land"),
    "security": lazy_gettext("Security"),
    "other": lazy_gettext("Other"),
}

AGE_LABELS = {
    "under18": lazy_gettext("Under 18"),
    "18-35": lazy_gettext("18 to 35"),
    "36-60": lazy_gettext("36 to 60"),
    "over60": lazy_gettext("Over 60"),
}

HIDE_REASONS = (
    lazy_gettext("Insult or threat"),
    lazy_gettext("Names or exposes a private person"),
    lazy_gettext("Not about the commune"),
    lazy_gettext("Advertising"),
)


def theme_label(theme: dict) -> str:
    return theme.get("label") or str(THEME_LABELS.get(theme["id"], theme["id"]))


def error_text(e: BoardError) -> str:
    p = e.params
    texts = {
        "invalid_text": lambda: gettext("This text could not be read."),
        "invalid_utf8": lambda: gettext("This text contains characters that could not be "
                                        "read. Please type it again."),
        "control_char": lambda: gettext("This text contains invisible control characters. "
                                        "Please type it again."),
        "too_long": lambda: gettext("This text is too long: %(max)d characters at most "
                                    "(you wrote %(n)d).", max=p.get("max_chars", 0),
                                    n=p.get("chars", 0)),
        "voice_too_large": lambda: gettext("This voice note is too large (%(mb).1f MB at "
                                           "most).", mb=p.get("max_bytes", 0) / 1e6),
        "voice_not_audio": lambda: gettext("This file is not a voice note we can play. "
                                           "Record again, or choose an audio file."),
        "voice_too_long": lambda: gettext("This voice note is too long: %(s)d seconds at "
                                          "most.", s=p.get("max_seconds", 0)),
        "bad_target": lambda: gettext("Choose who your message is for."),
        "bad_kind": lambda: gettext("Choose: a question or a proposal."),
        "bad_theme": lambda: gettext("Choose a theme."),
        "bad_choice": lambda: gettext("This choice is not in the list."),
        "empty": lambda: gettext("Write a text or record a voice note."),
        "rate_limited": lambda: gettext("You have sent many messages in the last hour "
                                        "(%(n)d). Please wait a little.",
                                        n=p.get("per_hour", 0)),
        "not_visible": lambda: gettext("This message is not on the board."),
        "reason_required": lambda: gettext("Give a reason."),
        "merged": lambda: gettext("This message was merged into another one."),
        "merge_self": lambda: gettext("A message cannot be merged into itself."),
        "official_required": lambda: gettext("Choose the official who answers."),
        "name_required": lambda: gettext("Write the name."),
        "no_such_post": lambda: gettext("No message has this code."),
        "csrf": lambda: gettext("This form has expired. Please send it again."),
    }
    return texts.get(e.code, lambda: gettext("This request could not be handled."))()
