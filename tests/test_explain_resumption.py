"""The abbreviated handshake explained: which session or ticket was offered, why the server took it or not,
the flights (the server's Finished first), and the keys from the resumed master secret.

Our client against our server in memory, traced at both ends, at one, or replayed from the bytes and the
key log by `tls12 explain`. What the explanation shows is checked against the connections themselves (the
session's master secret, the ticket's key name) and, for the key block, against the PRF written out with
the standard library (tests/explain_support.py). The golden explanations of a deterministic resumed
connection are in test_explain_golden.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from explain_support import prf
from tls12 import (
    ClientConfig,
    ClientConnection,
    MemorySessionStore,
    RotatingTicketKeys,
    ServerConfig,
    ServerConnection,
    Session,
    TLSError,
)
from tls12.certs import CertificateAuthority, IssuedCertificate
from tls12.explain import Recorder, Tagged, render
from tls12.explain.capture import C2S, S2C, Capture
from tls12.explain.replay import replay

from helpers import Clock

SECRET = bytes(range(32))
Flows = list[tuple[str, bytes]]
RESUMED = ["1", "2", "3a", "3b", "4a", "4b"]


@dataclass
class Run:
    """A connection that offers `session`: its trace, the bytes both ways, the key log, the two ends."""

    events: list[Tagged]
    flows: Flows
    keylog: str
    client: ClientConnection
    server: ServerConnection

    def doc(self, events: list[Tagged] | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(render(self.events if events is None else events, "json",
                                                reveal_secrets=True))
        return doc

    def replayed(self, keylog: bool = True) -> list[Tagged]:
        return replay(Capture([(C2S if who == "client" else S2C, data) for who, data in self.flows]),
                      self.keylog if keylog else None)


def run(client_config: ClientConfig, server_config: ServerConfig, session: Session | None,
        traced: tuple[str, ...] = ("client", "server"),
        rewrite_hello: Callable[[bytes], bytes] | None = None) -> Run:
    """Our client against our server, `traced` ends recorded, b"ping" from the client once it is done; a failing
    side's alert is still delivered. `rewrite_hello` changes the client's first flight on its way."""
    lines: list[str] = []
    recorder = Recorder()
    client = ClientConnection(dataclasses.replace(client_config, key_log=lines.append), server_name="localhost",
                              session=session, tracer=recorder.tracer("client") if "client" in traced else None)
    server = ServerConnection(server_config, tracer=recorder.tracer("server") if "server" in traced else None)
    flows: Flows = []
    sent_ping = False
    for _ in range(10):
        if client.handshake_complete and not sent_ping:
            client.send_application_data(b"ping")
            sent_ping = True
        moved = False
        for name, sender, receiver in (("client", client, server), ("server", server, client)):
            data = sender.data_to_send()
            if not data:
                continue
            if name == "client" and not flows and rewrite_hello is not None:
                data = rewrite_hello(data)
            moved = True
            flows.append((name, data))
            if receiver.failure is None:
                with contextlib.suppress(TLSError):
                    receiver.receive_data(data)
        if not moved:
            break
    return Run(recorder.events, flows, "".join(line + "\n" for line in lines), client, server)


def first_session(client_config: ClientConfig, server_config: ServerConfig) -> Session:
    """A full handshake's session (with its ticket, if the client asks for one)."""
    first = run(client_config, server_config, None, traced=())
    assert first.client.session is not None and not first.client.session_reused
    return first.client.session


def step(doc: dict[str, Any], number: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["steps"] if s["number"] == number)
    return found


def flights(doc: dict[str, Any]) -> list[list[str]]:
    return [[m["label"] for m in f["messages"]] for f in doc["flights"]]


@pytest.fixture
def configs(ca: CertificateAuthority, leaf: IssuedCertificate) -> tuple[ClientConfig, ServerConfig]:
    return (ClientConfig(trust_anchors=[ca.certificate]),
            ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                         ticket_keys=RotatingTicketKeys(SECRET)))


def _key_block(doc: dict[str, Any], master: bytes) -> str:
    """The key block of RFC 5246 §6.3 from the hellos' randoms, with the PRF written out (SHA-256 suites)."""
    fields = {n: {f["name"]: f for f in step(doc, n)["fields"]} for n in ("1", "2")}
    client_random, server_random = (bytes.fromhex(fields[n]["random"]["value"]) for n in ("1", "2"))
    return prf(master, b"key expansion", server_random + client_random, 40, "sha256").hex()


