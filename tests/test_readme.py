"""The README's examples run as written (with the port of a server started for the test)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tls12.config import DEFAULT_CIPHER_SUITES
from tls12.crypto.suites import SUITES, Authentication

from redis_support import free_port

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", TEXT, re.S)


@pytest.fixture
def www_server(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """`tls12 serve --www --write-ca ca.pem` on a free port, in a scratch directory."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tls12", "serve", "--www", "--write-ca", "ca.pem", "--port", "0"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", first)
        assert match, first
        yield tmp_path, int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_readme_starts_with_the_two_commands() -> None:
    lines = TEXT.splitlines()
    assert lines[3] == "pip install . && tls12 demo"
    assert lines[4] == "bash .ci/install-peers && pip install -e '.[test]' && pytest"


def test_sans_io_example(tmp_path: Path) -> None:
    (block,) = [b for b in PYTHON_BLOCKS if "ClientConnection(" in b]
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "[ApplicationDataReceived(data=b'hello')]" in result.stdout
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 X25519 True" in result.stdout


@pytest.mark.parametrize("marker", ["urllib.request", "asyncio.run"])
def test_drop_in_examples(www_server: tuple[Path, int], marker: str) -> None:
    workdir, port = www_server
    (block,) = [b for b in PYTHON_BLOCKS if marker in b]
    assert "4433" in block
    result = subprocess.run([sys.executable, "-c", block.replace("4433", str(port))], cwd=workdir,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Protocol:               TLSv1.2" in result.stdout
    assert "SNI:                    localhost" in result.stdout
    if marker == "asyncio.run":
        # The server's first default suite its RSA certificate serves (its order wins; the client offers all).
        first = next(SUITES[s] for s in DEFAULT_CIPHER_SUITES
                     if SUITES[s].authentication is Authentication.RSA_SIGNATURE)
        assert str((first.openssl_name, "TLSv1.2", first.bits)) in result.stdout


def test_command_line_example(www_server: tuple[Path, int]) -> None:
    workdir, port = www_server
    (block,) = [b for b in BASH_BLOCKS if b.startswith("tls12 serve --www --write-ca ca.pem")]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands[0].startswith("tls12 serve --www --write-ca ca.pem")  # already running: the fixture
    for command in commands[1:]:
        argv = shlex.split(command.replace("4433", str(port)))
        if argv[0] == "tls12":
            argv = [sys.executable, "-m", "tls12", *argv[1:]]
        result = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, (command, result.stderr)
        assert "Extended master secret: yes" in result.stdout, command


def test_fleet_example(tmp_path: Path) -> None:
    """Redis, then `tls12 serve --workers 2` sharing sessions through it, then `openssl s_client -reconnect`:
    one new session, five resumed, as the README says (on free ports instead of 6379 and 4433)."""
    (block,) = [b for b in BASH_BLOCKS if b.startswith("redis-server ")]
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert [c.split()[0] for c in commands] == ["redis-server", "tls12", "openssl"]
    ports = {"6379": str(free_port()), "4433": str(free_port())}
    for port in ports:
        assert port in block

    def local(command: str) -> str:
        for old, new in ports.items():
            command = command.replace(old, new)
        # `tls12` is this checkout's, whatever is on PATH
        return f'tls12() {{ "{sys.executable}" -m tls12 "$@"; }}\n{command}'

    started: list[subprocess.Popen[bytes]] = []
    try:
        for number, command in enumerate(commands[:2]):
            assert command.endswith("&")
            with (tmp_path / f"background-{number}.log").open("wb") as out:
                started.append(subprocess.Popen(["bash", "-c", local(command.removesuffix("&"))], cwd=tmp_path,
                                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                                start_new_session=True))
        serve_log = tmp_path / "background-1.log"
        deadline = time.monotonic() + 60
        while "listening on" not in serve_log.read_text(errors="replace"):
            assert time.monotonic() < deadline and all(p.poll() is None for p in started), (
                serve_log.read_text(errors="replace") + (tmp_path / "background-0.log").read_text(errors="replace"))
            time.sleep(0.1)
        result = subprocess.run(["bash", "-c", local(commands[2])], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert [line.split(",")[0] for line in result.stdout.splitlines()] == ["New"] + ["Reused"] * 5, result.stdout
    finally:
        for process in reversed(started):  # each in its own session: the whole group goes
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    assert "sessions and ticket keys in Redis at redis://127.0.0.1:" in serve_log.read_text()
    assert serve_log.read_text().count("session resumed") == 5
