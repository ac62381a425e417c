"""The house rules of docs/architecture.md, checked on the source: no import cycles between the project's
modules (imports inside functions and under TYPE_CHECKING count), and the core never imports the edges."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("feeds", "workers")
# What the pure core may not import: the edges, the task queue, the Redis client, the web and the database.
CORE_FORBIDDEN = ("workers", "celery", "kombu", "redis", "sqlalchemy", "fastapi", "starlette", "uvicorn")


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imported(path: Path, name: str, known: set[str]) -> Iterator[str]:
    """Every module of the project `path` imports, anywhere in the file (the longest known module named)."""
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            parts = t.split(".")
            for i in range(len(parts), 0, -1):
                candidate = ".".join(parts[:i])
                if candidate in known:
                    yield candidate
                    break


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    # A submodule import also runs its package's __init__, but that is Python's doing, not an edge we add:
    # a package that imports its own submodules is not a cycle with them.
    return {m: {t for t in imported(p, m, known) if t != m and not m.startswith(t + ".")} for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_checker_finds_a_cycle_hidden_in_a_function() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(g) == [["a", "b", "c"]]


def test_the_core_never_imports_the_edges() -> None:
    bad = []
    for name, path in modules().items():
        if not name.startswith("feeds"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            bad += [f"{name}: {n}" for n in names if n.split(".")[0] in CORE_FORBIDDEN]
    assert bad == []


def test_the_core_reads_no_environment() -> None:
    bad = [name for name, path in modules().items()
           if name.startswith("feeds") and "os.environ" in path.read_text(encoding="utf-8")]
    assert bad == []


def test_modules_say_what_they_own() -> None:
    """Every module opens with a one-line-or-more docstring."""
    missing = [name for name, path in modules().items()
               if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None]
    assert missing == []
