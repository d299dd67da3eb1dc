"""The apps form layers, each importing only from the layers below it (docs/architecture.md).

Every import statement of the application code is read with `ast`, at module level and
inside functions alike, and so are `import_module("...")` calls with a literal name. A lower
app that must make a higher one act declares a hook (billing_portal.hooks) instead.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. billing_portal's core (settings, Celery, queue, hooks, formatting) is the
# base; billing_portal.urls is the composition root, which mounts every app.
LAYERS = [
    "billing_portal",
    "emails",
    "webhooks",
    "accounts",
    "invoices",
    "payments",
    "subscriptions",
    "support",
    "api",
]
COMPOSITION_ROOTS = {"billing_portal.urls"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _application_modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield _module_name(path), path


def imported_names(module: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import in `source`, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module
            found.append((node.lineno, name))
            # `from app import module`: the module is what is imported.
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _layer(name: str) -> int | None:
    top = name.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else None


def upward_imports(module: str, source: str, is_package: bool = False) -> list[str]:
    if module in COMPOSITION_ROOTS:
        return []
    own, found = _layer(module), {}
    for line, name in imported_names(module, source, is_package):
        if (layer := _layer(name)) is not None and layer > own:
            found.setdefault(line, f"{module}:{line} imports {name}")  # one per statement
    return list(found.values())


def test_no_import_runs_back_up_the_layers():
    violations = []
    for module, path in _application_modules():
        violations += upward_imports(module, path.read_text(), path.name == "__init__.py")
    assert violations == [], "\n".join(violations)


def test_no_import_loop_between_the_modules_of_an_app():
    modules = dict(_application_modules())
    graph = {
        module: {
            name
            for _, name in imported_names(module, path.read_text(), path.name == "__init__.py")
            if name in modules
            and name != module
            # A package's __init__ re-exporting its own modules is not a loop.
            and not name.startswith(module + ".")
            and not module.startswith(name + ".")
        }
        for module, path in modules.items()
    }
    loops, state = [], {}

    def visit(module, trail):
        state[module] = "open"
        for name in sorted(graph[module]):
            if state.get(name) == "open":
                loops.append(" -> ".join([*trail[trail.index(name) :], name]))
            elif name not in state:
                visit(name, [*trail, name])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert loops == [], "\n".join(loops)


@pytest.mark.parametrize(
    ("module", "source", "caught"),
    [
        ("accounts.selectors", "def f():\n    from subscriptions.models import Plan\n", True),
        (
            "accounts.demo",
            "from importlib import import_module\nimport_module('invoices.demo')\n",
            True,
        ),
        ("emails.services", "import invoices.pdf\n", True),
        ("invoices.services", "from accounts import models\nfrom . import numbering\n", False),
        ("subscriptions.services.upgrades", "from ..models import Plan\n", False),
        ("billing_portal.urls", "import support.views\n", False),
    ],
)
def test_the_check_catches_an_upward_import(module, source, caught):
    assert bool(upward_imports(module, source)) is caught
