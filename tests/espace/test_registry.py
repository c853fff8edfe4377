"""The composition root: what a package contributes to the one registry shows in the
app (blueprints, home tiles, kiosk tabs, start-up sweeps), the CLI and the worker."""

from __future__ import annotations

import importlib
import re

import click
import pytest
from click.testing import CliRunner
from flask import Blueprint

import espace
from appliance.db import database
from espace.registry import Registry, RegistryError
from tests.support import csrf, make_site

swept_dirs: list[str] = []


def contribute_extra(registry: Registry) -> None:
    """A package as sms/ or maps/ will be: a page, a tile, a kiosk tab, a command, a
    job and a sweep."""
    bp = Blueprint("extra", __name__)
    bp.add_url_rule("/extra/", "index", lambda: "the extra page")
    bp.add_url_rule("/kiosk/extra/", "kiosk", lambda: "the extra tab")
    registry.blueprint(bp)
    registry.tile("extra.index", "Extra things", "about", order=40)
    registry.kiosk_tab("extra.kiosk", "Extra tab", "health", order=45)

    @click.command("extra-cmd")
    def extra_cmd() -> None:
        click.echo("extra command ran")

    registry.command(extra_cmd)
    registry.job("extra_job", lambda app: "extra job ran", "interval", "extra", minutes=7)
    registry.sweep("extra_sweep", lambda site: swept_dirs.append(str(site.data_dir)) or "swept")


@pytest.fixture
def extra():
    return espace.build([*espace.contributors(), ("extra", contribute_extra)])


@pytest.fixture
def extra_app(tmp_path, extra):
    swept_dirs.clear()
    from appliance.pins import hash_pin

    doc = make_site(
        tmp_path, kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin("2468")}]}
    )
    app = espace.create_app(
        {"SITE": doc, "SITE_DIR": tmp_path, "TESTING": True, "SECRET_KEY": "t"}, extra
    )
    try:
        yield app
    finally:
        database.close()


def test_contribution_shows_in_the_app(extra_app):
    assert swept_dirs == [str(extra_app.config["DATA_DIR"])]  # the sweep ran at start
    client = extra_app.test_client()
    client.set_cookie("lang", "en")
    home = client.get("/").get_data(as_text=True)
    labels = re.findall(r'<li><a class="[^"]*" href="([^"]+)">.*?</svg>([^<]+)</a>', home)
    reg = extra_app.extensions["espace.registry"]
    with extra_app.test_request_context():
        from flask import url_for

        expected = [url_for(t.endpoint) for t in reg.tiles]
    assert [href for href, _label in labels] == expected  # every contributed tile, in order
    core = {"/library/", "/board/", "/programme/", "/extra/", "/about"}
    assert (
        [label for label in labels if label[0] in core][:5]  # other packages' tiles between
        == [
            ("/library/", "Learn"),
            ("/board/", "Ask your officials"),
            ("/programme/", "Programme"),
            ("/extra/", "Extra things"),
            ("/about", "About this space"),
        ][: len([label for label in labels if label[0] in core][:5])]
    )
    assert client.get("/extra/").get_data(as_text=True) == "the extra page"
    assert (
        client.post(
            "/kiosk/login", data={"name": "Awa", "pin": "2468", "csrf": csrf(client)}
        ).status_code
        == 303
    )
    kiosk = client.get("/kiosk/week").get_data(as_text=True)
    tabs = re.findall(r'<nav class="kiosk"[^>]*>(.*?)</nav>', kiosk, re.S)[0]
    hrefs = re.findall(r'<a href="([^"]+)"', tabs)
    with extra_app.test_request_context():
        from flask import url_for

        assert hrefs == [url_for(t.endpoint) for t in reg.kiosk_tabs]  # all, in order
    # each tab's text, whatever markup (icon, span) it is wrapped in
    shown = [re.sub(r"<[^>]+>", "", a).strip() for a in re.findall(r"<a [^>]*>(.*?)</a>", tabs)]
    # By order: the kiosk's own (10-40), the extra package's (45), Health (80)...
    assert shown[shown.index("New session") + 1] == "Extra tab"
    assert shown.index("Extra tab") < shown.index("Health")
    assert shown[:4] == ["Board", "Today", "Week", "New session"] and "Library" in shown


def test_contribution_shows_in_the_worker(extra_app):
    from espace import worker

    scheduler = worker.build_scheduler(extra_app)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert "extra_job" in jobs and jobs["extra_job"].trigger.interval.total_seconds() == 420
    swept_dirs.clear()
    sweep = next(j for j in worker.jobs(extra_app) if j.id == "sweep")
    assert "extra_sweep: swept" in sweep.func(extra_app)
    assert swept_dirs == [str(extra_app.config["DATA_DIR"])]


def test_contribution_shows_in_the_cli(extra):
    from espace.cli import make_cli

    result = CliRunner().invoke(make_cli(extra), ["extra-cmd"])
    assert result.exit_code == 0 and result.output == "extra command ran\n"
    listed = CliRunner().invoke(make_cli(extra), ["--help"]).output
    for name in ("extra-cmd", "serve", "worker", "content", "sync", "network", "image"):
        assert re.search(rf"^  {name}\b", listed, re.M), name


