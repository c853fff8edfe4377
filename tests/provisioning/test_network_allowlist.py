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
from provisioning import quotas, render
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
    phone = {"id": 7, "used": 1234, "quota": 50 * 2**20}
    batch = al.allow_batch("c2:c4:ab:91:66:01", "10.42.0.23", 60, phone)
    elem = [{"elem": {"val": "c2:c4:ab:91:66:01", "timeout": 60}}]
    # add (no-op if present), delete, add: the timeout is refreshed in one transaction.
    assert [list(c) for c in batch[:3]] == [["add"], ["delete"], ["add"]]
    assert batch[0]["add"]["element"]["elem"] == elem == batch[2]["add"]["element"]["elem"]
    assert batch[1] == {"delete": {"element": {"family": "inet", "table": "espace",
                                               "name": "allowed_mac",
                                               "elem": ["c2:c4:ab:91:66:01"]}}}
    # The phone's quota is named by its id and made with the use it had.
    assert batch[3]["add"]["quota"] == {"family": "inet", "table": "espace", "name": "q_7",
                                        "bytes": 50 * 2**20, "used": 1234, "inv": True}
    assert batch[4]["add"]["element"]["elem"] == [[7, "q_7"]]
    # Its id follows its MAC (the conntrack mark of its connections), with the timeout.
    assert batch[5]["add"]["element"]["name"] == "phone_mark"
    assert batch[5]["add"]["element"]["elem"] == [[elem[0], 7]]
    by_ip = al.allow_batch(None, "10.42.0.9", 60, phone)
    assert by_ip[0]["add"]["element"]["name"] == "allowed_ip"
    assert by_ip[-1]["add"]["element"]["name"] == "ip_mark"
    assert len(al.allow_batch(None, "10.42.0.9", 60)) == 3  # offline: the set only


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
    policy = quotas.Policy.from_site(site)
    assert (policy is not None) is uplink
    backend = al.NftBackend(site.hotspot.subnet, policy, nft=nft)
    backend.allow("c2:c4:ab:91:66:01", "10.42.0.23", 3600)
    backend.allow(None, "10.42.0.24", 600)
    backend.allow("c2:c4:ab:91:66:01", "10.42.0.23", 7200)  # again: timeout refreshed
    entries = backend.entries()
    assert 7000 < entries["mac"]["c2:c4:ab:91:66:01"] <= 7200
    assert 500 < entries["ip"]["10.42.0.24"] <= 600
    listing = nft.run(["-j", "list", "table", "inet", "espace"])
    if uplink:
        # One quota per phone (not per address), the same after accepting again.
        assert set(nft.quotas()) == {"phones_total", "q_1", "q_2"}
        usage = backend.usage()
        assert usage["phones"]["c2:c4:ab:91:66:01"] == {"used": 0, "quota": 5 * 2**20,
                                                        "accepted": True}
        assert usage["phones"]["ip:10.42.0.24"]["quota"] == 5 * 2**20
        backend.reset_quotas()
    else:
        assert "mark_quota" not in listing and backend.usage()["phones"] == {}
    backend.revoke("c2:c4:ab:91:66:01", "10.42.0.23")
    assert backend.entries()["mac"] == {}
    # Reloading the ruleset (what `network apply` does) is idempotent.
    nft.run(["-f", str(ruleset)])
    assert backend.entries() == {"mac": {}, "ip": {}}


