"""The README's examples run as written (with the port of a server started for the test)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tls12.certs import CertificateAuthority
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
    (block,) = [b for b in PYTHON_BLOCKS if "ClientConnection(" in b and "asyncio" not in b]
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "[ApplicationDataReceived(data=b'hello')]" in result.stdout
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 X25519 True" in result.stdout


@pytest.mark.parametrize("marker", ["urllib.request", "asyncio.run"])
def test_drop_in_examples(www_server: tuple[Path, int], marker: str) -> None:
    workdir, port = www_server
    (block,) = [b for b in PYTHON_BLOCKS if marker in b and "4433" in b]
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


def test_session_resumption_example(www_server: tuple[Path, int]) -> None:
    workdir, port = www_server
    (block,) = [b for b in PYTHON_BLOCKS if "session_reused" in b]
    result = subprocess.run([sys.executable, "-c", block.replace("4433", str(port))], cwd=workdir,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "1"]


def test_mutual_tls_example(tmp_path: Path) -> None:
    """The asyncio mutual-TLS example, with the certificates it names made by a throwaway CA."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free_tcp_port = probe.getsockname()[1]
    (block,) = [b for b in PYTHON_BLOCKS if "CERT_REQUIRED" in b]
    ca, client_ca = CertificateAuthority(), CertificateAuthority("tls12 client CA")
    server, client = ca.issue(("localhost",)), client_ca.issue(("client.example",), key_type="ecdsa", client=True)
    for name, data in {"ca.pem": ca.cert_pem(), "client-ca.pem": client_ca.cert_pem(),
                       "server.pem": server.cert_pem(), "server.key": server.key_pem(),
                       "client.pem": client.cert_pem(), "client.key": client.key_pem()}.items():
        (tmp_path / name).write_bytes(data)
    assert "8443" in block
    result = subprocess.run([sys.executable, "-c", block.replace("8443", str(free_tcp_port))], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello, client.example"


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


def _start_serve(argv: list[str], workdir: Path) -> tuple[subprocess.Popen[str], int, int]:
    """`tls12 serve ARGV` on a free port instead of the one it names (or 4433): the process, the port
    the README gives it and the one it listens on."""
    port = 4433
    if "--port" in argv:
        i = argv.index("--port")
        port = int(argv[i + 1])
        del argv[i:i + 2]
    proc = subprocess.Popen([sys.executable, "-m", "tls12", *argv[1:], "--port", "0"], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", first)
    if not match:
        proc.terminate()
        proc.wait(timeout=10)
        raise AssertionError(first)
    return proc, port, int(match.group(1))


def test_mutual_tls_command_line_example(tmp_path: Path) -> None:
    (block,) = [b for b in BASH_BLOCKS if b.startswith("tls12 serve --www --write-client-cert")]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    ports: dict[str, str] = {}
    servers: list[subprocess.Popen[str]] = []
    outputs: list[str] = []
    try:
        for command in commands:
            argv = shlex.split(command.removesuffix("&"))
            if command.endswith("&"):
                proc, named, port = _start_serve(argv, tmp_path)
                servers.append(proc)
                ports[str(named)] = str(port)
                continue
            argv = [re.sub(r"443\d", lambda m: ports[m.group(0)], arg) for arg in argv]
            if argv[0] == "tls12":
                argv = [sys.executable, "-m", "tls12", *argv[1:]]
            result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
            assert result.returncode == 0, (command, result.stderr)
            outputs.append(result.stdout)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=10)
    assert len(servers) == 2 and len(outputs) == 4, commands
    *with_certificate, anonymous = outputs
    for out in with_certificate:
        assert "Client certificate:     CN=tls12-client,O=tls12 throwaway" in out, out
        assert "Client verified:        yes (clientAuth)" in out, out
    assert "Client certificate:     no client certificate (asked for, optional)" in anonymous, anonymous


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


def _masked(text: str) -> list[str]:
    """Lines with what changes on every run masked: hex values, sizes, the port."""
    text = re.sub(r"[0-9a-f]{8,}", "<hex>", text)
    text = re.sub(r"\d+ bytes?\b", "N bytes", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    return [line.rstrip() for line in text.splitlines()]


def _excerpt_after(marker: str) -> str:
    """The first ```text block after `marker` in the README."""
    at = TEXT.index(marker)
    start = TEXT.index("```text\n", at) + len("```text\n")
    return TEXT[start : TEXT.index("```", start)]


@pytest.mark.parametrize(("marker", "argv"), [
    ("## What `tls12 demo` shows", ["demo"]),
    ("`tls12 demo --resume` connects twice", ["demo", "--resume"]),
], ids=["demo", "resume"])
def test_a_demo_excerpt_is_what_the_demo_prints(marker: str, argv: list[str], tmp_path: Path) -> None:
    """Each run of the excerpt (a section, or part of one between lines of "...") is in the output of a real
    run, in order, once what changes from run to run (hex values, sizes, the port) is masked."""
    result = subprocess.run([sys.executable, "-m", "tls12", *argv, "--output", str(tmp_path / "out.txt")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    printed = _masked((tmp_path / "out.txt").read_text(encoding="utf-8"))
    runs: list[list[str]] = [[]]
    for line in _masked(_excerpt_after(marker)):
        if line.strip() == "...":
            runs.append([])
        elif re.match(r"(Step \w+  |The flights|Negotiated)", line):  # a section: the excerpt picks some
            runs.append([line])
        else:
            runs[-1].append(line)
    at = 0
    for run in runs:
        while run and not run[-1]:
            run.pop()  # the blank line before the next section
        if not run:
            continue
        found = next((i for i in range(at, len(printed) - len(run) + 1) if printed[i : i + len(run)] == run), None)
        assert found is not None, f"not in the demo's output (after line {at}):\n" + "\n".join(run)
        at = found + len(run)
