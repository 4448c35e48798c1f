"""The tree reads as the architecture (issue #14), and stays so.

Two rules that review alone does not keep:

- The core (`agentfleet/`) never imports `worker`, `workflows` or `activities`: the
  dependencies run one way, from the Temporal edges to the domain. The one exception is
  `agentfleet/plugin.py`, the composition root that registers them on a user's worker.
- No function in the shipped code is longer than 60 lines: a longer one is split into
  named steps, so each step can be read and tested on its own.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [ROOT / "agentfleet", ROOT / "workflows", ROOT / "activities", ROOT / "worker.py"]
EDGES = {"worker", "workflows", "activities"}
COMPOSITION_ROOT = ROOT / "agentfleet" / "plugin.py"
MAX_LINES = 60


def _sources() -> list[Path]:
    files: list[Path] = []
    for place in SHIPPED:
        files.extend([place] if place.is_file() else sorted(place.rglob("*.py")))
    return files


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imported_tops(tree: ast.AST) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def test_the_core_never_imports_the_temporal_edges() -> None:
    wrong = {}
    for path in (ROOT / "agentfleet").rglob("*.py"):
        if path == COMPOSITION_ROOT:
            continue
        edges = _imported_tops(ast.parse(path.read_text())) & EDGES
        if edges:
            wrong[_rel(path)] = sorted(edges)
    assert wrong == {}, f"agentfleet/ imports the Temporal edges: {wrong}"


def test_the_import_check_sees_imports_inside_functions() -> None:
    tree = ast.parse("def f():\n    from workflows.master import X\n    import worker\n")
    assert _imported_tops(tree) & EDGES == {"workflows", "worker"}


def test_no_function_is_longer_than_sixty_lines() -> None:
    long: dict[str, int] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                name = f"{_rel(path)}::{node.name}"
                if lines > MAX_LINES:
                    long[name] = lines
    assert long == {}, f"functions over {MAX_LINES} lines: {long}"


def _concepts_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Concepts\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_readme_concepts_table_matches_the_tree() -> None:
    table = _concepts_table()
    cited = set(re.findall(r"`((?:agentfleet|workflows|activities)/[\w/.]*|worker\.py)`", table))
    missing = sorted(path for path in cited if not (ROOT / path).exists())
    assert missing == [], f"the Concepts table names paths that do not exist: {missing}"
    packages = {
        f"agentfleet/{p.name}/"
        for p in (ROOT / "agentfleet").iterdir()
        if (p / "__init__.py").exists()
    }
    unnamed = sorted(packages - cited)
    assert unnamed == [], f"packages the Concepts table does not name: {unnamed}"
