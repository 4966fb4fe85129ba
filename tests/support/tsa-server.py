#!/usr/bin/env python3
"""tsa-server.py - a tiny RFC 3161 time-stamp server for mailseal tests.

Usage:
  tsa-server.py --config OUTDIR/tsa.cnf [--section NAME] --port-file FILE
                [--max-requests N] [--mode ok|garbage|status-rejected|slow]
                [--slow-seconds S] [--openssl PATH]

Binds 127.0.0.1 on a free port and writes the port number (then a newline)
to FILE, atomically, once it accepts connections. Answers POST requests
with Content-Type application/timestamp-query:

  ok               `openssl ts -reply -config CFG [-section NAME]`, run in the
                   directory of CFG (tsa.cnf uses relative paths).
                   OpenSSL refuses to sign with a TSA certificate whose
                   timeStamping EKU is not critical (tsa_noncrit); for such a
                   section the TSTInfo comes from the default section and is
                   re-signed with the section's certificate by
                   `openssl cms -sign -cades`, so clients see a well-formed
                   token they must reject.
  garbage          random bytes (first byte 0xff, never valid DER) labelled
                   application/timestamp-reply.
  status-rejected  a TimeStampResp whose PKIStatus is rejection (2).
  slow             sleeps --slow-seconds (default and cap 30) before
                   answering as in "ok", to trip client timeouts.

Exits by itself after --max-requests answered requests (default 200) or
after 120 s without a request. Logs one line per request to stderr.
Python 3 standard library only. TEST-ONLY.
"""

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_QUERY = 64 * 1024
IDLE_EXIT = 120.0
SLOW_CAP = 30.0

# TimeStampResp ::= SEQUENCE { status PKIStatusInfo ::= SEQUENCE {
#     status INTEGER rejection(2) } }
REJECTION_REPLY = bytes.fromhex("30053003020102")
# TimeStampResp prefix for a granted reply: status SEQUENCE { INTEGER 0 }.
GRANTED_STATUS = bytes.fromhex("3003020100")


def log(msg):
    sys.stderr.write("tsa-server[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def der_length(n):
    """DER encoding of a length."""
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def read_ts_config(path):
    """Return {section: {key: value}} for a simple OpenSSL config file.

    Handles what gen-pki.sh writes: [ section ], key = value, # comments
    and $dir / ${dir} references to the same section.
    """
    sections = {"": {}}
    current = ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1].strip()
                sections.setdefault(current, {})
                continue
            if "=" not in line:
                continue
            key, value = (s.strip() for s in line.split("=", 1))
            values = sections[current]
            if "dir" in values:
                value = value.replace("${dir}", values["dir"])
                value = value.replace("$dir", values["dir"])
            values[key] = value
    return sections


