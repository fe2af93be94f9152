"""Mutual TLS explained: the CertificateRequest, the client's Certificate and CertificateVerify, and a
failure at each of them.

Live, traced at both ends or at one (our server explaining the client's certificate, our client
explaining what it sent), and replayed from a capture by `tls12 explain`, which checks the client's
chain and its CertificateVerify itself: in TLS 1.2 everything the signature covers is in the clear.
What the explanation says was signed is checked here independently: the handshake messages are cut
out of the recorded bytes by hand, and the client's signature is verified over them with
`cryptography` alone.

The golden explanations of the deterministic mutual-TLS connection (tests/data/golden/mutual_tls.txt)
are in test_explain_golden.py; its failures' are here (tests/data/explain/mutual_<case>.live.txt and
.replay.txt), re-recorded with ``pytest tests/test_explain_mutual.py --update-golden``:

* no client certificate where one is required: handshake_failure at step 5b;
* a client certificate from a CA the server does not trust: unknown_ca at step 5b;
* a certificate that is not for client authentication: unsupported_certificate at step 5b;
* a CertificateVerify whose signature does not verify: decrypt_error at step 6b;
* a CertificateVerify with a scheme the CertificateRequest did not offer: illegal_parameter at step 6b.

The last two rewrite the client's flight on its way (our client signs correctly), so only the server
and an observer of the wire are traced for them: the client's trace would show what it sent, not
what arrived.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from test_explain_golden import EXPLAIN, _compare, _update
from test_golden import CA_PEM, CLIENT_CA_PEM, CLOCK, DATA, SERVER_KEY, SERVER_NAME, SERVER_PEM, _configs
from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection, SignatureScheme, TLSError
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.cli.main import main
from tls12.crypto.credentials import Credential
from tls12.explain import Tagged, render
from tls12.explain.capture import C2S, S2C, Capture
from tls12.explain.model import Recorder
from tls12.explain.pcapwrite import ConnectionWriter
from tls12.explain.replay import replay

from helpers import StdlibPeer, stdlib_client_context, stdlib_server_context

Flows = list[tuple[str, bytes]]
Tamper = Callable[[bytes], bytes]

#: The steps (the client asks for a ticket: the server's NewSessionTicket is step 8, before its ChangeCipherSpec).
STEPS = ["1", "2", "3", "4", "4b", "5", "5b", "6", "6b", "7a", "7b", "8", "8a", "8b"]
STRANGER_PEM, STRANGER_KEY = DATA / "client-stranger.pem", DATA / "client-stranger.key"


# -- running a mutual-TLS connection ---------------------------------------------------------------------


def run(client_config: ClientConfig, server_config: ServerConfig, traced: tuple[str, ...] = ("client", "server"),
        tamper: Tamper | None = None) -> tuple[list[Tagged], Flows]:
    """Our client against our server in memory, the traced ends recorded; a failing side's alert is still
    delivered. `tamper` rewrites every client flight on its way. Returns the events and the bytes as sent."""
    recorder = Recorder()
    client = ClientConnection(client_config, server_name=SERVER_NAME,
                              tracer=recorder.tracer("client") if "client" in traced else None)
    server = ServerConnection(server_config, tracer=recorder.tracer("server") if "server" in traced else None)
    flows: Flows = []
    for _ in range(10):
        moved = False
        for name, sender, receiver in (("client", client, server), ("server", server, client)):
            data = sender.data_to_send()
            if not data:
                continue
            moved = True
            if name == "client" and tamper is not None:
                data = tamper(data)
            flows.append((name, data))
            if receiver.failure is None:
                with contextlib.suppress(TLSError):
                    receiver.receive_data(data)
        if not moved:
            break
    return recorder.events, flows


def rewrite_verify(change: Callable[[bytes], bytes]) -> Tamper:
    """Rewrite the CertificateVerify (a plaintext handshake record of its own, before ChangeCipherSpec)."""
    def tamper(flight: bytes) -> bytes:
        out, pos, plain = [], 0, True
        while pos < len(flight):
            header, length = flight[pos : pos + 5], int.from_bytes(flight[pos + 3 : pos + 5], "big")
            body = flight[pos + 5 : pos + 5 + length]
            if plain and header[0] == 22 and body[:1] == b"\x0f":
                body = change(body)
                header = header[:3] + len(body).to_bytes(2, "big")
            plain = plain and header[0] != 20
            out.append(header + body)
            pos += 5 + length
        return b"".join(out)

    return tamper


def _flip_last_byte(message: bytes) -> bytes:
    return message[:-1] + bytes((message[-1] ^ 0x01,))


def _scheme_p384(message: bytes) -> bytes:
    return message[:4] + b"\x05\x03" + message[6:]  # ecdsa_secp384r1_sha384: not in the CertificateRequest


def handshake_messages(flows: Flows) -> list[bytes]:
    """Every plaintext handshake message in transcript order, cut out of the recorded bytes by hand (a side's
    records after its ChangeCipherSpec are encrypted: its Finished is left out)."""
    buffers = {"client": b"", "server": b""}
    plain = {"client": True, "server": True}
    messages: list[bytes] = []
    for sender, flight in flows:
        pos = 0
        while pos < len(flight):
            ctype, length = flight[pos], int.from_bytes(flight[pos + 3 : pos + 5], "big")
            plain[sender] = plain[sender] and ctype != 20
            if ctype == 22 and plain[sender]:
                buffers[sender] += flight[pos + 5 : pos + 5 + length]
                while len(buffers[sender]) >= 4:
                    size = 4 + int.from_bytes(buffers[sender][1:4], "big")
                    if len(buffers[sender]) < size:
                        break
                    messages.append(buffers[sender][:size])
                    buffers[sender] = buffers[sender][size:]
            pos += 5 + length
    return messages


def doc_of(events: list[Tagged]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render(events, "json"))
    return doc


def step(doc: dict[str, Any], number: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["steps"] if s["number"] == number)
    return found


# -- a mutual handshake, live ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_ca() -> CertificateAuthority:
    return CertificateAuthority("tls12 client CA")


@pytest.fixture(scope="module")
def client_leaf(client_ca: CertificateAuthority) -> IssuedCertificate:
    return client_ca.issue(("client.example",), key_type="ecdsa-p384", client=True)


def configs(ca: CertificateAuthority, leaf: IssuedCertificate, client_ca: CertificateAuthority,
            credentials: list[Credential], policy: str = "required") -> tuple[ClientConfig, ServerConfig]:
    return (ClientConfig(trust_anchors=[ca.certificate], client_credentials=credentials),
            ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key, client_auth=policy,  # type: ignore[arg-type]
                         client_trust_anchors=[client_ca.certificate]))


@pytest.mark.parametrize("traced", [("client", "server"), ("client",), ("server",)], ids=["both", "client", "server"])
def test_a_mutual_handshake_explained_live(traced: tuple[str, ...], ca: CertificateAuthority,
                                           leaf: IssuedCertificate, client_ca: CertificateAuthority,
                                           client_leaf: IssuedCertificate) -> None:
    events, flows = run(*configs(ca, leaf, client_ca, [client_leaf.credential()]), traced)
    doc = doc_of(events)
    assert doc["complete"] is True and doc["failure"] is None
    assert [s["number"] for s in doc["steps"] if s["number"]] == STEPS
    assert doc["summary"]["client certificate"] == "CN=client.example,O=tls12 throwaway (ECDSA P-384)"
    assert [i["label"] for i in doc["flights"][2]["messages"]] == \
        ["Certificate", "ClientKeyExchange", "CertificateVerify", "ChangeCipherSpec", "Finished"]

    request = step(doc, "4b")
    fields = {f["name"]: f["value"] for f in request["fields"]}
    assert fields["certificate_authorities"] == client_ca.certificate.subject.rfc4514_string()
    assert [(d["by"], d["what"], d["value"]) for d in request["decisions"]] == \
        ([("server", "client authentication", "required")] if "server" in traced else [])

    certificate = step(doc, "5b")
    decisions = [(d["by"], d["value"]) for d in certificate["decisions"]]
    subject = client_leaf.certificate.subject.rfc4514_string()
    assert decisions == ([("client", "ecdsa-p384 certificate for client.example")] if "client" in traced else []) + \
        ([("server", subject)] if "server" in traced else [])
    if "client" in traced:
        why = certificate["decisions"][0]["why"]
        assert "ecdsa_secp384r1_sha384, its first scheme the server lists" in why
        assert f"its chain reaches {client_ca.certificate.subject.rfc4514_string()}, a CA the server names" in why
    checks = [(c["by"], c["what"], c["status"]) for c in certificate["checks"]]
    assert checks == ([("server", "client certificate[0]", "ok"), ("server", "client certificate[1]", "ok"),
                       ("server", "client certificate chain", "ok")] if "server" in traced else [])
    assert "the leaf certificate's ECDSA P-384 key, of CN=client.example,O=tls12 throwaway: it signs the " \
           "CertificateVerify (step 6b), which proves the client holds it" in certificate["notes"]

    # What 6b says was signed, cut out of the wire by hand, and the signature checked over it here.
    verify = step(doc, "6b")
    messages = handshake_messages(flows)
    at = next(i for i, m in enumerate(messages) if m[0] == 15)
    signed = b"".join(messages[:at])
    assert messages[at].hex() == verify["hex"]
    public = client_leaf.certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(messages[at][8:], signed, ec.ECDSA(hashes.SHA384()))  # scheme 2, length 2, then the DER
    digest = hashes.Hash(hashes.SHA384())
    digest.update(signed)
    listed = (f"signed: the 8 handshake messages before it, as they went over the wire, in order: ClientHello "
              f"({len(messages[0])} bytes), ServerHello ({len(messages[1])} bytes), the server's Certificate "
              f"({len(messages[2])} bytes), ServerKeyExchange ({len(messages[3])} bytes), CertificateRequest "
              f"({len(messages[4])} bytes), ServerHelloDone (4 bytes), the client's Certificate "
              f"({len(messages[6])} bytes), ClientKeyExchange ({len(messages[7])} bytes); {len(signed)} bytes in "
              "all (RFC 5246 §7.4.8)")
    assert verify["notes"][0] == listed
    assert verify["notes"][1].startswith(
        "ecdsa_secp384r1_sha384 (0x0503) by the client leaf certificate's ECDSA P-384 key of "
        f"CN=client.example,O=tls12 throwaway: SHA-384 of those bytes is {digest.finalize().hex()} (not the "
        "suite's PRF hash, SHA-256: the scheme brings its own")
    checks = [(c["by"], c["what"], c["status"]) for c in verify["checks"]]
    assert checks == ([("server", "client CertificateVerify", "ok")] if "server" in traced else [])
    if "server" in traced:
        assert verify["checks"][0]["detail"].startswith(f"ecdsa_secp384r1_sha384 over the {len(signed)} bytes")
        # The client's Finished covers its CertificateVerify too, as the server says (and an observer does).
        [finished] = step(doc, "7b")["checks"]
        assert finished["detail"] == ("PRF(master_secret, 'client finished', Hash(handshake messages up to "
                                      "CertificateVerify))")


def test_an_optional_request_answered_with_nothing(ca: CertificateAuthority, leaf: IssuedCertificate,
                                                   client_ca: CertificateAuthority) -> None:
    """No certificate fits: the client says why and sends an empty one; no CertificateVerify is expected."""
    other = CertificateAuthority("another CA").issue(("c",), key_type="ed25519", client=True)
    client_config, server_config = configs(ca, leaf, client_ca, [other.credential()], "optional")
    server_config = dataclasses.replace(server_config, signature_schemes=tuple(
        s for s in server_config.signature_schemes if s != SignatureScheme.ED25519))
    events, _ = run(client_config, server_config)
    doc = doc_of(events)
    assert doc["complete"] is True
    assert [s["number"] for s in doc["steps"] if s["number"]] == [n for n in STEPS if n != "6b"]
    assert doc["summary"]["client certificate"] == "asked for, none sent"
    certificate = step(doc, "5b")
    assert certificate["decisions"][0]["why"] == (
        "no certificate fits the server's request (ed25519 certificate for c: none of its signature schemes is one "
        "the server lists): an empty Certificate")
    assert certificate["decisions"][1]["why"] == "the client sent none; client_auth is optional: anonymous"
    assert certificate["notes"] == ["an empty Certificate: no CertificateVerify follows (RFC 5246 §7.4.8), and the "
                                    "client stays anonymous if the server lets it"]
    [finished] = [c for c in step(doc, "7b")["checks"] if c["by"] == "server"]
    assert finished["detail"].endswith("Hash(handshake messages up to ClientKeyExchange))")  # no CertificateVerify


# -- failures, live ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    step: str
    alert: str
    error_type: str
    #: What the client sends: "mine" (the golden client certificate), "none", "stranger", "server's".
    credential: str = "mine"
    tamper: Tamper | None = None
    check: str = ""  # the server's failed check on the step


CASES = {
    "no_certificate": Case("5b", "handshake_failure", "NoClientCertificate", "none", check="client certificate"),
    "unknown_ca": Case("5b", "unknown_ca", "UnknownCA", "stranger", check="client certificate chain"),
    "not_for_clients": Case("5b", "unsupported_certificate", "UnsuitablePurpose", "server's",
                            check="client certificate chain"),
    "bad_signature": Case("6b", "decrypt_error", "DecryptError", tamper=rewrite_verify(_flip_last_byte),
                          check="client CertificateVerify"),
    "scheme_not_offered": Case("6b", "illegal_parameter", "IllegalParameter", tamper=rewrite_verify(_scheme_p384),
                               check="client CertificateVerify"),
}


def _stranger(update: bool) -> Credential:
    """A client certificate from a CA the golden server does not trust (stored, so the run is deterministic)."""
    if update and not (STRANGER_PEM.exists() and STRANGER_KEY.exists()):
        ca = CertificateAuthority("tls12 golden stranger CA", now=datetime.datetime(2025, 12, 1, tzinfo=datetime.UTC))
        issued = ca.issue(("client.example",), key_type="ecdsa", client=True,
                          not_after=datetime.datetime(2035, 11, 1, tzinfo=datetime.UTC))
        STRANGER_PEM.write_bytes(issued.cert_pem())
        STRANGER_KEY.write_bytes(issued.key_pem())
    return Credential.from_pem(STRANGER_PEM.read_bytes(), STRANGER_KEY.read_bytes())


def golden_failure(name: str, update: bool, traced: tuple[str, ...] | None = None) -> tuple[list[Tagged], Flows, str]:
    """The golden mutual-TLS connection, failing as `name` says: (events, flows, the client's key log)."""
    case = CASES[name]
    lines: list[str] = []
    client_config, server_config = _configs("mutual_tls")
    credentials = {"none": [], "stranger": [_stranger(update)],
                   "server's": [Credential.from_pem(SERVER_PEM.read_bytes(), SERVER_KEY.read_bytes())]}
    client_config = dataclasses.replace(client_config, key_log=lines.append,
                                        client_credentials=credentials.get(case.credential,
                                                                           client_config.client_credentials))
    if traced is None:
        traced = ("server",) if case.tamper is not None else ("client", "server")
    events, flows = run(client_config, server_config, traced, case.tamper)
    return events, flows, "".join(line + "\n" for line in lines)


def _assert_stops_at(text: str, number: str) -> None:
    heading = next(line for line in text.splitlines() if line.startswith(f"Step {number} "))
    assert "✗ FAILED HERE" in heading, heading
    later = STEPS[STEPS.index(number) + 1 :]
    assert not any(line.startswith(f"Step {n} ") for n in later for line in text.splitlines())


@pytest.mark.parametrize("name", CASES)
def test_a_failure_is_explained_where_the_server_refused(name: str, request: pytest.FixtureRequest) -> None:
    case = CASES[name]
    events, _, _ = golden_failure(name, _update(request))
    doc = doc_of(events)
    failure = doc["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"], failure["alert_direction"],
            failure["error_type"], failure["inferred"]) == (case.step, "server", case.alert, "sent",
                                                            case.error_type, False)
    failed = step(doc, case.step)
    assert failed["status"] == "failed"
    assert [c["what"] for c in failed["checks"] if c["status"] == "failed"] == [case.check]
    assert [s["number"] for s in doc["steps"] if s["number"]] == STEPS[: STEPS.index(case.step) + 1]
    # What the client had sent after the refused message went, but the server never read it.
    sent = {n["number"]: n["sent"] for n in doc["not_reached"]}
    later = STEPS[STEPS.index(case.step) + 1 :]
    if case.credential == "none":
        later.remove("6b")  # an empty Certificate is followed by no CertificateVerify
    assert list(sent) == later
    if case.tamper is None:  # the client was traced too: it knows what it sent
        assert all(sent[n] for n in later if n in ("6", "6b", "7a", "7b"))
    text = render(events, "text")
    _assert_stops_at(text, case.step)
    title = "CertificateVerify" if case.step == "6b" else "Certificate (client)"
    assert f"✗ The connection failed at step {case.step} ({title}), detected by the server." in text
    _compare(EXPLAIN / f"mutual_{name}.live.txt", render(events, "text", title=f"mutual TLS, {name}: traced live"),
             _update(request))


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.tamper is None])
def test_the_client_alone_sees_where_it_was_refused(name: str, request: pytest.FixtureRequest) -> None:
    """Our client traced alone: it receives the alert; the step is inferred from it and from what it sent."""
    case = CASES[name]
    events, _, _ = golden_failure(name, _update(request), traced=("client",))
    failure = doc_of(events)["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"], failure["inferred"]) == \
        (case.step, "server", case.alert, True)
    # The client asked for a session ticket: after its Finished it waits for the server's NewSessionTicket.
    assert "the client received the alert while waiting for the server's NewSessionTicket" in failure["peer_view"]


