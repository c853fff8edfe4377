"""``espace sms``: the modem, gammu-smsd and the SMS queue, from the command line.
Output never shows a phone number."""

from __future__ import annotations

import click

from appliance.cli_options import SITE_OPTION


@click.group()
def sms() -> None:
    """Basic phones by SMS: gammu-smsd, the queue, the budget."""


def _app(site_path: str):
    from appliance import settings
    from appliance.app import create_app
    from appliance.service_user import become_data_owner

    # sudo espace sms ...: the queue's files and rows stay the services'
    become_data_owner(settings.load(site_path).data_dir)
    return create_app({"SITE_FILE": site_path})


@sms.command("config")
@SITE_OPTION
def config(site_path: str) -> None:
    """Write gammu-smsd's configuration (and its folders) from the site file."""
    from appliance import settings
    from appliance.service_user import become_data_owner

    from .gammu import write_config

    site = settings.load(site_path)
    become_data_owner(site.data_dir)  # the spool is in the data directory: the services'
    spool = write_config(site, site_path)
    click.echo(f"wrote {spool.config}")


@sms.command("daemon")
@SITE_OPTION
def daemon(site_path: str) -> None:
    """Run gammu-smsd in the foreground with its log masked (the systemd unit's
    command): phone numbers never reach the journal."""
    import logging
    import signal

    from appliance import settings

    from .gammu import Daemon, write_config

    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    site = settings.load(site_path)
    if not site.sms.enabled:
        raise click.ClickException("SMS is off: set sms.enabled = true in the site file")
    d = Daemon(write_config(site, site_path)).start()
    signal.signal(signal.SIGTERM, lambda *_: d.close())
    raise SystemExit(d.wait())


@sms.command("tick")
@SITE_OPTION
@click.option(
    "--inbox-grace",
    default=120,
    show_default=True,
    type=click.IntRange(0, 3600),
    help="Seconds an inbox file is left to RunOnReceive before the sweep takes it.",
)
def tick(site_path: str, inbox_grace: int) -> None:
    """Handle stored messages, send what the budget allows (what the worker does every
    minute)."""
    from appliance.db import database

    from .service import tick as run

    app = _app(site_path)
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            summary = run(app.config["SITE"], inbox_grace=inbox_grace)
            click.echo(", ".join(f"{k} {v}" for k, v in summary.items()))
        finally:
            database.close()


@sms.command("status")
@SITE_OPTION
def status(site_path: str) -> None:
    """The modem, the queue and today's budget."""
    from appliance.db import database

    from .kiosk import status as read

    app = _app(site_path)
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            s = read(app.config["SITE"])
        finally:
            database.close()
    click.echo(f"enabled: {'yes' if s['enabled'] else 'no'}")
    click.echo(f"modem signal: {s['signal'] or '-'}; SIM seen: {'yes' if s['sim'] else 'no'}")
    click.echo(f"queued: {s['queued']}; at the modem: {s['at_modem']}; failed: {s['failed']}")
    click.echo(f"parts sent today: {s['spent_today']} of {s['budget']}")
    click.echo(f"numbers kept: {s['contacts']}; posts by SMS: {s['posts']}")
