"""advlib - helpers for the mailseal adversarial tests (TEST-ONLY).

DER surgery on CMS objects, byte-level edits of S/MIME messages, the
mailseal CLI runner, loopback RFC 3161 and OCSP servers, and an RFC 3161
token minted with a test TSA key for a chosen time. Python 3 stdlib only.
"""

import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

# Upper bound for any one child process; a hung CLI fails the test.
PROC_TIMEOUT = 60
# What AddressSanitizer, LeakSanitizer and UBSan print on stderr.
SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer",
                   b"runtime error:", b"SUMMARY: UndefinedBehaviorSanitizer")

# --- DER --------------------------------------------------------------------


class Node:
    """One DER TLV. Constructed nodes hold children, others raw content."""

    def __init__(self, tag, content=b"", children=None):
        self.tag = tag
        self.content = content
        self.children = children

    @property
    def constructed(self):
        return self.tag & 0x20 != 0

    def encode(self):
        if self.children is not None:
            body = b"".join(c.encode() for c in self.children)
        else:
            body = self.content
        return bytes([self.tag]) + der_len(len(body)) + body

    def find(self, tag):
        """Index of the first child with tag, or -1."""
        for i, c in enumerate(self.children):
            if c.tag == tag:
                return i
        return -1


def der_len(n):
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def der_parse(data, off=0, end=None):
    """Parse one TLV at off; returns (Node, offset after it)."""
    if end is None:
        end = len(data)
    tag = data[off]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used in CMS")
    first = data[off + 1]
    pos = off + 2
    if first < 0x80:
        length = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4:
            raise ValueError("indefinite or huge length at %d" % off)
        length = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    stop = pos + length
    if stop > end:
        raise ValueError("TLV at %d overruns its parent" % off)
    if tag & 0x20:
        kids = []
        p = pos
        while p < stop:
            kid, p = der_parse(data, p, stop)
            kids.append(kid)
        return Node(tag, children=kids), stop
    return Node(tag, content=bytes(data[pos:stop])), stop


def der_decode(data):
    node, stop = der_parse(data)
    if stop != len(data):
        raise ValueError("trailing bytes after DER object")
    return node


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def der_int(n):
    raw = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True)
    return tlv(0x02, raw)


OID_TST_ATTR = "1.2.840.113549.1.9.16.2.14"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"


# SignedData helpers. ContentInfo ::= SEQ { OID, [0] EXPLICIT content }.
def signed_data(ci):
    return ci.children[1].children[0]


def signer_infos(ci):
    """The SET OF SignerInfo (the last field of SignedData)."""
    sd = signed_data(ci)
    node = sd.children[-1]
    if node.tag != 0x31:
        raise ValueError("SignedData does not end with signerInfos")
    return node


def si_signature(si):
    """The signature OCTET STRING node of a SignerInfo."""
    return si.children[si.find(0x04)]


def set_unsigned_attr(si, oid, value_der):
    """Replace or add the unsigned attribute oid with one value."""
    attr = Node(0x30, children=[der_decode(der_oid(oid)),
                                Node(0x31, children=[der_decode(value_der)])])
    i = si.find(0xA1)
    if i < 0:
        si.children.append(Node(0xA1, children=[attr]))
        return
    kept = [a for a in si.children[i].children
            if a.children[0].encode() != der_oid(oid)]
    si.children[i] = Node(0xA1, children=kept + [attr])


def get_unsigned_attrs(si):
    i = si.find(0xA1)
    return None if i < 0 else si.children[i]


# Enveloped/AuthEnveloped: ContentInfo [0] → SEQ { version, [0] originator
# OPTIONAL, SET recipientInfos, SEQ encryptedContentInfo, ... }.
def envelope(ci):
    return ci.children[1].children[0]


def recipient_infos(env):
    return env.children[env.find(0x31)]


def encrypted_content(env):
    """The [0] IMPLICIT encryptedContent node of the EncryptedContentInfo."""
    eci = env.children[env.find(0x31) + 1]
    i = eci.find(0x80)
    if i < 0:
        raise ValueError("no primitive encryptedContent")
    return eci.children[i]


