"""A box with SMS on, and Debian's real gammu-smsd driving Gammu's dummy phone (a phone
emulated in a folder): a message is injected as a file in the phone's inbox folder,
gammu-smsd reads it and runs our RunOnReceive; what we send lands in its ``sent/``.

gammu-smsd is started by the fixture in the test's temp dir and stopped in finally."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from appliance.pins import hash_pin
from appliance.settings import toml_value
from tests.support import make_site, require_program

PIN = "2468"
WAIT_S = 60


def write_site(path: Path, doc: dict) -> Path:
    lines = []
    for section, values in doc.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def wait_until(predicate, what: str, timeout: float = WAIT_S):
    """Poll a condition (gammu-smsd works on its own loop); fail naming it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Phone:
    """Gammu's dummy phone: its SMS folder 1 is the modem's inbox."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.serial = itertools.count(1)
        root.mkdir(parents=True, exist_ok=True)  # the modem is plugged in

    def inject(
        self,
        number: str,
        text: str = "",
        *,
        udh: str = "",
        klass: int = -1,
        binary: bytes | None = None,
        stamp: str = "",
    ) -> None:
        """An SMS arriving from ``number`` (written whole, then renamed in)."""
        stamp = stamp or time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        if binary is not None:
            body, coding, length = binary.hex().upper(), "8bit", len(binary)
        else:
            body = text.encode("utf-16-be").hex().upper()
            coding, length = "Unicode_No_Compression", len(text)
        lines = [
            "[SMSBackup000]",
            "PDU = Deliver",
            f"DateTime = {stamp}Z",
            "State = UnRead",
            f'Number = "{number}"',
            f"Text00 = {body}",
            f"Coding = {coding}",
            "Folder = 1",
            f"Length = {length}",
            f"Class = {klass}",
        ]
        if udh:
            lines.append(f"UDH = {udh}")
        folder = self.root / "sms" / "1"
        folder.mkdir(parents=True, exist_ok=True)
        n = next(self.serial)
        while (folder / str(n)).exists():
            n = next(self.serial)
        tmp = self.root / f"incoming-{n}.tmp"
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, folder / str(n))

    def inject_long(self, number: str, parts: list[str], ref: int = 0x42) -> None:
        """A concatenated message (UDH 05 00 03 ref total seq)."""
        for i, text in enumerate(parts, 1):
            self.inject(
                number,
                text,
                udh=f"050003{ref:02X}{len(parts):02X}{i:02X}",
                stamp=time.strftime("%Y%m%dT%H%M", time.gmtime()) + f"{i:02d}",
            )


def sent_texts(spool) -> dict[str, list[str]]:
    """What gammu-smsd sent and we did not yet reconcile: number -> texts."""
    out: dict[str, list[str]] = {}
    for p in sorted(spool.folder("sent").glob("OUT*.txt")):
        number = p.name.split("_")[3]
        out.setdefault(number, []).append(p.read_bytes().decode("utf-16").lstrip("\ufeff"))
    return out


@pytest.fixture
def sms_site(tmp_path) -> dict:
    doc = make_site(tmp_path, kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin(PIN)}]})
    doc["site"]["languages"] = ["fr", "bm", "snk"]
    doc["site"]["default_language"] = "fr"
    doc["sms"] = {
        "enabled": True,
        "connection": "dummy",
        "modem": str(tmp_path / "phone"),
        "daily_budget_parts": 100,
        "retention_days": 30,
    }
    return doc


@pytest.fixture
def box(tmp_path, sms_site):
    """The box's app made from a site file on disk (RunOnReceive reads the same)."""
    from appliance import create_app
    from appliance.db import database

    site_file = write_site(tmp_path / "site.toml", sms_site)
    app = create_app({"SITE_FILE": str(site_file), "TESTING": True, "SECRET_KEY": "test-secret"})
    app.config["SITE_PATH"] = str(site_file)
    try:
        with app.app_context():
            database.connect(reuse_if_open=True)
            yield app
    finally:
        database.close()


@pytest.fixture
def gammu_smsd(box, tmp_path):
    """Real gammu-smsd on the dummy phone, RunOnReceive = our receiver."""
    require_program("gammu-smsd", "gammu-smsd")
    from sms.gammu import Daemon, write_config

    site = box.config["SITE"]
    spool = write_config(site, box.config["SITE_PATH"], poll_seconds=1)
    phone = Phone(Path(site.sms.modem))
    daemon = Daemon(spool, env=dict(os.environ)).start()
    try:
        yield phone, spool, daemon
    finally:
        daemon.close()


def wait_sent(spool, number: str, n: int) -> list[str]:
    """The first ``n`` texts gammu-smsd sent to ``number`` (waits for them)."""

    def enough():
        texts = sent_texts(spool).get(number, [])
        return texts if len(texts) >= n else None

    return wait_until(enough, f"{n} SMS sent to the test phone")


def handled(n: int) -> bool:
    from sms.models import Inbound

    return Inbound.select().where(Inbound.status == "handled").count() >= n
