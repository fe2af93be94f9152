"""Golden explanations of the deterministic golden transcripts (text and JSON).

The connections recorded in tests/data/golden/<group>.txt are deterministic
(see test_golden.py), so their explanations are too:

* ``tests/data/explain/<group>.replay.txt`` (and ``x25519.replay.json``): `tls12
  explain` on the recorded bytes with the key log
  ``tests/data/golden/<group>.keylog`` and the golden CA as trust anchor, at the
  golden clock, secrets revealed;
* ``tests/data/explain/x25519.live.txt`` and ``.json``: the same connection run
  live with both ends traced (text as `tls12 demo` prints it, secrets hidden;
  JSON with secrets revealed);
* for the mutual-TLS transcript, also the live JSON and HTML and the replayed
  JSON (its failures are in test_explain_mutual.py);
* for the resumed connections (an abbreviated handshake by ticket, by session
  ID, and with a renewed ticket), the live text (secrets revealed); by ticket
  and by session ID also the live JSON and HTML and the replayed JSON.

The key logs are computed, not recorded: the client alone, with its
deterministic provider, replays the recorded server flows and logs its master
secret. Re-record everything after an intended change with::

    pytest tests/test_explain_golden.py --update-golden

and review the diff.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from test_golden import (
    C2S,
    CA_PEM,
    CLIENT_CA_PEM,
    CLOCK,
    GROUPS,
    KINDS,
    RESUMED,
    S2C,
    SERVER_NAME,
    _configs,
    script,
    session_for,
)
from tls12 import ClientConnection, ServerConnection
from tls12.cli.main import main
from tls12.explain import Explanation, Recorder, Tagged, explain, render
from tls12.explain.capture import Capture, Flow, parse_flows
from tls12.explain.replay import replay

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
EXPLAIN = DATA / "explain"
LIVE_TITLE = "tls12 golden connection (x25519), traced live at both ends"


def _update(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def _compare(path: Path, actual: str, update: bool) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: record it with pytest {Path(__file__).name} --update-golden"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                                 str(path), "now"))[:80])
        pytest.fail(f"{path.name} differs from what tls12 produces now "
                    f"(re-record with --update-golden if intended):\n{diff}")


def _flows(name: str) -> list[Flow]:
    return parse_flows((GOLDEN / f"{name}.txt").read_text(encoding="ascii"))


# Every golden transcript; the ones whose client can be replayed byte for byte (not static RSA, whose
# PKCS#1 v1.5 padding is drawn by `cryptography`) are also run live.
NAMES = [*GROUPS, *KINDS, *RESUMED]
LIVE_NAMES = [*GROUPS, *(name for name, kind in KINDS.items() if kind.client_reproducible), *RESUMED]


def compute_keylog(name: str) -> str:
    """The client alone replays the recorded server flows; its key log line is the connection's. (For static
    RSA the server alone replays the recorded client flows: it decrypts the same premaster.)"""
    if name in KINDS and not KINDS[name].client_reproducible:
        return _server_keylog(name)
    lines: list[str] = []
    client_config, _ = _configs(name)
    client = ClientConnection(dataclasses.replace(client_config, key_log=lines.append), server_name=SERVER_NAME,
                              session=session_for(name))
    for (direction, data), step in zip(_flows(name), script(name), strict=True):
        if direction == C2S:
            assert client.data_to_send() == data, f"{name}: the client no longer sends the recorded bytes"
        else:
            client.receive_data(data)
            if step.then is not None:
                step.then(client)
    assert len(lines) == 1
    return lines[0] + "\n"


def _server_keylog(name: str) -> str:
    lines: list[str] = []
    _, server_config = _configs(name)
    server = ServerConnection(dataclasses.replace(server_config, key_log=lines.append))
    for (direction, data), step in zip(_flows(name), script(name), strict=True):
        if direction == S2C:
            assert server.data_to_send() == data, f"{name}: the server no longer sends the recorded bytes"
        else:
            server.receive_data(data)
            if step.then is not None:
                step.then(server)
    assert len(lines) == 1
    return lines[0] + "\n"


def _keylog(name: str, update: bool) -> str:
    path = GOLDEN / f"{name}.keylog"
    if update:
        path.write_text(compute_keylog(name), encoding="ascii")
    assert path.exists(), f"{path} is missing: record it with --update-golden"
    return path.read_text(encoding="ascii")


def _anchors(name: str = "x25519") -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates((KINDS[name].ca if name in KINDS else CA_PEM).read_bytes())


def _client_anchors(name: str) -> list[x509.Certificate] | None:
    """The client CA, for a mutual-TLS transcript (None: the client sends no certificate)."""
    if name in KINDS and KINDS[name].client_scheme is not None:
        return x509.load_pem_x509_certificates(CLIENT_CA_PEM.read_bytes())
    return None


def replayed(name: str, keylog: str) -> list[Tagged]:
    return replay(Capture(_flows(name)), keylog, trust_anchors=_anchors(name), now=CLOCK,
                  client_trust_anchors=_client_anchors(name))


def _replay_explanation(name: str, keylog: str) -> Explanation:
    return explain(replayed(name, keylog), title=f"tls12 explain: tests/data/golden/{name}.txt",
                   subtitle=f"The golden {name} connection, replayed with tests/data/golden/{name}.keylog.")


def live_events(name: str) -> list[Tagged]:
    """The golden connection run live, both ends traced (deterministic: same bytes as the recording)."""
    recorder = Recorder()
    client_config, server_config = _configs(name)
    client = ClientConnection(client_config, server_name=SERVER_NAME, session=session_for(name),
                              tracer=recorder.tracer("client"))
    server = ServerConnection(server_config, tracer=recorder.tracer("server"))
    flows = _flows(name)
    for (direction, recorded), step in zip(flows, script(name), strict=True):
        sender, receiver = (client, server) if direction == C2S else (server, client)
        data = sender.data_to_send()
        assert data == recorded, f"{name}: the live run no longer matches the recording"
        receiver.receive_data(data)
        if step.then is not None:
            step.then(receiver)
    recorder.application_data("client", "out", b"ping")
    recorder.application_data("server", "in", b"ping")
    recorder.application_data("server", "out", b"pong")
    recorder.application_data("client", "in", b"pong")
    assert client.failure is None and server.failure is None and client.closed and server.closed
    return recorder.events


@pytest.mark.parametrize("name", NAMES)
def test_shipped_keylog_is_the_connections(name: str, request: pytest.FixtureRequest) -> None:
    assert _keylog(name, _update(request)) == compute_keylog(name)


@pytest.mark.parametrize("name", NAMES)
def test_replay_text_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    exp = _replay_explanation(name, _keylog(name, _update(request)))
    _compare(EXPLAIN / f"{name}.replay.txt", render(exp, "text", reveal_secrets=True), _update(request))


def test_replay_json_matches_golden(request: pytest.FixtureRequest) -> None:
    exp = _replay_explanation("x25519", _keylog("x25519", _update(request)))
    _compare(EXPLAIN / "x25519.replay.json", render(exp, "json", reveal_secrets=True), _update(request))


def test_live_text_matches_golden(request: pytest.FixtureRequest) -> None:
    text = render(live_events("x25519"), "text", title=LIVE_TITLE)
    _compare(EXPLAIN / "x25519.live.txt", text, _update(request))


@pytest.mark.parametrize("name", [name for name in LIVE_NAMES if name in KINDS])
def test_live_text_of_each_kind_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    """The other kinds of suite, live at both ends, secrets revealed (DHE's and ECDSA's key schedule, nonces)."""
    text = render(live_events(name), "text", reveal_secrets=True,
                  title=f"tls12 golden connection ({name}), traced live at both ends")
    _compare(EXPLAIN / f"{name}.live.txt", text, _update(request))


def test_live_json_matches_golden(request: pytest.FixtureRequest) -> None:
    text = render(live_events("x25519"), "json", reveal_secrets=True, title=LIVE_TITLE)
    _compare(EXPLAIN / "x25519.live.json", text, _update(request))


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_live_mutual_tls_matches_golden(fmt: str, request: pytest.FixtureRequest) -> None:
    """Mutual TLS, live at both ends, as JSON and as the HTML page (secrets revealed)."""
    title = "tls12 golden connection (mutual_tls), traced live at both ends"
    text = render(live_events("mutual_tls"), fmt, reveal_secrets=True, title=title)  # type: ignore[arg-type]
    _compare(EXPLAIN / f"mutual_tls.live.{fmt}", text, _update(request))


def test_replayed_mutual_tls_json_matches_golden(request: pytest.FixtureRequest) -> None:
    exp = _replay_explanation("mutual_tls", _keylog("mutual_tls", _update(request)))
    _compare(EXPLAIN / "mutual_tls.replay.json", render(exp, "json", reveal_secrets=True), _update(request))


@pytest.mark.parametrize("name", list(RESUMED))
def test_live_text_of_a_resumed_connection_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    """The abbreviated handshake, live at both ends, secrets revealed: the keys from the resumed master secret."""
    text = render(live_events(name), "text", reveal_secrets=True,
                  title=f"tls12 golden connection ({name}), traced live at both ends")
    _compare(EXPLAIN / f"{name}.live.txt", text, _update(request))


@pytest.mark.parametrize("fmt", ["json", "html"])
@pytest.mark.parametrize("name", ["resumed_ticket", "resumed_id"])
def test_live_resumed_connection_matches_golden(name: str, fmt: str, request: pytest.FixtureRequest) -> None:
    title = f"tls12 golden connection ({name}), traced live at both ends"
    text = render(live_events(name), fmt, reveal_secrets=True, title=title)  # type: ignore[arg-type]
    _compare(EXPLAIN / f"{name}.live.{fmt}", text, _update(request))


@pytest.mark.parametrize("name", ["resumed_ticket", "resumed_id"])
def test_replayed_resumed_connection_json_matches_golden(name: str, request: pytest.FixtureRequest) -> None:
    exp = _replay_explanation(name, _keylog(name, _update(request)))
    assert exp.kind == "abbreviated" and exp.complete
    _compare(EXPLAIN / f"{name}.replay.json", render(exp, "json", reveal_secrets=True), _update(request))


def test_the_cli_replays_a_golden_transcript(tmp_path: Path, request: pytest.FixtureRequest,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`tls12 explain FILE --keylog K --cafile CA --explain json` gives the golden steps (the CLI verifies the
    chain at the current time, so only the time-independent parts are compared)."""
    keylog = GOLDEN / "x25519.keylog"
    _keylog("x25519", _update(request))
    out = tmp_path / "x.json"
    assert main(["explain", str(GOLDEN / "x25519.txt"), "--keylog", str(keylog), "--cafile", str(CA_PEM),
                 "--explain", "json", "--reveal-secrets", "--output", str(out)]) == 0
    got = json.loads(out.read_text(encoding="utf-8"))
    want = json.loads((EXPLAIN / "x25519.replay.json").read_text(encoding="utf-8"))
    assert [s["hex"] for s in got["steps"]] == [s["hex"] for s in want["steps"]]
    assert [s["derivations"] for s in got["steps"]] == [s["derivations"] for s in want["steps"]]
    assert got["after_handshake"] == want["after_handshake"]
    assert got["complete"] is True


