"""The product stands on its own: nothing under webapp/ or worker/ imports the Microsoft stand-in, directly or
through another module of this tree (imports inside functions included)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("webapp", "worker")
EMULATOR = "fake_entra"


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path):
    """Every module name the file imports, relative imports resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            yield stem
            yield from (f"{stem}.{alias.name}" for alias in node.names)


def local_modules():
    """This tree's modules by name, each with the local modules it imports."""
    files = {module_name(path): path for path in ROOT.glob("*/**/*.py") if ".venv" not in path.parts}
    return {name: {imported for imported in imported_names(path) if imported in files}
            for name, path in files.items()}


def reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def test_no_module_of_the_product_reaches_the_microsoft_stand_in():
    graph = local_modules()
    product = [name for name in graph if name.split(".")[0] in PRODUCT]
    assert len(product) > 50
    reaching = {name: sorted(other for other in reachable(graph, name) if other.split(".")[0] == EMULATOR)
                for name in product}
    assert {name: found for name, found in reaching.items() if found} == {}
