"""docs/SECURITY.md names, for each attack, the tests that prove it cannot happen: they must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "SECURITY.md"
REFERENCE = re.compile(r"`((?:fuzz/)?test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`")


def _references() -> list[tuple[str, str]]:
    return sorted(set(REFERENCE.findall(DOC.read_text())))


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_security_doc_names_tests() -> None:
    refs = _references()
    assert len(refs) >= 60
    attacks = ["Renegotiation", "Early ChangeCipherSpec", "SMACK", "Invalid-curve", "GCM nonce reuse", "Heartbleed",
               "CRIME", "POODLE", "Lucky13", "FREAK", "Logjam", "ROBOT", "Raccoon", "Downgrade", "Truncation"]
    text = DOC.read_text()
    assert all(f"**{a}" in text or a in text for a in attacks)


@pytest.mark.parametrize(("file", "name"), _references(), ids=[f"{f}::{n}" for f, n in _references()])
def test_security_doc_reference_exists(file: str, name: str) -> None:
    path = ROOT / "tests" / file
    assert path.exists(), f"docs/SECURITY.md names {file}, which does not exist"
    assert name in _test_functions(path), f"docs/SECURITY.md names {file}::{name}, which does not exist"
