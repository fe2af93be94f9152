"""Every suite and key type through the drop-in context and the command line, end to end.

The peer is OpenSSL (the stdlib `ssl` module in a thread, or curl-free `tls12` processes), on
127.0.0.1 on a port the OS picks; every server is stopped by the test and every process runs
with a timeout. The certificates are a Let's-Encrypt-shaped set: an RSA root, an ECDSA P-256 leaf
under an ECDSA intermediate, an RSA leaf and an Ed25519 leaf under the root.
"""

from __future__ import annotations

import re
import shlex
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import tls12
from cli_support import serve as serve_process
from cli_support import tls12 as run_tls12
from tls12 import NamedGroup
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.suites import SUITES, KeyExchange, SuiteSpec
from tls12.enums import SignatureScheme

from sslcompat_support import ServeFn, connect, echo

CLIENT, SERVER = ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER
ALL_SPECS = list(SUITES.values())
README = Path(__file__).resolve().parent.parent / "README.md"
#: What a new context enables: the ssl module's default selection among tls12's suites, in OpenSSL's
#: order (AES-256 first; no DHE-RSA-CHACHA20-POLY1305, which the ssl module's default leaves out).
DEFAULT_NAMES = [
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES128-GCM-SHA256",
]


@dataclass(frozen=True)
class Files:
    root: Path
    rsa: tuple[Path, Path]
    ecdsa: tuple[Path, Path]
    ecdsa_p384: tuple[Path, Path]
    ed25519: tuple[Path, Path]
    leaves: dict[str, bytes]  # kind -> the leaf's DER
    dh: dict[str, Path]  # ffdhe2048, ffdhe3072 -> PEM DH parameters


def _write(d: Path, name: str, issued: IssuedCertificate) -> tuple[Path, Path]:
    cert, key = d / f"{name}.pem", d / f"{name}.key"
    cert.write_bytes(issued.cert_pem())
    key.write_bytes(issued.key_pem())
    return cert, key


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    d = tmp_path_factory.mktemp("e2e")
    root = CertificateAuthority("e2e root (RSA)")
    intermediate = root.intermediate("e2e intermediate (ECDSA)", key_type="ecdsa")
    names = ("localhost", "127.0.0.1")
    issued = {"rsa": root.issue(names, key_type="rsa"), "ecdsa": intermediate.issue(names, key_type="ecdsa"),
              "ecdsa_p384": intermediate.issue(names, key_type="ecdsa-p384"),
              "ed25519": root.issue(names, key_type="ed25519")}
    (d / "root.pem").write_bytes(root.root_pem())
    dh = {}
    for group in ("ffdhe2048", "ffdhe3072"):
        dh[group] = d / f"{group}.pem"
        subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", f"group:{group}",
                        "-out", str(dh[group])], check=True, capture_output=True, timeout=30)
    return Files(d / "root.pem", _write(d, "rsa", issued["rsa"]), _write(d, "ecdsa", issued["ecdsa"]),
                 _write(d, "ecdsa_p384", issued["ecdsa_p384"]), _write(d, "ed25519", issued["ed25519"]),
                 {k: v.certificate.public_bytes(serialization.Encoding.DER) for k, v in issued.items()}, dh)


