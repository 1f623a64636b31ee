"""The import graph is one-way (ARCHITECTURE.md): no cycle between any two modules of the project,
counting imports inside functions, and no app importing an app above it.

Read with `ast`, so nothing is imported to check it; a failure names the modules involved.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lowest first: an app may import the apps before it in this list, never those after it.
LAYERS = [
    "accounts",
    "audit",
    "organizations",
    "sso",
    "providers",
    "usage",
    "billing",
    "subscriptions",
    "stripe_events",
]
PROJECT = ["kilo_dashboard", *LAYERS]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PROJECT:
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else []:
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its body (module level or in functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # `from billing import sync` imports the module billing.sync; `import a.b.c` needs a.b.c
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_module_imports_itself_back_through_others():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _composes_apps(module: str) -> bool:
    """Modules that put the apps together rather than being part of one: a tab's pages may show
    what a higher app knows (the Billing tab lists subscription changes), and a management command
    such as seed_demo drives every app. Services, selectors, models and tasks may not."""
    parts = module.split(".")
    return parts[0] == "kilo_dashboard" or parts[-1] in ("views", "urls") or "commands" in parts


def test_apps_import_only_the_apps_below_them():
    rank = {app: position for position, app in enumerate(LAYERS)}
    upward = []
    for module, targets in _graph().items():
        app = module.split(".")[0]
        if app not in rank or _composes_apps(module):
            continue
        for target in targets:
            target_app = target.split(".")[0]
            if target_app in rank and rank[target_app] > rank[app]:
                upward.append(f"{module} -> {target}")
    assert sorted(upward) == []
