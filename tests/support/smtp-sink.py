#!/usr/bin/python3
"""smtp-sink.py - a small SMTP server for mailseal tests (aiosmtpd).

Usage:
  smtp-sink.py --port-file FILE (--outdir DIR | --maildir ROOT)
               [--tls-cert PEM --tls-key PEM]
               [--implicit-tls] [--auth-user U --auth-password P]
               [--auth-mechs PLAIN,LOGIN] [--auth-cleartext]
               [--refuse ADDR]... [--defer ADDR]... [--silent]
               [--idle-exit SECONDS] [--max-life SECONDS]

Binds 127.0.0.1 on a free port and writes the port (then a newline) to
FILE atomically once it accepts connections.

  --tls-cert/--tls-key  offer STARTTLS with this certificate (or, with
                        --implicit-tls, speak TLS from the first byte)
  --auth-user/...       offer AUTH (PLAIN and LOGIN unless --auth-mechs
                        narrows it) and require it for MAIL; only after
                        STARTTLS unless --auth-cleartext
  --refuse ADDR         answer RCPT TO:<ADDR> with 550 5.1.1
  --defer ADDR          answer RCPT TO:<ADDR> with 450 4.2.0
  --silent              accept connections and never answer (timeouts)

Each accepted message becomes a directory DIR/msg-N (made under a temporary
name and renamed, so a reader never sees half of it) holding:
  mail_from  the reverse path as given (no brackets), "" for <>
  rcpt_to    one recipient per line
  data       the message bytes after SMTP's dot-unstuffing (CRLF kept)
  tls        "yes" when the session ran over TLS, else "no"
  auth       the authenticated user name, or empty

With --maildir ROOT it delivers instead, as a local MDA would: each
recipient gets ROOT/<recipient>/Maildir/{tmp,new,cur} (the address as
given in RCPT, lower-cased; one with "/", a NUL or a leading "." is
refused with 550), and each message is written to tmp/ and renamed into
new/<time>.M<usec>P<pid>Q<n>.sink (the Maildir convention: a reader
never sees half of it), with "Return-Path: <sender>" and "Delivered-To:
<recipient>" prepended to the message bytes.

Exits by itself after --idle-exit seconds without a connection or command
(default 60), after --max-life seconds (default 300), or as soon as its
parent process is gone. Logs one line per event to stderr. TEST-ONLY:
Debian's python3-aiosmtpd and the standard library only.
"""

import argparse
import asyncio
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

state = {"last": time.monotonic(), "count": 0}


def log(msg):
    sys.stderr.write("smtp-sink[%d]: %s\n" % (os.getpid(), msg))
    sys.stderr.flush()


def touch():
    state["last"] = time.monotonic()


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Handler:
    def __init__(self, args):
        self.args = args

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        touch()
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        touch()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        touch()
        if address in self.args.refuse:
            log("refused recipient %s" % address)
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if address in self.args.defer:
            log("deferred recipient %s" % address)
            return "450 4.2.0 <%s>: Recipient address deferred" % address
        if self.args.maildir and not maildir_name_ok(address):
            log("refused recipient %r (no maildir for it)" % address)
            return "550 5.1.3 Bad recipient address syntax"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        touch()
        if self.args.maildir:
            return deliver_maildirs(self.args.maildir, envelope)
        state["count"] += 1
        n = state["count"]
        final = os.path.join(self.args.outdir, "msg-%d" % n)
        tmp = os.path.join(self.args.outdir, ".tmp-msg-%d" % n)
        os.mkdir(tmp)
        # aiosmtpd keeps the null reverse path as "<>".
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":
            mail_from = ""
        write_atomic(os.path.join(tmp, "mail_from"), mail_from.encode())
        write_atomic(os.path.join(tmp, "rcpt_to"),
                     "".join(r + "\n" for r in envelope.rcpt_tos).encode())
        write_atomic(os.path.join(tmp, "data"), envelope.original_content)
        tls = (session.ssl is not None or
               server.transport.get_extra_info("ssl_object") is not None)
        write_atomic(os.path.join(tmp, "tls"), b"yes" if tls else b"no")
        auth = getattr(session, "auth_data", None)
        user = auth if session.authenticated and auth else b""
        write_atomic(os.path.join(tmp, "auth"), user)
        os.rename(tmp, final)
        log("stored msg-%d from <%s> to %d recipient(s), tls=%s" %
            (n, envelope.mail_from, len(envelope.rcpt_tos), tls))
        return "250 2.0.0 OK stored as msg-%d" % n


