"""Options for the fuzz tests.

``--fuzz-examples N`` sets how many inputs each Hypothesis fuzz target tries (default 500,
derandomized so CI is repeatable; the whole set stays well under a minute). A longer Hypothesis
run by hand: ``pytest tests/fuzz --fuzz-examples 20000``; for atheris see atheris_main.py."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-examples", type=int, default=500,
                     help="inputs per Hypothesis fuzz target (tests/fuzz/test_fuzz_targets.py)")


@pytest.fixture(scope="session")
def fuzz_examples(request: pytest.FixtureRequest) -> int:
    return int(request.config.getoption("--fuzz-examples", default=500))