@pytest.mark.parametrize("traced", [("client", "server"), ("client",), ("server",)], ids=["both", "client", "server"])
def test_resumed_by_ticket(configs: tuple[ClientConfig, ServerConfig], traced: tuple[str, ...]) -> None:
    client_config, server_config = configs
    session = first_session(client_config, server_config)
    resumed = run(client_config, server_config, session, traced)
    assert resumed.client.session_reused and resumed.server.session_reused
    doc = resumed.doc()
    assert doc["handshake"] == "abbreviated" and doc["complete"] is True and doc["failure"] is None
    assert [s["number"] for s in doc["steps"]] == RESUMED
    assert [s["title"] for s in doc["steps"]] == ["ClientHello", "ServerHello", "ChangeCipherSpec (server)",
                                                  "Finished (server)", "ChangeCipherSpec (client)",
                                                  "Finished (client)"]
    # The server's Finished first, in the same flight as its hello; then the client's.
    assert flights(doc)[:4] == [["ClientHello"], ["ServerHello", "ChangeCipherSpec", "Finished"],
                                ["ChangeCipherSpec", "Finished"], ["application data"]]
    assert [f["from"] for f in doc["flights"][:3]] == ["client", "server", "client"]
    assert doc["summary"]["session"] == "resumed by ticket (abbreviated handshake)"
    assert "group" not in doc["summary"] and "signature scheme" not in doc["summary"]

    # What was offered: the ticket, its length and the key name it starts with (the server's own, when traced).
    key_name = session.ticket[:16].hex()
    hello = step(doc, "1")
    assert any(f"by its ticket, in the SessionTicket extension: {len(session.ticket)} bytes" in n and key_name in n
               for n in hello["notes"])
    decisions = {(d["by"], d["what"]): d for s in doc["steps"] for d in s["decisions"]}
    if "client" in traced:
        assert decisions[("client", "session offered")]["value"] == f"ticket of {len(session.ticket)} bytes"
        assert hello["decisions"][0]["what"] == "session offered"
    if "server" in traced:
        assert decisions[("server", "session")]["value"] == "resumed"
        assert decisions[("server", "session")]["why"] == f"ticket opened with key {key_name}"
        assert any(d["what"] == "session" for d in step(doc, "2")["decisions"])

    # The keys: the session's master secret, the key block from it and the new randoms.
    keys = step(doc, "2")["derivations"]
    assert [d["label"] for d in keys] == ["master_secret", "key_block", "client_write_key", "server_write_key",
                                          "client_write_IV", "server_write_IV"]
    values = {d["label"]: d["value"] for d in keys}
    assert values["master_secret"] == session.master_secret.hex()
    assert values["key_block"] == _key_block(doc, session.master_secret)
    assert "the resumed session's" in keys[0]["formula"] and "resumed" in keys[1]["meaning"]
    assert not any(s["derivations"] for s in doc["steps"] if s["number"] != "2")

    # Each Finished checked by its receiver; the client's covers the server's.
    checks = {(c["by"], c["what"]): c for s in doc["steps"] for c in s["checks"]}
    if "client" in traced:
        assert checks[("client", "server Finished")]["status"] == "ok"
        assert [c["what"] for c in step(doc, "3b")["checks"]] == ["server Finished"]
    if "server" in traced:
        assert checks[("server", "client Finished")]["status"] == "ok"
        assert "up to the server's Finished" in checks[("server", "client Finished")]["detail"]
    if traced == ("client", "server"):
        assert checks[("both", "master secret")]["status"] == "ok"
    assert any("then the server's Finished" in n for n in step(doc, "4b")["notes"])
    text = render(resumed.events, "text")
    for heading in ("Step 3a  ChangeCipherSpec (server)", "Step 3b  Finished (server)",
                    "Step 4a  ChangeCipherSpec (client)", "Step 4b  Finished (client)"):
        assert f"\n{heading}   " in text
    assert "Key schedule, as computed by" in text and "RFC 5246 §7.3 and §6.3" in text
    assert "After the handshake" in text


