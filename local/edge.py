"""The local edge: nginx in front of the local API, as CloudFront is in front of the deployed one.

local/edge_config.py says what it does; this module finds nginx, writes the generated config
into a private directory, runs nginx unprivileged in the foreground as a child process and stops
it by its PID. `make edge` installs nginx (Debian's nginx-light and its Brotli module).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from typing import Optional

from local.edge_config import EdgeSettings, render

BROTLI_MODULE = "/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so"
INSTALL_HINT = "nginx is not installed: run `make edge` (apt-get install nginx-light)"


def edge_read_policy(bucket: str) -> str:
    """The bucket policy that lets the edge read the static copy. CloudFront signs its reads
    (Origin Access Control, infra/resources.yaml StaticBucketPolicy); nginx does not sign, so
    the local bucket, reachable only on 127.0.0.1, allows unsigned reads of its objects."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "LocalEdgeReads", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})


class EdgeError(RuntimeError):
    pass


def nginx_binary() -> Optional[str]:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def settings(port: int, origin: str, static: str, bucket: str, origin_secret: str,
             workdir: str) -> EdgeSettings:
    return EdgeSettings(port=port, origin=origin, static=static, bucket=bucket,
                        origin_secret=origin_secret, workdir=os.path.abspath(workdir),
                        brotli_module=BROTLI_MODULE if os.path.exists(BROTLI_MODULE) else None,
                        user="root" if os.geteuid() == 0 else None)


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read().strip()


class Edge:
    """One nginx process serving `s.port`; `start()` returns once it accepts connections."""

    def __init__(self, s: EdgeSettings, binary: Optional[str] = None):
        self.s = s
        self.binary = binary or nginx_binary()
        if not self.binary:
            raise EdgeError(INSTALL_HINT)
        self.proc: Optional[subprocess.Popen] = None
        self.conf = os.path.join(s.workdir, "nginx.conf")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.s.port}"

    @property
    def access_log(self) -> str:
        return os.path.join(self.s.workdir, "access.log")

    def start(self, timeout: float = 10.0) -> "Edge":
        for sub in ("tmp", "cache"):
            os.makedirs(os.path.join(self.s.workdir, sub), exist_ok=True)
        with open(self.conf, "w") as fh:
            fh.write(render(self.s))
        # -e: nginx opens its compiled-in error log (/var/log/nginx) before reading the config
        args = [self.binary, "-p", self.s.workdir, "-c", self.conf,
                "-e", os.path.join(self.s.workdir, "error.log"), "-g", "daemon off;"]
        test = subprocess.run(args + ["-t", "-q"], capture_output=True, text=True)
        if test.returncode != 0:
            raise EdgeError(f"nginx refused the edge config: {test.stderr.strip()}")
        # nginx writes its pid file only once it holds its listening socket: until this
        # process's pid is in it, an answer on the port may come from someone else's server.
        pid_file = os.path.join(self.s.workdir, "nginx.pid")
        if os.path.exists(pid_file):
            os.remove(pid_file)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EdgeError(f"nginx exited (is 127.0.0.1:{self.s.port} taken?): "
                                f"{self.proc.stderr.read().decode().strip()}")
            try:
                if _read(pid_file) == str(self.proc.pid):
                    socket.create_connection(("127.0.0.1", self.s.port), timeout=0.5).close()
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise EdgeError(f"nginx did not listen on 127.0.0.1:{self.s.port} within {timeout:g} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)          # graceful: finish what is in flight
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=5)

    def __enter__(self) -> "Edge":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
