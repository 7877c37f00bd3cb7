"""Real servers on 127.0.0.x that probe tests control: HTTP(S) with redirects, TCP, TLS, DNS.

Certificates are made here with `cryptography` (a CA and leaves signed by it), so TLS checks
verify a real chain; the DNS server answers real wire-format queries over UDP.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


# --- certificates ------------------------------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class CA:
    def __init__(self, directory):
        self.dir = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name("Outpost Test CA"))
                     .issuer_name(_name("Outpost Test CA")).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1))
                     .not_valid_after(now + dt.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.file = os.path.join(directory, "ca.pem")
        with open(self.file, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))

    def leaf(self, names, valid_for=dt.timedelta(days=90), valid_from=None):
        """(certfile, keyfile) for `names`; a negative `valid_for` makes an expired certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        start = valid_from or now - dt.timedelta(days=1)
        end = now + valid_for
        if end <= start:
            start = end - dt.timedelta(days=30)
        sans = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n)
                for n in names]
        cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .sign(self.key, hashes.SHA256()))
        stem = os.path.join(self.dir, f"{names[0]}-{cert.serial_number}")
        with open(stem + ".crt", "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(stem + ".key", "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        return stem + ".crt", stem + ".key", end


def server_context(certfile, keyfile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


# --- HTTP(S) --------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    request_queue_size = 128            # socketserver's 5 drops SYNs when checks arrive at once


class Web:
    """An HTTP(S) server. Paths:
      /ok                       200 {"status": "ok"}
      /status/<code>            that status
      /echo                     200, the request (method, headers, body) as JSON
      /redirect?to=<url>&code=  a redirect (302 by default) to `to`
      /loop                     302 to itself
    Every request is recorded in `requests` (so a test can prove no packet arrived)."""

    def __init__(self, host="127.0.0.1", tls=None):
        self.requests = []
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                web.requests.append({"method": self.command, "path": self.path, "body": body,
                                     "headers": dict(self.headers)})
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                code, headers, out = 200, {"Content-Type": "application/json"}, {"status": "ok"}
                if url.path.startswith("/status/"):
                    code = int(url.path.rsplit("/", 1)[1])
                elif url.path == "/echo":
                    out = {"method": self.command, "body": body, "headers": dict(self.headers)}
                elif url.path == "/redirect":
                    code, headers["Location"] = int(q.get("code", 302)), q["to"]
                elif url.path == "/loop":
                    code, headers["Location"] = 302, "/loop"
                elif url.path == "/close":              # the server hangs up after answering
                    headers["Connection"], self.close_connection = "close", True
                raw = json.dumps(out).encode()
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(raw)

            do_GET = do_POST = do_HEAD = do_PUT = _answer

        self.server = _Server((host, 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.host = host
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path="/ok", host=None, scheme=None):
        scheme = scheme or ("https" if isinstance(self.server.socket, ssl.SSLSocket) else "http")
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- TCP and TLS ------------------------------------------------------------------------------

class Listener:
    """Accepts TCP connections (and does a TLS handshake when given a context), then closes."""

    def __init__(self, tls=None, host="127.0.0.1"):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.tls = tls
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                if self.tls is not None:
                    conn.settimeout(5)
                    with self.tls.wrap_socket(conn, server_side=True):
                        pass
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- DNS --------------------------------------------------------------------------------------

class DnsServer:
    """A UDP DNS server on 127.0.0.1: `records[(name, type)] = [rdata text, ...]`;
    names in `rcodes` get that rcode; everything else is NXDOMAIN. Set `silent` to drop queries."""

    def __init__(self):
        import dns.flags  # noqa: F401  (imported here: only these tests need dnspython's server side)
        self.records: dict = {}
        self.rcodes: dict = {}
        self.silent = False
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            q = query.question[0]
            name = q.name.to_text().rstrip(".")
            rtype = dns.rdatatype.to_text(q.rdtype)
            self.queries.append((name, rtype))
            if self.silent:
                continue
            resp = dns.message.make_response(query)
            if name in self.rcodes:
                resp.set_rcode(dns.rcode.from_text(self.rcodes[name]))
            elif (name, rtype) in self.records:
                resp.answer.append(dns.rrset.from_text_list(
                    q.name, 60, "IN", rtype, self.records[(name, rtype)]))
            elif not any(n == name for n, _ in self.records):
                resp.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(resp.to_wire(), peer)

    def close(self):
        self.sock.close()
