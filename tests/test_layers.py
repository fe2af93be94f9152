"""The layer contracts in pyproject.toml: they hold, they see every module, and they can fail.

`.ci/run` runs `lint-imports` too; running it here means a broken layer also fails pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import grimp
import pytest

import tls12

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(tls12.__file__).resolve().parent
CORE = {
    "tls12.codec",
    "tls12.enums",
    "tls12.errors",
    "tls12.events",
    "tls12.messages",
    "tls12.crypto",
    "tls12.record",
    "tls12.handshake",
    "tls12.connection",
    "tls12.config",
    "tls12.trace",
}


def _config() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        config: dict[str, Any] = tomllib.load(f)["tool"]["importlinter"]
    return config


def _contracts() -> list[dict[str, Any]]:
    contracts: list[dict[str, Any]] = _config()["contracts"]
    return contracts


def _contract(contract_id: str) -> dict[str, Any]:
    (found,) = [c for c in _contracts() if c["id"] == contract_id]
    return found


def _lint_imports(project: Path, src: Path) -> subprocess.CompletedProcess[str]:
    """Run the `lint-imports` command on `project`'s pyproject.toml, analysing the package under `src`."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert command is not None, "lint-imports is not installed (it is in the test extra)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [command, "--no-cache", "--no-logo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # the tests read the exit status
    )


def test_the_contracts_hold() -> None:
    result = _lint_imports(ROOT, PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in _contracts():
        assert f"{contract['name']} KEPT" in result.stdout


def test_the_contracts_name_the_layers() -> None:
    config = _config()
    assert config["root_package"] == "tls12"
    # Imports under `if TYPE_CHECKING:` are dependencies too, for the layers and for circles.
    assert config.get("exclude_type_checking_imports", False) is False
    core = _contract("core")
    assert set(core["source_modules"]) >= CORE
    assert {"tls12.io", "tls12.cli", "tls12.explain"} <= set(core["forbidden_modules"])
    assert _contract("crypto")["source_modules"] == ["tls12.crypto"]
    assert set(_contract("crypto")["forbidden_modules"]) == {"tls12.record", "tls12.handshake"}
    assert _contract("record")["source_modules"] == ["tls12.record"]
    assert _contract("record")["forbidden_modules"] == ["tls12.handshake"]
    io = _contract("io")
    assert {"tls12.io", "tls12.io.**"} <= set(io["source_modules"])
    assert {"tls12.cli", "tls12.cli.**", "tls12.explain", "tls12.explain.**"} <= set(io["forbidden_modules"])
    redis = _contract("redis")  # an optional extra: only io may import it
    assert redis["forbidden_modules"] == ["redis"]
    assert set(redis["source_modules"]) >= CORE | {"tls12.cli", "tls12.explain"}
    assert _config()["include_external_packages"] is True  # without it, no contract sees redis
    assert _contract("acyclic")["ancestors"] == ["tls12"]
    assert _contract("io-acyclic")["ancestors"] == ["tls12.io"]


def test_every_module_is_in_the_graph() -> None:
    # A directory without __init__.py is a namespace package, which the import graph does not
    # walk: the contracts would pass without ever reading its imports.
    on_disk = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        on_disk.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    graph = grimp.build_graph("tls12", cache_dir=None)
    assert on_disk == set(graph.modules)


def test_every_top_level_module_has_a_place() -> None:
    # A new top-level module or package must be placed in the layers, not slip between them.
    named: set[str] = set()
    for contract in _contracts():
        for key in ("source_modules", "forbidden_modules", "ancestors"):
            named |= {expression.removesuffix(".**") for expression in contract.get(key, [])}
    graph = grimp.build_graph("tls12", cache_dir=None)
    top_level = {"tls12"} | graph.find_children("tls12")
    assert top_level - named == set()


# One planted import per rule, each breaking the contract it names.
PLANTED = [
    ("core", "certs.py", "from .io import keylog", "tls12.certs -> tls12.io.keylog"),
    ("core", "trace.py", "from .cli import output", "tls12.trace -> tls12.cli.output"),
    ("crypto", "crypto/prf.py", "from ..record import layer", "tls12.crypto.prf -> tls12.record.layer"),
    ("crypto", "crypto/kx.py", "from ..handshake import base", "tls12.crypto.kx -> tls12.handshake.base"),
    ("record", "record/layer.py", "from ..handshake import base", "tls12.record.layer -> tls12.handshake.base"),
    (
        "record",
        "record/layer.py",
        "if TYPE_CHECKING:\n    from ..handshake import base",
        "tls12.record.layer -> tls12.handshake.base",
    ),
    ("io", "io/keylog.py", "from ..explain import text", "tls12.io.keylog -> tls12.explain.text"),
    ("redis", "session.py", "import redis", "tls12.session -> redis"),
    ("redis", "cli/serve.py", "from redis import Redis", "tls12.cli.serve -> redis"),
    ("io", "__init__.py", "from .cli import main", "tls12 -> tls12.cli.main"),
    ("acyclic", "messages/extensions.py", "from . import handshake", "No cycles are allowed in tls12.messages."),
    ("io-acyclic", "io/certdict.py", "from . import sslcontext", "No cycles are allowed in tls12.io."),
]


@pytest.mark.parametrize(("contract_id", "module", "line", "reported"), PLANTED)
def test_a_planted_import_breaks_its_contract(
    tmp_path: Path, contract_id: str, module: str, line: str, reported: str
) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(PACKAGE, tmp_path / "src" / "tls12", ignore=shutil.ignore_patterns("__pycache__"))
    planted = tmp_path / "src" / "tls12" / module
    planted.write_text(planted.read_text() + f"\nfrom typing import TYPE_CHECKING\n{line}\n")

    result = _lint_imports(tmp_path, tmp_path / "src")

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{_contract(contract_id)['name']} BROKEN" in result.stdout
    assert reported in result.stdout