def _step(doc: dict[str, Any], number: str) -> dict[str, Any]:
    step: dict[str, Any] = next(s for s in doc["steps"] if s["number"] == number)
    return step


@pytest.mark.parametrize("name", LIVE_NAMES)
def test_live_and_replayed_explanations_agree(name: str, request: pytest.FixtureRequest) -> None:
    """What the two ends traced and what an observer reads off the wire are the same values."""
    live = json.loads(render(live_events(name), "json", reveal_secrets=True))
    seen = json.loads(render(replayed(name, _keylog(name, _update(request))), "json", reveal_secrets=True))
    assert [s["number"] for s in live["steps"]] == [s["number"] for s in seen["steps"]]
    for a, b in zip(live["steps"], seen["steps"], strict=True):
        assert a["hex"] == b["hex"], a["title"]
        assert a["fields"] == b["fields"], a["title"]
        assert [(r["header"], r["seq"], r["explicit_nonce"]) for r in a["records"]] == \
            [(r["header"], r["seq"], r["explicit_nonce"]) for r in b["records"]], a["title"]
        expected = {c["what"]: c["expected"] for c in a["checks"] if c["expected"]}
        assert expected == {c["what"]: c["expected"] for c in b["checks"] if c["expected"]}, a["title"]
        if a["number"] != "6":  # there the live ends also know the premaster secret
            assert a["notes"] == b["notes"], a["title"]
    # The key schedule: at the ClientKeyExchange; resumed, at the ServerHello (no premaster at all).
    resumed = name in RESUMED
    assert live["handshake"] == seen["handshake"] == ("abbreviated" if resumed else "full")
    keys_step = "2" if resumed else "6"
    live_keys = {d["label"]: d["value"] for d in _step(live, keys_step)["derivations"]}
    seen_keys = {d["label"]: d["value"] for d in _step(seen, keys_step)["derivations"]}
    if not resumed:
        assert seen_keys.pop("pre_master_secret") is None  # an observer cannot know it
        assert live_keys.pop("pre_master_secret")
    assert "pre_master_secret" not in live_keys and live_keys == seen_keys
    if resumed:
        assert live_keys["master_secret"] == session_for(name).master_secret.hex()  # type: ignore[union-attr]
    assert live["summary"] == seen["summary"]
    assert [(t["kind"], t["record"], t["plaintext"]) for t in live["after_handshake"]] == \
        [(t["kind"], t["record"], t["plaintext"]) for t in seen["after_handshake"]]
    assert [(t["nonce"], t["nonce_rule"]) for t in live["after_handshake"]] == \
        [(t["nonce"], t["nonce_rule"]) for t in seen["after_handshake"]]
    assert live["record_protection"] == seen["record_protection"]
