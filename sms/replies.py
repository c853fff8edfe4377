"""What the box answers by SMS, in the sender's language (gettext, French reference).

Kept short on purpose: every character costs, and one Bambara letter halves an SMS.
Each function returns plain text; :mod:`sms.outgoing` counts and cuts it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import g
from flask_babel import gettext


@contextlib.contextmanager
def language(code: str) -> Iterator[None]:
    """Render strings in ``code`` inside the app context (no request needed)."""
    had, before = hasattr(g, "lang"), getattr(g, "lang", None)
    g.lang = code or "fr"
    try:
        yield
    finally:
        if had:
            g.lang = before
        else:
            g.pop("lang", None)


def posted(code: str, published: bool) -> str:
    if published:
        return gettext(
            "Thank you. Your question is on the board, code %(code)s. The "
            "answer will come by SMS. STOP to stop.",
            code=code,
        )
    return gettext(
        "Thank you. Your question (code %(code)s) will be on the board once "
        "the facilitator has read it. The answer will come by SMS. STOP to "
        "stop.",
        code=code,
    )


def answer(code: str, official: str, body: str) -> str:
    return gettext("Answer to %(code)s from %(who)s: %(text)s", code=code, who=official, text=body)


def answer_voice(code: str, official: str) -> str:
    return gettext(
        "%(who)s answered %(code)s by voice: listen at the espace connecté.",
        code=code,
        who=official,
    )


def supported(code: str) -> str:
    return gettext("Your support for %(code)s is counted. The answer will come by SMS.", code=code)


def supported_answered(code: str) -> str:
    return gettext(
        "Your support for %(code)s is counted. It is answered already: the answer comes by SMS.",
        code=code,
    )


def no_post(code: str) -> str:
    return gettext("No question has the code %(code)s.", code=code or "?")


def sessions(lines: list[str]) -> str:
    if not lines:
        return gettext("No session this week.")
    return gettext("This week: %(list)s. Reply with the number to book.", list="; ".join(lines))


def full() -> str:
    return gettext("full")


def ask_group(number: int) -> str:
    return gettext(
        "Seats are kept for women and young people. Reply %(n)dF (woman), "
        "%(n)dJ (under 35), %(n)dFJ (both) or %(n)dX (neither).",
        n=number,
    )


def booked(title: str, when: str, code: str) -> str:
    return gettext(
        "Booked: %(title)s, %(when)s. Code %(code)s. To cancel: CANCEL %(code)s",
        title=title,
        when=when,
        code=code,
    )


def waiting(title: str, position: int, code: str) -> str:
    return gettext(
        "%(title)s is full: you are number %(n)d on the waiting list. Code %(code)s.",
        title=title,
        n=position,
        code=code,
    )


def no_listing() -> str:
    return gettext("Send PROG first to get the list of sessions.")


def reminder(title: str, when: str, code: str) -> str:
    return gettext(
        "Reminder: %(title)s tomorrow %(when)s. Code %(code)s. Cannot come? CANCEL %(code)s",
        title=title,
        when=when,
        code=code,
    )


def cancelled(title: str) -> str:
    return gettext("Cancelled: %(title)s. Your seat goes to someone else.", title=title)


def no_booking() -> str:
    return gettext("No booking found for this number. Write CANCEL and the code.")


def refused(why: str) -> str:
    texts = {
        "full": gettext("This session is full."),
        "started": gettext("This session has started."),
        "cancelled": gettext("This session is cancelled."),
        "too_many": gettext("This phone already holds enough seats in this session."),
        "rate_limited": gettext("You have sent many messages. Please wait an hour."),
        "empty": gettext("Your message was empty. Write your question."),
        "binary": gettext("This message could not be read. Write it as a text."),
        "too_long": gettext("Your message is too long. Write it shorter."),
    }
    return texts.get(why, gettext("Your message could not be used."))


def help_text() -> str:
    return gettext(
        "Write your question, it goes on the board. PROG: sessions. CANCEL "
        "and the code: cancel. STOP: no more SMS."
    )


def stopped() -> str:
    return gettext("Your number is forgotten. You will get no more SMS.")


def more(code: str) -> str:
    return gettext("(continued at the espace, code %(code)s)", code=code)
