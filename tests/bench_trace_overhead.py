"""What tracing support costs: a benchmark, not a test (run it by hand).

    python tests/bench_trace_overhead.py [--handshakes 300] [--repeats 7]

Times in-memory handshakes (our client and our server, x25519, RSA-2048,
application data both ways and a clean close) in four variants, each in its
own process:

* ``stripped``: a copy of the core with every tracing branch removed by an
  AST rewrite (``if ... tracer is not None:`` blocks dropped, ``if ... tracer is
  None:`` blocks kept, ``trace()``/``decide()`` calls dropped): the same run
  without any tracing support;
* ``untraced``: the real core, no tracer attached;
* ``traced``: the real core with a `Recorder` at both ends;
* ``explained``: traced, then the explanation built and rendered as text.

It prints the median time per connection of each and the overhead relative
to ``stripped``.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CORE = ["connection.py", "handshake/base.py", "handshake/client.py", "handshake/server.py"]

RUN = r"""
import json, sys, time
from tls12 import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tls12.certs import CertificateAuthority
variant, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ca = CertificateAuthority(); leaf = ca.issue()
cc = ClientConfig(trust_anchors=[ca.certificate]); sc = ServerConfig(certificate_chain=leaf.chain,
                                                                      private_key=leaf.private_key)
def one():
    tracers = (None, None)
    if variant in ("traced", "explained"):
        from tls12.explain import Recorder, render
        rec = Recorder(); tracers = (rec.tracer("client"), rec.tracer("server"))
    c = ClientConnection(cc, server_name="localhost", tracer=tracers[0])
    s = ServerConnection(sc, tracer=tracers[1])
    for _ in range(6):
        d = c.data_to_send()
        if d: s.receive_data(d)
        d = s.data_to_send()
        if d: c.receive_data(d)
    c.send_application_data(b"ping"); s.receive_data(c.data_to_send())
    s.send_application_data(b"pong"); c.receive_data(s.data_to_send())
    c.close(); s.receive_data(c.data_to_send()); c.receive_data(s.data_to_send())
    assert c.closed and s.closed and c.failure is None
    if variant == "explained":
        render(rec.events, "text")
for _ in range(20): one()
times = []
for _ in range(repeats):
    t = time.perf_counter()
    for _ in range(n): one()
    times.append((time.perf_counter() - t) / n)
print(json.dumps(times))
"""


class _StripTracing(ast.NodeTransformer):
    @staticmethod
    def _about_tracer(node: ast.AST) -> bool:
        return "tracer" in ast.unparse(node)

    def visit_If(self, node: ast.If) -> list[ast.stmt] | ast.stmt:
        self.generic_visit(node)
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and self._about_tracer(test.left) and \
                isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None:
            kept = node.body if isinstance(test.ops[0], ast.Is) else node.orelse
            return kept or [ast.Pass()]
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1 and self._about_tracer(node.left) and isinstance(node.comparators[0], ast.Constant):
            return ast.Constant(isinstance(node.ops[0], ast.Is))
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.stmt | None:
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("trace", "decide"):
            return None
        return node


def _fix_empty(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and name == "body" and not block:
                block.append(ast.Pass())


def stripped_copy(where: Path) -> Path:
    target = where / "src"
    shutil.copytree(SRC / "tls12", target / "tls12", ignore=shutil.ignore_patterns("__pycache__"))
    for rel in CORE:
        path = target / "tls12" / rel
        tree = _StripTracing().visit(ast.parse(path.read_text(encoding="utf-8")))
        _fix_empty(tree)
        path.write_text(ast.unparse(ast.fix_missing_locations(tree)), encoding="utf-8")
        left = [line for line in path.read_text(encoding="utf-8").splitlines()
                if "tracer" in line and ("is not None" in line or "trace(" in line)]
        assert not left, (rel, left)
    return target


def measure(variant: str, src: Path, n: int, repeats: int) -> list[float]:
    result = subprocess.run([sys.executable, "-c", RUN, variant, str(n), str(repeats)], capture_output=True,
                            text=True, check=True, env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})
    times: list[float] = json.loads(result.stdout)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handshakes", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="the variants alternate this many times")
    args = parser.parse_args()
    results: dict[str, list[float]] = {"stripped": [], "untraced": [], "traced": [], "explained": []}
    with tempfile.TemporaryDirectory() as tmp:
        stripped = stripped_copy(Path(tmp))
        for _ in range(args.rounds):  # alternating, so drift in the machine's load hits every variant alike
            results["stripped"] += measure("untraced", stripped, args.handshakes, args.repeats)
            results["untraced"] += measure("untraced", SRC, args.handshakes, args.repeats)
            results["traced"] += measure("traced", SRC, args.handshakes, args.repeats)
            results["explained"] += measure("explained", SRC, max(args.handshakes // 5, 20), args.repeats)
    base_min, base_median = min(results["stripped"]), statistics.median(results["stripped"])
    print(f"{args.rounds} rounds x {args.repeats} x {args.handshakes} connections; time per connection "
          "(handshake + data both ways + close, in memory), best and median:")
    for name, times in results.items():
        best, median = min(times), statistics.median(times)
        print(f"  {name:<10} best {best * 1e3:7.3f} ms ({100 * (best / base_min - 1):+6.2f}%)   "
              f"median {median * 1e3:7.3f} ms ({100 * (median / base_median - 1):+6.2f}%)   vs stripped")


if __name__ == "__main__":
    main()
