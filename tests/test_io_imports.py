"""No import circle inside `tls12.io`: counting every import, those under `TYPE_CHECKING` too.

The modules are read, not imported: an import that only the type checker follows still ties
two modules together for whoever has to change them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tls12.io

IO_DIR = Path(tls12.io.__file__).parent


def io_imports() -> dict[str, set[str]]:
    """Module name -> the io modules it imports (relative or absolute, at any depth of the file)."""
    names = {path.stem for path in IO_DIR.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in IO_DIR.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module is None:
                    found |= {alias.name for alias in node.names if alias.name in names}
                elif node.level == 1 and node.module is not None:
                    found.add(node.module.split(".")[0])
                elif node.level == 0 and node.module and node.module.startswith("tls12.io."):
                    found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("tls12.io.")}
        graph[path.stem] = found & names - {path.stem}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph.get(name, ())
    return seen


def test_io_modules_import_no_circle() -> None:
    graph = io_imports()
    assert {"sslcontext", "sslobject", "sslsocket", "engine"} <= graph.keys()
    circles = sorted(name for name in graph if name in reachable(graph, name))
    assert circles == []
