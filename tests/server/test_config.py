"""`server.config`'s promise: every number that shapes the server is a Config field or listed there."""

from __future__ import annotations

import ast
from pathlib import Path

import server.config

SERVER = Path(server.config.__file__).parent


def _is_number(node: ast.expr) -> bool:
    """A literal int/float, or arithmetic on them (64 * 1024); True/False are not numbers here."""
    if isinstance(node, ast.Constant):
        return type(node.value) in (int, float)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    return False


def _module_numbers(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and _is_number(node.value):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and node.value is not None and _is_number(node.value):
            names += [node.target.id] if isinstance(node.target, ast.Name) else []
    return names


def _listed(module: str, name: str, doc: str) -> bool:
    """The docstring names the constant and its module (`module.NAME`, or NAME with `module.py`)."""
    return name in doc and (f"`{module}." in doc or f"`{module}.py`" in doc)


def test_every_module_level_number_outside_config_is_listed_in_its_docstring():
    doc = server.config.__doc__ or ""
    unlisted = [
        f"{path.stem}.{name}"
        for path in sorted(SERVER.glob("*.py"))
        if path.name != "config.py"
        for name in _module_numbers(path)
        if not _listed(path.stem, name, doc)
    ]
    assert not unlisted, f"make them Config fields, or list them with why in server/config.py: {unlisted}"


def test_the_guard_sees_numbers_written_as_arithmetic(tmp_path):
    module = tmp_path / "example.py"
    module.write_text("A = 64 * 1024\nB: float = 0.5\nC = -1\nD = True\nE = 'x'\nF = len('x')\n")
    assert _module_numbers(module) == ["A", "B", "C"]