def auth_mac(env):
    """The mac OCTET STRING of an AuthEnvelopedData (after the ECI)."""
    start = env.find(0x31) + 2
    for c in env.children[start:]:
        if c.tag == 0x04:
            return c
    raise ValueError("no mac in AuthEnvelopedData")


# --- S/MIME messages at the byte level ---------------------------------------

B64_BLOCK = re.compile(rb"((?:[A-Za-z0-9+/=]+\r?\n)+)")


def b64_lines(der):
    text = base64.b64encode(der)
    return b"".join(text[i:i + 76] + b"\r\n" for i in range(0, len(text), 76))


def header_end(msg):
    """Offset of the blank line ending the top-level header block."""
    m = re.search(rb"\r?\n\r?\n", msg)
    if m is None:
        raise ValueError("message without a body")
    return m.start()


def split_top(msg):
    """(headers including the last line end, body after the blank line)."""
    m = re.search(rb"\r?\n(\r?\n)", msg)
    return msg[:m.start() + len(m.group(0)) - len(m.group(1))], msg[m.end():]


def replace_header(msg, name, new_lines):
    """Drop every top-level field called name; insert new_lines first."""
    head, body = split_top(msg)
    fields = re.findall(rb"[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", head)
    low = name.lower().encode() + b":"
    kept = [f for f in fields if not f.lower().startswith(low)]
    add = b"".join(line.encode() + b"\r\n" for line in new_lines)
    return add + b"".join(kept) + b"\r\n" + body


def signed_pieces(msg):
    """For a multipart/signed message: (entity, sig_start, sig_end).

    entity is the exact signed content (first part, delimiter line end
    excluded); msg[sig_start:sig_end] is the base64 of the .p7s.
    """
    bm = re.search(rb'boundary="?([^";\r\n]+)"?', msg)
    b = b"--" + bm.group(1)
    first = msg.index(b + b"\r\n", header_end(msg)) + len(b) + 2
    second = msg.index(b"\r\n" + b, first)
    entity = msg[first:second]
    sigpart = msg.index(b"application/pkcs7-signature", second)
    body = re.compile(rb"\r?\n\r?\n").search(msg, sigpart).end()
    blk = B64_BLOCK.match(msg, body)
    return entity, body, blk.end()


def get_p7s(msg):
    _, s, e = signed_pieces(msg)
    return base64.b64decode(msg[s:e])


def set_p7s(msg, der):
    _, s, e = signed_pieces(msg)
    return msg[:s] + b64_lines(der) + msg[e:]


def get_p7m(msg):
    """DER of a top-level application/pkcs7-mime body."""
    _, body = split_top(msg)
    return base64.b64decode(body)


def set_p7m(msg, der):
    head, _ = split_top(msg)
    return head + b"\r\n" + b64_lines(der)


def entity_of(msg):
    """Content-Type onwards of a top-level entity: what nests inside a
    multipart (the top-level fields that are not Content-* are dropped)."""
    head, body = split_top(msg)
    fields = re.findall(rb"[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", head)
    keep = [f for f in fields if f.lower().startswith(b"content-") or
            f.lower().startswith(b"mime-version")]
    return b"".join(keep) + b"\r\n" + body


# --- running the CLI -----------------------------------------------------------


class Result:
    def __init__(self, rc, out, err, seconds):
        self.rc = rc
        self.out = out
        self.err = err
        self.seconds = seconds
        self.json = None
        if out.startswith(b"{"):
            try:
                self.json = json.loads(out.split(b"\n", 1)[0])
            except ValueError:
                self.json = None

    def get(self, key, default=None):
        return default if self.json is None else self.json.get(key, default)


