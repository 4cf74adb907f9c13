"""Helpers for the server tests: start `qasr serve` on a free loopback port (and stop it by
its pid), multipart bodies, HTTP on 127.0.0.1 only, SSE reading. Every call has a timeout."""
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import time
import uuid


class Server:
    def __init__(self, qasr, args, env=None, log=None):
        self.log = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen([qasr, "serve", "--host", "127.0.0.1", "--port", "0"] + args,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "listening on http://127.0.0.1:" not in line:
            self.stop()
            raise RuntimeError(f"qasr serve did not start: {line!r}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.pid = self.proc.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # preloading: /ready turns 200
            try:
                if request(self.port, "GET", "/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)

    def stop(self, sig=signal.SIGKILL, timeout=30):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def multipart(fields, files):
    """fields: [(name, value)], files: [(name, filename, bytes)] → (content_type, body)."""
    b = "qasrtest" + uuid.uuid4().hex
    out = bytearray()
    for name, filename, data in files:
        out += (f"--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    for name, value in fields:
        out += f"--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
    out += f"--{b}--\r\n".encode()
    return f"multipart/form-data; boundary={b}", bytes(out)


def request(port, method, path, body=None, headers=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def transcribe(port, audio, fields, filename="a.wav", headers=None, path="/v1/audio/transcriptions", timeout=120):
    ct, body = multipart(fields, [("file", filename, audio)])
    h = {"Content-Type": ct}
    h.update(headers or {})
    return request(port, "POST", path, body, h, timeout)


def sse_events(data):
    """The JSON payloads of `data:` lines, and the comment lines."""
    events, comments = [], 0
    for block in data.decode().split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            elif line.startswith(":"):
                comments += 1
    return events, comments


def raw_connection(port, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def metric(port, name, labels=None):
    """The value of one sample of /metrics (0 when absent)."""
    status, _, body = request(port, "GET", "/metrics")
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in body.decode().splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0
