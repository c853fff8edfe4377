"""Basic phones take part by SMS (issue 16): questions become board posts, answers go
back by SMS, sessions are booked, reminded and cancelled by SMS, through a USB GSM
modem driven by Debian's gammu-smsd. See docs/sms.md.

A capability package: it imports the core (``appliance``) and nothing of another
capability; :func:`contribute` gives the composition root its blueprint, kiosk tab,
``espace sms`` command and ``sms`` job (which also sends answers to the numbers that
asked, whichever process applied the answer).
"""


def contribute(registry) -> None:
    from appliance.msgids import N_

    from . import cli

    registry.blueprint("sms.kiosk:bp")  # the page and the job: imported where they run
    registry.kiosk_tab("sms_kiosk.index", N_("SMS"), "sms", order=70)
    registry.command(cli.sms)
    registry.job(
        "sms", "sms.service:worker_job", "interval", "SMS: handle, answer, remind, send", minutes=1
    )