def run(argv, stdin=b"", env=None, timeout=PROC_TIMEOUT):
    full = dict(os.environ)
    full.pop("MS_TEST_NOW", None)
    if env:
        full.update(env)
    t0 = time.monotonic()
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=full, timeout=timeout,
                       check=False)
    return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def rfc3339(ts):
    return datetime.datetime.fromtimestamp(
        int(ts), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Suite:
    """The CLI, the test PKI and the failure list of one test group."""

    def __init__(self, cli, pki, work, src):
        self.cli = cli
        self.pki = pki
        self.work = work
        self.src = src
        self.failures = []
        self.checks = 0
        os.makedirs(work, exist_ok=True)

    def p(self, name):
        return os.path.join(self.pki, name)

    def w(self, name):
        return os.path.join(self.work, name)

    def write(self, name, data):
        with open(self.w(name), "wb") as f:
            f.write(data)
        return self.w(name)

    # --- assertions ---
    def check(self, case, ok, detail):
        self.checks += 1
        if not ok:
            self.failures.append("%s: %s" % (case, detail))
            print("FAIL %s: %s" % (case, detail), flush=True)

    def expect(self, case, res, verdict=None, rc=None, level="-",
               revocation=None, ts_valid="-", warn=None, no_warn=None,
               display=None, display_re=None, display_has=None,
               display_lacks=None,
               signer=None, encrypted=None, cipher="-"):
        """Checks a verify/open --json result; prints one line per case."""
        j = res.json
        if j is None:
            self.check(case, False, "no JSON (rc=%d, stderr=%r, stdout=%r)"
                       % (res.rc, res.err[-300:], res.out[:200]))
            return
        print("case %-44s verdict=%-18s rc=%d %.2fs" %
              (case, j.get("verdict"), res.rc, res.seconds), flush=True)
        if verdict is not None:
            self.check(case, j.get("verdict") == verdict,
                       "verdict %r, want %r (display %r, warnings %r)"
                       % (j.get("verdict"), verdict, j.get("display"),
                          j.get("warnings")))
        if rc is not None:
            self.check(case, res.rc == rc, "exit %d, want %d (stderr %r)"
                       % (res.rc, rc, res.err[-300:]))
        if level != "-":
            self.check(case, j.get("level") == level,
                       "level %r, want %r" % (j.get("level"), level))
        if revocation is not None:
            self.check(case, j.get("revocation") == revocation,
                       "revocation %r, want %r" % (j.get("revocation"),
                                                   revocation))
        if ts_valid != "-":
            ts = j.get("timestamp")
            got = None if ts is None else ts.get("valid")
            self.check(case, got == ts_valid, "timestamp %r, want valid=%r"
                       % (ts, ts_valid))
        warnings = " | ".join(j.get("warnings") or [])
        if warn is not None:
            self.check(case, re.search(warn, warnings, re.I) is not None,
                       "no warning matching %r in %r" % (warn, warnings))
        if no_warn is not None:
            self.check(case, re.search(no_warn, warnings, re.I) is None,
                       "unexpected warning %r in %r" % (no_warn, warnings))
        disp = j.get("display") or ""
        if display is not None:
            self.check(case, disp == display,
                       "display %r, want %r" % (disp, display))
        if display_re is not None:
            self.check(case, re.fullmatch(display_re, disp) is not None,
                       "display %r does not match %r" % (disp, display_re))
        for s in display_has or []:
            self.check(case, s in disp, "display %r lacks %r" % (disp, s))
        for s in display_lacks or []:
            self.check(case, s.lower() not in disp.lower(),
                       "display %r names %r" % (disp, s))
        if signer is not None:
            got = (j.get("signer") or {}).get("email")
            self.check(case, got == signer, "signer.email %r, want %r"
                       % (got, signer))
        if encrypted is not None:
            self.check(case, j.get("encrypted") == encrypted,
                       "encrypted %r, want %r" % (j.get("encrypted"),
                                                  encrypted))
        if cipher != "-":
            self.check(case, j.get("cipher") == cipher,
                       "cipher %r, want %r" % (j.get("cipher"), cipher))

    def expect_fail(self, case, res, rc=1, stderr_re=None):
        """A command that must fail cleanly: exit rc, one stderr line,
        nothing on stdout."""
        print("case %-44s rc=%d stderr=%r" % (case, res.rc, res.err[:160]),
              flush=True)
        self.check(case, res.rc == rc, "exit %d, want %d (stderr %r)"
                   % (res.rc, rc, res.err[-300:]))
        lines = res.err.decode("utf-8", "replace").strip().splitlines()
        self.check(case, len(lines) == 1, "stderr is not one line: %r"
                   % res.err[-400:])
        self.check(case, res.out == b"", "stdout not empty (%d bytes)"
                   % len(res.out))
        if stderr_re is not None:
            self.check(case, re.search(stderr_re, res.err.decode(
                "utf-8", "replace"), re.I) is not None,
                "stderr %r does not match %r" % (res.err, stderr_re))

    # --- mailseal commands ---
    def mailseal(self, args, stdin=b"", env=None, timeout=PROC_TIMEOUT):
        """Runs the CLI; a crash or a sanitizer report fails the test
        whatever the case expects (ASan's exit status is 1 by default,
        the same as a verdict)."""
        r = run([self.cli] + args, stdin, env, timeout)
        what = "mailseal %s" % " ".join(args[:1])
        self.check(what, r.rc >= 0, "killed by signal %d" % -r.rc)
        for mark in SANITIZER_MARKS:
            if mark in r.err:
                self.check(what, False, "sanitizer report:\n%s"
                           % r.err.decode("utf-8", "replace")[-3000:])
                break
        return r

    def sign(self, msg, who, chain=True, extra=(), now=None, opaque=False,
             enc=None):
        args = ["sign", "--cert", self.p(who + ".pem"),
                "--key", self.p(who + ".key")]
        if chain is True:
            chain = self.chain_of(who)
        if chain:
            args += ["--chain", chain]
        if enc:
            args += ["--encryption-cert", self.p(enc + ".pem")]
        if opaque:
            args.append("--opaque")
        args += list(extra)
        r = self.mailseal(args, msg, {"MS_TEST_NOW": now} if now else None)
        if r.rc != 0:
            raise RuntimeError("sign as %s failed: %r" % (who, r.err))
        return r.out

    def chain_of(self, who):
        """The issuing CA file for a test PKI certificate."""
        issuers = {"twolevels": "ca-v4.pem", "cab-v3": "ca-v3.pem",
                   "other-v1": "other-root.pem"}
        m = re.match(r"v(\d)-", who)
        if m:
            return self.p("ca-v%s.pem" % m.group(1))
        return self.p(issuers.get(who, "ca-v1.pem"))

    def verify(self, msg, trust=("root.pem",), extra=(), cmd="verify",
               env=None, timeout=PROC_TIMEOUT):
        args = [cmd]
        for t in trust:
            args += ["--trust", self.p(t)]
        args += list(extra) + ["--json"]
        return self.mailseal(args, msg, env, timeout)

    def openssl(self, args, stdin=b""):
        r = run(["openssl"] + args, stdin)
        if r.rc != 0:
            raise RuntimeError("openssl %s failed: %r" % (args[0], r.err))
        return r.out


def message(frm, body="Please pay invoice 4711 to the usual account.",
            extra_headers=(), subject="Payment"):
    lines = []
    if frm is not None:
        lines.append("From: " + frm)
    lines += ["To: bob@example.org", "Subject: " + subject,
              "Date: Mon, 23 Nov 2026 10:00:00 +0000",
              "Message-ID: <adv-%d@example.org>" % os.getpid()]
    lines += list(extra_headers)
    text = "\r\n".join(lines) + "\r\n\r\n" + body + "\r\n"
    return text.encode()


def free_port():
    """A loopback port with nothing listening on it (now)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# --- RFC 3161 ----------------------------------------------------------------


class TsaServer:
    """tests/support/tsa-server.py in its own process, on 127.0.0.1."""

    def __init__(self, suite, pki, mode="ok", section="", max_requests=20):
        self.portfile = os.path.join(suite.work, "tsa-%s-%s.port"
                                     % (mode, section or "default"))
        argv = [sys.executable,
                os.path.join(suite.src, "tests/support/tsa-server.py"),
                "--config", os.path.join(pki, "tsa.cnf"),
                "--port-file", self.portfile, "--mode", mode,
                "--max-requests", str(max_requests)]
        if section:
            argv += ["--section", section]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.log = []
        # The server logs "listening on 127.0.0.1:PORT" once its socket
        # listens: reading that line is the readiness signal.
        first = self.proc.stderr.readline().decode("utf-8", "replace")
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", first)
        if m is None:
            self.stop()
            raise RuntimeError("tsa-server did not start: %r" % first)
        self.url = "http://127.0.0.1:%s/tsa" % m.group(1)
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line.decode("utf-8", "replace").rstrip())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def gentime(ts):
    return tlv(0x18, time.strftime("%Y%m%d%H%M%SZ",
                                   time.gmtime(ts)).encode())


def mint_token(suite, cert, key, signature, when, serial=1):
    """An RFC 3161 token over signature for time `when` (epoch), made the
    way a TSA makes one: a TSTInfo signed with CAdES attributes (ESSCertIDv2)
    by the TSA key. Returns the token ContentInfo DER."""
    imprint = tlv(0x30, tlv(0x30, der_oid(OID_SHA256) + b"\x05\x00") +
                  tlv(0x04, hashlib.sha256(signature).digest()))
    tst = tlv(0x30, der_int(1) + der_oid("1.2.3.4.1") + imprint +
              der_int(serial) + gentime(when))
    tmp = tempfile.mkdtemp(dir=suite.work)
    try:
        src = os.path.join(tmp, "tst.der")
        out = os.path.join(tmp, "token.der")
        with open(src, "wb") as f:
            f.write(tst)
        suite.openssl(["cms", "-sign", "-cades", "-binary", "-nodetach",
                       "-econtent_type", "id-smime-ct-TSTInfo",
                       "-md", "sha256", "-nosmimecap", "-signer", cert,
                       "-inkey", key, "-outform", "DER", "-in", src,
                       "-out", out])
        with open(out, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(tmp)


def graft_token(msg, token_der):
    """Put token_der as the timestamp of the (only) SignerInfo of msg."""
    opaque = b"application/pkcs7-signature" not in msg
    ci = der_decode(get_p7m(msg) if opaque else get_p7s(msg))
    si = signer_infos(ci).children[0]
    set_unsigned_attr(si, OID_TST_ATTR, token_der)
    return set_p7m(msg, ci.encode()) if opaque else set_p7s(msg, ci.encode())


def signature_of(msg):
    opaque = b"application/pkcs7-signature" not in msg
    ci = der_decode(get_p7m(msg) if opaque else get_p7s(msg))
    return si_signature(signer_infos(ci).children[0]).content


# --- a tiny CA for extra test certificates -------------------------------------


def issue_cert(suite, ca, name, subject, ext, start, end, keytype="ec"):
    """Issue NAME (key and cert under suite.work) from CA (a test PKI name)
    with fixed validity, through `openssl ca` as gen-pki.sh does."""
    d = tempfile.mkdtemp(dir=suite.work)
    key = suite.w(name + ".key")
    pem = suite.w(name + ".pem")
    if keytype == "ec":
        suite.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt",
                       "ec_paramgen_curve:P-256", "-out", key])
    else:
        suite.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt",
                       "rsa_keygen_bits:2048", "-out", key])
    os.makedirs(os.path.join(d, "new"))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("%X\n" % (0x5000 + os.getpid() % 0x1000))
    cnf = os.path.join(d, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[ ca ]\ndefault_ca = c\n[ c ]\ndir = %s\n"
                "database = $dir/index.txt\nnew_certs_dir = $dir/new\n"
                "serial = $dir/serial\ncertificate = %s\nprivate_key = %s\n"
                "default_md = sha256\npolicy = any\nunique_subject = no\n"
                "email_in_dn = no\n[ any ]\ncommonName = optional\n"
                "[ req ]\ndistinguished_name = dn\n[ dn ]\n"
                % (d, suite.p(ca + ".pem"), suite.p(ca + ".key")))
    with open(os.path.join(d, "ext"), "w") as f:
        f.write(ext)
    csr = os.path.join(d, "csr")
    suite.openssl(["req", "-new", "-config", cnf, "-key", key, "-subj",
                   subject, "-out", csr])
    suite.openssl(["ca", "-batch", "-notext", "-config", cnf, "-in", csr,
                   "-out", pem, "-extfile", os.path.join(d, "ext"),
                   "-startdate", start, "-enddate", end])
    shutil.rmtree(d)
    return pem, key


def revoke_crl(suite, ca, victim, reason, when="250101000000Z"):
    """A current CRL of test CA `ca` (signed with its key) listing the test
    PKI certificate `victim` as revoked at `when` for `reason`."""
    d = tempfile.mkdtemp(dir=suite.work)
    serial = suite.openssl(["x509", "-in", suite.p(victim + ".pem"),
                            "-noout", "-serial"]).decode().split("=")[1]
    subject = suite.openssl(["x509", "-in", suite.p(victim + ".pem"),
                             "-noout", "-subject", "-nameopt",
                             "compat"]).decode().split("=", 1)[1]
    with open(os.path.join(d, "index.txt"), "w") as f:
        f.write("R\t491231235959Z\t%s,%s\t%s\tunknown\t%s\n"
                % (when, reason, serial.strip(), subject.strip()))
    with open(os.path.join(d, "index.txt.attr"), "w") as f:
        f.write("unique_subject = no\n")
    with open(os.path.join(d, "crlnumber"), "w") as f:
        f.write("10\n")
    cnf = os.path.join(d, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[ ca ]\ndefault_ca = c\n[ c ]\ndir = %s\n"
                "database = $dir/index.txt\ncrlnumber = $dir/crlnumber\n"
                "certificate = %s\nprivate_key = %s\ndefault_md = sha256\n"
                "default_crl_days = 30\ncrl_extensions = ext\n"
                "[ ext ]\nauthorityKeyIdentifier = keyid:always\n"
                % (d, suite.p(ca + ".pem"), suite.p(ca + ".key")))
    out = suite.w("%s-revokes-%s.crl.pem" % (ca, victim))
    suite.openssl(["ca", "-gencrl", "-config", cnf, "-out", out])
    shutil.rmtree(d)
    return out


# --- OCSP: openssl ocsp behind a loopback HTTP server ------------------------


class OcspResponder:
    """An OCSP responder on 127.0.0.1 in this process. Each POST runs
    `openssl ocsp -index ... -reqin -respout` against the current settings,
    so a test can switch the index or the signing key between cases."""

    def __init__(self):
        self.index = None
        self.ca = None
        self.rsigner = None
        self.rkey = None
        self.mode = "ok"   # ok | garbage
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, fmt, *args):  # noqa: A002
                """Quiet: the test prints what matters."""

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                if n < 0 or n > 65536:
                    self.send_error(413)
                    return
                body = outer.answer(self.rfile.read(n))
                self.send_response(200 if body is not None else 500)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def answer(self, req):
        self.requests += 1
        if self.mode == "garbage":
            return b"\xff" + os.urandom(63)
        with tempfile.TemporaryDirectory() as tmp:
            rq = os.path.join(tmp, "req.der")
            rs = os.path.join(tmp, "resp.der")
            with open(rq, "wb") as f:
                f.write(req)
            p = subprocess.run(["openssl", "ocsp", "-index", self.index,
                                "-CA", self.ca, "-rsigner", self.rsigner,
                                "-rkey", self.rkey, "-reqin", rq,
                                "-respout", rs, "-ndays", "1"],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=20,
                               check=False)
            if p.returncode != 0:
                return None
            with open(rs, "rb") as f:
                return f.read()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