class State:
    """Counters shared by the handler threads and the main loop."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.openssl_lock = threading.Lock()  # tsa-serial is not shared-safe
        self.answered = 0
        self.last_activity = time.monotonic()
        self.workdir = os.path.dirname(os.path.abspath(args.config))
        self.config = os.path.abspath(args.config)
        conf = read_ts_config(self.config)
        self.default_section = conf.get("tsa", {}).get("default_tsa", "")
        self.section = args.section or self.default_section
        if self.section not in conf:
            raise SystemExit("tsa-server: no section [%s] in %s"
                             % (self.section, args.config))
        self.signer_cert = conf[self.section].get("signer_cert", "")
        self.signer_key = conf[self.section].get("signer_key", "")

    def touch(self):
        with self.lock:
            self.last_activity = time.monotonic()

    def finished_one(self):
        with self.lock:
            self.answered += 1
            self.last_activity = time.monotonic()

    def should_stop(self):
        with self.lock:
            if self.answered >= self.args.max_requests:
                return True
            return time.monotonic() - self.last_activity > IDLE_EXIT

    def run(self, argv):
        """Run openssl in the config directory; return (ok, stderr)."""
        proc = subprocess.run([self.args.openssl] + argv, cwd=self.workdir,
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=20, check=False)
        return proc.returncode == 0, proc.stderr.decode("utf-8", "replace")

    def reply(self, query):
        """Return (reply bytes or None, note for the log line)."""
        with self.openssl_lock, tempfile.TemporaryDirectory() as tmp:
            qfile = os.path.join(tmp, "query.tsq")
            rfile = os.path.join(tmp, "reply.tsr")
            with open(qfile, "wb") as f:
                f.write(query)
            ok, err = self.run(["ts", "-reply", "-config", self.config,
                                "-section", self.section,
                                "-queryfile", qfile, "-out", rfile])
            if ok:
                with open(rfile, "rb") as f:
                    return f.read(), "signer=openssl-ts"
            if "invalid signer certificate purpose" not in err:
                return None, "openssl ts failed: " + err.strip()[-200:]
            return self.resign(tmp, qfile)

    def resign(self, tmp, qfile):
        """Sign a TSTInfo from the default section with our section's key."""
        rfile = os.path.join(tmp, "default.tsr")
        token = os.path.join(tmp, "default.tst")
        tstinfo = os.path.join(tmp, "tstinfo.der")
        newtoken = os.path.join(tmp, "token.der")
        steps = [
            ["ts", "-reply", "-config", self.config,
             "-section", self.default_section,
             "-queryfile", qfile, "-out", rfile],
            ["ts", "-reply", "-in", rfile, "-token_out", "-out", token],
            ["cms", "-verify", "-noverify", "-inform", "DER",
             "-in", token, "-out", tstinfo],
            ["cms", "-sign", "-cades", "-binary", "-nodetach",
             "-econtent_type", "id-smime-ct-TSTInfo", "-md", "sha256",
             "-nosmimecap", "-signer", self.signer_cert,
             "-inkey", self.signer_key, "-outform", "DER",
             "-in", tstinfo, "-out", newtoken],
        ]
        for argv in steps:
            ok, err = self.run(argv)
            if not ok:
                return None, "re-sign failed: " + err.strip()[-200:]
        with open(newtoken, "rb") as f:
            body = GRANTED_STATUS + f.read()
        return b"\x30" + der_length(len(body)) + body, "signer=cms-resign"


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "mailseal-test-tsa/1"
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # noqa: A002 (base class name)
        """Silence the default access log; do_POST logs its own line."""

    def send(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.server.state
        state.touch()
        self.send(405, "text/plain", b"POST a timestamp query\n")
        log("GET %s -> 405" % self.path)
        state.finished_one()

    def do_POST(self):
        state = self.server.state
        state.touch()
        mode = state.args.mode
        code, note, body = self.answer(state, mode)
        log("POST %s mode=%s section=%s -> %d bytes=%d %s"
            % (self.path, mode, state.section, code, len(body), note))
        state.finished_one()

    def answer(self, state, mode):
        """Send the response; return (status, note, body) for the log."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype.lower() != QUERY_TYPE:
            body = b"expected " + QUERY_TYPE.encode() + b"\n"
            self.send(415, "text/plain", body)
            return 415, "bad content type %r" % ctype[:60], body
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.send(411, "text/plain", b"length required\n")
            return 411, "no content length", b""
        if length < 0 or length > MAX_QUERY:
            self.send(413, "text/plain", b"query too big\n")
            return 413, "query of %d bytes" % length, b""
        query = self.rfile.read(length)
        if mode == "garbage":
            # Never a DER SEQUENCE, so no parser can take it for a reply.
            body = b"\xff" + os.urandom(95)
            self.send(200, REPLY_TYPE, body)
            return 200, "garbage", body
        if mode == "status-rejected":
            self.send(200, REPLY_TYPE, REJECTION_REPLY)
            return 200, "status=rejection", REJECTION_REPLY
        note = ""
        if mode == "slow":
            delay = min(state.args.slow_seconds, SLOW_CAP)
            time.sleep(delay)
            note = "slept=%gs " % delay
        body, why = state.reply(query)
        if body is None:
            self.send(500, "text/plain", b"openssl failed\n")
            return 500, note + why, b""
        try:
            self.send(200, REPLY_TYPE, body)
        except OSError as e:  # a slow reply may find the client gone
            return 200, note + why + " (client gone: %s)" % e, body
        return 200, note + why, body


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="OUTDIR/tsa.cnf")
    p.add_argument("--section", default="",
                   help="TSA section of the config (default: default_tsa)")
    p.add_argument("--port-file", required=True,
                   help="file to receive the listening port")
    p.add_argument("--max-requests", type=int, default=200)
    p.add_argument("--mode", default="ok",
                   choices=["ok", "garbage", "status-rejected", "slow"])
    p.add_argument("--slow-seconds", type=float, default=SLOW_CAP)
    p.add_argument("--openssl", default="openssl", help="openssl binary")
    args = p.parse_args()
    if args.max_requests < 1:
        p.error("--max-requests must be at least 1")

    state = State(args)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = state
    server.timeout = 0.5  # handle_request() returns to check the limits
    port = server.server_address[1]
    write_port_file(args.port_file, port)
    log("listening on 127.0.0.1:%d mode=%s section=%s"
        % (port, args.mode, state.section))
    try:
        while not state.should_stop():
            server.handle_request()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    log("exiting after %d requests" % state.answered)


if __name__ == "__main__":
    main()
