"""The explanation as JSON, for tools: the same content as the text, with every byte.

Schema ``tls12.explain/1``. Keys always appear, in the order below (absent
values are ``null``); bytes are lower-case hex strings; code points are
numbers with their names next to them. Secret values (premaster, master,
key block, keys, salts) are ``null`` with ``"hidden": true`` unless secrets
were revealed.

::

    {
      "schema": "tls12.explain/1",
      "title": str, "subtitle": str,
      "source": "live" | "replay",          # a traced connection, or `tls12 explain` on a capture
      "traced": ["client" | "server" | "observer", ...],
      "complete": bool,                     # the handshake finished (both Finished messages)
      "handshake": "full" | "abbreviated",  # abbreviated: a session resumed (RFC 5246 §7.3)
      "secrets_revealed": bool,
      "summary": {"version": str, "cipher suite": str, "group": str, "signature scheme": str,
                  "extended master secret": "yes" | "no", "ALPN": str, "server name (SNI)": str,
                  "session": str,           # "resumed by ticket (abbreviated handshake)", "new (...)", ...
                  "client certificate": str},  # the last only in mutual TLS
                                            # only what the handshake got to
      "flights": [{"number": int, "from": role, "to": role,
                   "phase": "handshake" | "application" | "close" | "failure", "wire_bytes": int,
                   "messages": [{"label": str, "step": str | null, "protected": bool,
                                 "status": "ok" | "failed" | "unprocessed"}]}],
      "steps": [{
          "number": "1".."8b" | "",          # "" for a message outside the steps; mutual TLS adds "4b", "5b", "6b",
                                             # a ticket "8" (NewSessionTicket); abbreviated: "1", "2", "2b" (a
                                             # renewed ticket), "3a", "3b" (the server's), "4a", "4b" (the client's)
          "id": "client_hello" | "server_hello" | "certificate" | "server_key_exchange" | "certificate_request"
                | "server_hello_done" | "client_certificate" | "client_key_exchange" | "certificate_verify"
                | "client_change_cipher_spec" | "client_finished" | "new_session_ticket"
                | "server_change_cipher_spec" | "server_finished" | ...,
          "title": str, "message": str, "from": role, "to": role, "rfc": str, "purpose": str,
          "status": "ok" | "failed", "seen": bool,
          "length": int, "hex": str,         # the message as the transcript hashes it (header included)
          "records": [{"content_type": int, "content_type_name": str, "version": int, "length": int,
                       "protected": bool, "seq": int | null, "explicit_nonce": hex | null,
                       "plaintext_length": int, "header": hex}],
          "fields": [field],                 # in wire order
          "decisions": [{"by": side, "what": str, "value": str, "why": str}],
          "checks": [{"by": side | "both", "what": str, "status": "ok" | "failed" | "skipped", "detail": str,
                      "subject": str, "expected": hex | null, "received": hex | null}],
          "derivations": [{"label": str, "length": int, "secret": bool, "hidden": bool, "value": hex | null,
                           "formula": str, "meaning": str, "by": side, "source": str}],
          "notes": [str]}],
      "not_reached": [{"number": str, "title": str, "sent": bool}],
      "failure": null | {"step": str | null, "step_title": str, "detected_by": role, "state": str,
                         "expected": str, "received": str, "error": str, "error_type": str,
                         "alert": int | null, "alert_name": str | null,
                         "alert_direction": "sent" | "received" | "none", "peer_view": str, "inferred": bool},
      "after_handshake": [{"from": role, "to": role, "kind": "application_data" | "alert" | "handshake",
                           "record": record | null, "plaintext": hex | null,
                           "alert_level": int | null, "alert_description": int | null,
                           "alert_name": str | null, "note": str,
                           "nonce": hex | null,      # the record's AEAD nonce (shown with the secrets)
                           "nonce_rule": str}],      # how it is made: "client_write_IV XOR <seq>", ...
      "record_protection": str,             # the negotiated AEAD and its nonce rule, in words
      "decisions_after_handshake": [decision],
      "notes": [str]
    }

    field = {"name": str, "value": str, "meaning": str,
             "kind": "field" | "length" | "header" | "group" | "info",
             "offset": int | null, "length": int | null,   # into the step's "hex"; null for "info" fields
             "hex": hex | null,                 # a leaf's bytes (a group's are its children's)
             "children": [field]}               # a group's children tile its bytes
"""

from __future__ import annotations

import json
from typing import Any

from .model import Check, DecisionInfo, Derivation, Explanation, Field, RecordInfo, Step, TrafficItem, other
from .names import alert_name, content_type_name

__all__ = ["SCHEMA", "render_json", "to_json"]

SCHEMA = "tls12.explain/1"