# -- replayed from a capture -------------------------------------------------------------------------------


def _anchors(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def replayed(flows: Flows, keylog: str) -> list[Tagged]:
    capture = Capture([(C2S if sender == "client" else S2C, data) for sender, data in flows])
    return replay(capture, keylog, trust_anchors=_anchors(CA_PEM), now=CLOCK,
                  client_trust_anchors=_anchors(CLIENT_CA_PEM))


@pytest.mark.parametrize("name", CASES)
def test_a_failed_capture_is_explained_where_it_failed(name: str, request: pytest.FixtureRequest) -> None:
    """An observer of the wire sees only the alert; it places it at the step its own checks (the client's
    chain, the CertificateVerify's scheme and signature) show was refused."""
    case = CASES[name]
    _, flows, keylog = golden_failure(name, _update(request))
    events = replayed(flows, keylog)
    doc = doc_of(events)
    failure = doc["failure"]
    assert (failure["step"], failure["alert_name"], failure["inferred"]) == (case.step, case.alert, True)
    checks = {c["what"]: c["status"] for c in step(doc, case.step)["checks"]}
    if case.step == "6b":
        assert checks == {"client CertificateVerify": "failed"}
    elif case.credential == "none":
        assert checks == {}
    else:
        assert checks == {"client certificate chain": "failed"}
    _compare(EXPLAIN / f"mutual_{name}.replay.txt",
             render(events, "text", reveal_secrets=True, title=f"mutual TLS, {name}: replayed from the capture"),
             _update(request))


def test_a_good_capture_verifies_the_client_signature(request: pytest.FixtureRequest) -> None:
    """The golden mutual connection replayed: the observer verifies the chain and the CertificateVerify, and a
    key log lets it check the client's Finished over the messages up to CertificateVerify."""
    client_config, server_config = _configs("mutual_tls")
    lines: list[str] = []
    _, flows = run(dataclasses.replace(client_config, key_log=lines.append), server_config, ())
    doc = doc_of(replayed(flows, "\n".join(lines)))
    assert doc["complete"] is True and [s["number"] for s in doc["steps"] if s["number"]] == STEPS
    assert [(c["by"], c["what"], c["status"]) for c in step(doc, "6b")["checks"]] == \
        [("observer", "client CertificateVerify", "ok")]
    assert [c["status"] for c in step(doc, "5b")["checks"]] == ["ok", "ok", "ok"]
    (finished,) = step(doc, "7b")["checks"]
    assert finished["status"] == "ok" and "up to CertificateVerify" in finished["detail"]
    # Without the client's CA among the anchors the chain is not trusted, and said to be checked against them.
    capture = Capture([(C2S if sender == "client" else S2C, data) for sender, data in flows])
    doc = doc_of(replay(capture, "\n".join(lines), trust_anchors=_anchors(CA_PEM), now=CLOCK))
    (chain,) = step(doc, "5b")["checks"]
    assert chain["status"] == "failed" and "(against the trust anchors given to tls12 explain)" in chain["detail"]
    assert step(doc, "6b")["checks"][0]["status"] == "ok"  # the signature is the certificate's key's all the same


def test_tls12_explain_reads_a_mutual_tls_pcapng(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 ca: CertificateAuthority, leaf: IssuedCertificate,
                                                 client_ca: CertificateAuthority,
                                                 client_leaf: IssuedCertificate) -> None:
    """`tls12 explain FILE.pcapng` with the key log in the file: the client's side checked from the packets."""
    client_config, server_config = configs(ca, leaf, client_ca, [client_leaf.credential()])
    lines: list[str] = []
    _, flows = run(dataclasses.replace(client_config, key_log=lines.append), server_config, ())
    path = tmp_path / "mutual.pcapng"
    writer = ConnectionWriter(path, ("127.0.0.1", 50123), ("127.0.0.1", 4433))
    for sender, data in flows:
        writer.data(sender, data)  # type: ignore[arg-type]
    writer.key_log(lines[0])
    writer.close()
    cafile = tmp_path / "cas.pem"
    cafile.write_bytes(ca.cert_pem() + client_ca.cert_pem())
    assert main(["explain", str(path), "--cafile", str(cafile), "--explain", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["complete"] is True and [s["number"] for s in doc["steps"] if s["number"]] == STEPS
    checks = {c["what"]: (c["by"], c["status"]) for s in doc["steps"] for c in s["checks"]}
    assert checks["client certificate chain"] == checks["client CertificateVerify"] == ("observer", "ok")
    assert checks["client Finished"] == checks["server Finished"] == ("observer", "ok")
    assert doc["summary"]["client certificate"] == "CN=client.example,O=tls12 throwaway (ECDSA P-384)"


def test_openssl_to_openssl_mutual_tls_is_explained(pem_dir: Path, tmp_path: Path, ca: CertificateAuthority,
                                                    client_ca: CertificateAuthority) -> None:
    """Nothing of tls12 on the wire: OpenSSL's CertificateRequest, its client's RSA certificate and an
    RSA-PSS CertificateVerify (hashed with SHA-256 under a SHA-384 PRF), checked by the observer."""
    issued = client_ca.issue(("client.example",), key_type="rsa", client=True)
    (tmp_path / "client.pem").write_bytes(issued.cert_pem())
    (tmp_path / "client.key").write_bytes(issued.key_pem())
    (tmp_path / "client-ca.pem").write_bytes(client_ca.cert_pem())
    server_ctx = stdlib_server_context(pem_dir)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(tmp_path / "client-ca.pem")
    client_ctx = stdlib_client_context(pem_dir)
    client_ctx.load_cert_chain(tmp_path / "client.pem", tmp_path / "client.key")
    client_ctx.keylog_filename = str(tmp_path / "openssl.keylog")
    server = StdlibPeer(server_ctx, server_side=True)
    client = StdlibPeer(client_ctx, server_side=False, server_hostname="localhost")
    flows: Flows = []
    for _ in range(10):
        moved = False
        for peer, other, sender in ((client, server, "client"), (server, client, "server")):
            with contextlib.suppress(ssl.SSLWantReadError):
                peer.obj.do_handshake()
            data = peer.outgoing.read()
            if data:
                flows.append((sender, data))
                other.incoming.write(data)
                moved = True
        if not moved:
            break
    assert server.obj.getpeercert() is not None
    capture = Capture([(C2S if sender == "client" else S2C, data) for sender, data in flows])
    events = replay(capture, (tmp_path / "openssl.keylog").read_text(encoding="ascii"),
                    trust_anchors=[ca.certificate], client_trust_anchors=[client_ca.certificate])
    doc = doc_of(events)
    assert doc["complete"] is True
    assert [s["number"] for s in doc["steps"] if s["number"]] == STEPS
    verify = step(doc, "6b")
    assert [(c["by"], c["what"], c["status"]) for c in verify["checks"]] == \
        [("observer", "client CertificateVerify", "ok")]
    assert "rsa_pss_rsae_sha256 (0x0804)" in verify["notes"][1]
    assert "not the suite's PRF hash, SHA-384" in verify["notes"][1]
    assert [c["status"] for c in step(doc, "5b")["checks"]] == ["ok", "ok", "ok"]
    assert step(doc, "4b")["status"] == "ok"
