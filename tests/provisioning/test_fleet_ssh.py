"""The fleet tools against a real sshd (Debian's openssh-server) on a loopback port,
with a throwaway host key and user key: host-key pinning (unknown refused, accepted
only with its exact fingerprint, changed always refused), commands on several boxes
at once with progress, upgrade with roll-back, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import free_port, require_program, require_root


def _keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "test", "-f", str(path)],
                   check=True)
    return path


def _fp(pub: Path) -> str:
    return subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True,
                          check=True).stdout.split()[1]


class Sshd:
    """sshd -D on 127.0.0.1:port with its own host key; restartable with another key."""

    def __init__(self, tmp: Path, user_pub: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.auth = tmp / "authorized_keys"
        self.auth.write_text(user_pub.read_text())
        self.auth.chmod(0o600)
        self.proc = None

    def start(self, host_key: Path) -> None:
        cfg = self.tmp / "sshd_config"
        cfg.write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {self.auth}
PidFile {self.tmp}/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
""")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        with open(self.tmp / "sshd.log", "ab") as log:
            self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                                         stderr=log)
        import socket

        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None, (self.tmp / "sshd.log").read_text()
                assert time.monotonic() < deadline, "sshd never listened"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def sshd(tmp_path):
    require_root("sshd logs in as root, the user this test runs as")
    require_program("sshd", "openssh-server")
    require_program("ssh-keygen", "openssh-client")
    user_key = _keygen(tmp_path / "id_user")
    host_key = _keygen(tmp_path / "host_key")
    server = Sshd(tmp_path, Path(str(user_key) + ".pub"))
    server.start(host_key)
    try:
        yield {"server": server, "user_key": str(user_key), "host_key": host_key,
               "host_fp": _fp(Path(str(host_key) + ".pub")), "tmp": tmp_path,
               "known": tmp_path / "known_hosts"}
    finally:
        server.stop()


def _session(env, accept=()):
    from provisioning.fleet import PinStore, Session, Target

    store = PinStore(env["known"])
    target = Target("127.0.0.1", env["server"].port)
    return Session(target, store, accept=accept, key_filename=env["user_key"])


def test_unknown_host_key_is_refused_with_its_fingerprint(sshd):
    from provisioning.fleet import UnknownHostKey

    with pytest.raises(UnknownHostKey) as e, _session(sshd):
        pass
    assert e.value.fingerprint == sshd["host_fp"]
    assert f"--accept {sshd['host_fp']}" in str(e.value)
    assert not sshd["known"].exists()  # nothing pinned


def test_wrong_fingerprint_accepted_is_still_refused(sshd):
    from provisioning.fleet import UnknownHostKey

    with pytest.raises(UnknownHostKey), _session(sshd, accept=["SHA256:notthisone"]):
        pass


def test_accepted_fingerprint_is_pinned_then_used(sshd):
    with _session(sshd, accept=[sshd["host_fp"]]) as s:
        assert s.run("echo hello")[:2] == (0, "hello\n")
    assert f"[127.0.0.1]:{sshd['server'].port}" in sshd["known"].read_text()
    with _session(sshd) as s:  # pinned now: no --accept needed
        assert s.run("exit 3")[0] == 3


def test_changed_host_key_is_refused_even_if_accepted(sshd):
    from provisioning.fleet import ChangedHostKey

    with _session(sshd, accept=[sshd["host_fp"]]):
        pass
    server = sshd["server"]
    server.stop()
    new_key = _keygen(sshd["tmp"] / "host_key_2")
    server.start(new_key)
    new_fp = _fp(Path(str(new_key) + ".pub"))
    with pytest.raises(ChangedHostKey) as e, _session(sshd, accept=[new_fp]):
        pass
    assert e.value.fingerprint == new_fp and e.value.pinned == sshd["host_fp"]
    # A changed key of another type (rsa instead of ed25519) is refused too.
    server.stop()
    rsa = _keygen(sshd["tmp"] / "host_key_rsa", "rsa")
    server.start(rsa)
    with pytest.raises(ChangedHostKey), _session(sshd, accept=[_fp(Path(str(rsa) + ".pub"))]):
        pass


def test_several_boxes_at_once_with_progress(sshd, tmp_path):
    """Two "boxes" (the same sshd, as two names) and one that is off."""
    from provisioning.fleet import PinStore, Target, execute, run_many

    store = PinStore(sshd["known"])
    port = sshd["server"].port
    targets = [Target("127.0.0.1", port), Target("localhost", port), Target("127.0.0.1",
                                                                            free_port())]
    seen = []
    results = run_many(targets, lambda s: execute(s, "echo box-$((20+22))"), store,
                       accept=[sshd["host_fp"]], key_filename=sshd["user_key"], jobs=3,
                       on_done=lambda i, n, r: seen.append((i, n, r.ok)))
    assert [r.ok for r in results] == [True, True, False]
    assert results[0].text == "box-42" and results[1].text == "box-42"
    assert "cannot connect" in results[2].error
    assert sorted(i for i, _, _ in seen) == [1, 2, 3] and all(n == 3 for _, n, _ in seen)


