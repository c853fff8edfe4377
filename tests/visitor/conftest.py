"""Visitor pages as a phone on the hotspot sees them: chromium in its own network
namespace, the box's app listening on a hotspot-like address (plain HTTP, an insecure
origin, as on the box), demo communes, officials, sessions and a demo ZIM."""

from __future__ import annotations

import pytest

from tests.phone_net import PhoneNet
from tests.support import CHROMIUM_ARGS, LiveServer, require_program, require_root

PHONE = {"viewport": {"width": 360, "height": 640}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 2,
         "user_agent": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like "
                       "Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"}
LANGS = ["fr", "bm", "snk", "ff", "en"]


@pytest.fixture(scope="module")
def phone_net(tmp_path_factory):
    require_root("a network namespace for the phone")
    require_program("ip", "iproute2")
    with PhoneNet(tmp_path_factory.mktemp("phone-net")) as net:
        yield net


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory, phone_net):
    """A demo data directory (site file, ZIM, officials, sessions) on the phone's net."""
    from appliance import demo, settings

    data = tmp_path_factory.mktemp("box")
    doc = {"site": {"id": "test-site", "name": "Espace de Yélimané",
                    "communes": demo.COMMUNES, "languages": LANGS,
                    "default_language": "fr"},
           "hotspot": {"address": phone_net.box_address, "subnet": phone_net.subnet},
           "kiosk": {"facilitators": [{"name": "Awa", "pin_hash": demo.hash_pin("1234")}]},
           "storage": {"data_dir": "."}}
    lines = []
    for section, values in doc.items():
        if section == "kiosk":
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {settings.toml_value(v)}" for k, v in values.items()]
    lines.append("[kiosk]")
    lines.append(f'facilitators = [{{ name = "Awa", pin_hash = "{demo.hash_pin("1234")}" }}]')
    (data / "site.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / "content").mkdir()
    handbook_zim(data / "content" / "manuel_fr.zim")
    demo.create_demo(data, echo=lambda _: None)
    return data / "site.toml"


BANNER_PAGE = ('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{t}</title>'
               '<style>#banner{{position:fixed;top:0;left:0;right:0;height:64px;'
               'background:#333;color:#fff;z-index:1000}}body{{margin:0;padding-top:70px}}'
               '</style></head><body><div id="banner">Manuel</div><h1>{t}</h1>'
               '<p style="font-size:16px">{p}</p></body></html>')


def handbook_zim(path):
    """A book whose pages have no viewport tag and their own fixed header, like the
    Debian handbook and many scraped MOOCs."""
    from libzim.writer import Creator

    from tests.content_cache.zims import _Entry

    with Creator(str(path)).config_verbose(False).config_indexing(True, "fra") as creator:
        creator.set_mainpath("index")
        for key, value in {"Name": "manuel", "Title": "Manuel de la commune",
                           "Language": "fra", "Description": "Un manuel",
                           "Creator": "Espace tests", "Publisher": "Espace",
                           "Date": "2026-11-28", "Tags": "gouvernance"}.items():
            creator.add_metadata(key, value)
        creator.add_item(_Entry("index", "Manuel de la commune", "text/html",
                                BANNER_PAGE.format(t="Manuel de la commune", p="<a href='eau'>"
                                                   "L'eau du village</a>")))
        creator.add_item(_Entry("eau", "L'eau du village", "text/html",
                                BANNER_PAGE.format(t="L'eau du village",
                                                   p="Faire bouillir l'eau du puits. " * 150)))
    return path


@pytest.fixture
def hotspot_app(demo_site, phone_net):
    from appliance import create_app
    from appliance.db import database
    from provisioning.allowlist import MemoryBackend

    app = create_app({"SITE_FILE": str(demo_site), "SECRET_KEY": "test-secret",
                      "ALLOWLIST": MemoryBackend(phone_net.subnet)})
    try:
        yield app
    finally:
        database.close()


@pytest.fixture
def hotspot(hotspot_app, phone_net):
    """The live server on the hotspot-like address; ``.url`` is what phones open."""
    server = LiveServer(hotspot_app, host=phone_net.box_address)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def phone_browser(playwright, phone_net):
    require_program("chromium", "chromium")
    b = playwright.chromium.launch(executable_path=str(phone_net.wrapper), headless=True,
                                   args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def new_phone(phone_browser):
    """Makes phone pages (each its own context: no cookie carried over)."""
    contexts = []

    def make(**kw):
        context = phone_browser.new_context(**{**PHONE, **kw})
        contexts.append(context)
        return context.new_page()

    try:
        yield make
    finally:
        for c in contexts:
            c.close()
