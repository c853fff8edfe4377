"""The ``central`` command: serve, create-admin, set-language, create-site, import/export
a USB stick, publish a file to the catalogue, sweep unreferenced blobs. Errors are one line;
exit code 2 for usage errors."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click

from .i18n import LANGUAGES

LANGUAGE_CODES = list(LANGUAGES)
DATA_OPTION = click.option("--data-dir", envvar="CENTRAL_DATA_DIR", default="central-data",
                           show_default=True, type=click.Path(file_okay=False),
                           help="Central's data directory (blobs, files, key).")
DB_OPTION = click.option("--database-url", envvar="CENTRAL_DATABASE_URL", default="",
                         help="sqlite:///path (default: in the data directory) or "
                              "postgresql://user@host/db.")


def _app(data_dir: str, database_url: str, **extra):
    from .app import create_app

    return create_app({"DATA_DIR": data_dir, "DATABASE_URL": database_url, **extra})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Espace central: the regional server."""


@cli.command()
@DATA_OPTION
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--insecure-cookies", is_flag=True,
              help="Session cookies without the Secure flag (plain-HTTP tests only).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Processes (each with its threads).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Threads per process: concurrent requests each.")
def serve(data_dir: str, database_url: str, host: str, port: int,
          insecure_cookies: bool, workers: int, threads: int) -> None:
    """Serve central under gunicorn (behind an HTTPS reverse proxy in production).

    Request bodies stream to the app, so a voice-note upload cut by the link keeps what
    arrived; a box keeps one connection for its whole run."""
    from .server import serve as run

    app = _app(data_dir, database_url, SESSION_COOKIE_SECURE=not insecure_cookies)
    click.echo(f"central on http://{host}:{port}/", err=True)
    run(app, host, port, workers, threads)


@cli.command("create-admin")
@DATA_OPTION
@DB_OPTION
@click.argument("username")
@click.option("--role", type=click.Choice(["regional", "national", "trainer"]), required=True,
              help="trainer: sees and answers only the learning groups a regional admin "
                   "assigns them (/coaching)")
@click.option("--region", default=None,
              help="Region a regional admin looks after, or a trainer works in.")
@click.option("--password", envvar="CENTRAL_PASSWORD", default=None,
              help="Default: asked, not echoed.")
@click.option("--language", type=click.Choice(LANGUAGE_CODES), default="fr", show_default=True,
              help="Language of central's pages for this admin (they can change it).")
def create_admin(data_dir, database_url, username, role, region, password, language) -> None:
    """Create an admin account (regional: one region's sites; national: all, read-only)."""
    from . import service

    app = _app(data_dir, database_url)
    if password is None:
        password = getpass.getpass("Password (10 characters or more): ")
    with app.app_context():
        from .db import database

        with database.connection_context():
            service.create_admin(username, password, role, region, language)
    click.echo(f"admin {username} ({role}) created")


@cli.command("set-password")
@DATA_OPTION
@DB_OPTION
@click.argument("username")
@click.option("--password", envvar="CENTRAL_PASSWORD", default=None,
              help="Default: asked, not echoed.")
def set_password(data_dir, database_url, username, password) -> None:
    """Change an admin's password; every session of that admin ends."""
    from . import auth
    from .models import Admin

    app = _app(data_dir, database_url)
    if password is None:
        password = getpass.getpass("New password (10 characters or more): ")
    with app.app_context():
        from .db import database

        with database.connection_context():
            admin = Admin.get_or_none(Admin.username == username)
            if admin is None:
                raise click.ClickException(f"no admin {username!r}: see `central create-admin`")
            auth.change_password(admin, password)
    click.echo(f"password of {username} changed; their sessions ended")


@cli.command("set-language")
@DATA_OPTION
@DB_OPTION
@click.argument("username")
@click.argument("language", type=click.Choice(LANGUAGE_CODES))
def set_language(data_dir, database_url, username, language) -> None:
    """Choose the language of central's pages for an admin (also in every page's header)."""
    from . import service
    from .models import Admin

    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            admin = Admin.get_or_none(Admin.username == username)
            if admin is None:
                raise click.ClickException(f"no admin {username!r}: see `central create-admin`")
            service.set_language(admin, language)
    click.echo(f"central speaks {language} to {username}")


@cli.command("create-site")
@DATA_OPTION
@DB_OPTION
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--region", required=True)
@click.option("--commune", "communes", multiple=True)
def create_site(data_dir, database_url, slug, name, region, communes) -> None:
    """Create a site and print its one-time enrolment code."""
    from . import service

    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            _site, code = service.create_site(slug, name, region, list(communes))
    click.echo(f"site {slug} created; enrolment code (valid {service.ENROL_DAYS} days, "
               f"once): {code}")


@cli.command("import")
@DATA_OPTION
@DB_OPTION
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
def import_cmd(data_dir, database_url, directory) -> None:
    """Apply boxes' batches from DIRECTORY (a USB stick); write signed answers back."""
    from .sneakernet import import_dir

    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            stats = import_dir(Path(directory), app.config["DATA_DIR"],
                               app.config["CENTRAL_KEY"])
    refused = stats.pop("refused")
    click.echo(", ".join(f"{k} {v}" for k, v in stats.items()) + f", refused {len(refused)}")
    for name, why in refused:
        click.echo(f"refused {name}: {why}", err=True)
    if refused:
        raise SystemExit(1)