@pytest.mark.netns
def test_quota_use_is_saved_and_restored_after_a_reload(netns, tmp_path):
    """The kernel forgets a quota's use when the table is reloaded; the state file
    keeps it, and restore() puts it back, for each phone and for the total."""
    site = settings.validate(make_site(tmp_path, uplink={
        "interface": "eth0", "client_daily_mb": 5, "phones_daily_mb": 8}),
        str(tmp_path / "site.toml"))
    ruleset = tmp_path / "espace.nft"
    ruleset.write_text(render.render_files(site)["/etc/espace/nftables.nft"])
    nft = al.Nft(prefix=["ip", "netns", "exec", netns])
    nft.run(["-f", str(ruleset)])
    backend = al.NftBackend(site.hotspot.subnet, quotas.Policy.from_site(site), nft=nft)
    backend.allow("c2:c4:ab:91:66:01", "10.42.0.23", 3600)
    path = quotas.state_path(site.data_dir)
    state = quotas.load(path)
    assert state.phones["c2:c4:ab:91:66:01"]["id"] == 1 and state.kernel_day == quotas.today()
    # Some use, as if counted: the file says 3 MB for the phone and 6 MB in all.
    state.phones["c2:c4:ab:91:66:01"]["used"] = 3 * 2**20
    state.total_used = 6 * 2**20
    quotas.store(path, state)
    nft.run(["-f", str(ruleset)])  # a reload: every counter at 0, no phone
    assert backend.restore() == 1
    kernel = nft.quotas()
    assert kernel["q_1"] == {"bytes": 5 * 2**20, "used": 3 * 2**20}
    # The total counts from 0 again, against what was left of the day's cap.
    assert kernel["phones_total"] == {"bytes": 2 * 2**20, "used": 0}
    assert backend.usage()["total"]["used"] == 6 * 2**20
    assert "c2:c4:ab:91:66:01" in backend.entries()["mac"]
    # Restoring again (the helper restarted, no reload) changes nothing.
    backend.restore()
    assert nft.quotas() == kernel
    # The nightly reset: everything back, file and kernel.
    backend.reset_quotas()
    assert nft.quotas()["q_1"]["used"] == 0
    assert nft.quotas()["phones_total"] == {"bytes": 8 * 2**20, "used": 0}
    assert quotas.load(path).phones["c2:c4:ab:91:66:01"]["used"] == 0


def test_quota_state_survives_a_damaged_file_and_rolls_each_day(tmp_path):
    path = quotas.state_path(tmp_path)
    assert quotas.load(path).phones == {}
    path.parent.mkdir(parents=True)
    path.write_text("{not json")  # a damaged file gives the day back, nothing worse
    assert quotas.load(path).phones == {}
    state = quotas.State(day="2026-11-29", kernel_day="2026-11-29", fresh_today=3,
                         total_used=10, phones={
                             "c2:c4:ab:91:66:01": {"id": 1, "used": 5, "quota": 9,
                                                   "until": 2000.0, "ip": ""},
                             "c2:c4:ab:91:66:02": {"id": 2, "used": 5, "quota": 9,
                                                   "until": 500.0, "ip": ""}})
    quotas.store(path, state)
    assert not list(path.parent.glob(".*tmp"))  # written by an atomic rename
    again = quotas.load(path)
    assert again == state
    assert again.roll("2026-11-30", now=1000.0)
    # Still accepted: kept with its id, use back to 0; no longer accepted: forgotten.
    assert again.phones == {"c2:c4:ab:91:66:01": {"id": 1, "used": 0, "quota": 9,
                                                  "until": 2000.0, "ip": ""}}
    assert (again.fresh_today, again.total_used) == (0, 0)
    assert not again.roll("2026-11-30", now=1000.0)


class _RecordingNft(al.Nft):
    """nft that records batches and lists nothing (no kernel needed)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list = []

    def run(self, args, stdin=None):
        return json.dumps({"nftables": []}) if "list" in args else ""

    def apply(self, commands):
        self.batches.append(commands)


def test_fresh_quotas_per_day_limit(tmp_path):
    """uplink.new_phones_per_day: past that many new MACs today, a new one gets a
    quota of 0 (the portal only), while phones already seen keep theirs."""
    policy = quotas.Policy(2 * 2**20, 0, 2, quotas.state_path(tmp_path))
    backend = al.NftBackend("10.42.0.0/24", policy, nft=_RecordingNft())
    for i in range(1, 4):
        backend.allow(f"c2:c4:ab:91:66:0{i}", f"10.42.0.{20 + i}", 3600)
    backend.allow("c2:c4:ab:91:66:01", "10.42.0.99", 3600)  # seen today: same quota
    phones = quotas.load(policy.state_path).phones
    assert [phones[f"c2:c4:ab:91:66:0{i}"]["quota"] for i in (1, 2, 3)] == [2 * 2**20] * 2 + [0]
    assert phones["c2:c4:ab:91:66:01"]["id"] == 1 and len(phones) == 3
