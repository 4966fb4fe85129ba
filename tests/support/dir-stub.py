#!/usr/bin/python3
"""dir-stub.py - a canned certificate directory for mailseal tests.

Usage:
  dir-stub.py --port-file FILE --answers DIR [--max-life SECONDS]

Binds 127.0.0.1 on a free port, writes the port (then a newline) to FILE
atomically once it accepts connections, and answers
GET /v1/directory/<address> (percent-decoded) with DIR/<address>.json as
application/json when that file exists, else 404 with the documented
error body. Every request is appended to DIR/requests.log (one path a
line). Exits after --max-life seconds (default 120) or when its parent is
gone. Standard library only. TEST-ONLY.
"""

import argparse
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

PREFIX = "/v1/directory/"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--max-life", type=float, default=120.0)
    args = ap.parse_args()
    parent = os.getppid()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *a):  # noqa: A002
            sys.stderr.write("dir-stub: " + (format % a) + "\n")

        def send(self, code, body):
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with open(os.path.join(args.answers, "requests.log"), "a") as f:
                f.write(self.path + "\n")
            if not self.path.startswith(PREFIX):
                self.send(404, {"error": "not found", "request_id": "stub"})
                return
            addr = urllib.parse.unquote(self.path[len(PREFIX):])
            if "/" in addr or addr.startswith("."):
                self.send(404, {"error": "not found", "request_id": "stub"})
                return
            path = os.path.join(args.answers, addr + ".json")
            if not os.path.isfile(path):
                self.send(404, {"error": "not found", "request_id": "stub"})
                return
            with open(path, "rb") as f:
                self.send(200, f.read())

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    start = time.monotonic()

    def watchdog():
        while time.monotonic() - start < args.max_life:
            if os.getppid() != parent:
                break
            time.sleep(0.5)
        srv.shutdown()

    threading.Thread(target=watchdog, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
