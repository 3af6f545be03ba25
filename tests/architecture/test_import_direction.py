"""The package map of docs/architecture.md, enforced: imports go one way and form no cycle.

Every `import` in the code counts, including the lazy ones inside functions (a lazy import
hides a cycle from Python, not from this test).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lower layers first. A module may import its own layer and the layers before it, never after.
LAYERS: list[set[str]] = [
    {"connectors"},
    {"expectations"},
    {
        "warehouse.settings",
        "warehouse.logs",
        "warehouse.clock",
        "warehouse.pseudonym",
        "warehouse.hospital_registry",
    },
    {"warehouse.storage"},
    {"warehouse.consent", "warehouse.audit"},
    {"warehouse.pipeline"},
    {"warehouse.onboarding"},
    {"warehouse.api"},
    {"warehouse.cli"},
    {"dags"},
]
PACKAGES = ("connectors", "expectations", "warehouse", "dags")

# Edges the restructure (issue 10) has not removed yet. Each must go; an entry that no
# longer occurs fails the test, so the list only shrinks.
KNOWN_UPWARD: set[str] = set()
KNOWN_CYCLES: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from warehouse import consent` names a module, not an attribute
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _modules() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            graph[_module_name(path)] = _imports(path)
    known = set(graph)
    # keep edges to modules only (drop `from warehouse.x import some_function`)
    return {m: {i for i in imports if i in known and i != m} for m, imports in graph.items()}


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def test_every_module_has_a_place_on_the_map() -> None:
    homeless = sorted(m for m in _modules() if m != "warehouse" and _layer(m) is None)
    assert not homeless, f"modules outside the map in docs/architecture.md: {homeless}"


def test_imports_point_down_the_layers() -> None:
    upward = []
    for module, imports in _modules().items():
        own = _layer(module)
        for imported in imports:
            target = _layer(imported)
            if own is not None and target is not None and target > own:
                upward.append(f"{module} -> {imported}")
    new = sorted(set(upward) - KNOWN_UPWARD)
    assert not new, "imports against the direction of docs/architecture.md:\n" + "\n".join(new)
    gone = sorted(KNOWN_UPWARD - set(upward))
    assert not gone, f"fixed, so remove from KNOWN_UPWARD: {gone}"


def test_consent_and_audit_do_not_import_each_other() -> None:
    crossing = [
        f"{m} -> {i}"
        for m, imports in _modules().items()
        for i in imports
        if (m.startswith("warehouse.consent") and i.startswith("warehouse.audit"))
        or (m.startswith("warehouse.audit") and i.startswith("warehouse.consent"))
    ]
    assert not crossing, crossing


def test_no_import_cycle_between_modules() -> None:
    graph = _modules()
    # package __init__ re-exports are edges from the package to its own modules; a module
    # importing its package's public names is the usual Python idiom, not a cycle to report.
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imports in graph.items():
        for imported in imports:
            if imported.startswith(module + ".") or module.startswith(imported + "."):
                continue
            edges[module].add(imported)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    found = {" -> ".join(c) for c in cycles}
    new = sorted(found - KNOWN_CYCLES)
    assert not new, "import cycles:\n" + "\n".join(new)
    gone = sorted(KNOWN_CYCLES - found)
    assert not gone, f"fixed, so remove from KNOWN_CYCLES: {gone}"


def test_the_test_sees_the_known_edges() -> None:
    """The graph is not empty by accident (a broken parser would pass every test above)."""
    graph = _modules()
    assert "warehouse.storage.connection" in graph["warehouse.pipeline.load"]
    assert "warehouse.pipeline.daily_run" in graph["dags.healthlink_daily_sync"]
