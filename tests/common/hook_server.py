"""A real HTTP server standing in for Slack and webhook receivers in tests.

Usage: hook_server.py RECORD_FILE SCRIPT
Prints the port it listens on (127.0.0.1), then serves POSTs (and CONNECT,
as an HTTP proxy would, serving the tunnelled request itself). Each request is
appended to RECORD_FILE as one JSON line {"path", "headers", "body", "t"}
before it is answered. SCRIPT is a comma-separated list of replies, one per
request in order (the last one repeats):
  ok            200 {"ok":true}
  text          200 ok (plain text, as Slack incoming webhooks answer)
  slack:CODE    200 {"ok":false,"error":"CODE"}
  429:SECS      429 with Retry-After: SECS
  500           500 with a small body
  404           404 (a permanent error)
  hang:SECS     say nothing for SECS seconds, then close
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

record_path, script = sys.argv[1], sys.argv[2].split(",")
lock = threading.Lock()
count = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_CONNECT(self):
        # Acting as an HTTP proxy: record the tunnel, then serve the request
        # that comes through it as if this were the destination.
        with lock:
            with open(record_path, "a") as f:
                f.write(json.dumps({
                    "path": "CONNECT " + self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": "",
                    "t": time.time(),
                }) + "\n")
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = False

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        with lock:
            n = count[0]
            count[0] += 1
            with open(record_path, "a") as f:
                f.write(json.dumps({
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "t": time.time(),
                }) + "\n")
        step = script[min(n, len(script) - 1)]
        kind, _, arg = step.partition(":")
        if kind == "hang":
            time.sleep(float(arg))
            self.close_connection = True
            return
        status, ctype, reply, extra = 200, "application/json", b'{"ok":true}', {}
        if kind == "text":
            ctype, reply = "text/plain", b"ok"
        elif kind == "slack":
            reply = json.dumps({"ok": False, "error": arg}).encode()
        elif kind == "429":
            status, reply, extra = 429, b"slow down", {"Retry-After": arg}
        elif kind in ("500", "404"):
            status, ctype, reply = int(kind), "text/plain", b"nope"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(reply)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(reply)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