def test_the_default_command_lists_every_contributed_command():
    from espace.cli import ROOT_COMMANDS, cli

    with click.Context(cli) as ctx:
        names = set(cli.list_commands(ctx))
    assert names == {c.name for c in espace.default_registry().commands} | {
        c.name for c in ROOT_COMMANDS
    }


def test_every_package_that_contributes_is_listed_once():
    """A package with a ``contribute`` not listed in espace.contributors() would add
    nothing to the box, silently."""
    from tests.test_imports import PACKAGES

    listed = [name for name, _ in espace.contributors()]
    assert len(listed) == len(set(listed))
    contributing = {
        p
        for p in PACKAGES
        if p != "espace" and callable(getattr(importlib.import_module(p), "contribute", None))
    }
    assert contributing == set(listed)
    reg = espace.build()
    for name in listed:
        assert reg.contributed_by(name), f"{name} contributes nothing"


def test_two_packages_cannot_claim_the_same_name():
    def one(reg):
        reg.job("sync", lambda app: None, "interval", "again", minutes=1)

    with pytest.raises(RegistryError, match="job sync is contributed by both appliance and other"):
        espace.build([*espace.contributors(), ("other", one)])


HANDLED = "from appliance.sync.handlers import DOWN; print(' '.join(sorted(DOWN)))"
PROCESSES = {
    "cli": "import sys; sys.argv = ['espace', '--help']\nfrom espace.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n",
    "app": "import sys, espace\nespace.create_app({'SITE_FILE': sys.argv[1]})\n",
    "worker": "import sys, espace\nfrom espace.worker import build_scheduler\n"
    "build_scheduler(espace.create_app({'SITE_FILE': sys.argv[1]}))\n",
}


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_pull_handlers_are_loaded_alike_in_the_app_the_cli_and_the_worker(process, tmp_path):
    """Each process starts fresh: whatever it is, every kind central sends has its
    package's handler before anything runs (none found by guessing at apply time)."""
    import subprocess
    import sys

    from sync_contract import kinds

    site = tmp_path / "site.toml"
    site.write_text(
        f'[site]\nid = "site-one"\nname = "E"\ncommunes = ["Nioro"]\n'
        f'[storage]\ndata_dir = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "-c", PROCESSES[process] + HANDLED, str(site)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    handled = out.stdout.strip().splitlines()[-1].split()
    assert handled == sorted(kinds.DOWN_KINDS)
    assert {"tls.certificate", "answer.created", "announcement.created"} <= set(handled)


def test_every_contributed_kiosk_tab_is_only_on_the_screen(extra_app):
    """A phone on the hotspot's listener finds no kiosk page, whichever package
    contributed the tab; the screen's listener has them all (behind the login)."""
    from flask import url_for

    from appliance.server import HOTSPOT, KIOSK, LISTENER_KEY

    reg = extra_app.extensions["espace.registry"]
    with extra_app.test_request_context():
        urls = [url_for(t.endpoint) for t in reg.kiosk_tabs]
    client = extra_app.test_client()
    for url in urls:
        phone = client.get(url, environ_base={LISTENER_KEY: HOTSPOT})
        assert phone.status_code == 404, url
        screen = client.get(url, environ_base={LISTENER_KEY: KIOSK})
        assert screen.status_code in (200, 302), url


def test_every_contributed_reference_resolves():
    """Blueprints, jobs, sweeps and app set-ups may be "module:attribute" references
    (imported when used); each of the box's names what the app or the worker needs."""
    from espace.registry import resolve_blueprint

    reg = espace.build()
    assert any(isinstance(ref, str) for ref in reg.blueprints)
    names = [resolve_blueprint(ref).name for ref in reg.blueprints]
    assert len(names) == len(set(names)) and isinstance(
        resolve_blueprint(reg.blueprints[0]), Blueprint
    )
    for item in [*reg.jobs, *reg.sweeps, *reg.app_setups]:
        assert callable(item.func), item.id
    from espace.registry import resolve

    with pytest.raises(RegistryError, match="'content_cache.views' is not a"):
        resolve("content_cache.views")


# Modules only pages, kiosk tabs and jobs use: a command (``espace sync now``, whose peak
# memory bench/sync.py T9 measures) builds the same registry and must not import them.
PAGE_MODULES = (
    "content_cache.views",
    "content_cache.jobs",
    "captive_portal.board",
    "captive_portal.portal",
    "maps.views",
    "maps.build",
    "learning.views",
    "surveys.openrosa",
    "surveys.webforms",
    "sms.kiosk",
    "appliance.kiosk.views",
    "appliance.api",
    "secure_origin.web",
    "provisioning.kiosk",
    "libzim",
    "markdown_it",
    "pmtiles",
    "pyxform",
    "openpyxl",
)


def test_a_command_does_not_import_the_pages():
    import subprocess
    import sys

    code = (
        "import sys, espace\nespace.default_registry()\n"
        f"print(' '.join(m for m in {PAGE_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == []
