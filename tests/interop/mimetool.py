#!/usr/bin/env python3
"""mimetool.py - byte-exact helpers for the interop scripts (stdlib only).

  json-expect FILE KEY VALUE [KEY VALUE ...]
      FILE holds one JSON object; each KEY has VALUE ("null", "true" and
      "false" are the JSON literals, anything else a string).
  body FILE
      the body of the message or entity in FILE, bytes as they are.
  decoded-body FILE
      the body of the entity in FILE, base64 or quoted-printable decoded.
  split-signed FILE CONTENT-OUT SIG-OUT
      FILE is a multipart/signed message: CONTENT-OUT gets the first part
      exactly as signed (between the delimiters, the CRLF before the next
      delimiter excluded), SIG-OUT the decoded signature (raw CMS).
  p7m FILE DER-OUT
      FILE is an application/pkcs7-mime message: DER-OUT gets its CMS.
  nss-content FILE OUT
      FILE is cmsutil -D -h output: OUT gets the content after the
      "SMIME:" header field.
Exit status 1 (with a message on stderr) when the input does not fit.
"""
import base64
import binascii
import json
import quopri
import re
import sys


def fail(msg):
    sys.stderr.write("mimetool: " + msg + "\n")
    sys.exit(1)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def split_head(data):
    """(header bytes, body bytes) at the first empty line, CRLF or LF."""
    m = re.search(rb"\r?\n\r?\n", data)
    if m is None:
        fail("no end of header")
    return data[:m.start()], data[m.end():]


def header(head, name):
    """The unfolded value of the first header field NAME, or None."""
    unfolded = re.sub(rb"\r?\n[ \t]", b" ", head)
    for line in re.split(rb"\r?\n", unfolded):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name.lower():
            return value.strip()
    return None


def json_expect(path, pairs):
    with open(path, encoding="utf-8") as f:
        obj = json.load(f)
    if not isinstance(obj, dict):
        fail("not a JSON object")
    literals = {"null": None, "true": True, "false": False}
    bad = 0
    for key, want in zip(pairs[0::2], pairs[1::2]):
        want_v = literals.get(want, want)
        if key not in obj:
            sys.stderr.write("mimetool: key %s missing\n" % key)
            bad += 1
        elif obj[key] != want_v:
            sys.stderr.write("mimetool: %s is %r, want %r\n"
                             % (key, obj[key], want_v))
            bad += 1
    if bad:
        sys.exit(1)


def decoded_body(data):
    head, body = split_head(data)
    cte = (header(head, b"Content-Transfer-Encoding") or b"7bit").lower()
    try:
        if cte == b"base64":
            return base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
    except binascii.Error as e:
        fail("bad base64: %s" % e)
    if cte == b"quoted-printable":
        return quopri.decodestring(body)
    return body


def split_signed(data):
    head, _ = split_head(data)
    ctype = header(head, b"Content-Type") or b""
    if not ctype.lower().startswith(b"multipart/signed"):
        fail("not multipart/signed")
    m = re.search(rb'boundary="?([^";]+)"?', ctype)
    if m is None:
        fail("no boundary")
    delim = re.escape(b"--" + m.group(1))
    # Each delimiter line starts a line; the CRLF before it belongs to it.
    starts = [x for x in re.finditer(rb"(?:^|\r?\n)" + delim, data, re.M)]
    if len(starts) < 3:
        fail("fewer than two parts")
    first = data[starts[0].end():starts[1].start()]
    first = re.sub(rb"^[ \t]*\r?\n", b"", first, count=1)
    second = data[starts[1].end():starts[2].start()]
    second = re.sub(rb"^[ \t]*\r?\n", b"", second, count=1)
    return first, decoded_body(second)


def nss_content(data):
    lines = data.split(b"\n")
    if not lines or not lines[0].startswith(b"SMIME:"):
        fail("no SMIME: header from cmsutil")
    n = 1
    while n < len(lines) and lines[n].startswith(b"\t"):
        n += 1
    return b"\n".join(lines[n:])


def main(argv):
    if len(argv) < 3:
        fail("usage: see the file header")
    cmd = argv[1]
    args = argv[2:]
    if cmd == "json-expect" and len(args) >= 3 and len(args) % 2 == 1:
        json_expect(args[0], args[1:])
    elif cmd == "body" and len(args) == 1:
        sys.stdout.buffer.write(split_head(read(args[0]))[1])
    elif cmd == "decoded-body" and len(args) == 1:
        sys.stdout.buffer.write(decoded_body(read(args[0])))
    elif cmd == "split-signed" and len(args) == 3:
        content, sig = split_signed(read(args[0]))
        write(args[1], content)
        write(args[2], sig)
    elif cmd == "p7m" and len(args) == 2:
        head, _ = split_head(read(args[0]))
        ctype = (header(head, b"Content-Type") or b"").lower()
        if not ctype.startswith(b"application/pkcs7-mime"):
            fail("not application/pkcs7-mime")
        write(args[1], decoded_body(read(args[0])))
    elif cmd == "nss-content" and len(args) == 2:
        write(args[1], nss_content(read(args[0])))
    else:
        fail("bad command line: %s" % " ".join(argv[1:]))


if __name__ == "__main__":
    main(sys.argv)
