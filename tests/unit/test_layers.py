"""Data flows one way through the package: no module imports a layer above its own.

The order is the README's Layout. Packages on one floor (the stages, or gateway and local)
do not import one another, except where a floor lists who it may use: claims reads the
entities and the knowledge base of ner.
"""

from __future__ import annotations

import ast
from pathlib import Path

import claimstream

PACKAGE = Path(claimstream.__file__).parent

# floor of each top-level package, lowest first
FLOORS: dict[str, int] = {
    "v1": 0,          # generated protobuf code
    "core": 1,
    "kafka": 2,
    "runtime": 3,
    "encoder": 4,
    "langid": 5, "translate": 5, "ner": 5,
    "claims": 6,      # reads ner's entities and knowledge base
    "gateway": 7, "local": 7,
    "cli": 8,
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level claimstream package) of every import in `path`, relative ones resolved."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["claimstream", *parts[: len(parts) - node.level]]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        for name in names:
            dotted = name.split(".")
            if dotted[0] == "claimstream" and len(dotted) > 1:
                found.append((node.lineno, dotted[1]))
    return found


def test_every_package_has_a_floor() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(FLOORS)


def test_no_module_imports_a_floor_above_its_own_or_a_neighbour() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) < 2 or parts[0] == "v1":
            continue
        own = parts[0]
        for line, target in _imports(path):
            if target != own and FLOORS[target] >= FLOORS[own]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports claimstream.{target}")
    assert wrong == []


def test_the_check_sees_imports_inside_functions() -> None:
    # claims.model imports ner.kb inside a function; the check must see it
    found = {target for _, target in _imports(PACKAGE / "claims" / "model.py")}
    assert {"core", "ner"} <= found
