"""The sync contract's shape: every kind a box can send has a handler at central,
every kind central sends has one on the box, central imports nothing of the box but
``sync_contract``, and the outbox refuses what the contract does not declare."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from sync_contract import kinds
from sync_contract.handlers import Registry

ROOT = Path(__file__).resolve().parents[2]
BOX_PACKAGES = {"appliance", "captive_portal", "content_cache", "provisioning",
                "image_build", "espace", "sms", "surveys", "maps"}


def test_central_has_a_handler_for_every_kind_a_box_can_send():
    from central import handlers

    missing = sorted(set(kinds.UP_KINDS) - set(handlers.UP))
    assert not missing, f"central has no handler for {missing}: register one in central/"


def test_the_box_has_a_handler_for_every_kind_central_sends():
    import espace
    from appliance.sync import handlers

    espace.default_registry()  # as the app, the CLI and the worker do first
    missing = sorted(set(kinds.DOWN_KINDS) - set(handlers.DOWN))
    assert not missing, f"the box has no handler for {missing}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", ["central", "sync_contract"])
def test_central_and_the_contract_import_nothing_of_the_box(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = _imports(path) & BOX_PACKAGES
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"
    code = (f"import sys, {package}, importlib, pkgutil\n"
            f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
            "    importlib.import_module(m.name)\n"
            f"box = set({sorted(BOX_PACKAGES)!r})\n"
            "print(sorted({n.split('.')[0] for n in sys.modules} & box))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_every_outbox_append_names_a_declared_kind():
    """Call sites pass the declaration (``kinds.X``), never a string to guess from."""
    sites = []
    for package in ("appliance", "captive_portal", "content_cache"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "append"
                        and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "outbox"):
                    arg = node.args[0]
                    sites.append(path.name)
                    ok = (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                          and arg.value.id == "kinds" and hasattr(kinds, arg.attr)) \
                        or isinstance(arg, ast.Name)  # a parameter typed kinds.Kind
                    assert ok, f"{path}:{node.lineno}: outbox.append needs kinds.NAME"
    assert len(sites) >= 10


def _example(kind: kinds.Kind) -> dict:
    values = {str: "x", int: 1, float: 1.5, bool: True, dict: {}, list: []}
    out = {}
    for name, typ in kind.fields.items():
        if name in kind.required:
            first = kinds._allowed(typ)[0]
            out[name] = "" if name in kind.blobs else values.get(first)
    return out


@pytest.mark.parametrize("name", sorted(kinds.UP_KINDS))
def test_each_up_kind_accepts_its_declared_fields(name):
    kind = kinds.UP_KINDS[name]
    kind.validate(_example(kind))


def test_the_outbox_refuses_what_the_contract_does_not_declare(db):
    from appliance import outbox
    from appliance.models import OutboxEvent

    good = {"day": "2026-11-20", "visits": 3}
    cases = [
        ("usage.visitz", good, "'usage.visitz' is not a declared up-kind"),
        (kinds.VISITS, {"day": "2026-11-20"}, "usage.visits: field 'visits' is required"),
        (kinds.VISITS, {**good, "visits": "3"}, "field 'visits' must be int, not str"),
        (kinds.VISITS, {**good, "visits": True}, "field 'visits' must be int, not bool"),
        (kinds.VISITS, {**good, "ip": "10.0.0.9"}, "field 'ip' is not declared"),
        (kinds.VOICE_NOTE, {"sha256": "../etc/passwd", "size": 1}, "must be a SHA-256"),
    ]
    with db.atomic():
        for kind, payload, message in cases:
            with pytest.raises(outbox.NotInContract, match=message):
                outbox.append(kind, payload)
        with pytest.raises(outbox.NotInContract, match="travels on the 'usage' stream"):
            outbox.append(kinds.VISITS, good, "civic")
        event = outbox.append(kinds.VISITS, good)
    assert (event.kind, event.stream) == ("usage.visits", "usage")
    assert OutboxEvent.select().count() == 1


def test_registries_refuse_undeclared_and_double_registration():
    registry = Registry(kinds.UP)
    with pytest.raises(kinds.UnknownKind):
        registry.register("post.creatd")
    registry.add(kinds.VISITS, print)
    with pytest.raises(kinds.ContractError, match="already has a handler"):
        registry.add(kinds.VISITS, len)
    with pytest.raises(kinds.UnknownKind):  # a down-registry takes only down-kinds
        Registry(kinds.DOWN).add(kinds.VISITS, print)


def test_declarations_are_consistent():
    with pytest.raises(kinds.ContractError, match="declared twice"):
        kinds.up("usage.visits", stream="usage", fields={"day": str})
    with pytest.raises(kinds.ContractError, match="not one of its fields"):
        kinds.up("x.y", stream="civic", fields={"a": str}, blobs=("b",))
    assert "x.y" not in kinds.UP_KINDS
    for kind in kinds.UP_KINDS.values():
        assert kind.sender == kinds.BOX and kind.direction == kinds.UP
    for kind in kinds.DOWN_KINDS.values():
        assert kind.sender == kinds.CENTRAL


def test_docs_list_every_kind():
    text = (ROOT / "docs" / "sync.md").read_text()
    for name in sorted(kinds.UP_KINDS) + sorted(kinds.DOWN_KINDS):
        assert f"`{name}`" in text, f"docs/sync.md does not list {name}"