def test_resumed_by_session_id(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    client_config = ClientConfig(trust_anchors=[ca.certificate], session_tickets=False)
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                                 session_store=MemorySessionStore())
    session = first_session(client_config, server_config)
    assert session.session_id and not session.ticket
    resumed = run(client_config, server_config, session)
    doc = resumed.doc()
    assert doc["handshake"] == "abbreviated" and [s["number"] for s in doc["steps"]] == RESUMED
    assert doc["summary"]["session"] == "resumed by session id (abbreviated handshake)"
    assert f"the client offers to resume the session with ID {session.session_id.hex()} (RFC 5246 §7.4.1.2)" in \
        step(doc, "1")["notes"]
    [offered] = step(doc, "1")["decisions"]
    assert (offered["by"], offered["value"]) == ("client", f"session id {session.session_id.hex()}")
    server = [d for d in step(doc, "2")["decisions"] if d["what"] == "session"]
    assert [(d["value"], d["why"]) for d in server] == \
        [("resumed", f"session id {session.session_id.hex()} found in the store")]
    fields = {f["name"]: f["value"] for f in step(doc, "2")["fields"]}
    assert fields["session_id"] == session.session_id.hex()  # echoed: that is what says it is resumed
    assert {d["label"]: d["value"] for d in step(doc, "2")["derivations"]}["master_secret"] == \
        session.master_secret.hex()


def test_a_renewed_ticket_is_step_2b(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """A ticket opened with an older key is renewed: NewSessionTicket joins the server's flight, before its
    ChangeCipherSpec, and both Finished messages cover it."""
    clock = Clock()
    client_config = ClientConfig(trust_anchors=[ca.certificate])
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                                 ticket_keys=RotatingTicketKeys(SECRET, clock=clock), clock=clock)
    session = first_session(client_config, server_config)
    clock.now += 3600
    resumed = run(client_config, server_config, session)
    doc = resumed.doc()
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "2b", "3a", "3b", "4a", "4b"]
    assert flights(doc)[1] == ["ServerHello", "NewSessionTicket", "ChangeCipherSpec", "Finished"]
    ticket = step(doc, "2b")
    renewed = resumed.client.session
    assert renewed is not None and renewed.ticket != session.ticket
    [decision] = ticket["decisions"]
    assert (decision["by"], decision["what"]) == ("server", "session ticket")
    assert decision["why"].endswith(renewed.ticket[:16].hex())
    assert any("tls12 does when the ticket opened with an older ticket key" in n for n in ticket["notes"])
    assert any("Both Finished messages cover this message" in n for n in ticket["notes"])
    assert step(doc, "3b")["notes"][-1].startswith("covers the handshake messages before it: ClientHello (")
    assert f"NewSessionTicket ({len(ticket['hex']) // 2} bytes)" in step(doc, "3b")["notes"][-1]
    assert [d["what"] for d in step(doc, "2")["decisions"]].count("session ticket") == 0


def test_a_full_handshake_puts_its_ticket_at_step_8(configs: tuple[ClientConfig, ServerConfig]) -> None:
    """The ticket of a full handshake is step 8, before the server's ChangeCipherSpec, and the server's choice of
    it goes there (not with the ServerHello)."""
    doc = run(*configs, None).doc()
    assert doc["handshake"] == "full"
    assert [s["number"] for s in doc["steps"]][-3:] == ["8", "8a", "8b"]
    assert flights(doc)[3] == ["NewSessionTicket", "ChangeCipherSpec", "Finished"]
    assert [s["number"] for s in doc["steps"] for d in s["decisions"] if d["what"] == "session ticket"] == ["8"]
    assert doc["summary"]["session"] == "new (the server sent a ticket)"
    notes = " ".join(step(doc, "8")["notes"])
    assert "The server's Finished covers this message; the client's came before it" in notes
    text = render(run(*configs, None).events, "text")
    assert "tls12 does not resume" not in text and "never asks" not in text


# -- refused: why, explained -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A session the server does not resume: how to make it so, and what the explanation must say."""

    change: Callable[[Session, ServerConfig, Clock], tuple[Session, ServerConfig]]
    why: str  # in the server's decision
    explained: str  # in the note that explains it


