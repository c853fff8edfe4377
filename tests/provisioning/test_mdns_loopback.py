"""The advertiser and the browser on loopback (no root needed): TXT record contents,
early return, idempotent close, and the worker's advertiser built from the site."""

from __future__ import annotations

import threading
import uuid

from tests.support import make_site


def _in_fresh_thread(fn):
    """Run ``fn`` where no asyncio loop is running. Under xdist this process may hold
    the session's Playwright, whose loop counts as running in the main thread:
    zeroconf would attach to it, and that loop never turns while we wait."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            result["error"] = e

    thread = threading.Thread(target=run, name="mdns-test")
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "mDNS test did not finish"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_advertise_and_discover_on_loopback():
    _in_fresh_thread(_advertise_and_discover)


def _advertise_and_discover():
    from provisioning.mdns import Advertiser, discover

    site_id = f"lo-{uuid.uuid4().hex[:8]}"
    adv = Advertiser(site_id, "Espace de Kayes", "1.2.3", port=8080,
                     addresses=["127.0.0.1"], interfaces=["127.0.0.1"])
    with adv:
        boxes = discover(20, interfaces=["127.0.0.1"],
                         until=lambda bs: any(b.site_id == site_id for b in bs))
    adv.close()  # a second close is harmless
    (box,) = [b for b in boxes if b.site_id == site_id]
    assert box.site_name == "Espace de Kayes" and box.version == "1.2.3"
    assert box.address == "127.0.0.1" and box.port == 8080
    assert box.host == f"espace-{site_id}.local."


def test_advertiser_for_site(tmp_path):
    from appliance import __version__, settings
    from provisioning.mdns import advertiser_for

    site = settings.validate(make_site(tmp_path), str(tmp_path / "site.toml"))
    adv = advertiser_for(site)
    assert (adv.site_id, adv.site_name, adv.version, adv.port) == (
        "test-site", "Espace de test", __version__, 80)
    adv.close()  # never started: nothing to do


def test_discover_lists_each_box_with_its_host_and_warns_of_a_shared_site_id(monkeypatch):
    from click.testing import CliRunner

    from appliance.cli import cli
    from provisioning import mdns

    boxes = [mdns.Box("a", "espace-diema-aaaa11.local.", ("192.168.1.23",), 80, "diema",
                      "Espace de Diéma", "0.2.0", "aaaa1111"),
             mdns.Box("b", "espace-diema-bbbb22.local.", ("192.168.1.24",), 80, "diema",
                      "Espace de Diéma", "0.2.0", "bbbb2222")]
    monkeypatch.setattr(mdns, "discover", lambda timeout: boxes)
    r = CliRunner().invoke(cli, ["fleet", "discover"])
    assert r.exit_code == 0, r.output
    assert "espace-diema-aaaa11.local" in r.output and "espace-diema-bbbb22.local" in r.output
    assert ("warning: 2 boxes announce site 'diema' (192.168.1.23, 192.168.1.24): give each "
            "card its own site file") in r.output