def _hex(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def _field(f: Field, raw: bytes) -> dict[str, Any]:
    has_bytes = f.start is not None and f.end is not None
    return {
        "name": f.name,
        "value": f.value,
        "meaning": f.meaning,
        "kind": f.kind,
        "offset": f.start,
        "length": f.length if has_bytes else None,
        "hex": raw[f.start : f.end].hex() if has_bytes and not f.children else None,
        "children": [_field(c, raw) for c in f.children],
    }


def _record(r: RecordInfo) -> dict[str, Any]:
    return {
        "content_type": r.content_type,
        "content_type_name": content_type_name(r.content_type),
        "version": r.version,
        "length": r.length,
        "protected": r.protected,
        "seq": r.seq,
        "explicit_nonce": _hex(r.explicit_nonce),
        "plaintext_length": r.plaintext_length,
        "header": r.header.hex(),
    }


def _decision(d: DecisionInfo) -> dict[str, Any]:
    return {"by": d.by, "what": d.what, "value": d.value, "why": d.why}


def _check(c: Check) -> dict[str, Any]:
    return {
        "by": c.by,
        "what": c.what,
        "status": c.status,
        "detail": c.detail,
        "subject": c.subject,
        "expected": c.expected.hex() if c.expected else None,
        "received": c.received.hex() if c.received else None,
    }


def _derivation(d: Derivation, reveal: bool) -> dict[str, Any]:
    hidden = d.secret and not reveal and d.value is not None
    return {
        "label": d.label,
        "length": d.length,
        "secret": d.secret,
        "hidden": hidden,
        "value": None if hidden else _hex(d.value),
        "formula": d.formula,
        "meaning": d.meaning,
        "by": d.by,
        "source": d.source,
    }


def _step(step: Step, reveal: bool) -> dict[str, Any]:
    return {
        "number": step.number,
        "id": step.id,
        "title": step.title,
        "message": step.message,
        "from": step.sender,
        "to": step.receiver,
        "rfc": step.rfc,
        "purpose": step.purpose,
        "status": step.status,
        "seen": step.seen,
        "length": len(step.raw),
        "hex": step.raw.hex(),
        "records": [_record(r) for r in step.records],
        "fields": [_field(f, step.raw) for f in step.fields],
        "decisions": [_decision(d) for d in step.decisions],
        "checks": [_check(c) for c in step.checks],
        "derivations": [_derivation(d, reveal) for d in step.derivations],
        "notes": list(step.notes),
    }


def _traffic(item: TrafficItem, reveal: bool) -> dict[str, Any]:
    return {
        "nonce": _hex(item.nonce) if reveal else None,
        "nonce_rule": item.nonce_rule,
        "from": item.sender,
        "to": other(item.sender),
        "kind": item.kind,
        "record": _record(item.record) if item.record is not None else None,
        "plaintext": _hex(item.plaintext),
        "alert_level": item.alert_level,
        "alert_description": item.alert_description,
        "alert_name": alert_name(item.alert_description) if item.alert_description is not None else None,
        "note": item.note,
    }


def to_json(exp: Explanation, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """The explanation as plain JSON-able data (see the module docstring for the schema)."""
    failure = exp.failure
    return {
        "schema": SCHEMA,
        "title": exp.title,
        "subtitle": exp.subtitle,
        "source": exp.source,
        "traced": list(exp.traced),
        "complete": exp.complete,
        "handshake": exp.kind,
        "secrets_revealed": reveal_secrets,
        "summary": dict(exp.summary),
        "flights": [
            {
                "number": f.number,
                "from": f.sender,
                "to": other(f.sender),
                "phase": f.phase,
                "wire_bytes": f.wire_bytes,
                "messages": [{"label": i.label, "step": i.step, "protected": i.protected, "status": i.status}
                             for i in f.items],
            }
            for f in exp.flights
        ],
        "steps": [_step(s, reveal_secrets) for s in exp.steps],
        "not_reached": [{"number": n.number, "title": n.title, "sent": n.sent} for n in exp.not_reached],
        "failure": None if failure is None else {
            "step": failure.step,
            "step_title": failure.step_title,
            "detected_by": failure.detected_by,
            "state": failure.state,
            "expected": failure.expected,
            "received": failure.received,
            "error": failure.error,
            "error_type": failure.error_type,
            "alert": failure.alert,
            "alert_name": alert_name(failure.alert) if failure.alert is not None else None,
            "alert_direction": failure.alert_direction,
            "peer_view": failure.peer_view,
            "inferred": failure.inferred,
        },
        "record_protection": exp.record_protection,
        "after_handshake": [_traffic(t, reveal_secrets) for t in exp.traffic],
        "decisions_after_handshake": [_decision(d) for d in exp.traffic_decisions],
        "notes": list(exp.notes),
    }


def render_json(exp: Explanation, *, reveal_secrets: bool = False) -> str:
    return json.dumps(to_json(exp, reveal_secrets=reveal_secrets), indent=2, ensure_ascii=False) + "\n"
