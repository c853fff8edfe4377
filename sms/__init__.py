"""Basic phones take part by SMS (issue 16): questions become board posts, answers go
back by SMS, sessions are booked, reminded and cancelled by SMS, through a USB GSM
modem driven by Debian's gammu-smsd. See docs/sms.md.

A capability package: it imports the core (``appliance``) and nothing of another
capability; :func:`contribute` gives the composition root its blueprint, kiosk tab,
``espace sms`` command and ``sms`` job, and registers the answer listener.
"""


def register_listeners() -> None:
    """Answers (kiosk or central) reach the numbers that asked (idempotent)."""
    from appliance.board.rules import on_answer

    from .rules import answer_listener

    on_answer(answer_listener)


def contribute(registry) -> None:
    from flask_babel import lazy_gettext

    from . import cli

    register_listeners()
    registry.blueprint("sms.kiosk:bp")  # the page and the job: imported where they run
    registry.kiosk_tab("sms_kiosk.index", lazy_gettext("SMS"), "sms", order=70)
    registry.command(cli.sms)
    registry.job("sms", "sms.service:worker_job", "interval", "SMS: handle, remind, send",
                 minutes=1)
