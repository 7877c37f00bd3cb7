"""The architecture, enforced: which modules may import which (every import, top-level or inside
a function, is read from the source).

- The pure core does no I/O: no AWS SDK, no network library, no web framework, and nothing
  from the adapters, the use-cases or the web layer.
- Rendering is pure too, and imports nothing above it.
- Adapters (DynamoDB, SNS, SQS, S3, probes, outbound HTTP) never import the web layer or the
  use-cases.
- No module imports a route module except the app itself.
- There are no import cycles among the modules' top-level imports.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "chalicelib"

# The layers are the packages under chalicelib (README, "Where things live"); render is the
# pure presentation layer; wiring.py is the composition root.
PURE = {"core"}
ADAPTERS = {"adapters"}
WEB = {"web"}
USECASES = {"usecases"}
IO_LIBRARIES = ("boto3", "botocore", "pynamodb", "requests", "urllib3", "chalice", "socket",
                "ssl", "http.client", "http.server", "urllib.request", "mastodon", "atproto",
                "atproto_client", "dns")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path, top_only: bool = False) -> set[str]:
    """Absolute names this module imports (chalicelib modules resolved; others as given)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                out.add(full if full in MODULES else module)
    return out


def _area(module: str) -> str:
    """The layer: the first name below chalicelib (core, usecases, adapters, web, tools, render)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "chalicelib" else ""


def _own(module: str) -> bool:
    return module.startswith("chalicelib")


def _does_io(module: str) -> bool:
    return any(module == lib or module.startswith(lib + ".") for lib in IO_LIBRARIES)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if _area(m) in PURE))
def test_the_pure_core_does_no_io_and_imports_nothing_above_it(name):
    imported = _imports(name, MODULES[name])
    io = sorted(m for m in imported if not _own(m) and _does_io(m))
    above = sorted(m for m in imported if _own(m) and _area(m) not in PURE and m != "chalicelib")
    assert not io, f"{name} does I/O through {io}"
    assert not above, f"{name} (pure) imports {above}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if _area(m) == "render"))
def test_rendering_is_pure_and_imports_nothing_above_it(name):
    imported = _imports(name, MODULES[name])
    io = sorted(m for m in imported if not _own(m) and _does_io(m))
    above = sorted(m for m in imported
                   if _own(m) and _area(m) not in PURE | {"render"} and m != "chalicelib")
    assert not io and not above, f"{name} imports {io + above}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if _area(m) in ADAPTERS))
def test_adapters_never_import_the_web_layer_or_the_use_cases(name):
    bad = sorted(m for m in _imports(name, MODULES[name])
                 if _own(m) and _area(m) in WEB | USECASES | {"wiring", "tools"})
    assert not bad, f"{name} (adapter) imports {bad}"


def test_only_the_app_imports_route_modules():
    routes = "chalicelib.web.routes"
    for name, path in MODULES.items():
        if name.startswith(routes):
            continue
        bad = sorted(m for m in _imports(name, path) if m.startswith(routes))
        assert not bad, f"{name} imports route modules {bad}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if _area(m) in USECASES))
def test_use_cases_never_import_the_web_layer_or_the_tools(name):
    bad = sorted(m for m in _imports(name, MODULES[name])
                 if _own(m) and _area(m) in WEB | {"tools"})
    assert not bad, f"{name} (use-case) imports {bad}"


def test_nothing_a_lambda_runs_imports_the_tools():
    """The CLI and doctor run on a workstation (infra/package.py calls doctor at package time)."""
    for name, path in MODULES.items():
        if _area(name) == "tools":
            continue
        bad = sorted(m for m in _imports(name, path) if _area(m) == "tools")
        assert not bad, f"{name} imports the tools {bad}"


def test_every_module_is_placed_in_a_layer():
    placed = PURE | ADAPTERS | WEB | USECASES | {"render", "tools", "wiring", ""}
    unplaced = sorted(m for m in MODULES if _area(m) not in placed)
    assert not unplaced, f"put these in a layer of this test: {unplaced}"


def test_no_import_cycles():
    graph = {name: {m for m in _imports(name, path, top_only=True) if m in MODULES and m != name}
             for name, path in MODULES.items()}
    # Packages import their submodules through their own __init__ only by name: ignore the
    # package node itself so `from . import x` inside a package is not a self-loop.
    cycles, index, low, stack, on, counter = [], {}, {}, [], set(), [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_every_function_level_import_says_why():
    """Imports belong at the top; the few kept inside functions (a Lambda's cold start) carry a
    comment, on the line or the one above, saying why."""
    silent = []
    for name, path in MODULES.items():
        lines = path.read_text().split("\n")
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and node not in tree.body \
                    and node.col_offset > 0:
                here, above = lines[node.lineno - 1], lines[node.lineno - 2].strip()
                if "#" not in here and not above.startswith("#"):
                    silent.append(f"{path.relative_to(ROOT)}:{node.lineno}: {here.strip()}")
    assert not silent, "function-level imports without a reason:\n" + "\n".join(silent)


MAX_CLASS_LINES = 150


def test_no_class_is_over_150_lines():
    """Small classes with one reason to change: a class that grows past this is split by
    aggregate or role (see chalicelib/adapters/storage/__init__.py for how Store was)."""
    big = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                size = node.end_lineno - first + 1
                if size > MAX_CLASS_LINES:
                    big.append(f"{path.relative_to(ROOT)}:{node.lineno}: class {node.name} is "
                               f"{size} lines")
    assert not big, f"classes over {MAX_CLASS_LINES} lines:\n" + "\n".join(big)
