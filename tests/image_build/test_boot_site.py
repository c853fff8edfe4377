"""espace-boot with a bad site file on the FAT partition, and the fingerprints shown
where a technician can read them (issue 21)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

GOOD = """[site]
id = "diema"
name = "Espace de Diéma"
communes = ["Diéma"]

[storage]
data_dir = "{data}"
"""


def _fat(tmp_path: Path, text: str) -> Path:
    fat = tmp_path / "fat"
    fat.mkdir(exist_ok=True)
    (fat / "espace-site.toml").write_text(text)
    return fat / "espace-site.toml"


def test_a_good_site_file_runs_and_is_kept_as_last_good(tmp_path):
    from image_build.boot import LAST_GOOD_SITE, choose_site

    data = tmp_path / "data"
    fat = _fat(tmp_path, GOOD.format(data=data))
    site, problem = choose_site(fat, tmp_path / "run/site.toml")
    assert problem == "" and site.site.id == "diema"
    assert (data / LAST_GOOD_SITE).read_text() == fat.read_text()
    assert (tmp_path / "run/site.toml").read_text() == fat.read_text()


def test_a_bad_site_file_keeps_the_last_good_one_running(tmp_path):
    """hotspot.channel = 13 on the card crash-looped espace-web: now the last good file
    runs, and the problem is written where the kiosk, doctor and fleet status read it."""
    from appliance import box_notices
    from image_build.boot import choose_site

    data = tmp_path / "data"
    good = GOOD.format(data=data)
    fat = _fat(tmp_path, good)
    run = tmp_path / "run/site.toml"
    choose_site(fat, run, data)
    fat.write_text(good + "\n[hotspot]\nchannel = 13\n")
    site, problem = choose_site(fat, run, data)
    assert "hotspot.channel" in problem and "13" in problem
    assert site.hotspot.channel != 13 and run.read_text() == good
    shown = box_notices.site_problem(data)
    assert "hotspot.channel" in shown and "last good" in shown
    fat.write_text(good)  # fixed on the card: the notice goes away
    assert choose_site(fat, run, data)[1] == "" and box_notices.site_problem(data) == ""


def test_a_bad_site_file_with_nothing_to_fall_back_on_stops_boot(tmp_path):
    from appliance.errors import ConfigError
    from image_build.boot import choose_site

    fat = _fat(tmp_path, '[site]\nid = "x"\n')
    with pytest.raises(ConfigError):
        choose_site(fat, tmp_path / "run/site.toml", tmp_path / "nodata")


def test_fingerprints_are_written_to_the_fat_side_and_the_login_prompt(tmp_path, caplog):
    from image_build.boot import FAT_IDENTITY, show_identity

    (tmp_path / "root/etc/issue.d").mkdir(parents=True)
    fat = tmp_path / "fat"
    fat.mkdir()
    ident = {"box_id": "b1", "site_id": "diema", "ssh_ed25519": "SHA256:abc"}
    with caplog.at_level("INFO", logger="espace.boot"):
        show_identity(ident, fat, tmp_path / "root")
    assert "SSH host key (ed25519): SHA256:abc" in caplog.text
    assert "ssh_ed25519=SHA256:abc" in (fat / FAT_IDENTITY).read_text()
    assert "ed25519 SHA256:abc" in (tmp_path / "root/etc/issue.d/espace.issue").read_text()


def test_a_read_only_fat_partition_is_opened_for_the_one_write(tmp_path):
    from tests.support import require_root

    require_root("mounting a file system read-only")
    from image_build.boot import FAT_IDENTITY, show_identity

    fat = tmp_path / "fat"
    fat.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(fat)], check=True)
    try:
        show_identity({"ssh_ed25519": "SHA256:xyz"}, fat, tmp_path / "noroot")
        assert (fat / FAT_IDENTITY).read_text() == "ssh_ed25519=SHA256:xyz\n"
        with pytest.raises(OSError):  # read-only again afterwards
            (fat / "other").write_text("x")
    finally:
        subprocess.run(["umount", str(fat)], check=True)
