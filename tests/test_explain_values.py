"""The values an explanation shows are the real ones: those on the wire and in the key log.

Each test captures the bytes of a real connection and reads them back
independently (tests/explain_support.py: no tls12 code): the randoms, the
ECDHE public keys and the Finished values shown must be those bytes; the
master secret shown must be the key log's; and with it, derived
independently, every protected record of the capture must open.
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
from pathlib import Path
from typing import Any

import pytest

from explain_support import Flows, handshake_messages, open_all, pump, randoms, read_flows_file
from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.cli.main import main
from tls12.explain import FORMATS, Recorder, render
from tls12.trace import SecretDerived

from helpers import OP_NO_EXTENDED_MASTER_SECRET, StdlibPeer, stdlib_server_context


def _step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == step_id)


def _leaf(step: dict[str, Any], name: str) -> str:
    def walk(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [x for f in fields for x in [f, *walk(f["children"])]]

    matches = [f for f in walk(step["fields"]) if f["name"] == name]
    assert len(matches) == 1, f"{name} in {step['title']}: {len(matches)} matches"
    value: str = matches[0]["hex"] if matches[0]["hex"] is not None else "".join(
        c["hex"] for c in matches[0]["children"] if c["kind"] != "length")
    return value


def _derived(doc: dict[str, Any]) -> dict[str, str | None]:
    return {d["label"]: d["value"] for d in _step(doc, "client_key_exchange")["derivations"]}


def _assert_values_are_the_wire(doc: dict[str, Any], flows: Flows, keylog_line: str) -> None:
    match = re.fullmatch(r"CLIENT_RANDOM ([0-9a-f]{64}) ([0-9a-f]{96})", keylog_line.strip())
    assert match is not None, keylog_line
    client_random, server_random = randoms(flows)
    assert match[1] == client_random.hex()

    # The randoms shown are the wire's.
    assert _leaf(_step(doc, "client_hello"), "random") == client_random.hex()
    assert _leaf(_step(doc, "server_hello"), "random") == server_random.hex()

    # The master secret shown is the key log's; with it, every protected record opens.
    derived = _derived(doc)
    assert derived["master_secret"] == match[2]
    opened = open_all(flows, bytes.fromhex(match[2]))
    assert sum(o.protected for o in opened) >= 2  # at least both Finished

    # The ECDHE public keys shown are the wire's.
    server_messages = handshake_messages(opened, "server")
    client_messages = handshake_messages(opened, "client")
    ske = next(body for kind, body in server_messages if kind == 12)
    server_public = ske[4 : 4 + ske[3]]
    cke = next(body for kind, body in client_messages if kind == 16)
    client_public = cke[1 : 1 + cke[0]]
    assert _leaf(_step(doc, "server_key_exchange"), "public") == server_public.hex()
    assert _leaf(_step(doc, "client_key_exchange"), "ecdh_Yc") == client_public.hex()

    # The verify_data shown (in the message, and as expected by the receiver) is what was encrypted on the wire.
    client_finished = next(body for kind, body in client_messages if kind == 20)
    server_finished = next(body for kind, body in server_messages if kind == 20)
    checked = 0
    for step_id, wire in (("client_finished", client_finished), ("server_finished", server_finished)):
        step = _step(doc, step_id)
        assert _leaf(step, "verify_data") == wire.hex()
        for check in step["checks"]:  # made by whichever end was traced
            assert check["status"] == "ok" and check["expected"] == check["received"] == wire.hex()
            checked += 1
    assert checked >= 1

    # The whole messages shown are the wire's (the Finished ones decrypted).
    assert _step(doc, "client_hello")["hex"] == next(o.plaintext for o in opened if o.sender == "client").hex()
    # And each record's sequence number and explicit nonce are the wire's.
    protected = [o for o in opened if o.protected]
    shown = [t["record"] for t in doc["after_handshake"] if t["record"] is not None]
    assert [(r["seq"], r["explicit_nonce"]) for r in shown] == \
        [(o.seq, o.seq.to_bytes(8, "big").hex()) for o in protected if o.seq is not None and o.seq > 0]


def test_a_live_connection_shows_the_wire_values(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    recorder = Recorder()
    keylog: list[str] = []
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], key_log=keylog.append),
                              server_name="localhost", tracer=recorder.tracer("client"))
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=recorder.tracer("server"))
    flows = pump(client, server)
    client.send_application_data(b"ping")
    server.send_application_data(b"pong")
    client.close()
    flows += pump(client, server)
    assert client.closed and server.closed
    doc = json.loads(render(recorder.events, "json", reveal_secrets=True))
    assert doc["complete"] is True
    _assert_values_are_the_wire(doc, flows, keylog[0])
    assert [t["plaintext"] for t in doc["after_handshake"] if t["kind"] == "application_data"] == [None, None]

    # The text shows the same values (hex is cut into lines of 64 digits).
    text = render(recorder.events, "text", reveal_secrets=True)
    flat = re.sub(r"\n {30,}", "", text)
    client_random, server_random = randoms(flows)
    assert re.search(rf"random\s+{client_random.hex()}", text)
    assert re.search(rf"random\s+{server_random.hex()}", text)
    assert re.search(rf"master_secret\s+{keylog[0].split()[2]}", flat)
    for step_id, name in (("server_key_exchange", "public"), ("client_key_exchange", "ecdh_Yc"),
                          ("client_finished", "verify_data"), ("server_finished", "verify_data")):
        assert re.search(rf"{name}\s+{_leaf(_step(doc, step_id), name)}", flat), name


def test_secrets_are_hidden_unless_asked(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    recorder = Recorder()
    keylog: list[str] = []
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], key_log=keylog.append),
                              server_name="localhost", tracer=recorder.tracer("client"))
    server = ServerConnection(ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key),
                              tracer=recorder.tracer("server"))
    pump(client, server)
    master = keylog[0].split()[2]
    secrets = [e.event.value.hex() for e in recorder.events
               if isinstance(e.event, SecretDerived) and e.event.label != "session_hash"]
    assert master in secrets and len(secrets) == 2 * 7  # both ends: premaster, master, block, 2 keys, 2 salts
    for fmt in FORMATS:
        shown = render(recorder.events, fmt)
        assert not [s for s in secrets if s in re.sub(r"<wbr>|\s", "", shown)], fmt
        revealed = render(recorder.events, fmt, reveal_secrets=True)
        assert master in re.sub(r"<wbr>|\s", "", revealed), fmt
    doc = json.loads(render(recorder.events, "json"))
    hidden = [d for d in _step(doc, "client_key_exchange")["derivations"] if d["secret"]]
    assert hidden and all(d["hidden"] and d["value"] is None for d in hidden)


def test_the_demo_shows_its_wire_values(tmp_path: Path) -> None:
    keylog, capture, out = tmp_path / "keys.log", tmp_path / "capture.txt", tmp_path / "demo.json"
    assert main(["demo", "--keylog", str(keylog), "--capture", str(capture), "--explain", "json",
                 "--output", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["secrets_revealed"] is True  # a key log was asked for
    flows = read_flows_file(capture.read_text(encoding="ascii"))
    _assert_values_are_the_wire(doc, flows, keylog.read_text(encoding="ascii"))
    # The demo knows what it sent, and says so.
    data = [bytes.fromhex(t["plaintext"]) for t in doc["after_handshake"] if t["kind"] == "application_data"]
    assert data == [b"hello from the tls12 client", b"hello back from the tls12 server"]
    opened = open_all(flows, bytes.fromhex(_derived(doc)["master_secret"] or ""))
    assert [o.plaintext for o in opened if o.content_type == 23] == data


@pytest.mark.parametrize("ems", [True, False], ids=["extended-master-secret", "classic-master-secret"])
def test_the_master_secret_shown_is_openssls(pem_dir: Path, ca: CertificateAuthority, tmp_path: Path,
                                             ems: bool) -> None:
    """Against OpenSSL (the stdlib ssl module), whose own key log is the independent witness."""
    ctx = stdlib_server_context(pem_dir, ems=ems)
    openssl_keylog = tmp_path / "openssl.keylog"
    ctx.keylog_filename = str(openssl_keylog)
    peer = StdlibPeer(ctx, server_side=True)
    recorder = Recorder()
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate]), server_name="localhost",
                              tracer=recorder.tracer("client"))
    flows: Flows = []
    for _ in range(10):
        data = client.data_to_send()
        if data:
            flows.append(("client", data))
            peer.incoming.write(data)
        with contextlib.suppress(ssl.SSLWantReadError):
            peer.obj.do_handshake()
        out = peer.outgoing.read()
        if out:
            flows.append(("server", out))
            client.receive_data(out)
        if client.handshake_complete and not data and not out:
            break
    assert client.handshake_complete
    lines = [line for line in openssl_keylog.read_text(encoding="ascii").splitlines()
             if line.startswith("CLIENT_RANDOM")]
    assert len(lines) == 1
    doc = json.loads(render(recorder.events, "json", reveal_secrets=True))
    _assert_values_are_the_wire(doc, flows, lines[0])
    labels = [d["label"] for d in _step(doc, "client_key_exchange")["derivations"]]
    master = next(d for d in _step(doc, "client_key_exchange")["derivations"] if d["label"] == "master_secret")
    if ems:
        assert "session_hash" in labels and "'extended master secret'" in master["formula"]
    else:
        assert "session_hash" not in labels and "'master secret'" in master["formula"]
        assert ctx.options & OP_NO_EXTENDED_MASTER_SECRET
    assert dict(doc["summary"])["extended master secret"] == ("yes" if ems else "no")
