"""Smoke test run by the Dockerfile's test stage: a failing check stops the build."""
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import server

httpd = ThreadingHTTPServer(("127.0.0.1", 0), server.Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{httpd.server_address[1]}"


def status(path):
    try:
        return urllib.request.urlopen(base + path).status
    except urllib.error.HTTPError as e:
        return e.code


assert status("/") == 200
assert status("/healthy") == 200 and status("/ready") == 200
status("/ready/toggle")
assert status("/ready") == 503
status("/fail")
assert status("/healthy") == 500
print("smoke test passed")
