"""(c) Check round with every kind mixed: 500 targets (HTTP, HTTPS, TCP, TLS, DNS) answering in
about 100 ms, plus 10 that never answer (HTTP, TLS handshake, DNS), under a 2 s timeout.

All targets live in one child process on 127.0.0.1 (as in check_round, so their threads do not
compete with the prober's for the GIL): HTTP and HTTPS share check_round's handler, TCP and TLS
listeners accept (TLS after a handshake), and a UDP DNS server answers each query after 100 ms
from its own thread, or never for names under hang.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import socket
import ssl
import tempfile
import threading
import time

from tests.targets import FakeServer

from .check_round import DELAY_MS, ROUND_TARGET, TIMEOUT, _answer, _wait_for_probe_threads
from .table import Row, ratio, secs

MIX = {"http": 200, "https": 100, "tcp": 100, "tls": 50, "dns": 50}
HANG = {"http": 4, "tls": 3, "dns": 3}
NAME = "bench.test"                 # resolves to 127.0.0.1 through the prober's resolver override


def _make_certs(directory: str) -> tuple[str, str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("bench CA")).issuer_name(name("bench CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name(NAME)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ("ca.pem", "leaf.pem", "leaf.key")]
    for path, data in zip(paths, (ca.public_bytes(serialization.Encoding.PEM),
                                  leaf.public_bytes(serialization.Encoding.PEM),
                                  key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))):
        with open(path, "wb") as f:
            f.write(data)
    return paths[0], paths[1], paths[2]


def _listen(tls_ctx=None, hang=False) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)

    def serve_one(conn):
        try:
            if hang:
                threading.Event().wait()
            if tls_ctx is not None:
                conn.settimeout(10)
                with tls_ctx.wrap_socket(conn, server_side=True):
                    pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def accept():
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return sock


def _dns(delay: float) -> socket.socket:
    import dns.message
    import dns.rrset
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def answer(data, peer):
        query = dns.message.from_wire(data)
        name = query.question[0].name
        if name.to_text().startswith("hang"):
            return
        time.sleep(delay)
        resp = dns.message.make_response(query)
        resp.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1"))
        sock.sendto(resp.to_wire(), peer)

    def serve():
        while True:
            data, peer = sock.recvfrom(4096)
            threading.Thread(target=answer, args=(data, peer), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return sock


def _serve_all(conn, cert: str, key: str) -> None:
    """Child process: every kind of target; sends back their ports, then serves until killed."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    http = FakeServer(_answer, protocol="HTTP/1.0", record=False)
    https = FakeServer(_answer, protocol="HTTP/1.0", record=False)
    # The listening socket keeps its descriptor when wrapped: the running server accepts TLS.
    https.server.socket = tls.wrap_socket(https.server.socket, server_side=True)
    ports = {"http": http.port, "https": https.port,
             "tcp": _listen().getsockname()[1], "tls": _listen(tls).getsockname()[1],
             "tls_hang": _listen(hang=True).getsockname()[1],
             "dns": _dns(DELAY_MS / 1000).getsockname()[1]}
    conn.send(ports)
    conn.close()
    threading.Event().wait()


def _monitors(ports: dict) -> list:
    from chalicelib.core.model import Monitor
    out = []
    for kind, n in MIX.items():
        for i in range(n):
            url, conds = {
                "http": (f"http://{NAME}:{ports['http']}/ok/{i}?ms={DELAY_MS}", ("[STATUS] == 200",)),
                "https": (f"https://{NAME}:{ports['https']}/ok/{i}?ms={DELAY_MS}",
                          ("[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h")),
                "tcp": (f"tcp://{NAME}:{ports['tcp']}", ("[CONNECTED] == true",)),
                "tls": (f"tls://{NAME}:{ports['tls']}", ("[CERTIFICATE_EXPIRATION] > 48h",)),
                "dns": (f"dns://ok{i}.{NAME}?type=A", ("[DNS_RCODE] == NOERROR", "[BODY] == 192.0.2.1")),
            }[kind]
            out.append(Monitor(f"ok.{kind}.{i}", url, timeout=TIMEOUT, conditions=conds))
    hangs = {"http": lambda i: (f"http://{NAME}:{ports['http']}/hang/{i}", ("[STATUS] == 200",)),
             "tls": lambda i: (f"tls://{NAME}:{ports['tls_hang']}", ("[CONNECTED] == true",)),
             "dns": lambda i: (f"dns://hang{i}.{NAME}?type=A", ("[DNS_RCODE] == NOERROR",))}
    for kind, n in HANG.items():
        for i in range(n):
            url, conds = hangs[kind](i)
            out.append(Monitor(f"hang.{kind}.{i}", url, timeout=TIMEOUT, conditions=conds))
    # spread the hanging ones through the round, as check_round's "spread" case does
    fast, slow = [m for m in out if m.id.startswith("ok.")], [m for m in out if m.id.startswith("hang.")]
    step = len(fast) // len(slow)
    for k in reversed(range(len(slow))):
        fast.insert(k * step, slow[k])
    return fast


def run() -> tuple[list[Row], dict]:
    from chalicelib.adapters.prober import Prober, run_checks
    from chalicelib.core.model import Level

    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = _make_certs(tmp)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_serve_all, args=(child, cert, key), daemon=True)
        proc.start()
        child.close()
        try:
            if not parent.poll(30):
                raise RuntimeError("mixed target server did not start")
            ports = parent.recv()
            prober = Prober("https://status.bench.example", allow_private=True,
                            resolver=lambda name: ["127.0.0.1"], ca_file=ca,
                            nameservers=[("127.0.0.1", ports["dns"])])
            monitors = _monitors(ports)
            run_checks(prober, [(m, "us-east-1") for m in monitors[:25]])      # warm-up
            _wait_for_probe_threads()
            t0 = time.perf_counter()
            results = run_checks(prober, [(m, "us-east-1") for m in monitors])
            wall = time.perf_counter() - t0
            _wait_for_probe_threads()
        finally:
            proc.terminate()
            proc.join(5)
    by_kind: dict = {}
    for r in results:
        _, kind, _ = r.monitor_id.split(".")
        slot = by_kind.setdefault((r.monitor_id.split(".")[0], kind), [0, 0])
        slot[0] += r.level == Level.OK
        slot[1] += 1
    fast_ok = sum(v[0] for (group, _), v in by_kind.items() if group == "ok")
    hung = [r for r in results if r.monitor_id.startswith("hang.")]
    hung_failed = sum(1 for r in hung if r.level == Level.FAIL and r.error and "timeout" in r.error)
    fast_total, hang_total = sum(MIX.values()), sum(HANG.values())
    rows = [
        Row(f"round, {fast_total} mixed + {hang_total} hang vs timeout", secs(wall), secs(TIMEOUT),
            ratio(wall, TIMEOUT), f"< {ROUND_TARGET}x",
            ok=wall < ROUND_TARGET * TIMEOUT and len(results) == fast_total + hang_total),
        Row("  targets OK", f"{fast_ok}/{fast_total}", target=f"= {fast_total}", ok=fast_ok == fast_total),
        Row("  hanging ones reported as timeouts", f"{hung_failed}/{hang_total}",
            target=f"= {hang_total}", ok=hung_failed == hang_total),
    ]
    for (group, kind), (ok, n) in sorted(by_kind.items()):
        if group == "ok":
            rows.append(Row(f"    {kind} OK", f"{ok}/{n}"))
    errors = sorted({r.error for r in results if r.monitor_id.startswith("ok.") and r.error})[:3]
    return rows, {"wall": wall, "errors": errors}
