"""Use-cases receive what they use, typed (chalicelib/usecases/deps.py): each module's `Deps`
protocol names its dependencies, its functions take `c: Deps`, it touches nothing else, and it
declares everything the use-cases it calls need. The composition root provides every port."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from chalicelib import wiring
from chalicelib.usecases import deps

UC = Path(__file__).resolve().parents[2] / "chalicelib" / "usecases"
MODULES = sorted(p.stem for p in UC.glob("*.py") if p.stem not in ("__init__", "deps"))


def _tree(name: str) -> ast.Module:
    return ast.parse((UC / f"{name}.py").read_text())


def _declared(name: str) -> set[str]:
    module = importlib.import_module(f"chalicelib.usecases.{name}")
    return deps.ports(module.Deps) if hasattr(module, "Deps") else set()


def _touched(tree: ast.Module) -> set[str]:
    """Attributes read from the dependencies: `c.x`, and `self.c.x` in a class holding them."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            v = node.value
            if isinstance(v, ast.Name) and v.id == "c":
                out.add(node.attr)
            elif isinstance(v, ast.Attribute) and v.attr == "c" and \
                    isinstance(v.value, ast.Name) and v.value.id == "self":
                out.add(node.attr)
    return out


def _callees(tree: ast.Module) -> set[str]:
    """Use-case modules this one hands its dependencies to (`f(c, ...)`, `mod.f(c, ...)`)."""
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for a in node.names:
                imported[a.asname or a.name] = node.module or a.name
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        args = list(node.args) + [k.value for k in node.keywords]
        if not any(isinstance(a, ast.Name) and a.id == "c" for a in args):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else \
            f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
        if name in imported and imported[name] in MODULES:
            out.add(imported[name])
    return out


def test_every_use_case_is_checked():
    assert {"publish", "rounds", "manage", "fanout", "deliver"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_functions_take_their_dependencies_typed(name):
    untyped = []
    for node in ast.walk(_tree(name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg in node.args.args:
                if arg.arg in ("c", "container") and \
                        not (isinstance(arg.annotation, ast.Name) and arg.annotation.id == "Deps"):
                    untyped.append(f"{node.name}({arg.arg})")
    assert not untyped, f"{name}: annotate with Deps: {untyped}"


@pytest.mark.parametrize("name", MODULES)
def test_a_use_case_touches_only_what_it_declares(name):
    extra = _touched(_tree(name)) - _declared(name)
    assert not extra, f"{name} uses {sorted(extra)} without declaring them in its Deps"


@pytest.mark.parametrize("name", MODULES)
def test_a_use_case_declares_what_its_callees_need(name):
    mine = _declared(name)
    for callee in sorted(_callees(_tree(name))):
        missing = _declared(callee) - mine
        assert not missing, f"{name} calls {callee}, which needs {sorted(missing)}"


@pytest.mark.parametrize("name", MODULES)
def test_the_composition_root_provides_every_port(name):
    missing = sorted(p for p in _declared(name) if not hasattr(wiring.Container, p))
    assert not missing, f"wiring.Container lacks {missing} ({name} needs them)"


def test_the_checks_see_a_violation():
    """The AST readers find `c.x` and `f(c)` where they are."""
    tree = ast.parse("from .fences import once\n"
                     "def f(c):\n    once(c, 'k')\n    return c.store, self.c.clock\n")
    assert _touched(tree) == {"store", "clock"} and _callees(tree) == {"fences"}
