#!/usr/bin/env python3
"""sample-app: a tiny HTTP server to practise Docker and Kubernetes with.

GET /              a page with the hostname, the version and the APP_* variables
GET /healthy       200 "ok", or 500 once /fail was called (for a liveness probe)
GET /fail          make /healthy fail from now on
GET /ready         200 when ready, 503 when not (for a readiness probe)
GET /ready/toggle  flip readiness
Settings (environment): APP_VERSION (baked in by the Dockerfile), PORT (8080),
APP_READY_DELAY (seconds before /ready answers 200, default 0).
"""
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "dev")
READY_DELAY = float(os.environ.get("APP_READY_DELAY", "0"))
STARTED = time.monotonic()
state = {"healthy": True, "ready": True}


def is_ready():
    return state["ready"] and time.monotonic() - STARTED >= READY_DELAY


def page():
    lines = [f"sample-app {VERSION}", f"hostname: {socket.gethostname()}"]
    lines += [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("APP_")]
    return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/":
            self.reply(200, page())
        elif path == "/healthy":
            ok = state["healthy"]
            self.reply(200 if ok else 500, "ok\n" if ok else "failing\n")
        elif path == "/fail":
            state["healthy"] = False
            self.reply(200, "/healthy now returns 500\n")
        elif path == "/ready":
            ok = is_ready()
            self.reply(200 if ok else 503, "ready\n" if ok else "not ready\n")
        elif path == "/ready/toggle":
            state["ready"] = not state["ready"]
            self.reply(200, f"ready: {str(state['ready']).lower()}\n")
        else:
            self.reply(404, "not found\n")

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # one line per request, to stdout
        print(f"{self.client_address[0]} {fmt % args}", flush=True)


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("", port), Handler)
    # Exit at once on SIGTERM (docker stop, pod deletion) instead of being killed later.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"sample-app {VERSION} listening on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