def maildir_name_ok(address):
    return (0 < len(address) <= 254 and "/" not in address and
            "\0" not in address and not address.startswith("."))


def deliver_maildirs(root, envelope):
    """Delivers the message into each recipient's Maildir/new."""
    mail_from = envelope.mail_from or ""
    if mail_from == "<>":
        mail_from = ""
    for rcpt in envelope.rcpt_tos:
        state["count"] += 1
        md = os.path.join(root, rcpt.lower(), "Maildir")
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), mode=0o700, exist_ok=True)
        now = time.time()
        name = "%d.M%dP%dQ%d.sink" % (int(now), int(now * 1e6) % 1000000,
                                       os.getpid(), state["count"])
        head = ("Return-Path: <%s>\r\nDelivered-To: %s\r\n" %
                (mail_from, rcpt)).encode()
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(head + envelope.original_content)
        os.rename(tmp, os.path.join(md, "new", name))
        log("delivered to %s as %s" % (rcpt, name))
    return "250 2.0.0 OK delivered to %d maildir(s)" % len(envelope.rcpt_tos)


def authenticator(args):
    def check(server, session, envelope, mechanism, auth_data):
        touch()
        ok = (isinstance(auth_data, LoginPassword) and
              auth_data.login == args.auth_user.encode() and
              auth_data.password == args.auth_password.encode())
        log("AUTH %s %s" % (mechanism, "accepted" if ok else "refused"))
        # handled=False: aiosmtpd itself answers 535 on failure.
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data.login if ok else None)
    return check


def tls_context(args):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return ctx


def smtp_factory(args):
    kw = {"hostname": "sink.test", "decode_data": False,
          "data_size_limit": 80 * 1024 * 1024}
    if args.tls_cert and not args.implicit_tls:
        kw["tls_context"] = tls_context(args)
    if args.auth_user:
        kw["authenticator"] = authenticator(args)
        kw["auth_required"] = True
        # Implicit TLS is TLS too, but aiosmtpd only knows STARTTLS.
        kw["auth_require_tls"] = not (args.auth_cleartext or
                                      args.implicit_tls)
        mechs = {"PLAIN", "LOGIN"}
        keep = set(args.auth_mechs.split(","))
        kw["auth_exclude_mechanism"] = sorted(mechs - keep)

    def make():
        touch()
        return SMTP(Handler(args), **kw)
    return make


async def silent_client(reader, writer):
    touch()
    try:
        while await reader.read(4096):
            touch()
    finally:
        writer.close()


async def main(args):
    loop = asyncio.get_running_loop()
    parent = os.getppid()
    if args.silent:
        server = await asyncio.start_server(silent_client, "127.0.0.1", 0)
    else:
        server = await loop.create_server(
            smtp_factory(args), "127.0.0.1", 0,
            ssl=tls_context(args) if args.implicit_tls else None)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    log("listening on 127.0.0.1:%d" % port)
    start = time.monotonic()
    while True:
        await asyncio.sleep(0.2)
        now = time.monotonic()
        if os.getppid() != parent:
            log("parent gone, exiting")
            break
        if now - state["last"] > args.idle_exit:
            log("idle for %ds, exiting" % args.idle_exit)
            break
        if now - start > args.max_life:
            log("lived %ds, exiting" % args.max_life)
            break
    server.close()


def parse_args():
    p = argparse.ArgumentParser(description="SMTP sink for tests")
    p.add_argument("--port-file", required=True)
    p.add_argument("--outdir")
    p.add_argument("--maildir")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--auth-user")
    p.add_argument("--auth-password")
    p.add_argument("--auth-mechs", default="PLAIN,LOGIN")
    p.add_argument("--auth-cleartext", action="store_true")
    p.add_argument("--refuse", action="append", default=[])
    p.add_argument("--defer", action="append", default=[])
    p.add_argument("--silent", action="store_true")
    p.add_argument("--idle-exit", type=int, default=60)
    p.add_argument("--max-life", type=int, default=300)
    a = p.parse_args()
    if (a.tls_cert is None) != (a.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if a.implicit_tls and a.tls_cert is None:
        p.error("--implicit-tls needs --tls-cert")
    if (a.auth_user is None) != (a.auth_password is None):
        p.error("--auth-user and --auth-password go together")
    if (a.outdir is None) == (a.maildir is None):
        p.error("give one of --outdir and --maildir")
    os.makedirs(a.outdir or a.maildir, exist_ok=True)
    return a


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
