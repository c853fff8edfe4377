"""Every module of every package imports alone, in a fresh interpreter (as
python-zeroconf's tests/test_circular_imports.py), and importing it connects to no
database and starts no thread.

One interpreter per module would cost a second each (Flask, peewee, libzim...). A
"zygote" interpreter imports only third-party libraries, never a module of ours, then
forks once per module: each child starts from that clean state, imports its one module
and reports. A circular import among our modules fails exactly as it would alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every top-level package of the distribution (pyproject's packages.find include).
PACKAGES = sorted(
    p.name
    for p in ROOT.iterdir()
    if (p / "__init__.py").is_file() and p.name not in ("tests", "bench", "scripts")
)
# Imported once by the zygote, so that each child only pays for our own modules.
THIRD_PARTY = (
    "click",
    "flask",
    "flask_babel",
    "flask_compress",
    "jinja2",
    "werkzeug",
    "peewee",
    "playhouse.migrate",
    "apscheduler.schedulers.background",
    "psutil",
    "zstandard",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "waitress",
    "zeroconf",
    "libzim.reader",
)


def modules() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            if rel.name == "__main__" or "templates" in rel.parts:
                continue  # `python -m appliance` runs the command
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            names.append(".".join(parts))
    return names


ZYGOTE = textwrap.dedent(
    """
    import importlib, json, os, sys, threading, traceback
    ours = set(json.loads(sys.argv[1]))
    for lib in json.loads(sys.argv[2]):
        try:
            importlib.import_module(lib)
        except ImportError:
            pass  # the child imports it then, if it needs it
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ours)
    assert not leaked, f"third-party imports pulled in our modules: {leaked}"
    out = sys.stdout
    for line in sys.stdin:
        name, _, extra_path = line.rstrip("\\n").partition("\\t")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.dup2(w, 1)
            os.dup2(w, 2)
            code = 0
            if extra_path:
                sys.path.insert(0, extra_path)
            try:
                importlib.import_module(name)
                db = sys.modules.get("appliance.db")
                if db is not None and db.database.obj is not None:
                    print("importing it opened the database")
                    code = 1
                threads = [t.name for t in threading.enumerate()
                           if t is not threading.main_thread()]
                if threads:
                    print(f"importing it started threads: {threads}")
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        report = b"".join(chunks).decode(errors="replace")
        out.write(json.dumps([name, os.waitstatus_to_exitcode(status), report]) + "\\n")
        out.flush()
    """
)


@pytest.fixture(scope="module")
def zygote():
    proc = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, json.dumps(PACKAGES), json.dumps(THIRD_PARTY)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )

    def import_alone(name: str, extra_path: str = "") -> tuple[int, str]:
        proc.stdin.write(f"{name}\t{extra_path}\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line, f"the zygote died (exit {proc.wait()})"
        got, code, report = json.loads(line)
        assert got == name
        return code, report

    try:
        yield import_alone
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()


def test_every_package_is_listed():
    assert {"espace", "appliance", "captive_portal", "content_cache", "central"} <= set(PACKAGES)
    assert len(modules()) > 100


@pytest.mark.parametrize("name", modules())
def test_module_imports_alone(zygote, name):
    code, report = zygote(name)
    assert code == 0, f"`import {name}` alone fails:\n{report}"


def test_the_guard_catches_what_it_guards(zygote, tmp_path):
    """The guard can fail: a circular import, a database opened or a thread started
    at import."""
    pkg = tmp_path / "probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import B\nA = 1\n")
    (pkg / "b.py").write_text("from .a import A\nB = 2\n")
    (pkg / "opens.py").write_text(
        "import tempfile\nfrom appliance.db import open_database\n"
        "open_database(tempfile.mkdtemp())\n"
    )
    (pkg / "starts.py").write_text(
        "import threading\nthreading.Thread(target=threading.Event().wait, args=(5,),"
        " daemon=True).start()\n"
    )
    code, report = zygote("probe.a", str(tmp_path))
    assert code == 1 and "circular import" in report
    code, report = zygote("probe.opens", str(tmp_path))
    assert code == 1 and "opened the database" in report
    code, report = zygote("probe.starts", str(tmp_path))
    assert code == 1 and "started threads" in report
    assert zygote("appliance.db") == (0, "")