def _wheel(dest: Path, version: str, broken: bool = False) -> Path:
    """A minimal espace_connecte wheel (appliance/, dist-info, RECORD)."""
    from tests.image_build.test_release import make_wheel

    return make_wheel(dest, version, metadata=not broken)


def test_upgrade_switches_release_and_rolls_back_on_failure(sshd, tmp_path):
    from provisioning.fleet import FleetError, upgrade

    data = tmp_path / "box-data"
    data.mkdir()
    kw = {"data_dir": str(data), "python": sys.executable, "restart": "true"}
    with _session(sshd, accept=[sshd["host_fp"]]) as s:
        out = upgrade(s, _wheel(tmp_path, "9.1.0"), **kw)
        assert "upgraded to 9.1.0 (was factory)" in out
        assert os.readlink(data / "releases/current") == "9.1.0"
        assert (data / "releases/9.1.0/appliance/__init__.py").exists()
        # Root's, checked against its wheel: what root may run (issue 21).
        from image_build.release import current

        assert current(data / "releases") == data / "releases/9.1.0"
        for p in [data / "releases", *(data / "releases").rglob("*")]:
            st = p.lstat()
            assert st.st_uid == 0 and (p.is_symlink() or not st.st_mode & 0o022), p
        # A release whose check fails (no metadata): back on 9.1.0.
        with pytest.raises(FleetError, match="back on 9.1.0"):
            upgrade(s, _wheel(tmp_path, "9.2.0", broken=True), **kw)
        assert os.readlink(data / "releases/current") == "9.1.0"


def test_cli_status_refuses_unknown_key_then_exec_with_accept(sshd):
    from click.testing import CliRunner

    from appliance.cli import cli

    port = str(sshd["server"].port)
    base = ["fleet", "exec", "echo from-box", "127.0.0.1", "--port", port, "-i",
            sshd["user_key"], "--known-hosts", str(sshd["known"])]
    r = CliRunner().invoke(cli, base)
    assert r.exit_code == 1 and "unknown host key" in r.output
    r = CliRunner().invoke(cli, [*base, "--accept", sshd["host_fp"]])
    assert r.exit_code == 0, r.output
    assert "from-box" in r.output
    r = CliRunner().invoke(cli, ["fleet", "forget", "127.0.0.1", "--port", port,
                                 "--known-hosts", str(sshd["known"])])
    assert "forgotten" in r.output


def test_push_content_copies_then_imports(sshd, tmp_path):
    from provisioning.fleet import push_content

    zim = tmp_path / "wikimed_fr.zim"
    zim.write_bytes(b"ZIM\x04" + os.urandom(300_000))
    calls = tmp_path / "calls"
    fake = tmp_path / "espace"
    fake.write_text(f"#!/bin/sh\nfor f in \"$@\"; do echo \"$f\"; done >> {calls}\n"
                    f"cmp \"$3\" {zim} && echo installed wikimed_fr\n")
    fake.chmod(0o755)
    data = tmp_path / "box-data"
    with _session(sshd, accept=[sshd["host_fp"]]) as s:
        out = push_content(s, [zim], data_dir=str(data), espace=str(fake))
    assert "installed wikimed_fr" in out
    assert calls.read_text().splitlines() == ["content", "import",
                                              f"{data}/incoming/wikimed_fr.zim"]
    assert list((data / "incoming").iterdir()) == []  # removed once imported


def test_status_says_what_a_visitor_sees_and_prints_clean_states(sshd, tmp_path, live_server):
    """fleet status said "active" while the portal crash-looped, and printed
    `hostapd=activating unknown` (issue 21)."""
    from provisioning.fleet import status
    from tests.support import free_port

    data = tmp_path / "box-data"
    data.mkdir()
    (data / "identity.txt").write_text("box_id=b1\nsite_id=diema\n")
    with _session(sshd, accept=[sshd["host_fp"]]) as s:
        up = status(s, data_dir=str(data), portal_url=live_server.url + "/")
        (data / "site-status.txt").write_text(
            "/boot/firmware/espace-site.toml: not used, the box runs its last good site file\n"
            "espace-site.toml: hotspot.channel: 13 is out of range 1-11\n")
        down = status(s, data_dir=str(data), portal_url=f"http://127.0.0.1:{free_port()}/")
    assert "portal=answers (HTTP 200)" in up.splitlines() and "site_file=ok" in up
    assert "portal=DOWN" in down
    assert ("site_file=NOT USED, last good one runs: espace-site.toml: hotspot.channel: 13 "
            "is out of range 1-11") in down.splitlines()
    for line in down.splitlines():
        if line.split("=")[0] in ("espace-web", "espace-worker", "hostapd", "dnsmasq"):
            assert len(line.split("=", 1)[1].split()) == 1, line  # one state, nothing glued