@cli.command("export")
@DATA_OPTION
@DB_OPTION
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--with-files", is_flag=True, help="Copy the catalogue's files too.")
def export_cmd(data_dir, database_url, directory, with_files) -> None:
    """Write answers, announcements (and files) for every box to DIRECTORY."""
    from .sneakernet import export_dir

    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            stats = export_dir(Path(directory), app.config["DATA_DIR"],
                               app.config["CENTRAL_KEY"], with_files)
    click.echo(", ".join(f"{k} {v}" for k, v in stats.items()))


@cli.command()
@DATA_OPTION
@DB_OPTION
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@click.option("--name", default=None)
def publish(data_dir, database_url, path, name) -> None:
    """Add a file (a ZIM) to the catalogue every box downloads."""
    from .service import publish_file

    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            entry = publish_file(app.config["DATA_DIR"], Path(path), name)
    click.echo(f"published {entry.name} ({entry.size} bytes, {entry.sha256})")


@cli.command()
@DATA_OPTION
@DB_OPTION
@click.argument("text")
@click.option("--region", default=None, help="Only the sites of this region.")
@click.option("--lang", default="", help="The language TEXT is written in (fr, bm, snk...).")
@click.option("--in", "translations", type=(str, str), multiple=True, metavar="LANG TEXT",
              help="The same message in another language (repeatable); a visitor reads "
                   "the one in their language, else TEXT.")
@click.option("--expires", default="", metavar="WHEN",
              help="Until when boxes show it: a date (to the end of that day, UTC) or an "
                   "ISO time. Default: 14 days after a box receives it.")
def announce(data_dir, database_url, text, region, lang, translations, expires) -> None:
    """Send an announcement down to every box (of a region) at its next sync; boxes
    show it on the portal's home and the kiosk until it expires."""
    from . import announcements, service
    from .models import Region

    try:
        text = announcements.check_text(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="TEXT") from None
    try:
        lang = announcements.check_lang(lang)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--lang") from None
    try:
        bodies = {announcements.check_lang(code): announcements.check_text(body)
                  for code, body in translations}
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--in") from None
    try:
        expires_at = announcements.expiry(expires)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--expires") from None
    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            reg = Region.get_or_none(Region.name == region) if region else None
            if region and reg is None:
                raise service.CentralError(f"no region {region!r}")
            service.announce(text, None, reg, lang=lang, expires_at=expires_at,
                             bodies=bodies)
    click.echo("announcement queued" + (f" until {expires_at}" if expires_at else ""))


@cli.command("survey-forward")
@DATA_OPTION
@DB_OPTION
@click.argument("target", required=False, default="")
@click.option("--region", default="", help="Only this region's sites (default: all).")
@click.option("--all", "every_region", is_flag=True,
              help="Every region's own server, as configured on the Surveys page "
                   "(what central-survey-forward.timer runs).")
def survey_forward(data_dir, database_url, target, region, every_region) -> None:
    """Send survey submissions to an ODK Central (app user's token URL, e.g.
    https://odk.example/v1/key/TOKEN/projects/1) or KoboToolbox server; run it again
    (cron) to resume after a cut: what the server acknowledged is never sent twice.
    With --all, to each region's configured server instead (no TARGET)."""
    from .db import database
    from .models import Region, Site
    from .surveys_forward import forward, target_key

    if every_region == bool(target):
        raise click.UsageError("give a TARGET, or --all for every region's own server")
    app = _app(data_dir, database_url)
    if every_region:
        from .surveys_targets import run_all

        with app.app_context(), database.connection_context():
            outcomes = run_all(Path(app.config["DATA_DIR"]))
        for o in outcomes:
            click.echo(f"{o.region}: {o.message}")
        if not outcomes:
            click.echo("no region has a server to forward to (Surveys page, Forwarding)")
        if not all(o.ok for o in outcomes):
            raise SystemExit(1)
        return
    with app.app_context(), database.connection_context():
        query = Site.select()
        if region:
            reg = Region.get_or_none(Region.name == region)
            if reg is None:
                raise click.BadParameter(f"no region {region!r}", param_hint="--region")
            query = query.where(Site.region == reg)
        run = forward(target, Path(app.config["DATA_DIR"]), [s.id for s in query],
                      key=target_key(target))
    click.echo(f"forwarded {run.sent}, already there {run.duplicates}, refused {run.refused}"
               + (f"; stopped: {run.stopped} (run again to resume)" if run.stopped else ""))
    if run.stopped:
        raise SystemExit(1)


@cli.command("domain")
@DATA_OPTION
@DB_OPTION
@click.argument("region")
@click.argument("domain")
@click.option("--dns-method", type=click.Choice(["rfc2136", "lexicon"]), default="rfc2136",
              show_default=True, help="How central publishes the ACME TXT records.")