def stdlib_server(files: Files, ciphers: str = "ALL") -> ssl.SSLContext:
    """OpenSSL as a TLS 1.2 server with an RSA and an ECDSA chain and ffdhe2048, enabling `ciphers`."""
    ctx = ssl.SSLContext(SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(*files.rsa)
    ctx.load_cert_chain(*files.ecdsa)
    ctx.load_dh_params(str(files.dh["ffdhe2048"]))
    ctx.set_ciphers(ciphers)
    return ctx


def stdlib_client(files: Files, ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(files.root)
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


def our_client(files: Files) -> tls12.SSLContext:
    ctx = tls12.SSLContext(CLIENT)
    ctx.load_verify_locations(files.root)
    return ctx


def our_server(files: Files, *kinds: str) -> tls12.SSLContext:
    ctx = tls12.SSLContext(SERVER)
    for kind in kinds or ("rsa", "ecdsa"):
        ctx.load_cert_chain(*getattr(files, kind))
    return ctx


def stdlib_entry(name: str) -> dict[str, Any]:
    probe = ssl.SSLContext(CLIENT)
    probe.set_ciphers(name)
    (entry,) = [c for c in probe.get_ciphers() if c["protocol"] == "TLSv1.2"]
    return entry


def conn_of(sock: Any) -> Any:
    """The core connection under one of our sockets."""
    return sock._engine.conn


def cipher_and_conn(sock: Any) -> tuple[Any, Any]:
    answer = (sock.cipher(), sock.shared_ciphers(), conn_of(sock))
    echo(sock)
    return answer


def expected_leaf(spec: SuiteSpec) -> str:
    return "ecdsa" if "ECDSA" in spec.openssl_name else "rsa"


# -- the drop-in context, each suite, both roles ------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.openssl_name)
def test_our_client_speaks_each_suite_with_openssl(spec: SuiteSpec, files: Files, serve: ServeFn) -> None:
    ours = our_client(files)
    ours.set_ciphers(spec.openssl_name)
    assert ours.get_ciphers() == [stdlib_entry(spec.openssl_name)]
    server = serve(stdlib_server(files), lambda sock: (sock.cipher(), echo(sock))[0])
    with connect(ours, server.port) as sock:
        assert sock.cipher() == (spec.openssl_name, "TLSv1.2", spec.bits)
        assert sock.getpeercert(binary_form=True) == files.leaves[expected_leaf(spec)]
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    assert server.result() == (spec.openssl_name, "TLSv1.2", spec.bits)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.openssl_name)
def test_our_server_speaks_each_suite_with_openssl(spec: SuiteSpec, files: Files, serve: ServeFn) -> None:
    ours = our_server(files, "rsa", "ecdsa")
    ours.set_ciphers("HIGH:kRSA")  # static RSA named: every suite on
    server = serve(ours, cipher_and_conn)
    with connect(stdlib_client(files, spec.openssl_name), server.port) as sock:
        assert sock.cipher() == (spec.openssl_name, "TLSv1.2", spec.bits)
        # The chain the handshake chose: the ECDSA one for an ECDSA suite, the RSA one otherwise.
        assert sock.getpeercert(binary_form=True) == files.leaves[expected_leaf(spec)]
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    cipher, shared, conn = server.result()
    assert cipher == (spec.openssl_name, "TLSv1.2", spec.bits)
    assert shared == [cipher]
    assert conn.credential.key_type.value.startswith(expected_leaf(spec))
    if spec.key_exchange is KeyExchange.RSA:
        assert conn.group is None and conn.signature_scheme is None
    elif spec.key_exchange is KeyExchange.DHE:
        assert NamedGroup(conn.group).name.startswith("FFDHE")


def test_an_ed25519_certificate_serves_the_ecdsa_suites(files: Files, serve: ServeFn) -> None:
    server = serve(our_server(files, "ed25519"), cipher_and_conn)
    with connect(stdlib_client(files, "ECDHE-ECDSA-AES256-GCM-SHA384"), server.port) as sock:
        assert sock.getpeercert(binary_form=True) == files.leaves["ed25519"]
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
    cipher, _, conn = server.result()
    assert cipher[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"
    assert conn.signature_scheme == SignatureScheme.ED25519


def test_a_new_context_enables_what_the_ssl_module_enables() -> None:
    for protocol in (CLIENT, SERVER):
        ctx = tls12.SSLContext(protocol)
        assert [c["name"] for c in ctx.get_ciphers()] == DEFAULT_NAMES
        assert ctx.get_ciphers() == [stdlib_entry(n) for n in DEFAULT_NAMES]


def test_static_rsa_is_off_until_named(files: Files, serve: ServeFn) -> None:
    """OpenSSL's DEFAULT includes static RSA; tls12 leaves it off in both roles until a term names it."""
    only_rsa = stdlib_client(files, "AES128-GCM-SHA256")
    server = serve(our_server(files, "rsa"), cipher_and_conn)
    with pytest.raises(ssl.SSLError):
        connect(only_rsa, server.port).close()
    server.join()
    server_ctx = our_server(files, "rsa")
    server_ctx.set_ciphers("DEFAULT")
    assert "AES128-GCM-SHA256" not in {c["name"] for c in server_ctx.get_ciphers()}
    server_ctx.set_ciphers("DEFAULT:AES128-GCM-SHA256")
    server = serve(server_ctx, cipher_and_conn)
    with connect(only_rsa, server.port) as sock:
        assert sock.cipher() == ("AES128-GCM-SHA256", "TLSv1.2", 128)
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
    # Our client, by default, does not offer it to an OpenSSL server that would take it.
    server = serve(stdlib_server(files, "AES128-GCM-SHA256"), echo)
    with pytest.raises(ssl.SSLError):
        connect(our_client(files), server.port).close()
    server.join()
    with pytest.raises(ssl.SSLError, match="No cipher can be selected"):
        our_client(files).set_ciphers("HIGH:!kEECDH:!kDHE")


@pytest.mark.parametrize("server_preference", [True, False], ids=["server-order", "client-order"])
def test_op_cipher_server_preference_is_honoured(server_preference: bool, files: Files, serve: ServeFn) -> None:
    ours = our_server(files, "rsa")
    ours.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    assert ours.options & ssl.OP_CIPHER_SERVER_PREFERENCE  # the stdlib's default, and ours
    if not server_preference:
        ours.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    server = serve(ours, cipher_and_conn)
    client = stdlib_client(files, "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
    with connect(client, server.port) as sock:
        chosen = sock.cipher()[0]
        sock.sendall(b"x")
        sock.recv(1)
    assert chosen == ("ECDHE-RSA-AES128-GCM-SHA256" if server_preference else "ECDHE-RSA-AES256-GCM-SHA384")
    # The same choice as an OpenSSL server with the same settings.
    std = stdlib_server(files, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    if not server_preference:
        std.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    server = serve(std, echo)
    with connect(client, server.port) as sock:
        assert sock.cipher()[0] == chosen
        sock.sendall(b"x")
        sock.recv(1)


@pytest.mark.parametrize("client_first", ["ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES256-GCM-SHA384"])
def test_chacha20_first_for_a_client_that_lists_it_first(client_first: str, files: Files, serve: ServeFn) -> None:
    ours = our_server(files, "rsa")
    ours.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305")
    ours.options |= 0x200000  # OP_PRIORITIZE_CHACHA: what tls12 does with it or without
    server = serve(ours, cipher_and_conn)
    others = ":".join(n for n in ("ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES256-GCM-SHA384",
                                  "ECDHE-RSA-AES128-GCM-SHA256") if n != client_first)
    with connect(stdlib_client(files, f"{client_first}:{others}"), server.port) as sock:
        chosen = sock.cipher()[0]
        sock.sendall(b"x")
        sock.recv(1)
    expected = "ECDHE-RSA-CHACHA20-POLY1305" if "CHACHA" in client_first else "ECDHE-RSA-AES128-GCM-SHA256"
    assert chosen == expected


def test_shared_ciphers_over_several_suites_as_in_the_stdlib(files: Files, serve: ServeFn) -> None:
    server_string = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES256-GCM-SHA384:"
                     "ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384")
    client = stdlib_client(files, "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
                                  "AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384")
    answers = []
    for ctx in (stdlib_server(files, server_string), our_server(files, "rsa", "ecdsa")):
        if isinstance(ctx, tls12.SSLContext):
            ctx.set_ciphers(server_string)
        server = serve(ctx, lambda sock: (sock.shared_ciphers(), echo(sock))[0])
        with connect(client, server.port) as sock:
            sock.sendall(b"x")
            sock.recv(1)
        answers.append([c for c in server.result() if c[1] == "TLSv1.2"])
    assert answers[0] == answers[1]
    assert [c[0] for c in answers[1]] == ["ECDHE-ECDSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384",
                                          "ECDHE-RSA-AES128-GCM-SHA256", "AES256-GCM-SHA384"]


@pytest.mark.parametrize(("curve", "group"), [("X448", NamedGroup.X448), ("secp521r1", NamedGroup.SECP521R1)])
def test_set_ecdh_curve_with_the_new_curves(curve: str, group: NamedGroup, files: Files, serve: ServeFn) -> None:
    client = our_client(files)
    client.set_ecdh_curve(curve)
    server = serve(stdlib_server(files, "ECDHE+AESGCM"), echo)
    with connect(client, server.port) as sock:
        assert conn_of(sock).group == group
        sock.sendall(b"x")
        sock.recv(1)
    ours = our_server(files, "rsa")
    ours.set_ecdh_curve(curve)
    server = serve(ours, cipher_and_conn)
    with connect(stdlib_client(files, "ECDHE+AESGCM"), server.port) as sock:
        sock.sendall(b"x")
        sock.recv(1)
    assert server.result()[2].group == group


def test_load_dh_params_sets_the_servers_dhe_group(files: Files, serve: ServeFn) -> None:
    ours = our_server(files, "rsa")
    ours.load_dh_params(str(files.dh["ffdhe3072"]))
    server = serve(ours, cipher_and_conn)
    with connect(stdlib_client(files, "DHE-RSA-AES128-GCM-SHA256"), server.port) as sock:
        assert sock.cipher()[0] == "DHE-RSA-AES128-GCM-SHA256"
        sock.sendall(b"x")
        sock.recv(1)
    assert server.result()[2].group == NamedGroup.FFDHE3072


def test_load_cert_chain_of_the_same_kind_replaces_the_chain(files: Files, serve: ServeFn) -> None:
    ours = our_server(files, "rsa", "ecdsa", "ecdsa_p384")
    server = serve(ours, echo)
    with connect(stdlib_client(files, "ECDHE-ECDSA-AES128-GCM-SHA256"), server.port) as sock:
        assert sock.getpeercert(binary_form=True) == files.leaves["ecdsa_p384"]
        sock.sendall(b"x")
        sock.recv(1)


# -- the command line ---------------------------------------------------------------------------------------


def _field(text: str, name: str) -> str:
    match = re.search(rf"^\s*{re.escape(name)}:\s+(.*?)\s*$", text, re.MULTILINE | re.IGNORECASE)
    assert match is not None, f"no {name!r} in:\n{text}"
    return match.group(1)


@pytest.mark.parametrize(("ciphers", "key", "certificate"), [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa-p256", "ecdsa-p256 certificate for localhost"),
    ("ECDHE-RSA-CHACHA20-POLY1305", "rsa", "rsa certificate for localhost"),
    ("ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256", "ecdsa-p256", "ecdsa-p256 certificate for localhost"),
])
def test_serve_with_an_rsa_and_an_ecdsa_pair(ciphers: str, key: str, certificate: str, files: Files,
                                             tmp_path: Path) -> None:
    args = ["--www", "--cert", str(files.rsa[0]), "--key", str(files.rsa[1]),
            "--cert", str(files.ecdsa[0]), "--key", str(files.ecdsa[1])]
    with serve_process(tmp_path, *args) as server:
        result = run_tls12("connect", f"localhost:{server.port}", "--cafile", str(files.root), "--ciphers", ciphers,
                           "--http-get", "/")
        line = server.wait_for(rb"handshake ok: [^\n]*").group(0).decode()
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "key") == key
    page = result.stdout.split("<pre>", 1)[1]
    assert _field(page, "Certificate") == certificate
    assert line.endswith(f"certificate {certificate}")
    assert _field(page, "Cipher suite").endswith(f"({ciphers.split(':', maxsplit=1)[0]})")


@pytest.mark.parametrize(("key_type", "key"), [("ecdsa", "ecdsa-p256"), ("ed25519", "ed25519"), ("rsa", "rsa")])
def test_serve_throwaway_key_types(key_type: str, key: str, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with serve_process(tmp_path, "--www", "--key-type", key_type, "--write-ca", str(ca)) as server:
        result = run_tls12("connect", f"localhost:{server.port}", "--cafile", str(ca), "--http-get", "/")
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "key") == key
    assert _field(result.stdout.split("<pre>", 1)[1], "Certificate") == f"{key} certificate for localhost"
    if key_type == "ed25519":
        assert _field(result.stdout, "signature scheme") == "ed25519"


def test_connect_and_serve_dhe_and_static_rsa(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with serve_process(tmp_path, "--www", "--write-ca", str(ca), "--ciphers", "DHE:kRSA") as server:
        dhe = run_tls12("connect", f"localhost:{server.port}", "--cafile", str(ca), "--ciphers",
                        "DHE-RSA-AES256-GCM-SHA384", "--http-get", "/")
        static = run_tls12("connect", f"localhost:{server.port}", "--cafile", str(ca), "--ciphers",
                           "AES128-GCM-SHA256", "--http-get", "/")
        refused = run_tls12("connect", f"localhost:{server.port}", "--cafile", str(ca), "--ciphers", "ECDHE")
    assert dhe.returncode == 0, dhe.stderr
    assert _field(dhe.stdout, "key exchange") == "DHE"
    assert _field(dhe.stdout, "group").startswith("ffdhe")
    assert static.returncode == 0, static.stderr
    assert _field(static.stdout, "key exchange") == "RSA"
    assert _field(static.stdout, "group") == "(none: RSA key exchange)"
    assert _field(static.stdout, "signature scheme") == "(none: RSA key exchange)"
    page = static.stdout.split("<pre>", 1)[1]
    assert _field(page, "Key exchange") == "RSA"
    assert refused.returncode == 1 and "handshake failed" in refused.stderr


def test_ciphers_naming_only_unnamed_static_rsa_says_so() -> None:
    for command, args in (("serve", ["--port", "0"]), ("connect", ["127.0.0.1:1", "--insecure"])):
        result = run_tls12(command, *args, "--ciphers", "HIGH:!kEECDH:!kDHE", timeout=20)
        assert result.returncode == 2
        assert "static RSA (AES256-GCM-SHA384, AES128-GCM-SHA256) is enabled only when named" in result.stderr


# -- the README's examples ------------------------------------------------------------------------------------


def _bash_block(starting: str) -> str:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if b.lstrip().startswith(starting)]
    return str(block)


def test_readme_ecdsa_example(tmp_path: Path) -> None:
    serve_line, connect_line = [line for line in _bash_block("tls12 serve --www --key-type ecdsa").splitlines() if line]
    serve_args = shlex.split(serve_line.split("&")[0])[2:]
    serve_args = [a if a != "ca.pem" else str(tmp_path / "ca.pem") for a in serve_args]
    with serve_process(tmp_path, *serve_args) as server:
        argv = shlex.split(connect_line.replace("4433", str(server.port)).replace("ca.pem", str(tmp_path / "ca.pem")))
        result = run_tls12(*argv[1:])
    assert result.returncode == 0, result.stderr
    assert "ECDHE-ECDSA-CHACHA20-POLY1305" in _field(result.stdout, "cipher suite")


def test_readme_lets_encrypt_example(files: Files, tmp_path: Path) -> None:
    """The two-certificate command as written, with the files of a Let's-Encrypt-shaped set in place of
    /etc/letsencrypt, loopback in place of 0.0.0.0, a free port in place of 443, and no sudo."""
    command = _bash_block("sudo tls12 serve").replace("\\\n", " ")
    argv = shlex.split(command)[3:]  # after "sudo tls12 serve"
    live = "/etc/letsencrypt/live/example.com-"
    swap = {f"{live}rsa/fullchain.pem": files.rsa[0], f"{live}rsa/privkey.pem": files.rsa[1],
            f"{live}ecdsa/fullchain.pem": files.ecdsa[0], f"{live}ecdsa/privkey.pem": files.ecdsa[1],
            "0.0.0.0": "127.0.0.1"}
    argv = [str(swap.get(a, a)) for a in argv]
    port_at = argv.index("--port")
    del argv[port_at:port_at + 2]
    with serve_process(tmp_path, *argv) as server:
        for ciphers, key in (("ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa-p256"), ("ECDHE-RSA-AES128-GCM-SHA256", "rsa")):
            result = run_tls12("connect", f"localhost:{server.port}", "--cafile", str(files.root),
                               "--ciphers", ciphers, "--http-get", "/")
            assert result.returncode == 0, result.stderr
            assert _field(result.stdout, "key") == key
        # A client that takes both gets the ECDSA chain, as the README says.
        result = run_tls12("connect", f"localhost:{server.port}", "--cafile", str(files.root), "--http-get", "/")
        assert _field(result.stdout, "key") == "ecdsa-p256"


def test_readme_two_certificates_example(files: Files, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "ecdsa/fullchain.pem" in b]
    for kind in ("rsa", "ecdsa"):
        (tmp_path / kind).mkdir()
        cert, key = getattr(files, kind)
        (tmp_path / kind / "fullchain.pem").write_bytes(cert.read_bytes())
        (tmp_path / kind / "privkey.pem").write_bytes(key.read_bytes())
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                                         "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
                                         "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"])
