"""Every crash the fuzzers found, kept as a regression test.

regressions/<target>-<what>.bin are the inputs exactly as the fuzzer wrote them (fuzz_targets.py
says how the first byte is read); the readable tests below rebuild the same failure from the
golden transcript so the cause is plain.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import fuzz_targets
import pytest
from fuzz_targets import TARGETS, run_bounded

from tls12 import AlertDescription, ClientConnection, TLSError
from tls12.errors import CertificateError, InternalError

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.bin"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_fuzzer_finding(path: Path) -> None:
    target = TARGETS[path.stem.split("-", 1)[0]]
    run_bounded(target, path.read_bytes())


# -- the certificate findings (client): a server certificate whose key cannot be loaded ----------

RSA_ENCRYPTION = bytes.fromhex("06092a864886f70d0101010500")  # AlgorithmIdentifier rsaEncryption, NULL


def _server_stream_with(name: str, old: bytes, new: bytes) -> bytes:
    flows = fuzz_targets.golden_flows(name)
    f2 = flows[1][1]
    assert f2.count(old) == 1 and len(old) == len(new)
    return f2.replace(old, new)


CERTIFICATE_EDITS = [
    # The SubjectPublicKeyInfo names an algorithm that is not a key type (md2WithRSAEncryption).
    ("unknown key algorithm", RSA_ENCRYPTION, bytes.fromhex("06092a864886f70d0101020500"),
     AlertDescription.UNSUPPORTED_CERTIFICATE),
    # X.509 version 6 (the field holds 5): load_der_x509_certificate raises InvalidVersion, which is
    # not a ValueError.
    ("X.509 version 6", bytes.fromhex("a003020102"), bytes.fromhex("a003020105"), AlertDescription.BAD_CERTIFICATE),
    # An RSA key with an even public exponent (65538): not a valid RSA key.
    ("even RSA exponent", bytes.fromhex("0203010001"), bytes.fromhex("0203010002"), AlertDescription.BAD_CERTIFICATE),
]


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
@pytest.mark.parametrize(("what", "old", "new", "alert"), CERTIFICATE_EDITS, ids=[c[0] for c in CERTIFICATE_EDITS])
def test_server_certificate_with_an_unloadable_key(
    verify: bool, what: str, old: bytes, new: bytes, alert: AlertDescription
) -> None:
    """cryptography parses certificates lazily: load_der_x509_certificate succeeds and the key is
    only decoded by public_key(), which raises UnsupportedAlgorithm or ValueError; and an unknown
    version raises InvalidVersion, not ValueError. Those must be certificate errors, not
    internal_error: RFC 5246 §7.2.2 unsupported_certificate for a key type that is not supported,
    bad_certificate for a corrupt one (Go's client sends the same two)."""
    config = dataclasses.replace(fuzz_targets.client_config("x25519"), verify_certificates=verify,
                                 check_hostname=verify)
    client = ClientConnection(config, server_name="localhost")
    client.data_to_send()
    with pytest.raises(TLSError) as info:
        client.receive_data(_server_stream_with("x25519", old, new))
    assert not isinstance(info.value, InternalError), f"{what}: {info.value!r} (cause {info.value.__cause__!r})"
    assert isinstance(info.value, CertificateError)
    assert info.value.alert == alert
