"""Static analysis of the apps' modules: which public functions write, which record.

Used by tests/audit/test_every_write_is_audited.py. Why static (ast) rather than running every
service with personas: a run only sees the branches its inputs reach (most services call Stripe
first, or refuse an input), while the call graph sees every branch, costs milliseconds, and names
the function to fix. What it cannot see (a write in one branch, a record in another) the
per-service tests cover: every service test asserts its audit row.

A function *writes* when it (or a function it calls, in its module or another analysed module)
calls the ORM's writing methods: save/create/bulk_create/bulk_update/get_or_create/
update_or_create/delete on anything, or update() on a queryset (`.objects`, `.filter()` ...).
It *records* when it (or a function it calls) calls audit_record or another recorder.
"""

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALWAYS_WRITES = {
    "save",
    "create",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
    "delete",
}
QUERYSET_HINTS = {"objects", "filter", "exclude", "all", "select_for_update", "select_related"}
RECORDERS = {"audit_record"}


# Modules that hold no writes of their own worth analysing: declarations, and the demo's seed data.
NOT_ANALYSED = {"__init__", "admin", "apps", "models", "urls", "forms", "demo"}


def service_modules() -> list[Path]:
    """Every app module that may change state: services.py and services/*.py, and the modules
    beside them that services, views, tasks and webhook handlers call (sync, ledger, rollup,
    maintenance ...), the views and tasks themselves included. Migrations and management
    commands (subfolders) are not analysed."""
    skip = {".venv", "tests", "bench", "scripts", "templates", "static", "node_modules"}
    found = []
    for path in sorted(ROOT.glob("*/*.py")) + sorted(ROOT.glob("*/services/*.py")):
        parts = path.relative_to(ROOT).parts
        is_services_package = parts[1:] == ("services", "__init__.py")  # e.g. sso/services/
        if (
            parts[0] in skip
            or (path.stem in NOT_ANALYSED and not is_services_package)
            or not (ROOT / parts[0] / "apps.py").exists()
        ):
            continue
        found.append(path)
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _chain_names(node: ast.AST) -> set[str]:
    """Names and attributes along a call's receiver chain: X.objects.filter(...).update()."""
    names = set()
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            names.add(node.id)
            return names
        else:
            return names


@dataclass
class FunctionInfo:
    module: str
    name: str
    lineno: int
    writes_here: bool = False
    records_here: bool = False
    calls: set[str] = field(default_factory=set)  # qualified "module.function"

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def public(self) -> bool:
        return not self.name.startswith("_")


def _imports(tree: ast.Module, module: str) -> dict[str, str]:
    """Local name -> qualified module or function it stands for."""
    package = module.rpartition(".")[0]
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(filter(None, [package, base]))
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name] = alias.name
    return names


def analyse(paths: list[Path]) -> dict[str, FunctionInfo]:
    functions: dict[str, FunctionInfo] = {}
    for path in paths:
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = _imports(tree, module)
        local = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            info = FunctionInfo(module, node.name, node.lineno, records_here=node.name in RECORDERS)
            for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
                func = call.func
                if isinstance(func, ast.Name):
                    if func.id in RECORDERS:
                        info.records_here = True
                    if func.id in local:
                        info.calls.add(f"{module}.{func.id}")
                    elif func.id in imported:
                        info.calls.add(imported[func.id])
                elif isinstance(func, ast.Attribute):
                    if func.attr in RECORDERS:
                        info.records_here = True
                    if func.attr in ALWAYS_WRITES or (
                        func.attr == "update" and _chain_names(func.value) & QUERYSET_HINTS
                    ):
                        info.writes_here = True
                    if isinstance(func.value, ast.Name) and func.value.id in imported:
                        info.calls.add(f"{imported[func.value.id]}.{func.attr}")
            functions[info.qualname] = info
    return functions


def _closure(functions: dict[str, FunctionInfo], start: str, flag: str) -> bool:
    seen, stack = set(), [start]
    while stack:
        name = stack.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        if getattr(functions[name], flag):
            return True
        stack.extend(functions[name].calls)
    return False


def unaudited_writers(
    functions: dict[str, FunctionInfo], *, exempt: frozenset[str] = frozenset()
) -> dict[str, FunctionInfo]:
    """Public functions that write (in their call tree) and record nothing (in their call tree).

    The writes of `exempt` functions (bookkeeping, said why) do not count for their callers: a
    view or task that only calls one is no writer either."""
    if exempt:
        functions = {
            name: FunctionInfo(info.module, info.name, info.lineno, False, False, set())
            if name in exempt
            else info
            for name, info in functions.items()
        }
    return {
        name: info
        for name, info in functions.items()
        if info.public
        and name not in exempt
        and _closure(functions, name, "writes_here")
        and not _closure(functions, name, "records_here")
    }
