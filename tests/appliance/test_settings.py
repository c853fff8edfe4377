"""Every kind of bad value in site.toml gets an error naming the file, the key, what
is wrong and a good example."""

import tomllib

import pytest

from appliance import settings
from appliance.errors import ConfigError
from tests.support import make_site


def problems(doc, path="site.toml"):
    with pytest.raises(ConfigError) as e:
        settings.validate(doc, path)
    return e.value.problems


def with_value(tmp_path, section, key, value):
    doc = make_site(tmp_path)
    doc.setdefault(section, {})[key] = value
    return doc


def test_example_is_valid_and_mentions_every_setting():
    text = settings.example()
    site = settings.validate(tomllib.loads(text), "example.toml")
    assert site.site.id == "nioro-du-sahel"
    for s in settings.SETTINGS:
        assert f"{s.name} = " in text, s.key
        assert s.description.split(".")[0][:30] in text


def test_defaults_fill_in(tmp_path):
    doc = make_site(tmp_path)
    del doc["site"]["default_language"]
    site = settings.validate(doc)
    assert site.hotspot.channel == 6
    assert site.hotspot.passphrase == ""
    assert site.site.default_language == "fr"
    assert site.sync.windows == [(0, 24 * 60)]
    assert site.content_dir == site.data_dir / "content"


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("hotspot", "ssid", "x" * 33, "at most 32 bytes"),
    ("hotspot", "ssid", "é" * 17, "34 bytes"),
    ("hotspot", "ssid", "", "must not be empty"),
    ("hotspot", "channel", 13, "channels 1-11"),
    ("hotspot", "channel", 36, "channels 1-11"),
    ("hotspot", "channel", "6", "whole number"),
    ("hotspot", "channel", True, "whole number"),
    ("hotspot", "passphrase", "short", "8 to 63"),
    ("hotspot", "passphrase", "x" * 64, "8 to 63"),
    ("hotspot", "passphrase", "motdepasse✓", "printable ASCII"),
    ("hotspot", "interface", "wlan0; rm -rf /", "not a network interface name"),
    ("hotspot", "interface", "$(reboot)", "not a network interface name"),
    ("hotspot", "interface", "averyveryverylongname", "not a network interface name"),
    ("hotspot", "address", "10.42.0.300", "not an IPv4 address"),
    ("hotspot", "subnet", "8.8.8.0/24", "not a private range"),
    ("hotspot", "subnet", "10.42.0.1/24", "not an IPv4 subnet"),
    ("hotspot", "subnet", "10.42.0.0/31", "too small"),
    ("hotspot", "isolate_clients", "yes", "true or false"),
    ("hotspot", "country", "Mali", "two-letter country code"),
    ("site", "id", "Nioro du Sahel", "not an id"),
    ("site", "communes", [], "at least 1"),
    ("site", "communes", ["Nioro", "Nioro"], "same value twice"),
    ("site", "languages", ["fr", "xx"], "'xx' is not a language"),
    ("site", "timezone", "Africa/Nowhere", "not a known time zone"),
    ("central", "url", "ftp://central", "not an http:// or https:// URL"),
    ("central", "enrolment_code", "abc'; DROP TABLE", "not an enrolment code"),
    ("sync", "daily_budget_mb", -1, "out of range"),
    ("sync", "windows", ["22h-6h"], "not a window"),
    ("sync", "windows", ["10:00-10:00"], "empty"),
    ("kiosk", "facilitators", [{"name": "Awa", "pin_hash": "1234"}], "hash-pin"),
    ("kiosk", "facilitators", [{"name": "Awa", "pin": "1234"}], "unknown field 'pin'"),
    ("board", "moderation", "sometimes", "not one of"),
    ("board", "max_text_chars", 10, "out of range"),
    ("storage", "reserve_mb", 1, "out of range"),
])
def test_bad_value_names_key_problem_and_example(tmp_path, section, key, value, expected):
    [message] = problems(with_value(tmp_path, section, key, value))
    assert message.startswith(f"site.toml: {section}.{key}: ")
    assert expected in message
    assert "(example: " in message


@pytest.mark.parametrize(("doc_change", "key", "expected"), [
    ({"uplink": {"subnet": "10.42.0.0/16"}}, "hotspot.subnet", "overlaps the uplink"),
    ({"hotspot": {"address": "10.43.0.1"}}, "hotspot.address", "not a host address inside"),
    ({"hotspot": {"address": "10.42.0.0"}}, "hotspot.address", "not a host address inside"),
    ({"site": {"default_language": "en", "languages": ["fr", "bm"]}}, "site.default_language",
     "not in site.languages"),
    ({"uplink": {"interface": "wlan0"}}, "uplink.interface", "same interface"),
])
def test_rules_between_settings(tmp_path, doc_change, key, expected):
    doc = make_site(tmp_path)
    for section, values in doc_change.items():
        doc.setdefault(section, {}).update(values)
    [message] = problems(doc)
    assert f": {key}: " in message and expected in message


def test_unknown_keys_and_sections_suggest_the_right_one(tmp_path):
    doc = make_site(tmp_path)
    doc["hotspot"] = {"sssid": "Espace"}
    doc["hotspt"] = {}
    found = problems(doc)
    assert any("hotspot.sssid: unknown setting; did you mean ssid?" in p for p in found)
    assert any("hotspt: unknown section; did you mean [hotspot]?" in p for p in found)


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    doc = make_site(tmp_path)
    doc["hotspot"] = {"channel": 14, "ssid": "x" * 40, "passphrase": "abc"}
    assert len(problems(doc)) == 3


def test_required_settings(tmp_path):
    found = problems({"storage": {"data_dir": str(tmp_path)}})
    assert {p.split(": ")[1] for p in found} == {"site.id", "site.name", "site.communes"}


@pytest.mark.parametrize(("content", "expected"), [
    (b'[site]\nid = nioro\n', "not valid TOML"),
    (b'[site]\nname = "Espace \xff"\n', "not UTF-8"),
    (b'\xff\xfe[\x00s\x00', "not UTF-8"),
])
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "site.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        settings.load(path)
    assert expected in str(e.value) and "site.toml" in str(e.value)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="espace config example"):
        settings.load(tmp_path / "nope.toml")


def test_nko_and_arabic_names_are_kept(tmp_path):
    doc = make_site(tmp_path, site={"name": "ߒߞߏ ߞߊ߲", "communes": ["نيورو", "Kayes"]})
    doc["hotspot"] = {"ssid": "ߒߞߏ Wi-Fi"}
    site = settings.validate(doc)
    assert site.site.name == "ߒߞߏ ߞߊ߲" and site.site.communes[0] == "نيورو"


def test_relative_data_dir_is_relative_to_the_site_file(tmp_path):
    doc = make_site(tmp_path, storage={"data_dir": "state"})
    site = settings.validate(doc, str(tmp_path / "etc" / "site.toml"))
    assert site.data_dir == tmp_path / "etc" / "state"


def test_every_setting_is_documented_in_the_readme_or_example():
    """The docs and the checks read the same declarations: none without a description
    or an example that itself passes its own check."""
    for s in settings.SETTINGS:
        assert s.description and s.kind, s.key
        if s.key not in ("kiosk.facilitators",):
            s.parse(s.example)


def test_decimal_for_a_whole_number_is_named_as_such():
    from appliance import settings

    with pytest.raises(ValueError, match="whole number, not a decimal number"):
        settings.integer(0, 10)(1.5)
