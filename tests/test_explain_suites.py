"""The glass box for every kind of suite: the values it shows are the wire's and the key log's.

One connection per kind (ECDHE_ECDSA P-256, Ed25519, RSA-PSS certificates, ECDHE_RSA with
ChaCha20-Poly1305, DHE_RSA, static RSA), run in memory with both ends traced, then replayed from
its bytes and key log as `tls12 explain` would. Each value shown is checked against an independent
reading: the ServerKeyExchange parsed by hand, the key block from RFC 5246's PRF written with the
standard library (explain_support), records opened with `cryptography`'s AEADs directly, the RSA
premaster decrypted with the server's key.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from explain_support import Flows, prf, pump, randoms, split_records
from test_explain_html import STEPS, load, outside_references, visible_text
from tls12 import CipherSuite, ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.crypto.dhe import FFDHE_GROUPS
from tls12.enums import HandshakeType, NamedGroup
from tls12.explain import Recorder, render
from tls12.explain.capture import C2S, S2C, Capture
from tls12.explain.model import Tagged
from tls12.explain.replay import replay

S = CipherSuite


@dataclass
class Run:
    events: list[Tagged]
    flows: Flows
    keylog: str
    ca: CertificateAuthority
    leaf: IssuedCertificate

    def live(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(render(self.events, "json", reveal_secrets=True))
        return doc

    def replayed_events(self) -> list[Tagged]:
        capture = Capture([(C2S if sender == "client" else S2C, data) for sender, data in self.flows])
        return replay(capture, self.keylog, trust_anchors=[self.ca.certificate])

    def replayed(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(render(self.replayed_events(), "json", reveal_secrets=True))
        return doc

    @property
    def master(self) -> bytes:
        return bytes.fromhex(self.keylog.split()[2])


def _connect(suite: CipherSuite, key_type: str = "rsa", *, extra: tuple[IssuedCertificate, ...] = (),
             client_suites: tuple[CipherSuite, ...] | None = None) -> Run:
    ca = CertificateAuthority(key_type="rsa")
    leaf = ca.issue(("localhost", "127.0.0.1"), key_type=key_type)
    recorder = Recorder()
    keylog: list[str] = []
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], key_log=keylog.append,
                                           cipher_suites=client_suites or (suite,)),
                              server_name="localhost", tracer=recorder.tracer("client"))
    server_suites = tuple(dict.fromkeys((suite, *(client_suites or ()))))
    server = ServerConnection(ServerConfig(credentials=[leaf.credential(), *(e.credential() for e in extra)],
                                           cipher_suites=server_suites),
                              tracer=recorder.tracer("server"))
    flows = pump(client, server)
    client.send_application_data(b"ping")
    server.send_application_data(b"pong")
    flows += pump(client, server)
    client.send_application_data(b"ping again")
    client.close()
    flows += pump(client, server)
    assert client.closed and server.closed and client.failure is None and server.failure is None
    assert client.cipher_suite == suite
    return Run(recorder.events, flows, keylog[0], ca, leaf)


def _step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == step_id)


def _fields(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def walk(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [x for f in fields for x in [f, *walk(f["children"])]]

    return {f["name"]: f for f in walk(step["fields"])}


def _hex(field: dict[str, Any]) -> str:
    value: str = field["hex"] if field["hex"] is not None else "".join(
        c["hex"] for c in field["children"] if c["kind"] != "length")
    return value


def _derived(doc: dict[str, Any]) -> dict[str, str | None]:
    return {d["label"]: d["value"] for d in _step(doc, "client_key_exchange")["derivations"]}


def _plain_handshake(flows: Flows, sender: str) -> list[tuple[int, bytes]]:
    """(type, body) of `sender`'s handshake messages before its ChangeCipherSpec, read by hand."""
    buf = b""
    for r in split_records(flows):
        if r.sender == sender and r.content_type == 20:
            break
        if r.sender == sender and r.content_type == 22:
            buf += r.fragment
    out, pos = [], 0
    while pos + 4 <= len(buf):
        n = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        out.append((buf[pos], buf[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return out


def _vectors(body: bytes, count: int) -> tuple[list[bytes], int]:
    """`count` opaque<1..2^16-1> vectors from the start of body, and where they end."""
    out, pos = [], 0
    for _ in range(count):
        n = int.from_bytes(body[pos : pos + 2], "big")
        out.append(body[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out, pos


def _both(run: Run) -> list[tuple[str, dict[str, Any]]]:
    return [("live", run.live()), ("replayed", run.replayed())]


# -- DHE ---------------------------------------------------------------------------------------------


def test_dhe_parameters_and_shared_secret_are_the_wires() -> None:
    run = _connect(S.TLS_DHE_RSA_WITH_AES_128_GCM_SHA256)
    ske = next(body for kind, body in _plain_handshake(run.flows, "server") if kind == 12)
    (p, g, ys), end = _vectors(ske, 3)
    cke = next(body for kind, body in _plain_handshake(run.flows, "client") if kind == 16)
    yc = cke[2 : 2 + int.from_bytes(cke[:2], "big")]
    ffdhe2048 = FFDHE_GROUPS[NamedGroup.FFDHE2048]
    assert int.from_bytes(p, "big") == ffdhe2048.p and int.from_bytes(g, "big") == 2
    for how, doc in _both(run):
        step4 = _step(doc, "server_key_exchange")
        fields = _fields(step4)
        assert "named_curve" not in fields and "public" not in fields, how  # not read as ECDHE
        assert _hex(fields["dh_p"]) == p.hex() and _hex(fields["dh_Ys"]) == ys.hex(), how
        assert fields["dh_g"]["value"] == "2"
        assert fields["group"]["value"].startswith("ffdhe2048 (0x0100)"), how
        assert _hex(fields["signature"]) == ske[end + 4 :].hex()
        assert "RFC 7919" in step4["rfc"] and "Diffie-Hellman" in step4["purpose"]
        assert any(n.startswith("group: ffdhe2048") and ys[:16].hex() in n for n in step4["notes"]), how
        assert doc["summary"]["group"] == "ffdhe2048 (0x0100)"
        assert [c["status"] for c in step4["checks"] if c["what"] == "ServerKeyExchange signature"] == ["ok"]
        step6 = _step(doc, "client_key_exchange")
        assert _hex(_fields(step6)["dh_Yc"]) == yc.hex(), how
        assert any("Yc^y mod p" in n and "§8.1.2" in n for n in step6["notes"])
        derived = _derived(doc)
        assert derived["master_secret"] == run.master.hex(), how
        premaster = next(d for d in step6["derivations"] if d["label"] == "pre_master_secret")
        assert "mod p" in premaster["formula"] and "§8.1.2" in premaster["meaning"]
        if how == "live":
            # Z as bytes, leading zeros stripped (RFC 5246 §8.1.2), at most p's length; and it is the real one:
            # with the session hash of the wire's messages it gives the key log's master secret (RFC 7627 §4).
            value = bytes.fromhex(premaster["value"])
            assert value[0] != 0 and len(value) <= len(p)
            # The server's messages up to ServerHelloDone: its NewSessionTicket comes after ClientKeyExchange.
            server_messages = [m for m in _plain_handshake(run.flows, "server")
                               if m[0] != HandshakeType.NEW_SESSION_TICKET]
            transcript = b"".join(bytes((kind,)) + len(body).to_bytes(3, "big") + body for kind, body in
                                  [*_plain_handshake(run.flows, "client")[:1], *server_messages,
                                   *_plain_handshake(run.flows, "client")[1:]])
            session_hash = hashlib.sha256(transcript).digest()
            assert derived["session_hash"] == session_hash.hex()
            assert prf(value, b"extended master secret", session_hash, 48, "sha256") == run.master
        else:
            assert premaster["value"] is None  # an observer cannot know x or y
    # The decisions: the server named the group it chose and why; the observer said what it saw.
    live, seen = run.live(), run.replayed()
    assert [d["value"] for d in _step(live, "server_key_exchange")["decisions"] if d["what"] == "group"] == \
        ["FFDHE2048"]
    assert [d["value"] for d in _step(seen, "server_key_exchange")["decisions"] if d["what"] == "group"] == \
        ["FFDHE2048"]
    text = render(run.replayed_events(), "text", reveal_secrets=True)
    assert re.search(rf"dh_Ys\s+{ys[:16].hex()}", text) and "ffdhe2048 (0x0100), RFC 7919" in text


# -- ChaCha20-Poly1305 -------------------------------------------------------------------------------


def test_chacha20_nonce_of_each_record_is_iv_xor_sequence_number() -> None:
    run = _connect(S.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
    client_random, server_random = randoms(run.flows)
    block = prf(run.master, b"key expansion", server_random + client_random, 2 * (32 + 12), "sha256")
    keys = {"client": block[:32], "server": block[32:64]}
    ivs = {"client": block[64:76], "server": block[76:88]}
    # Every protected record on the wire, opened with the nonce IV XOR seq (RFC 7905 §2).
    wire: list[tuple[str, int, bytes]] = []
    seqs = {"client": -1, "server": -1}
    for r in split_records(run.flows):
        if seqs[r.sender] < 0:
            if r.content_type == 20:
                seqs[r.sender] = 0
            continue
        seq = seqs[r.sender]
        seqs[r.sender] += 1
        nonce = bytes(a ^ b for a, b in zip(ivs[r.sender], seq.to_bytes(12, "big"), strict=True))
        aad = seq.to_bytes(8, "big") + bytes((r.content_type,)) + r.version.to_bytes(2, "big") + \
            (len(r.fragment) - 16).to_bytes(2, "big")
        ChaCha20Poly1305(keys[r.sender]).decrypt(nonce, r.fragment, aad)  # the nonce is the one used
        if seq > 0:
            wire.append((r.sender, seq, nonce))
    assert len(wire) >= 4
    for how, doc in _both(run):
        derived = _derived(doc)
        assert derived["client_write_IV"] == ivs["client"].hex() and derived["server_write_IV"] == ivs["server"].hex()
        shown = [(t["from"], t["record"]["seq"], t["nonce"], t["nonce_rule"], t["record"]["explicit_nonce"])
                 for t in doc["after_handshake"] if t["record"] is not None and t["record"]["protected"]]
        assert [(s, q, n) for s, q, n, _, _ in shown] == [(s, q, n.hex()) for s, q, n in wire], how
        assert all(e is None and f"XOR {q:024x}" in rule for _, q, _, rule, e in shown), how
        assert "XOR" in doc["record_protection"] and "RFC 7905" in doc["record_protection"]
        meanings = {d["label"]: d["meaning"] for d in _step(doc, "client_key_exchange")["derivations"]}
        assert "XOR" in meanings["client_write_IV"] and "salt" not in meanings["client_write_IV"]
        assert "ChaCha20-Poly1305 key" in meanings["client_write_key"]
    for events in (run.events, run.replayed_events()):
        text = render(events, "text", reveal_secrets=True)
        assert "ChaCha20-Poly1305 records" in text and "AES" not in text.split("After the handshake")[1]
        assert "4-byte salt" not in text
        sender, seq, nonce = wire[0]
        assert f"AEAD nonce {nonce.hex()} = {sender}_write_IV XOR {seq:024x}" in text
        hidden = render(events, "text")
        assert nonce.hex() not in hidden  # the nonce shows the IV: a secret
        page = render(events, "html", reveal_secrets=True)
        assert nonce.hex() in page and "ChaCha20-Poly1305 records" in page and "AES-256-GCM" not in page
        assert outside_references(page) == []


def test_aes_gcm_nonce_is_salt_and_explicit_nonce() -> None:
    run = _connect(S.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
    client_random, server_random = randoms(run.flows)
    block = prf(run.master, b"key expansion", server_random + client_random, 2 * (32 + 4), "sha384")
    salts = {"client": block[64:68], "server": block[68:72]}
    for how, doc in _both(run):
        items = [t for t in doc["after_handshake"] if t["record"] is not None and t["record"]["protected"]]
        assert items, how
        for t in items:
            assert t["nonce"] == salts[t["from"]].hex() + t["record"]["explicit_nonce"], how
            assert t["nonce_rule"] == f"{t['from']}_write_IV ‖ explicit nonce"
        assert "AES-256-GCM records" in doc["record_protection"]


# -- signatures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "key_type", "scheme", "key_words", "how_words"), [
    (S.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ecdsa-p256", "ecdsa_secp256r1_sha256", "ECDSA P-256",
     "ECDSA on secp256r1 with SHA256"),
    (S.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ed25519", "ed25519", "Ed25519", "Ed25519 (RFC 8032)"),
    (S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "rsa-pss", "rsa_pss_pss_sha256", "RSA 2048 bits",
     "made with an RSA-PSS key"),
])
def test_server_key_exchange_signature_names_key_scheme_and_check(suite: CipherSuite, key_type: str, scheme: str,
                                                                  key_words: str, how_words: str) -> None:
    run = _connect(suite, key_type)
    ske = next(body for kind, body in _plain_handshake(run.flows, "server") if kind == 12)
    params_len = 4 + ske[3]
    for how, doc in _both(run):
        step4 = _step(doc, "server_key_exchange")
        fields = _fields(step4)
        assert fields["signature_algorithm"]["value"].startswith(scheme), how
        assert _hex(fields["signature"]) == ske[params_len + 4 :].hex()
        note = next(n for n in step4["notes"] if n.startswith("signature:"))
        assert scheme in note and key_words in note and how_words in note, note
        assert "CN=localhost" in note and f"ServerECDHParams ({params_len} bytes)" in note
        checks = [c for c in step4["checks"] if c["what"] == "ServerKeyExchange signature"]
        assert [c["status"] for c in checks] == ["ok"], (how, checks)
        if how == "replayed":
            assert key_words in checks[0]["detail"]
        assert doc["summary"]["signature scheme"].startswith(scheme)
        cert_notes = _step(doc, "certificate")["notes"]
        assert any(key_words in n and "signs the ServerKeyExchange" in n for n in cert_notes), cert_notes


# -- static RSA --------------------------------------------------------------------------------------


def test_static_rsa_shows_the_encrypted_premaster_and_the_countermeasure() -> None:
    run = _connect(S.TLS_RSA_WITH_AES_128_GCM_SHA256)
    cke = next(body for kind, body in _plain_handshake(run.flows, "client") if kind == 16)
    encrypted = cke[2:]
    key = run.leaf.private_key
    assert isinstance(key, rsa.RSAPrivateKey)
    premaster = key.decrypt(encrypted, padding.PKCS1v15())
    assert len(premaster) == 48 and premaster[:2] == b"\x03\x03"
    live = run.live()
    assert [s["id"] for s in live["steps"]][:5] == ["client_hello", "server_hello", "certificate",
                                                    "server_hello_done", "client_key_exchange"]
    step6 = _step(live, "client_key_exchange")
    assert _hex(_fields(step6)["EncryptedPreMasterSecret"]) == encrypted.hex()
    assert _derived(live)["pre_master_secret"] == premaster.hex()
    assert any(f"client_version 0303 ‖ 46 random bytes {premaster[2:].hex()}" in n for n in step6["notes"])
    assert any("never revealed" in n and "§7.4.7.1" in n and "bad_record_mac" in n for n in step6["notes"])
    assert "§7.4.7.1" in step6["rfc"]
    summary = live["summary"]
    assert summary["key exchange"].startswith("RSA") and "group" not in summary
    cert_notes = _step(live, "certificate")["notes"]
    assert any("decrypts the premaster secret" in n for n in cert_notes)

    seen = run.replayed()
    step6 = _step(seen, "client_key_exchange")
    assert _hex(_fields(step6)["EncryptedPreMasterSecret"]) == encrypted.hex()
    unknown = next(d for d in step6["derivations"] if d["label"] == "pre_master_secret")
    assert unknown["value"] is None and unknown["length"] == 48 and "RSA private key" in unknown["meaning"]
    assert _derived(seen)["master_secret"] == run.master.hex()
    assert any("never revealed" in n for n in step6["notes"])
    assert seen["complete"] is True
    page = render(run.events, "html", reveal_secrets=True)
    assert "never revealed" in page and "EncryptedPreMasterSecret" in page
    assert outside_references(page) == []


# -- which certificate -------------------------------------------------------------------------------


def test_the_certificate_choice_is_shown_with_its_reason() -> None:
    ecdsa = CertificateAuthority(key_type="rsa").issue(("localhost",), key_type="ecdsa-p256")
    run = _connect(S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, extra=(ecdsa,),
                   client_suites=(S.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,))
    live = run.live()
    chosen = [d for d in _step(live, "certificate")["decisions"] if d["what"] == "certificate"]
    assert len(chosen) == 1 and chosen[0]["by"] == "server"
    assert "rsa" in chosen[0]["value"].lower() and chosen[0]["why"]
    assert not [d for d in _step(live, "server_hello")["decisions"] if d["what"] == "certificate"]
    seen = run.replayed()
    chosen = [d for d in _step(seen, "certificate")["decisions"] if d["what"] == "certificate"]
    assert len(chosen) == 1 and chosen[0]["by"] == "observer"
    assert chosen[0]["value"].startswith("RSA 2048 bits certificate for localhost")
    assert "seen on the wire" in chosen[0]["why"] and "not on the wire" in chosen[0]["why"]
    assert "'localhost'" in chosen[0]["why"]
    text = render(run.replayed_events(), "text")
    assert "server chose certificate: RSA 2048 bits certificate for localhost" in text



def test_a_bad_rsa_premaster_is_explained_without_revealing_it() -> None:
    """A ClientKeyExchange damaged on the way: the server goes on, and fails at the client's Finished."""
    ca = CertificateAuthority()
    leaf = ca.issue(("localhost",))
    recorder = Recorder()
    suites = (S.TLS_RSA_WITH_AES_128_GCM_SHA256,)
    client = ClientConnection(ClientConfig(trust_anchors=[ca.certificate], cipher_suites=suites),
                              server_name="localhost")
    server = ServerConnection(ServerConfig(credentials=[leaf.credential()], cipher_suites=suites),
                              tracer=recorder.tracer("server"))
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    flight = bytearray(client.data_to_send())
    assert flight[0] == 22 and flight[5] == 16  # the ClientKeyExchange comes first
    flight[5 + 4 + 2 + 100] ^= 0x01  # one bit of the encrypted premaster
    with pytest.raises(TLSError):
        server.receive_data(bytes(flight))
    doc = json.loads(render(recorder.events, "json"))
    failure = doc["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"]) == ("7b", "server", "bad_record_mac")
    finished = _step(doc, "client_finished")
    assert any("bad premaster" in n and "never says" in n for n in finished["notes"])
    notes = _step(doc, "client_key_exchange")["notes"]
    assert any("never revealed" in n for n in notes)
    # The server alone cannot know what the client encrypted: it says what it went on with, and why.
    assert not any("what the client encrypted:" in n for n in notes)
    assert any(n.startswith("the premaster the server went on with:") and "never says" in n for n in notes)
    assert "bad premaster" in render(recorder.events, "text")


@pytest.mark.parametrize("suite", [S.TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256, S.TLS_RSA_WITH_AES_256_GCM_SHA384])
def test_the_page_of_each_kind_shows_every_step_in_chromium(suite: CipherSuite, tmp_path: Path) -> None:
    run = _connect(suite)
    page = tmp_path / "page.html"
    page.write_text(render(run.replayed_events(), "html", reveal_secrets=True), encoding="utf-8")
    dom, requests = load(tmp_path, page)
    text = visible_text(dom)
    steps = [s for s in STEPS if "ServerKeyExchange" not in s or suite.name.startswith("TLS_DHE")]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), steps
    assert "✓ Handshake complete" in text and requests == []
    if suite.name.startswith("TLS_DHE"):
        assert "dh_Ys" in text and "ffdhe2048" in text and "ChaCha20-Poly1305 records" in text
        assert "XOR" in text
    else:
        assert "EncryptedPreMasterSecret" in text and "never revealed" in text and "AES-256-GCM records" in text