def _tamper(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    ticket = session.ticket
    return dataclasses.replace(session, ticket=ticket[:-1] + bytes((ticket[-1] ^ 1,))), config


def _rotate_out(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    clock.now += 3 * 3600  # the key that sealed it is two slots old: no longer kept
    return session, config


def _other_keys(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    return session, dataclasses.replace(config, ticket_keys=RotatingTicketKeys(bytes(32), clock=clock))


def _expired(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    return session, dataclasses.replace(config, session_lifetime=10, clock=lambda: clock.now + 3600)


def _policy(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    return session, dataclasses.replace(config, client_auth="optional",
                                        client_trust_anchors=[CertificateAuthority("a client CA").certificate])


class _BrokenKeys:
    def ticket_keys(self) -> tuple[Any, ...]:
        raise ConnectionError("the store is away")


def _keys_fail(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    return session, dataclasses.replace(config, ticket_keys=_BrokenKeys())


def _suite_disabled(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    return session, dataclasses.replace(config, cipher_suites=tuple(s for s in config.cipher_suites
                                                                    if s != session.cipher_suite))


def _alpn_changed(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    assert session.alpn_protocol == b"h2"
    return session, dataclasses.replace(config, alpn_protocols=(b"http/1.1",))


def _no_ems(session: Session, config: ServerConfig, clock: Clock) -> tuple[Session, ServerConfig]:
    return session, dataclasses.replace(config, extended_master_secret=False)


REFUSALS = {
    "tampered": Refusal(_tamper, "not opened", "cut short or altered, which the AES-GCM tag shows"),
    "rotated out": Refusal(_rotate_out, "not opened", "the key has rotated out"),
    "another server's": Refusal(_other_keys, "not opened", "a server with other ticket keys sealed it"),
    "expired": Refusal(_expired, "expired", "the session has outlived its lifetime"),
    "policy changed": Refusal(_policy, "verification policy changed",
                              "a session resumes only under the policy that admitted its peer"),
    "ticket keys failed": Refusal(_keys_fail, "ticket keys failed: ConnectionError",
                                  "a failing store is a miss, never an error"),
    "suite disabled": Refusal(_suite_disabled, "suite no longer enabled", "a resumed session keeps its suite"),
    "ALPN changed": Refusal(_alpn_changed, "ALPN choice would differ", "a resumed session keeps its application "
                                                                       "protocol"),
    "EMS off": Refusal(_no_ems, "EMS rule (RFC 7627 §5.3)", "RFC 7627 §5.3: a session made with the extended master "
                                                             "secret resumes only"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_ticket_is_explained(name: str, ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    refusal = REFUSALS[name]
    clock = Clock()
    client_config = ClientConfig(trust_anchors=[ca.certificate], alpn_protocols=(b"h2", b"http/1.1"))
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key,
                                 alpn_protocols=(b"h2", b"http/1.1"),
                                 ticket_keys=RotatingTicketKeys(SECRET, rotation=3600, keep=1, clock=clock))
    session, server_config = refusal.change(first_session(client_config, server_config), server_config, clock)
    refused = run(client_config, server_config, session)
    assert not refused.client.session_reused and refused.client.handshake_complete
    doc = refused.doc()
    assert doc["handshake"] == "full" and doc["complete"] is True
    assert doc["summary"]["session"].startswith("ticket offered, not resumed; new")
    hello = step(doc, "2")
    [decision] = [d for d in hello["decisions"] if d["what"] == "session"]
    assert (decision["by"], decision["value"]) == ("server", "full handshake")
    assert decision["why"].startswith(f"ticket of {len(session.ticket)} bytes: {refusal.why}")
    assert any(n.startswith("not resumed: ") and refusal.explained in n for n in hello["notes"]), hello["notes"]
    assert any("does not echo the session_id the client sent" in n for n in hello["notes"])
    assert any(session.ticket[:16].hex() in n for n in step(doc, "1")["notes"])


def test_an_unknown_session_id_is_explained(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    client_config = ClientConfig(trust_anchors=[ca.certificate], session_tickets=False)
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)
    session = first_session(client_config, server_config)
    other = dataclasses.replace(server_config, session_store=MemorySessionStore())  # another server's store
    doc = run(client_config, other, session).doc()
    [decision] = [d for d in step(doc, "2")["decisions"] if d["what"] == "session"]
    assert decision["why"] == f"session id {session.session_id.hex()}: session id unknown"
    assert any(n.startswith("not resumed: the server holds no session under that ID") for n in step(doc, "2")["notes"])
    assert doc["summary"]["session"].startswith("session id offered, not resumed; new (session id ")


class _BrokenStore:
    def get(self, key: bytes) -> bytes | None:
        raise TimeoutError("the store is slow")

    def put(self, key: bytes, value: bytes, ttl: int) -> None:
        raise TimeoutError("the store is slow")

    def delete(self, key: bytes) -> None:
        raise TimeoutError("the store is slow")


def test_a_failing_store_is_explained(ca: CertificateAuthority, leaf: IssuedCertificate) -> None:
    """The store fails on the lookup and on keeping the new session: a miss and a session not kept, never an error."""
    client_config = ClientConfig(trust_anchors=[ca.certificate], session_tickets=False)
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)
    session = first_session(client_config, server_config)
    failing = run(client_config, dataclasses.replace(server_config, session_store=_BrokenStore()), session)
    assert failing.client.handshake_complete and not failing.client.session_reused
    doc = failing.doc()
    [decision] = [d for d in step(doc, "2")["decisions"] if d["what"] == "session"]
    assert decision["why"] == f"session id {session.session_id.hex()}: store failed: TimeoutError"
    assert any(n.startswith("not resumed: the server's session store failed: a failing store is a miss")
               for n in step(doc, "2")["notes"])
    [kept] = [d for d in step(doc, "8b")["decisions"] if d["what"] == "session"]
    assert (kept["value"], kept["why"]) == ("not stored", "store failed: TimeoutError")


def test_a_session_for_another_name_is_not_offered(configs: tuple[ClientConfig, ServerConfig]) -> None:
    client_config, server_config = configs
    session = dataclasses.replace(first_session(client_config, server_config), server_name="elsewhere.example")
    doc = run(client_config, server_config, session).doc()
    [offered] = step(doc, "1")["decisions"][:1]
    assert (offered["value"], offered["why"]) == ("(none)", "SNI differs: the session is for another server name")
    assert any(n.startswith("no session offered: a session belongs to the server name it was made for")
               for n in step(doc, "1")["notes"])


def test_a_session_the_client_no_longer_offers_is_explained(configs: tuple[ClientConfig, ServerConfig]) -> None:
    client_config, server_config = configs
    clock = Clock()
    client_config = dataclasses.replace(client_config, clock=clock)
    session = first_session(client_config, server_config)
    clock.now += session.lifetime
    doc = run(client_config, server_config, session).doc()
    [offered] = step(doc, "1")["decisions"][:1]
    assert (offered["by"], offered["what"], offered["value"], offered["why"]) == \
        ("client", "session offered", "(none)", "expired")
    assert any(n.startswith("no session offered: the session has outlived its lifetime")
               for n in step(doc, "1")["notes"])
    assert doc["summary"]["session"] == "new (the server sent a ticket)"


# -- replayed: what the wire and the key log tell ----------------------------------------------------------


@pytest.mark.parametrize("by", ["ticket", "session id"])
def test_a_resumed_capture_is_explained_like_the_live_connection(by: str, ca: CertificateAuthority,
                                                                 leaf: IssuedCertificate) -> None:
    client_config = ClientConfig(trust_anchors=[ca.certificate], session_tickets=by == "ticket")
    server_config = ServerConfig(certificate_chain=leaf.chain, private_key=leaf.private_key)
    session = first_session(client_config, server_config)
    resumed = run(client_config, server_config, session)
    live, seen = resumed.doc(), resumed.doc(resumed.replayed())
    assert seen["source"] == "replay" and seen["handshake"] == "abbreviated" and seen["complete"] is True
    assert [s["number"] for s in seen["steps"]] == RESUMED and flights(seen) == flights(live)
    assert seen["summary"] == live["summary"]
    for a, b in zip(live["steps"], seen["steps"], strict=True):
        assert (a["hex"], a["fields"], a["notes"]) == (b["hex"], b["fields"], b["notes"]), a["title"]
        assert {c["what"]: c["expected"] for c in a["checks"] if c["expected"]} == \
            {c["what"]: c["expected"] for c in b["checks"] if c["expected"]}
    keys = step(seen, "2")["derivations"]
    assert {d["label"]: d["value"] for d in keys} == {d["label"]: d["value"] for d in step(live, "2")["derivations"]}
    assert keys[0]["source"] == "the key log" and keys[0]["value"] == session.master_secret.hex()
    # The key log's line for the resumed connection carries the session's master secret.
    [line] = resumed.keylog.splitlines()
    assert line.split()[2] == session.master_secret.hex()
    decisions = {d["what"]: d for s in seen["steps"] for d in s["decisions"]}
    assert decisions["session"]["value"] == "resumed" and "echoes the session_id" in decisions["session"]["why"]
    assert decisions["session offered"]["value"] == (f"ticket of {len(session.ticket)} bytes" if by == "ticket"
                                                     else f"session id {session.session_id.hex()}")
    assert step(seen, "1")["decisions"][0]["by"] == "observer"
    assert "client chose session offered" in render(resumed.replayed(), "text")
    checks = {c["what"]: (c["by"], c["status"], c["detail"]) for s in seen["steps"] for c in s["checks"]}
    assert checks["server Finished"][:2] == ("observer", "ok")
    assert "up to the ServerHello" in checks["server Finished"][2]
    assert checks["client Finished"][:2] == ("observer", "ok")
    assert "up to the server's Finished" in checks["client Finished"][2]
    plaintext = [bytes.fromhex(t["plaintext"]) for t in seen["after_handshake"] if t["kind"] == "application_data"]
    assert plaintext == [b"ping"]


def test_a_resumed_capture_without_a_key_log(configs: tuple[ClientConfig, ServerConfig]) -> None:
    session = first_session(*configs)
    doc = (resumed := run(*configs, session)).doc(resumed.replayed(keylog=False))
    assert doc["handshake"] == "abbreviated" and doc["complete"] is False and doc["failure"] is None
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3a", "4a"]
    assert any("no CLIENT_RANDOM line" in n for n in doc["notes"])


def _without_session_id(flight: bytes) -> bytes:
    """The ClientHello (one record) with its session_id emptied: RFC 5077 §3.4 lets a client offer a ticket so."""
    body = flight[5:]
    at = 4 + 2 + 32
    size = body[at]
    hello = body[:at] + b"\x00" + body[at + 1 + size :]
    hello = hello[:1] + (len(hello) - 4).to_bytes(3, "big") + hello[4:]
    return flight[:3] + len(hello).to_bytes(2, "big") + hello


def test_a_ticket_taken_without_a_session_id_is_told_by_the_change_cipher_spec(
        configs: tuple[ClientConfig, ServerConfig]) -> None:
    """With no session_id to echo, an observer learns the ticket was taken when the server's ChangeCipherSpec
    follows its ServerHello (our client sent one: the test empties it on the way, so only the server and the
    wire are traced)."""
    session = first_session(*configs)
    lines: list[str] = []
    server_config = dataclasses.replace(configs[1], key_log=lines.append)
    resumed = run(configs[0], server_config, session, traced=("server",), rewrite_hello=_without_session_id)
    # The server resumed (our client, not told so, then fails on the ChangeCipherSpec).
    assert [d["value"] for d in step(resumed.doc(), "2")["decisions"] if d["what"] == "session"] == ["resumed"]
    resumed.keylog = "".join(line + "\n" for line in lines)
    resumed.flows = resumed.flows[:2]  # up to the server's flight (our client's alert would end the story early)
    doc = resumed.doc(resumed.replayed())
    assert doc["handshake"] == "abbreviated"
    session_decisions = [(d["value"], d["why"]) for s in doc["steps"] for d in s["decisions"] if d["what"] == "session"]
    assert session_decisions == [("resumed", "the server's ChangeCipherSpec follows its ServerHello: an abbreviated "
                                  "handshake, the ticket the client offered was taken (RFC 5077 §3.4)")]
    checks = {c["what"]: c["status"] for s in doc["steps"] for c in s["checks"]}
    assert checks["server Finished"] == "ok"
    assert any("with an empty session_id" in n for n in step(doc, "1")["notes"])


def test_a_wrong_master_secret_fails_at_the_servers_finished(configs: tuple[ClientConfig, ServerConfig]) -> None:
    """A client whose session holds another master secret (its ticket is the server's): the keys differ, and the
    server's Finished, the first record under them, does not open at the client (step 3b)."""
    session = first_session(*configs)
    wrong = dataclasses.replace(session, master_secret=bytes(48))
    failed = run(*configs, wrong)
    assert failed.client.failure is not None
    doc = failed.doc()
    assert doc["handshake"] == "abbreviated" and doc["complete"] is False
    failure = doc["failure"]
    assert (failure["step"], failure["detected_by"], failure["alert_name"]) == ("3b", "client", "bad_record_mac")
    assert [n["number"] for n in doc["not_reached"]] == ["4a", "4b"]
    assert [s["number"] for s in doc["steps"]] == ["1", "2", "3a", "3b"]
    text = render(failed.events, "text")
    assert "✗ The connection failed at step 3b (Finished (server)), detected by the client." in text
