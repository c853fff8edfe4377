"""The one atomic write: after a SIGKILL at any point the file is the old one or the
new one, whole, with its mode; a key is made once and both racers agree on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sync_contract.atomic import create_once, write_atomic

CHILD = r"""
import sys
from sync_contract.atomic import write_atomic
path = sys.argv[1]
for i in range(1_000_000):
    write_atomic(path, bytes([65 + i % 2]) * 2_000_000, 0o600)
    print(i, flush=True)
"""


def test_sigkill_during_writes_leaves_the_old_or_the_new_file(tmp_path):
    target = tmp_path / "secret_key"
    write_atomic(target, b"A" * 2_000_000, 0o600)
    for k in range(12):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(target)],
                                stdout=subprocess.PIPE)
        for _ in range(k % 4 + 1):  # let it finish a few writes, kill it in the next
            proc.stdout.readline()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = target.read_bytes()
        assert data in (b"A" * 2_000_000, b"B" * 2_000_000)
        assert target.stat().st_mode & 0o777 == 0o600
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "secret_key"]
    assert all(n.endswith(".tmp") for n in leftovers)  # for the start-up sweep


def test_create_once_keeps_the_first_value(tmp_path):
    path = tmp_path / "sync" / "box.key"
    assert create_once(path, b"first") == b"first"
    assert create_once(path, b"second") == b"first"
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(path.parent) == ["box.key"]
