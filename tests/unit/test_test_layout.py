"""The test suite's own layout: a test module is a leaf. Whatever two test modules share lives in a
helper module of their directory (tests/api/calls.py, tests/e2e/stack.py, ...) or in a conftest,
so running, moving or deleting one test file never changes what another one collects."""
import ast
import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def imports_of_test_modules(path: pathlib.Path) -> list[str]:
    """Every `import` or `from ... import` in the file (at any depth, functions included) that
    names a test_* module, either as the module imported from or as a module imported."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if any(map(is_test_module, a.name.split(".")))]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if any(map(is_test_module, module.split("."))):
                found.append(module)
            else:                                  # `from tests.api import test_checker`
                package = (path.parents[node.level - 1] if node.level else ROOT).joinpath(
                    *filter(None, module.split(".")))
                found += [f"{module}.{a.name}".lstrip(".") for a in node.names
                          if is_test_module(a.name) and (package / f"{a.name}.py").is_file()]
    return found


def test_no_module_imports_a_test_module():
    offenders = {}
    for path in sorted(TESTS.rglob("*.py")) + sorted((ROOT / "bench").rglob("*.py")):
        if bad := imports_of_test_modules(path):
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_the_check_sees_every_spelling_of_such_an_import(tmp_path):
    cases = {
        "from tests.api.test_checker import rounds": ["tests.api.test_checker"],
        "from .test_checker import rounds": ["test_checker"],
        "from tests.api import test_checker": ["tests.api.test_checker"],
        "import tests.e2e.test_local_stack as s": ["tests.e2e.test_local_stack"],
        "def f():\n    from tests.api.test_deliveries import incident":
            ["tests.api.test_deliveries"],
        "from tests.api.calls import post\nfrom tests.e2e.stack import Stack": [],
        "from tests.api.calls import test_looking_name_in_a_helper": [],
        "from . import test_sibling": ["test_sibling"],
    }
    (tmp_path / "test_sibling.py").write_text("")
    for n, (source, expected) in enumerate(cases.items()):
        path = tmp_path / f"case{n}.py"
        path.write_text(source + "\n")
        assert imports_of_test_modules(path) == expected, source
