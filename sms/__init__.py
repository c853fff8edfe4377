"""Basic phones take part by SMS (issue 16): questions become board posts, answers go
back by SMS, sessions are booked, reminded and cancelled by SMS, through a USB GSM
modem driven by Debian's gammu-smsd. See docs/sms.md.

A capability package: it imports the core (``appliance``) and nothing of another
capability; :func:`contribute` gives the composition root its blueprint, kiosk tab,
``espace sms`` command, ``sms`` job and the app set-up that registers the answer
listener.
"""


def register_listeners(app=None) -> None:
    """Answers (kiosk or central) reach the numbers that asked (idempotent). An app
    set-up: the listener sends from the app's site, so a process without an app
    (``espace sync now``, whose peak memory is measured) would only have paid for
    importing the board's rules and Flask to register a listener that does nothing."""
    from appliance.board.rules import on_answer

    from .rules import answer_listener

    on_answer(answer_listener)


def contribute(registry) -> None:
    from appliance.msgids import N_

    from . import cli

    registry.app_setup("sms_answers", "sms:register_listeners")  # web and worker
    registry.blueprint("sms.kiosk:bp")  # the page and the job: imported where they run
    registry.kiosk_tab("sms_kiosk.index", N_("SMS"), "sms", order=70)
    registry.command(cli.sms)
    registry.job("sms", "sms.service:worker_job", "interval", "SMS: handle, remind, send",
                 minutes=1)