@click.option("--dns-server", default="", help="rfc2136: the zone's primary server.")
@click.option("--dns-port", default=53, show_default=True, type=click.IntRange(1, 65535))
@click.option("--dns-zone", default="", help="rfc2136: the zone to update (default: DOMAIN).")
@click.option("--tsig-name", default="", help="rfc2136: the TSIG key's name.")
@click.option("--tsig-secret", envvar="CENTRAL_TSIG_SECRET", default="",
              help="rfc2136: the key's base64 secret (better: CENTRAL_TSIG_SECRET).")
@click.option("--tsig-algorithm", default="hmac-sha256", show_default=True)
@click.option("--lexicon-provider", default="", help="lexicon: provider name (gandi, ovh...).")
@click.option("--lexicon-option", "lexicon_options", multiple=True, metavar="KEY=VALUE",
              help="lexicon: a provider option such as auth_token=...; repeatable.")
def domain_cmd(data_dir, database_url, region, domain, lexicon_options, **dns) -> None:
    """Give REGION's boxes names under DOMAIN (<site>.DOMAIN) and certificates for them."""
    from . import certificates

    options = {}
    for item in lexicon_options:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--lexicon-option")
        options[key] = value
    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            certificates.configure_domain(region, domain, lexicon_options=options, **dns)
    click.echo(f"region {region}: boxes are named <site>.{domain.lower().rstrip('.')}; "
               "run `central certificates` to obtain their certificates")


@cli.command("certificates")
@DATA_OPTION
@DB_OPTION
@click.option("--acme-directory", envvar="CENTRAL_ACME_DIRECTORY",
              default="https://acme-v02.api.letsencrypt.org/directory", show_default=True)
@click.option("--acme-email", envvar="CENTRAL_ACME_EMAIL", default="")
@click.option("--acme-ca-bundle", envvar="CENTRAL_ACME_CA_BUNDLE", default="",
              help="CA file for the ACME server's HTTPS (a test server's).")
@click.option("--list", "list_only", is_flag=True, help="Only show names and expiry dates.")
def certificates_cmd(data_dir, database_url, acme_directory, acme_email, acme_ca_bundle,
                     list_only) -> None:
    """Obtain or renew the boxes' certificates that are due (run it daily from a timer)."""
    from . import acme_issue, certificates
    from .tls_models import SiteCertificate

    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database

        with database.connection_context():
            if not list_only:
                result = certificates.run(acme_issue.AcmeConfig(
                    directory=acme_directory, data_dir=app.config["DATA_DIR"],
                    email=acme_email, ca_bundle=acme_ca_bundle))
                click.echo(f"named {result.named}, issued {result.issued}, "
                           f"failed {result.failed}")
            for row in SiteCertificate.select().order_by(SiteCertificate.name):
                until = row.not_after.isoformat(" ") + " UTC" if row.not_after else (
                    "waiting for the box's CSR" if not row.csr_pem else "not issued yet")
                click.echo(f"{row.name}\t{until}"
                           + (f"\terror: {row.last_error}" if row.last_error else ""))
    if not list_only and result.failed:
        sys.exit(1)


@cli.command("sweep-blobs")
@DATA_OPTION
@DB_OPTION
@click.option("--delete", is_flag=True, help="Remove them (default: only list them).")
@click.option("--grace-days", type=click.FloatRange(min=0), default=None, metavar="DAYS",
              help="Only files last written longer ago than this  [default: 7].")
def sweep_blobs(data_dir, database_url, delete, grace_days) -> None:
    """List (or with --delete remove) blobs no row names and temporary files a killed
    write left, once older than the grace; a box's upload in pieces is never touched
    (run it daily from central-blob-sweep.timer)."""
    from . import blob_sweep

    grace = (blob_sweep.GRACE_DAYS if grace_days is None else grace_days) * 86400
    app = _app(data_dir, database_url)
    with app.app_context():
        from .db import database
        from .models import Site

        with database.connection_context():
            found = blob_sweep.find(app.config["DATA_DIR"], grace)
            named_sites = Site.select().exists()
    if found and not named_sites:
        # A database that names no site holds no reference: the wrong --database-url
        # (a new SQLite file beside a PostgreSQL central's blobs) would take them all.
        raise click.UsageError(
            f"the database names no site, so every blob would look unreferenced: give "
            f"central's own --database-url (or CENTRAL_DATABASE_URL); nothing "
            f"{'removed' if delete else 'listed'}")
    root = Path(app.config["DATA_DIR"])
    count = size = 0
    for item in found:
        if delete and not blob_sweep.remove(item, grace):
            continue
        count, size = count + 1, size + item.size
        click.echo(f"{'removed' if delete else 'would remove'} "
                   f"{item.path.relative_to(root)}\t{item.size} bytes\t{item.why}")
    if delete:
        click.echo(f"removed {count} files, {size} bytes")
    else:
        click.echo(f"would remove {count} files, {size} bytes (dry run: --delete removes them)")


def main() -> None:
    from .service import CentralError

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except CentralError as e:
        click.echo(f"central: error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
