"""The allow-list: validation, the helper's protocol, and the real nft sets in a
namespace of the test's own."""

from __future__ import annotations

import io
import json
import secrets
import socket
import subprocess
import threading

import pytest

from appliance import settings
from provisioning import allowlist as al
from provisioning import render
from tests.support import make_site, require_program, require_root


@pytest.mark.parametrize("bad", ["", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff;reboot",
                                 "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff",
                                 "01:00:5e:00:00:01", "aa-bb-cc-dd-ee-ff", None, 5])
def test_bad_mac_refused(bad):
    with pytest.raises(al.AllowlistError):
        al.valid_mac(bad)


@pytest.mark.parametrize("bad", ["10.42.0.1; nft flush ruleset", "10.43.0.5", "::1",
                                 "10.42.0", None, "", "10.42.0.5 "])
def test_bad_ip_refused(bad):
    with pytest.raises(al.AllowlistError):
        al.valid_ip(bad, "10.42.0.0/24")


def test_mac_is_normalised():
    assert al.valid_mac("C2:C4:AB:91:66:01") == "c2:c4:ab:91:66:01"


@pytest.mark.parametrize("request_line, error", [
    (b'{"op": "allow", "mac": "x", "ip": "10.42.0.5", "seconds": 60}', "not a MAC"),
    (b'{"op": "allow", "mac": null, "ip": "1.2.3.4", "seconds": 60}', "not on the hotspot"),
    (b'{"op": "allow", "mac": null, "ip": "10.42.0.5", "seconds": 0}', "not a duration"),
    (b'{"op": "allow", "mac": null, "ip": "10.42.0.5", "seconds": true}', "not a duration"),
    (b'{"op": "flush"}', "unknown operation"),
    (b'{"op": "list", "cmd": "rm -rf /"}', "bad request"),
    (b'["allow"]', "bad request"),
    (b'not json', "Expecting value"),
])
def test_helper_refuses_bad_requests(request_line, error):
    backend = al.MemoryBackend("10.42.0.0/24")
    reply = al.handle(request_line, backend)
    assert reply["ok"] is False and error in reply["error"]
    assert backend.calls == []


def test_helper_over_a_socket(tmp_path):
    """The web process's SocketBackend and the helper's serve_forever, through a
    real Unix socket."""
    backend = al.MemoryBackend("10.42.0.0/24")
    server = al.listening_socket(str(tmp_path / "allow.sock"))
    stop = threading.Event()
    t = threading.Thread(target=al.serve_forever, args=(server, backend, stop), name="helper")
    t.start()
    try:
        client = al.SocketBackend(str(tmp_path / "allow.sock"))
        client.allow("c2:c4:ab:91:66:01", "10.42.0.23", 3600)
        assert list(client.entries()["mac"]) == ["c2:c4:ab:91:66:01"]
        with pytest.raises(al.AllowlistError, match="not on the hotspot"):
            client.allow(None, "192.168.1.5", 3600)
        # A client that connects and says nothing does not stop the helper.
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(tmp_path / "allow.sock"))
        client.reset_quotas()
        assert backend.calls[-1] == ("reset_quotas",)
    finally:
        stop.set()
        t.join(timeout=10)
        server.close()
    assert not t.is_alive()


def test_helper_stdio():
    out = io.BytesIO()
    backend = al.MemoryBackend("10.42.0.0/24")
    al.serve_one(io.BytesIO(b'{"op": "allow", "ip": "10.42.0.9", "seconds": 60}\n'), out,
                 backend)
    assert json.loads(out.getvalue()) == {"ok": True}
    assert backend.calls == [("allow", None, "10.42.0.9", 60)]


def test_allow_batch_is_nft_json():
    batch = al.allow_batch("c2:c4:ab:91:66:01", "10.42.0.23", 60, 50 * 2**20)
    elem = [{"elem": {"val": "c2:c4:ab:91:66:01", "timeout": 60}}]
    # add (no-op if present), delete, add: the timeout is refreshed in one transaction.
    assert [list(c) for c in batch[:3]] == [["add"], ["delete"], ["add"]]
    assert batch[0]["add"]["element"]["elem"] == elem == batch[2]["add"]["element"]["elem"]
    assert batch[1] == {"delete": {"element": {"family": "inet", "table": "espace",
                                               "name": "allowed_mac",
                                               "elem": ["c2:c4:ab:91:66:01"]}}}
    assert batch[3]["add"]["quota"]["name"] == "q_10_42_0_23"
    assert batch[4]["add"]["element"]["elem"] == [["10.42.0.23", "q_10_42_0_23"]]
    assert al.allow_batch(None, "10.42.0.9", 60, None)[0]["add"]["element"]["name"] == \
        "allowed_ip"


def test_allowlist_cache_refreshes(tmp_path):
    now = [0.0]
    backend = al.MemoryBackend("10.42.0.0/24", clock=lambda: now[0])
    allow = al.Allowlist(backend, refresh=30, clock=lambda: now[0])
    assert not allow.is_accepted(None, "10.42.0.5")
    backend.allow(None, "10.42.0.5", 3600)  # from elsewhere (the CLI)
    assert not allow.is_accepted(None, "10.42.0.5")  # cached for 30 s
    now[0] = 31
    assert allow.is_accepted(None, "10.42.0.5")
    allow.revoke(None, "10.42.0.5")
    assert not allow.is_accepted(None, "10.42.0.5")


@pytest.fixture
def netns():
    require_root("nft in a network namespace")
    require_program("nft", "nftables")
    require_program("ip", "iproute2")
    name = f"espal{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.netns
@pytest.mark.parametrize("uplink", [False, True])
def test_nft_backend_against_the_real_ruleset(netns, tmp_path, uplink):
    sections = {"uplink": {"interface": "eth0", "client_daily_mb": 5}} if uplink else {}
    site = settings.validate(make_site(tmp_path, **sections), str(tmp_path / "site.toml"))
    ruleset = tmp_path / "espace.nft"
    ruleset.write_text(render.render_files(site)["/etc/espace/nftables.nft"])
    nft = al.Nft(prefix=["ip", "netns", "exec", netns])
    nft.run(["-f", str(ruleset)])
    assert nft.has_table()
    backend = al.NftBackend(site.hotspot.subnet, 5 * 2**20 if uplink else None, nft=nft)
    backend.allow("c2:c4:ab:91:66:01", "10.42.0.23", 3600)
    backend.allow(None, "10.42.0.24", 600)
    backend.allow("c2:c4:ab:91:66:01", "10.42.0.23", 7200)  # again: timeout refreshed
    entries = backend.entries()
    assert 7000 < entries["mac"]["c2:c4:ab:91:66:01"] <= 7200
    assert 500 < entries["ip"]["10.42.0.24"] <= 600
    listing = nft.run(["-j", "list", "table", "inet", "espace"])
    if uplink:
        assert '"q_10_42_0_23"' in listing and '"q_10_42_0_24"' in listing
        backend.reset_quotas()
    else:
        assert "client_quota" not in listing
    backend.revoke("c2:c4:ab:91:66:01", "10.42.0.23")
    assert backend.entries()["mac"] == {}
    # Reloading the ruleset (what `network apply` does) is idempotent.
    nft.run(["-f", str(ruleset)])
    assert backend.entries() == {"mac": {}, "ip": {}}
