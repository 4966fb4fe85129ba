#!/usr/bin/env python3
"""adv.py - adversarial tests of the mailseal verdict rules (TEST-ONLY).

Usage: adv.py --cli MAILSEAL --pki DIR --src SRCDIR --work DIR GROUP

Each GROUP tests one verdict rule (or one family of limits) through the
mailseal CLI with real cryptography: messages are signed, timestamped and
encrypted by mailseal or openssl, then attacked by editing bytes or DER
structure. Every case asserts the exact verdict and, where it matters,
level, revocation, timestamp validity, warnings and exit status. Servers
(RFC 3161, OCSP) bind 127.0.0.1 only and are stopped before exit.
Exit 0 when every check passes, 1 otherwise.
"""

import argparse
import os
import random
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import advlib as A  # noqa: E402

EVE = "eve@example.net"
JANE = "jane.roe@bank.example"
JANE_FROM = "Jane Roe <%s>" % JANE
BODY = "Please pay invoice 4711 to the usual account."
V1_DISPLAY = "V1 eve@example.net — Email Validated, Identity Not Validated"
V4_DISPLAY = ("V4 Jane Roe, Example Bank, Head of Payments "
              "<jane.roe@bank.example> — Identity Validated and Trusted")


def sign_from(s, who, frm, **kw):
    return s.sign(A.message(frm), who, **kw)


# --- good: every level and form that must validate ---------------------------


def escalated_leaf(s):
    """A leaf for eve@example.net claiming V4, issued by the V1 CA."""
    base = s.w("escalated")
    ext = s.w("escalated.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=emailProtection\n"
                "subjectAltName=email:%s\n"
                "certificatePolicies=2.25.709879906642274311974298455940"
                "75621128.1.4\n" % EVE)
    s.openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
               base + ".key", "-subj", "/CN=Jane Roe/O=Example Bank",
               "-out", base + ".csr"])
    s.openssl(["x509", "-req", "-in", base + ".csr", "-CA",
               s.p("ca-v1.pem"), "-CAkey", s.p("ca-v1.key"), "-set_serial",
               "4242", "-days", "30", "-extfile", ext, "-out",
               base + ".pem"])
    return base


def group_public(s):
    """A chain to a root of the system store (here SSL_CERT_DIR) is public;
    there only the CA/Browser Forum OIDs name a level, never our arc."""
    sysdir = s.w("system-certs")
    os.makedirs(sysdir, exist_ok=True)
    shutil.copy(s.p("root.pem"), sysdir)
    s.openssl(["rehash", sysdir])
    env = {"SSL_CERT_DIR": sysdir}
    other = ("other-root.pem",)
    r = s.verify(sign_from(s, "cab-v3", "cab@example.com"), trust=other,
                 extra=["--offline"], env=env)
    s.expect("public-cab-oid", r, verdict="validated", rc=0, level="V3",
             display="V3 Example Org <cab@example.com> — Identity Validated "
             "and Trusted (publicly trusted)")
    s.check("public-cab-oid-flag", (r.json or {}).get("public") is True,
            "public %r" % (r.json or {}).get("public"))
    s.expect("public-private-arc-ignored", s.verify(
        sign_from(s, "v4-sign", JANE_FROM), trust=other,
        extra=["--offline"], env=env), verdict="signed", rc=0, level=None)
    s.expect("no-system-trust", s.verify(
        sign_from(s, "cab-v3", "cab@example.com"), trust=other,
        extra=["--offline", "--no-system-trust"], env=env),
        verdict="untrusted", rc=1)
    r = s.verify(sign_from(s, "v1-sign", EVE), extra=["--offline"], env=env)
    s.check("given-anchor-not-public", (r.json or {}).get("public") is False,
            "public %r for a --trust anchor" % (r.json or {}).get("public"))


def group_good(s):
    cases = [
        ("v1", "v1-sign", EVE, "mailbox-validated", "V1", V1_DISPLAY),
        ("v2", "v2-sign", "John Doe <john.doe@example.org>", "validated",
         "V2", "V2 John Doe <john.doe@example.org> — Identity Validated"),
        ("v3", "v3-sign", "Example Org <info@example.com>", "validated",
         "V3", "V3 Example Org <info@example.com> — Identity Validated "
         "and Trusted"),
        ("v4", "v4-sign", JANE_FROM, "validated", "V4", V4_DISPLAY),
        ("ec-p256", "ec-sign", "alice@example.net", "mailbox-validated",
         "V1", "V1 alice@example.net — Email Validated, Identity Not "
         "Validated"),
        ("twolevels-lower-wins", "twolevels", "two@example.net",
         "mailbox-validated", "V1", "V1 two@example.net — Email Validated, "
         "Identity Not Validated"),
        ("cab-v3", "cab-v3", "cab@example.com", "validated", "V3",
         "V3 Example Org <cab@example.com> — Identity Validated and "
         "Trusted"),
        ("nolevel", "nolevel", "plain@example.net", "signed", None,
         "Signed by plain@example.net — identity level not stated by the "
         "certificate"),
    ]
    for name, who, frm, verdict, level, display in cases:
        msg = sign_from(s, who, frm)
        # V2 leaves carry an OCSP URL: stay offline here (see group ocsp).
        s.expect(name, s.verify(msg, extra=["--offline"]), verdict=verdict,
                 rc=0, level=level, display=display, revocation="not-checked",
                 ts_valid=None, warn=None, no_warn=".")
    # A V1 CA cannot mint a V4 signer by writing the V4 OID into a leaf:
    # the level an issuing CA asserts caps the levels below it.
    esc = escalated_leaf(s)
    s.expect("level-capped-by-issuing-ca", s.verify(sign_from(s, esc, EVE)),
             verdict="mailbox-validated", rc=0, level="V1",
             display=V1_DISPLAY)
    group_public(s)
    # SMIMECapabilities: ours advertise GCM and OAEP; openssl's default
    # list has neither (so replies to it must use CBC and PKCS#1 v1.5).
    r = s.verify(sign_from(s, "v1-sign", EVE))
    s.check("capabilities-ours", (r.json or {}).get("capabilities") ==
            {"gcm": True, "oaep": True}, "capabilities %r"
            % (r.json or {}).get("capabilities"))
    other = s.openssl(["cms", "-sign", "-signer", s.p("v1-sign.pem"),
                       "-inkey", s.p("v1-sign.key"), "-certfile",
                       s.p("ca-v1.pem")], A.message(EVE))
    # openssl signs the whole input as content and writes no outer header.
    r = s.verify(b"From: " + EVE.encode() + b"\r\n" + other)
    s.expect("openssl-signed", r, verdict="mailbox-validated", rc=0)
    s.check("capabilities-openssl", (r.json or {}).get("capabilities") ==
            {"gcm": False, "oaep": False}, "capabilities %r"
            % (r.json or {}).get("capabilities"))
    opaque = sign_from(s, "v4-sign", JANE_FROM, opaque=True)
    s.expect("opaque-signed-data", s.verify(opaque), verdict="validated",
             rc=0, level="V4", display=V4_DISPLAY)
    r = s.mailseal(["open", "--trust", s.p("root.pem")], opaque)
    s.check("opaque-open-prints-content", r.rc == 0 and
            BODY.encode() in r.out and r.out.startswith(b"[mailseal] V4 "),
            "open of opaque: rc=%d out=%r" % (r.rc, r.out[:300]))
    s.expect("trust-intermediate-only", s.verify(
        sign_from(s, "v1-sign", EVE), trust=("ca-v1.pem",)),
        verdict="mailbox-validated", rc=0, level="V1")
    # Sealed: sign-then-encrypt, opened by the recipient and by the sender.
    for cipher in ("aes-256-gcm", "aes-256-cbc"):
        r = s.mailseal(["seal", "--cert", s.p("v4-sign.pem"),
                        "--key", s.p("v4-sign.key"),
                        "--chain", s.p("ca-v4.pem"),
                        "--encryption-cert", s.p("v4-enc.pem"),
                        "--recipient-cert", s.p("v1-enc.pem"),
                        "--cipher", cipher], A.message(JANE_FROM))
        s.check("seal-" + cipher, r.rc == 0, "seal failed: %r" % r.err)
        for key in ("v1-enc", "v4-enc"):
            s.expect("sealed-%s-open-by-%s" % (cipher, key), s.verify(
                r.out, cmd="open", extra=["--cert", s.p(key + ".pem"),
                                          "--key", s.p(key + ".key")]),
                verdict="validated", rc=0, level="V4", display=V4_DISPLAY,
                encrypted=True, cipher=cipher)


# --- mismatch: who the From field names ----------------------------------------


def group_from(s):
    eve_signed = sign_from(s, "v1-sign", EVE)

    def with_from(*lines):
        return A.replace_header(eve_signed, "From", list(lines))

    s.expect("control-eve", s.verify(eve_signed), verdict="mailbox-validated",
             rc=0, level="V1", display=V1_DISPLAY)
    s.expect("forged-from-jane", s.verify(with_from("From: " + JANE_FROM)),
             verdict="mismatch", rc=1, level=None, signer=EVE)
    s.expect("forged-from-signed-before", s.verify(
        sign_from(s, "v1-sign", JANE_FROM)), verdict="mismatch", rc=1,
        signer=EVE)
    for name, line in [
            ("display-name-is-jane-address",
             'From: "jane.roe@bank.example" <eve@example.net>'),
            ("display-name-encoded-word",
             "From: =?utf-8?q?jane.roe=40bank.example?= <eve@example.net>"),
            ("display-name-with-angle-lookalike",
             'From: "Jane Roe <jane.roe@bank.example>" <eve@example.net>'),
    ]:
        s.expect(name, s.verify(with_from(line)),
                 verdict="mailbox-validated", rc=0, level="V1",
                 display=V1_DISPLAY, display_lacks=["jane"], signer=EVE)
        r = s.mailseal(["verify", "--trust", s.p("root.pem")],
                       with_from(line))
        s.check(name + "-text", r.rc == 0 and b"jane" not in r.out.lower(),
                "text verdict names jane: %r" % r.out)
    s.expect("two-from-fields-same", s.verify(
        with_from("From: " + EVE, "From: " + EVE)), verdict="mismatch", rc=1)
    s.expect("two-from-fields-jane-eve", s.verify(
        with_from("From: " + JANE_FROM, "From: " + EVE)), verdict="mismatch",
        rc=1)
    s.expect("from-two-mailboxes", s.verify(
        with_from("From: %s, %s" % (EVE, JANE))), verdict="mismatch", rc=1)
    s.expect("from-two-mailboxes-same", s.verify(
        with_from("From: %s, %s" % (EVE, EVE))), verdict="mismatch", rc=1)
    s.expect("from-group", s.verify(
        with_from("From: Friends: %s;" % EVE)), verdict="mismatch", rc=1)
    s.expect("from-empty-group", s.verify(
        with_from("From: undisclosed-recipients:;")), verdict="mismatch",
        rc=1)
    s.expect("from-empty", s.verify(with_from("From: ")), verdict="mismatch",
             rc=1)
    s.expect("from-missing", s.verify(with_from()), verdict="mismatch", rc=1)
    s.expect("from-folded-two-lines", s.verify(
        with_from("From: Eve", " <%s>" % EVE)),
        verdict="mailbox-validated", rc=0, display=V1_DISPLAY)
    s.expect("from-uppercase", s.verify(with_from("From: EVE@EXAMPLE.NET")),
             verdict="mailbox-validated", rc=0, level="V1",
             display=V1_DISPLAY, signer=EVE)
    s.expect("sender-does-not-count", s.verify(
        with_from("From: " + JANE_FROM, "Sender: " + EVE)),
        verdict="mismatch", rc=1)
    # What a reader's client would show as the address is never eve's.
    for name, line in (
            ("unquoted-address-as-display-name",
             "From: eve@example.net <jane.roe@bank.example>"),
            ("quoted-eve-display-jane-address",
             'From: "eve@example.net" <jane.roe@bank.example>'),
            ("jane-address-eve-comment",
             "From: jane.roe@bank.example (eve@example.net)"),
            ("two-angle-addresses",
             "From: Eve <eve@example.net> <jane.roe@bank.example>"),
            ("address-after-angle", "From: Jane <jane.roe@bank.example>"
             "eve@example.net"),
            ("double-at", "From: eve@example.net@bank.example"),
            ("quoted-local-part",
             'From: "jane.roe@bank.example"@example.net'),
            ("encoded-word-address",
             "From: =?utf-8?b?ZXZlQGV4YW1wbGUubmV0?="),
            ("nul-in-from", "From: Eve <eve@example.net>\x00<jane.roe@bank"
             ".example>"),
            ("second-from-lowercase",
             "From: eve@example.net\r\nfrom: jane.roe@bank.example"),
    ):
        s.expect(name, s.verify(with_from(line)), verdict="mismatch", rc=1)
    s.expect("eve-address-jane-comment", s.verify(with_from(
        "From: eve@example.net (jane.roe@bank.example)")),
        verdict="mailbox-validated", rc=0, display=V1_DISPLAY)
    s.expect("from-lookalike-domain", s.verify(
        with_from("From: eve@example.net.evil.example")), verdict="mismatch",
        rc=1)
    s.expect("from-subaddress", s.verify(
        with_from("From: eve+x@example.net")), verdict="mismatch", rc=1)


# --- partial / unsigned: what the signature covers -----------------------------


def mixed(frm, parts, boundary="outer-7f3a9c"):
    head = ("From: %s\r\nTo: bob@example.org\r\nSubject: Payment\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
            "boundary=\"%s\"\r\n\r\n" % (frm, boundary)).encode()
    b = ("--%s\r\n" % boundary).encode()
    out = head
    for p in parts:
        out += b + p + b"\r\n"
    return out + ("--%s--\r\n" % boundary).encode()


TEXT_PART = (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
             b"URGENT: our bank account changed, pay to DE89 3704 0044 0532"
             b" 0130 00 instead.\r\n")


def group_structure(s):
    signed = sign_from(s, "v1-sign", EVE)
    entity = A.entity_of(signed)
    s.expect("prepended-text", s.verify(mixed(EVE, [TEXT_PART, entity])),
             verdict="partial", rc=1, level=None, signer=EVE)
    s.expect("appended-text", s.verify(mixed(EVE, [entity, TEXT_PART])),
             verdict="partial", rc=1, level=None)
    attached = (b"Content-Disposition: attachment; filename=\"original.eml\""
                b"\r\n" + entity)
    s.expect("signed-part-as-attachment", s.verify(
        mixed(EVE, [TEXT_PART, attached])), verdict="partial", rc=1)
    s.expect("signed-part-alone-in-mixed", s.verify(mixed(EVE, [entity])),
             verdict="partial", rc=1)
    opaque = A.entity_of(sign_from(s, "v1-sign", EVE, opaque=True))
    s.expect("opaque-part-nested", s.verify(mixed(EVE, [TEXT_PART, opaque])),
             verdict="partial", rc=1)
    tampered = entity.replace(b"4711", b"4712")
    s.expect("nested-tampered-is-invalid", s.verify(
        mixed(EVE, [TEXT_PART, tampered])), verdict="invalid", rc=1)
    # Several signed parts: each is judged, the worst counts, in any order.
    for order, parts in (("valid-first", [entity, tampered]),
                         ("tampered-first", [tampered, entity])):
        s.expect("two-signed-parts-one-tampered-" + order, s.verify(
            mixed(EVE, parts)), verdict="invalid", rc=1)
    jane = A.entity_of(sign_from(s, "v4-sign", JANE_FROM))
    for order, parts in (("eve-first", [entity, jane]),
                         ("jane-first", [jane, entity])):
        s.expect("two-signed-parts-other-signer-" + order, s.verify(
            mixed(EVE, parts)), verdict="mismatch", rc=1,
            signer="jane.roe@bank.example")
    s.expect("two-signed-parts-both-good", s.verify(
        mixed(EVE, [entity, TEXT_PART, entity])), verdict="partial", rc=1)
    pgp_part = entity.replace(b"application/pkcs7-signature\"",
                              b"application/pgp-signature\"", 1)
    s.expect("pgp-part-then-tampered-part", s.verify(
        mixed(EVE, [pgp_part, tampered])), verdict="invalid", rc=1)
    s.expect("pgp-part-then-good-part", s.verify(
        mixed(EVE, [pgp_part, entity])), verdict="partial", rc=1,
        warn="not S/MIME")
    r = s.verify(mixed(EVE, [entity] * 65), timeout=30)
    s.expect("65-signed-parts", r, verdict="error", rc=1)
    fwd = (b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n"
           b"\r\n" + signed)
    s.expect("forwarded-rfc822", s.verify(mixed(EVE, [TEXT_PART, fwd])),
             verdict="unsigned", rc=1, level=None, warn="forward",
             display_lacks=["validated"])
    top_fwd = (b"From: eve@example.net\r\nSubject: Fwd\r\nMIME-Version: 1.0"
               b"\r\nContent-Type: message/rfc822\r\n\r\n" + signed)
    s.expect("top-level-rfc822", s.verify(top_fwd), verdict="unsigned",
             rc=1, warn="forward")
    s.expect("plain-unsigned", s.verify(A.message(EVE)), verdict="unsigned",
             rc=1, level=None, no_warn=".", display="UNSIGNED — the sender "
             "is not verified")
    pgp = signed.replace(b"application/pkcs7-signature\"",
                         b"application/pgp-signature\"", 1)
    s.expect("non-smime-multipart-signed", s.verify(pgp),
             verdict="unsigned", rc=1, warn="not S/MIME")


# --- invalid: signatures that do not hold ----------------------------------------


def openssl_sign(s, entity, signers, md="sha256", chain=("ca-v1.pem",)):
    src = s.write("entity.bin", entity)
    out = s.w("sig.der")
    args = ["cms", "-sign", "-binary", "-md", md, "-in", src, "-outform",
            "DER", "-out", out]
    for who in signers:
        args += ["-signer", s.p(who + ".pem"), "-inkey", s.p(who + ".key")]
    if chain:
        bundle = b"".join(open(s.p(c), "rb").read() for c in chain)
        args += ["-certfile", s.write("chain.pem", bundle)]
    s.openssl(args)
    with open(out, "rb") as f:
        return f.read()


def flip_signature(der, index):
    ci = A.der_decode(der)
    sig = A.si_signature(A.signer_infos(ci).children[index])
    b = bytearray(sig.content)
    b[len(b) // 2] ^= 0x01
    sig.content = bytes(b)
    return ci.encode()


def group_invalid(s):
    signed = sign_from(s, "v1-sign", EVE)
    entity, _, _ = A.signed_pieces(signed)
    s.expect("control", s.verify(signed), verdict="mailbox-validated", rc=0)

    # eContent confusion: an opaque SignedData as the detached .p7s.
    opaque_der = A.get_p7m(sign_from(s, "v1-sign", EVE, opaque=True))
    s.expect("econtent-in-multipart-signed", s.verify(
        A.set_p7s(signed, opaque_der)), verdict="invalid", rc=1, level=None)

    # Two SignerInfos (eve and jane); From eve: jane's is a mismatch.
    two = openssl_sign(s, entity, ["v1-sign", "v4-sign"],
                       chain=("ca-v1.pem", "ca-v4.pem"))
    s.expect("two-signers-both-good", s.verify(A.set_p7s(signed, two)),
             verdict="mismatch", rc=1)
    for i in (0, 1):
        s.expect("two-signers-#%d-bad" % i, s.verify(
            A.set_p7s(signed, flip_signature(two, i))), verdict="invalid",
            rc=1)
    # The same SignerInfo twice (DER copy), then one of the copies broken.
    ci = A.der_decode(A.get_p7s(signed))
    sis = A.signer_infos(ci)
    sis.children.append(A.der_decode(sis.children[0].encode()))
    same = ci.encode()
    s.expect("two-signers-same-good", s.verify(A.set_p7s(signed, same)),
             verdict="mailbox-validated", rc=0)
    s.expect("two-signers-same-second-bad", s.verify(
        A.set_p7s(signed, flip_signature(same, 1))), verdict="invalid", rc=1)

    ci = A.der_decode(A.get_p7s(signed))
    A.signer_infos(ci).children = []
    s.expect("zero-signerinfos", s.verify(A.set_p7s(signed, ci.encode())),
             verdict="invalid", rc=1)
    opaque = sign_from(s, "v1-sign", EVE, opaque=True)
    ci = A.der_decode(A.get_p7m(opaque))
    A.signer_infos(ci).children = []
    s.expect("zero-signerinfos-opaque", s.verify(
        A.set_p7m(opaque, ci.encode())), verdict="invalid", rc=1)

    s.expect("tampered-body-one-byte", s.verify(
        signed.replace(b"4711", b"4712", 1)), verdict="invalid", rc=1)
    s.expect("tampered-part-header", s.verify(
        signed.replace(b"charset=us-ascii", b"charset=us-ascij", 1)),
        verdict="invalid", rc=1)
    s.expect("signature-value-flipped", s.verify(
        A.set_p7s(signed, flip_signature(A.get_p7s(signed), 0))),
        verdict="invalid", rc=1)
    ci = A.der_decode(A.get_p7m(opaque))
    octets = A.signed_data(ci).children[2].children[1].children[0]
    octets.content = octets.content.replace(b"4711", b"4712")
    s.expect("tampered-opaque-econtent", s.verify(
        A.set_p7m(opaque, ci.encode())), verdict="invalid", rc=1)

    for md in ("sha1", "md5"):
        der = openssl_sign(s, entity, ["v1-sign"], md=md)
        s.expect("digest-" + md, s.verify(A.set_p7s(signed, der)),
                 verdict="invalid", rc=1)
    ok = openssl_sign(s, entity, ["v1-sign"], md="sha256")
    s.expect("openssl-sha256-control", s.verify(A.set_p7s(signed, ok)),
             verdict="mailbox-validated", rc=0)

    now = int(time.time())
    s.expect("signing-time-10min-future", s.verify(sign_from(
        s, "v1-sign", EVE, now=A.rfc3339(now + 600))), verdict="invalid",
        rc=1)
    s.expect("signing-time-2min-future", s.verify(sign_from(
        s, "v1-sign", EVE, now=A.rfc3339(now + 120))),
        verdict="mailbox-validated", rc=0)


# --- untrusted: no chain, or a certificate not allowed to sign mail -----------


def group_untrusted(s):
    s.expect("other-root", s.verify(sign_from(s, "other-v1", EVE)),
             verdict="untrusted", rc=1, level=None, signer=EVE)
    s.expect("other-root-root-in-message", s.verify(sign_from(
        s, "other-v1", EVE, chain=s.p("other-root.pem"))),
        verdict="untrusted", rc=1)
    s.expect("no-chain-in-message", s.verify(sign_from(
        s, "v1-sign", EVE, chain=None)), verdict="untrusted", rc=1)
    s.expect("no-chain-but-untrusted-given", s.verify(sign_from(
        s, "v1-sign", EVE, chain=None), extra=["--untrusted",
                                              s.p("ca-v1.pem")]),
        verdict="mailbox-validated", rc=0)
    s.expect("bad-ku", s.verify(sign_from(s, "bad-ku", "badku@example.net")),
             verdict="untrusted", rc=1)
    s.expect("bad-eku", s.verify(sign_from(s, "bad-eku",
                                           "badeku@example.net")),
             verdict="untrusted", rc=1)
    s.expect("no-eku-allowed", s.verify(sign_from(s, "no-eku",
                                                  "noeku@example.net")),
             verdict="mailbox-validated", rc=0, level="V1")
    # A forged From on top of an untrusted chain: untrusted comes first.
    s.expect("other-root-forged-from", s.verify(
        sign_from(s, "other-v1", JANE_FROM)), verdict="untrusted", rc=1)


# --- revoked -------------------------------------------------------------------


def tsa_token(s, msg, when, tsa="tsa"):
    cert, key = (s.p(tsa + ".pem"), s.p(tsa + ".key")) if "/" not in tsa \
        else (tsa + ".pem", tsa + ".key")
    return A.mint_token(s, cert, key, A.signature_of(msg), when)


def group_revoked(s):
    crl = ["--crl", s.p("ca-v1.crl.pem")]
    rev = sign_from(s, "revoked", "revoked@example.net")
    s.expect("revoked-crl-pem", s.verify(rev, extra=crl), verdict="revoked",
             rc=1, revocation="revoked", level=None,
             display_re=r"REVOKED — the certificate of revoked@example\.net "
             r"was revoked on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
             r"\(key compromise\)")
    s.expect("revoked-crl-der", s.verify(rev, extra=["--crl", s.p(
        "ca-v1.crl.der")]), verdict="revoked", rc=1, revocation="revoked")
    s.expect("revoked-crl-and-offline", s.verify(
        rev, extra=crl + ["--offline"]), verdict="revoked", rc=1)
    sup = sign_from(s, "superseded", "superseded@example.net")
    s.expect("superseded-no-timestamp", s.verify(sup, extra=crl),
             verdict="revoked", rc=1, revocation="revoked")
    # Signed (and timestamped by the test TSA) in 2025, revoked later.
    early = A.rfc3339(1735689600)  # 2025-01-01T00:00:00Z
    sup_early = sign_from(s, "superseded", "superseded@example.net",
                          now=early)
    sup_ts = A.graft_token(sup_early, tsa_token(s, sup_early, 1735689600))
    s.expect("superseded-after-timestamp", s.verify(
        sup_ts, extra=crl + ["--tsa-trust", s.p("root.pem")]),
        verdict="mailbox-validated", rc=0, ts_valid=True, warn="revoked",
        display_has=["2025-01-01T00:00:00Z"])
    s.expect("superseded-timestamp-untrusted-tsa", s.verify(
        sup_ts, extra=crl), verdict="revoked", rc=1, ts_valid=False)
    rev_early = sign_from(s, "revoked", "revoked@example.net", now=early)
    rev_ts = A.graft_token(rev_early, tsa_token(s, rev_early, 1735689600))
    s.expect("keycompromise-despite-early-timestamp", s.verify(
        rev_ts, extra=crl + ["--tsa-trust", s.p("root.pem")]),
        verdict="revoked", rc=1, ts_valid=True)
    eve = sign_from(s, "v1-sign", EVE)
    s.expect("good-cert-same-crl", s.verify(eve, extra=crl),
             verdict="mailbox-validated", rc=0, revocation="good")
    # The issuing CA revoked by the root (keyCompromise in 2025).
    root_crl = ["--crl", A.revoke_crl(s, "root", "ca-v1", "keyCompromise")]
    s.expect("issuing-ca-revoked", s.verify(eve, extra=crl + root_crl),
             verdict="revoked", rc=1, revocation="revoked",
             display="REVOKED — the certificate of eve@example.net chains "
             "to a CA that was revoked on 2025-01-01T00:00:00Z (key "
             "compromise)")
    s.expect("issuing-ca-revoked-root-crl-only", s.verify(
        eve, extra=root_crl), verdict="revoked", rc=1)
    s.expect("root-crl-of-nothing", s.verify(eve, extra=crl + [
        "--crl", s.p("root.crl.pem")]), verdict="mailbox-validated", rc=0,
        revocation="good")


# --- expired --------------------------------------------------------------------


def tsa_2020(s):
    """A TSA certificate under the test root valid 2019..2049 (the PKI's
    own TSA certificates start in 2024)."""
    return A.issue_cert(
        s, "root", "tsa2020", "/CN=mailseal Test TSA 2019",
        "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature"
        "\nextendedKeyUsage = critical, timeStamping\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
        "20190101000000Z", "20491231235959Z")


def group_expired(s, tsa_pki):
    frm = "expired@example.net"
    t2020 = 1590969600  # 2020-06-01T00:00:00Z
    old = sign_from(s, "expired", frm, now=A.rfc3339(t2020))
    s.expect("expired-no-timestamp", s.verify(old), verdict="expired", rc=1,
             level=None, display="EXPIRED — the certificate of "
             "expired@example.net expired on 2021-01-01T00:00:00Z")
    s.expect("expired-verified-at-2020", s.verify(
        old, extra=["--at", "2020-06-01T00:10:00Z"]),
        verdict="mailbox-validated", rc=0, level="V1")
    tsa_pem, tsa_key = tsa_2020(s)
    tsa_trust = ["--tsa-trust", s.p("root.pem")]
    good = A.graft_token(old, A.mint_token(s, tsa_pem, tsa_key,
                                           A.signature_of(old), t2020 + 300))
    s.expect("expired-timestamp-before-expiry", s.verify(
        good, extra=tsa_trust), verdict="mailbox-validated", rc=0,
        ts_valid=True, level="V1",
        display_has=["expired@example.net", "2020-06-01T00:05:00Z"])
    s.expect("expired-timestamp-not-trusted", s.verify(good),
             verdict="expired", rc=1, ts_valid=False, warn="timestamp")
    late = A.graft_token(old, A.mint_token(s, tsa_pem, tsa_key,
                                           A.signature_of(old),
                                           1640995200))  # 2022-01-01
    s.expect("expired-timestamp-after-expiry", s.verify(
        late, extra=tsa_trust), verdict="expired", rc=1, ts_valid=True)
    # A token for 2020 from a TSA whose certificate only starts in 2024
    # proves nothing about 2020.
    pre = A.graft_token(old, tsa_token(s, old, t2020 + 300))
    s.expect("expired-timestamp-before-tsa-cert", s.verify(
        pre, extra=tsa_trust), verdict="expired", rc=1, ts_valid=False)
    # A real TSA answers with the current time: after expiry.
    with A.TsaServer(s, tsa_pki) as tsa:
        now_ts = sign_from(s, "expired", frm, now=A.rfc3339(t2020),
                           extra=["--tsa", tsa.url])
    s.expect("expired-real-tsa-token-now", s.verify(
        now_ts, extra=tsa_trust), verdict="expired", rc=1, ts_valid=True)
    s.expect("future-cert", s.verify(sign_from(s, "future",
                                               "future@example.net")),
             verdict="expired", rc=1, display="EXPIRED — the certificate of "
             "future@example.net is not valid before 2030-01-01T00:00:00Z")


# --- revocation-unknown and not-checked --------------------------------------------


def group_revocation(s):
    signed = sign_from(s, "v1-sign", EVE)
    s.expect("stale-crl", s.verify(signed, extra=["--crl", s.p(
        "ca-v1-stale.crl.pem")]), verdict="revocation-unknown", rc=1,
        revocation="unknown", level=None)
    s.expect("stale-crl-revoked-cert", s.verify(sign_from(
        s, "revoked", "revoked@example.net"), extra=["--crl", s.p(
            "ca-v1-stale.crl.pem")]), verdict="revocation-unknown", rc=1)
    s.expect("stale-and-current-crl", s.verify(signed, extra=[
        "--crl", s.p("ca-v1-stale.crl.pem"), "--crl", s.p("ca-v1.crl.pem")]),
        verdict="mailbox-validated", rc=0, revocation="good")
    der = bytearray(open(s.p("ca-v1.crl.der"), "rb").read())
    der[-5] ^= 0x01
    s.expect("crl-bad-signature", s.verify(signed, extra=[
        "--crl", s.write("bad.crl.der", bytes(der))]),
        verdict="revocation-unknown", rc=1, revocation="unknown")
    s.expect("offline-no-crl", s.verify(signed, extra=["--offline"]),
             verdict="mailbox-validated", rc=0, revocation="not-checked")
    s.expect("no-source-at-all", s.verify(signed),
             verdict="mailbox-validated", rc=0, revocation="not-checked")
    s.expect("offline-revoked-cert-no-crl", s.verify(sign_from(
        s, "revoked", "revoked@example.net"), extra=["--offline"]),
        verdict="mailbox-validated", rc=0, revocation="not-checked")
    s.expect("crl-of-other-ca-only", s.verify(signed, extra=[
        "--crl", s.p("ca-v4.crl.pem")]), verdict="mailbox-validated", rc=0,
        revocation="not-checked")


# --- OCSP through a loopback responder -------------------------------------------


def group_ocsp(s):
    ocsp = A.OcspResponder()
    try:
        pki = s.w("pki-ocsp")
        r = A.run([os.path.join(s.src, "tests/fixtures/gen-pki.sh"), pki],
                  env={"MS_TEST_OCSP_URL": ocsp.url}, timeout=120)
        if r.rc != 0:
            raise RuntimeError("gen-pki failed: %r" % r.err[-400:])
        s.pki = pki
        ocsp.ca = s.p("ca-v2.pem")
        ocsp.rsigner = s.p("ocsp-v2.pem")
        ocsp.rkey = s.p("ocsp-v2.key")
        ocsp.index = s.p("ca-v2-index.txt")
        frm = "John Doe <john.doe@example.org>"
        msg = sign_from(s, "v2-sign", frm)
        s.expect("ocsp-good", s.verify(msg), verdict="validated", rc=0,
                 level="V2", revocation="good")
        s.check("ocsp-good-asked", ocsp.requests >= 1,
                "the responder saw %d requests" % ocsp.requests)
        s.expect("ocsp-offline", s.verify(msg, extra=["--offline"]),
                 verdict="validated", rc=0, revocation="not-checked")
        # Unauthorised responder: signed by the V2 encryption key.
        ocsp.rsigner, ocsp.rkey = s.p("v2-enc.pem"), s.p("v2-enc.key")
        s.expect("ocsp-unauthorised-responder", s.verify(msg),
                 verdict="revocation-unknown", rc=1, revocation="unknown")
        ocsp.rsigner, ocsp.rkey = s.p("ocsp-v2.pem"), s.p("ocsp-v2.key")
        ocsp.mode = "garbage"
        s.expect("ocsp-garbage", s.verify(msg), verdict="revocation-unknown",
                 rc=1, revocation="unknown")
        ocsp.mode = "ok"
        # Revoke v2-sign (serial 1000) in a copy of the index.
        with open(ocsp.index) as f:
            lines = f.read().splitlines()
        out = []
        for line in lines:
            f = line.split("\t")
            if f[3] == "1000":
                f[0], f[2] = "R", "250101000000Z,keyCompromise"
            out.append("\t".join(f))
        ocsp.index = s.write("ca-v2-index-revoked.txt",
                             ("\n".join(out) + "\n").encode())
        shutil.copy(s.p("ca-v2-index.txt.attr"), ocsp.index + ".attr")
        s.expect("ocsp-revoked", s.verify(msg), verdict="revoked", rc=1,
                 revocation="revoked", level=None)
    finally:
        ocsp.stop()
    s.expect("ocsp-responder-down", s.verify(msg, timeout=30),
             verdict="revocation-unknown", rc=1, revocation="unknown")
    s.expect("ocsp-responder-down-offline", s.verify(
        msg, extra=["--offline"]), verdict="validated", rc=0,
        revocation="not-checked")


# --- RFC 3161 timestamps -------------------------------------------------------


def group_timestamp(s, tsa_pki):
    tsa_trust = ["--tsa-trust", s.p("root.pem")]
    msg = A.message(EVE)
    with A.TsaServer(s, tsa_pki) as tsa:
        stamped = s.sign(msg, "v1-sign", extra=["--tsa", tsa.url])
        other = s.sign(A.message(EVE, body="Another message."), "v1-sign",
                       extra=["--tsa", tsa.url])
        opaque = s.sign(msg, "v1-sign", opaque=True,
                        extra=["--tsa", tsa.url])
    s.expect("tsa-valid", s.verify(stamped, extra=tsa_trust),
             verdict="mailbox-validated", rc=0, ts_valid=True,
             no_warn="timestamp", display_has=["(timestamp)"])
    s.expect("tsa-valid-opaque", s.verify(opaque, extra=tsa_trust),
             verdict="mailbox-validated", rc=0, ts_valid=True)
    s.expect("tsa-trust-is-tsa-cert", s.verify(
        stamped, extra=["--tsa-trust", s.p("tsa.pem")]),
        verdict="mailbox-validated", rc=0, ts_valid=True)
    s.expect("tsa-no-tsa-trust", s.verify(stamped),
             verdict="mailbox-validated", rc=0, ts_valid=False,
             warn="timestamp", display_lacks=["(timestamp)"])
    s.expect("tsa-trust-other-root", s.verify(
        stamped, extra=["--tsa-trust", s.p("other-root.pem")]),
        verdict="mailbox-validated", rc=0, ts_valid=False, warn="timestamp")
    for section, name in (("tsa_noncrit", "tsa-eku-not-critical"),
                          ("tsa_other", "tsa-other-root")):
        with A.TsaServer(s, tsa_pki, section=section) as tsa:
            m = s.sign(msg, "v1-sign", extra=["--tsa", tsa.url])
        s.expect(name, s.verify(m, extra=tsa_trust),
                 verdict="mailbox-validated", rc=0, ts_valid=False,
                 warn="timestamp")
    # A token over another signature: swap the unsigned attributes.
    ci_a = A.der_decode(A.get_p7s(other))
    ci_b = A.der_decode(A.get_p7s(stamped))
    si_a = A.signer_infos(ci_a).children[0]
    si_b = A.signer_infos(ci_b).children[0]
    si_b.children[si_b.find(0xA1)] = A.get_unsigned_attrs(si_a)
    moved = A.set_p7s(stamped, ci_b.encode())
    s.expect("token-over-other-signature", s.verify(moved, extra=tsa_trust),
             verdict="mailbox-validated", rc=0, ts_valid=False,
             warn="timestamp", display_lacks=["(timestamp)"])
    plain = s.sign(msg, "v1-sign")
    tok = A.get_unsigned_attrs(si_a).children[0].children[1].children[0]
    s.expect("token-grafted-onto-unstamped", s.verify(
        A.graft_token(plain, tok.encode()), extra=tsa_trust),
        verdict="mailbox-validated", rc=0, ts_valid=False, warn="timestamp")
    # A valid token cannot rescue a bad signature.
    s.expect("token-valid-body-tampered", s.verify(
        stamped.replace(b"4711", b"4712", 1), extra=tsa_trust),
        verdict="invalid", rc=1)
    # TSA failures make sign fail: exit 1, one line, nothing on stdout.
    down = "http://127.0.0.1:%d/tsa" % A.free_port()
    s.expect_fail("tsa-down", s.mailseal(
        ["sign", "--cert", s.p("v1-sign.pem"), "--key", s.p("v1-sign.key"),
         "--tsa", down], msg, timeout=30))
    for mode in ("garbage", "status-rejected"):
        with A.TsaServer(s, tsa_pki, mode=mode) as tsa:
            r = s.mailseal(["sign", "--cert", s.p("v1-sign.pem"), "--key",
                            s.p("v1-sign.key"), "--tsa", tsa.url], msg)
        s.expect_fail("tsa-" + mode, r)
    with A.TsaServer(s, tsa_pki) as tsa:
        r = s.mailseal(["seal", "--cert", s.p("v1-sign.pem"), "--key",
                        s.p("v1-sign.key"), "--recipient-cert",
                        s.p("v2-enc.pem"), "--tsa", tsa.url], msg)
    s.check("seal-with-tsa", r.rc == 0, "seal --tsa failed: %r" % r.err)


# --- limits and encryption attacks ------------------------------------------------


def nested(depth):
    parts = [b"From: eve@example.net\r\nSubject: deep\r\nMIME-Version: 1.0"
             b"\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n"]
    for i in range(1, depth):
        parts.append(b"--b%d\r\nContent-Type: multipart/mixed; "
                     b"boundary=\"b%d\"\r\n\r\n" % (i - 1, i))
    parts.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\nbottom\r\n"
                 % (depth - 1))
    for i in range(depth - 1, -1, -1):
        parts.append(b"--b%d--\r\n" % i)
    return b"".join(parts)


def group_limits(s):
    r = s.verify(nested(10000), timeout=20)
    s.expect("mime-depth-10000", r, verdict="error", rc=1)
    s.check("mime-depth-10000-fast", r.seconds < 5, "took %.1fs" % r.seconds)
    s.expect("mime-depth-33", s.verify(nested(33)), verdict="error", rc=1)
    s.expect("mime-depth-30", s.verify(nested(30)), verdict="unsigned", rc=1)
    big = "x" * (1024 * 1024 + 16)
    s.expect("header-line-over-1mib", s.verify(A.message(
        EVE, subject=big)), verdict="error", rc=1)
    s.expect("header-line-1mib-folded", s.verify(A.message(
        EVE, subject="y" * 600000 + "\r\n " + "z" * 600000)),
        verdict="error", rc=1)
    long64 = "s" * (64 * 1024)
    signed = s.sign(A.message(EVE, subject=long64), "v1-sign")
    s.expect("header-line-64kib-signed", s.verify(signed),
             verdict="mailbox-validated", rc=0)
    s.expect("header-line-64kib-unsigned", s.verify(A.message(
        EVE, subject=long64)), verdict="unsigned", rc=1)
    s.expect("header-line-64kib-in-signed-part", s.verify(s.sign(
        A.message(EVE, extra_headers=["Content-Type: text/plain; x=\"%s\""
                                      % ("p" * 65000)]), "v1-sign")),
        verdict="mailbox-validated", rc=0)
    flat = (b"From: eve@example.net\r\nMIME-Version: 1.0\r\nContent-Type: "
            b"multipart/mixed; boundary=\"f\"\r\n\r\n" +
            b"--f\r\n\r\nx\r\n" * 10001 + b"--f--\r\n")
    s.expect("mime-10001-parts", s.verify(flat, timeout=20), verdict="error",
             rc=1)

    # 1,000 RecipientInfos, ours last; 10,001 is over the limit.
    signed = sign_from(s, "v4-sign", JANE_FROM)
    other = open(s.p("v2-enc.pem"), "rb").read()
    ours = open(s.p("v1-enc.pem"), "rb").read()
    many = s.write("rcpt-1000.pem", other * 999 + ours)
    r = s.mailseal(["encrypt", "--recipient-cert", many], signed)
    s.check("encrypt-1000", r.rc == 0, "encrypt failed: %r" % r.err)
    n = len(A.recipient_infos(A.envelope(A.der_decode(
        A.get_p7m(r.out)))).children)
    s.check("encrypt-1000-count", n == 1000, "%d RecipientInfos" % n)
    s.expect("recipients-1000-ours-last", s.verify(
        r.out, cmd="open", extra=["--cert", s.p("v1-enc.pem"), "--key",
                                  s.p("v1-enc.key")]),
        verdict="validated", rc=0, level="V4", encrypted=True)
    too_many = s.write("rcpt-10001.pem", other * 10000 + ours)
    r = s.mailseal(["encrypt", "--recipient-cert", too_many], signed,
                   timeout=60)
    s.check("encrypt-10001", r.rc == 0, "encrypt failed: %r" % r.err)
    res = s.verify(r.out, cmd="open", extra=["--cert", s.p("v1-enc.pem"),
                                             "--key", s.p("v1-enc.key")])
    s.expect("recipients-10001", res, verdict="error", rc=1)
    s.check("recipients-10001-fast", res.seconds < 10,
            "took %.1fs" % res.seconds)


def seal(s, cipher, frm=JANE_FROM, body=BODY):
    r = s.mailseal(["seal", "--cert", s.p("v4-sign.pem"), "--key",
                    s.p("v4-sign.key"), "--chain", s.p("ca-v4.pem"),
                    "--recipient-cert", s.p("v1-enc.pem"), "--cipher",
                    cipher], A.message(frm, body=body))
    if r.rc != 0:
        raise RuntimeError("seal failed: %r" % r.err)
    return r.out


def edit_ciphertext(msg, fn):
    ci = A.der_decode(A.get_p7m(msg))
    env = A.envelope(ci)
    fn(env)
    return A.set_p7m(msg, ci.encode())


def group_crypto(s):
    key = ["--cert", s.p("v1-enc.pem"), "--key", s.p("v1-enc.key")]
    marker = "Mark-8c1e: pay invoice 4711"
    cbc = seal(s, "aes-256-cbc", body=marker)
    s.expect("cbc-control", s.verify(cbc, cmd="open", extra=key),
             verdict="validated", rc=0, cipher="aes-256-cbc")

    def flip(offset_fn, mask=0x01):
        def f(env):
            node = A.encrypted_content(env)
            b = bytearray(node.content)
            b[offset_fn(len(b))] ^= mask
            node.content = bytes(b)
        return f

    def swap(env):
        node = A.encrypted_content(env)
        b = bytearray(node.content)
        b[16:32], b[48:64] = b[48:64], b[16:32]
        node.content = bytes(b)

    attacks = {
        "cbc-flip-middle-block": flip(lambda n: (n // 32) * 16 + 3),
        "cbc-flip-first-block": flip(lambda n: 2),
        "cbc-flip-last-block": flip(lambda n: n - 1),
        "cbc-flip-second-last-block": flip(lambda n: n - 17, 0x10),
        "cbc-swap-blocks": swap,
    }
    # CBC has no integrity of its own: garbled plaintext either breaks the
    # signature (invalid), the MIME structure (error), or, when it destroys
    # the multipart/signed header itself, leaves an unsigned message that
    # must carry the CBC integrity warning. Never a verdict that passes.
    for name, fn in attacks.items():
        for attempt in range(4):  # fresh keys: different garbling each time
            msg = cbc if attempt == 0 else seal(s, "aes-256-cbc",
                                                body=marker)
            r = s.verify(edit_ciphertext(msg, fn), cmd="open", extra=key)
            s.expect("%s#%d" % (name, attempt), r, rc=1, encrypted=True)
            v = r.get("verdict")
            warnings = " ".join(r.get("warnings") or [])
            s.check(name, v in ("invalid", "error") or
                    (v == "unsigned" and "integrity" in warnings),
                    "verdict %r (warnings %r), want invalid, error or "
                    "unsigned with the CBC warning" % (v, warnings))
    plain = s.write("plain.eml", A.message(JANE_FROM, body=marker))
    enc = s.openssl(["cms", "-encrypt", "-aes256", "-in", plain,
                     s.p("v1-enc.pem")])
    s.expect("cbc-unsigned-other-client", s.verify(enc, cmd="open",
                                                   extra=key),
             verdict="unsigned", rc=1, encrypted=True, cipher="aes-256-cbc",
             warn="integrity")

    gcm = seal(s, "aes-256-gcm", body=marker)
    s.expect("gcm-control", s.verify(gcm, cmd="open", extra=key),
             verdict="validated", rc=0, cipher="aes-256-gcm")

    def flip_tag(env):
        mac = A.auth_mac(env)
        mac.content = bytes([mac.content[0] ^ 0x80]) + mac.content[1:]

    for name, fn in (("gcm-tag-flipped", flip_tag),
                     ("gcm-ciphertext-flipped", flip(lambda n: n // 2))):
        bad = edit_ciphertext(gcm, fn)
        s.expect(name, s.verify(bad, cmd="open", extra=key),
                 verdict="invalid", rc=1, level=None)
        r = s.mailseal(["open", "--trust", s.p("root.pem")] + key, bad)
        s.check(name + "-no-plaintext", r.rc == 1 and
                b"Mark-8c1e" not in r.out and b"4711" not in r.out,
                "open printed plaintext (rc=%d): %r" % (r.rc, r.out[:300]))
        outf = s.w(name + ".out")
        r = s.mailseal(["open", "--trust", s.p("root.pem"), "--output",
                        outf] + key, bad)
        data = open(outf, "rb").read() if os.path.exists(outf) else b""
        s.check(name + "-output-no-plaintext", r.rc == 1 and
                b"Mark-8c1e" not in data and b"4711" not in data and
                b"X-Mailseal-Verdict: invalid" in data,
                "open --output wrote plaintext or no verdict (rc=%d): %r"
                % (r.rc, data[:300]))
        r = s.mailseal(["decrypt"] + key, bad)
        s.expect_fail(name + "-decrypt", r)

    wrong = ["--cert", s.p("v3-enc.pem"), "--key", s.p("v3-enc.key")]
    s.expect_fail("decrypt-wrong-key", s.mailseal(["decrypt"] + wrong, gcm),
                  stderr_re="recipient|key")
    s.expect("open-wrong-key", s.verify(gcm, cmd="open", extra=wrong),
             verdict="error", rc=1, encrypted=True)
    mism = ["--cert", s.p("v1-enc.pem"), "--key", s.p("v3-enc.key")]
    r = s.mailseal(["decrypt"] + mism, gcm)
    s.check("decrypt-key-not-matching-cert", r.rc in (1, 2) and
            r.out == b"", "rc=%d out=%d bytes" % (r.rc, len(r.out)))
    s.expect("verify-encrypted", s.verify(gcm), verdict="error", rc=1,
             encrypted=True, display_has=["encrypted: use open with a key"])
    s.expect("open-encrypted-without-key", s.verify(gcm, cmd="open"),
             verdict="error", rc=1, encrypted=True)

    rnd = random.Random(20261123)
    garbage = bytes(rnd.getrandbits(8) for _ in range(8192))
    for name, data in (
            ("garbage-binary", garbage),
            ("garbage-p7m", A.set_p7m(gcm, garbage[:2000])),
            ("garbage-p7s", A.set_p7s(s.sign(A.message(EVE), "v1-sign"),
                                      garbage[:2000])),
            ("truncated-p7m", A.set_p7m(gcm, A.get_p7m(gcm)[:1000])),
            ("truncated-p7s", A.set_p7s(s.sign(A.message(EVE), "v1-sign"),
                                        A.get_p7s(s.sign(A.message(EVE),
                                                         "v1-sign"))[:700])),
    ):
        for cmd, extra in (("verify", []), ("open", key)):
            r = s.verify(data, cmd=cmd, extra=extra)
            s.expect("%s-%s" % (name, cmd), r, verdict="error", rc=1)
    r = s.mailseal(["decrypt"] + key, garbage)
    s.expect_fail("garbage-decrypt", r)


# --- open --output: the delivery-filter header fields ----------------------------


def annotated_fields(data):
    head, _ = A.split_top(data)
    return re.findall(rb"[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", head)


def group_output(s):
    signed = sign_from(s, "v4-sign", JANE_FROM)
    forged = [b"X-Mailseal-Verdict: validated\r\n",
              b"X-Mailseal-Identity: " + V4_DISPLAY.encode() + b"\r\n",
              b"x-mailseal-identity: folded\r\n  continuation line\r\n",
              b"X-MAILSEAL-Other: 1\r\n", b"X-Mailseal-Verdict:validated\r\n"]

    def with_forged(msg):
        head, body = A.split_top(msg)
        return forged[0] + forged[1] + head + b"".join(forged[2:]) + \
            b"\r\n" + body

    def run_output(case, msg, verdict, identity_has, extra=(), body=BODY):
        outf = s.w(case + ".eml")
        r = s.mailseal(["open", "--trust", s.p("root.pem"), "--output",
                        outf] + list(extra), msg)
        data = open(outf, "rb").read() if os.path.exists(outf) else b""
        fields = annotated_fields(data) if data else []
        if data.startswith(b"From "):  # an mbox envelope line stays first
            fields = fields[1:]
        print("case %-44s rc=%d first=%r" % (case, r.rc, fields[:2]),
              flush=True)
        s.check(case, len(fields) >= 2 and fields[0] ==
                b"X-Mailseal-Verdict: " + verdict.encode() + b"\r\n",
                "first field %r" % fields[:1])
        s.check(case, len(fields) >= 2 and fields[1].startswith(
            b"X-Mailseal-Identity: ") and identity_has.encode() in fields[1],
            "second field %r" % fields[1:2])
        rest = [f for f in fields[2:] if f.lower().startswith(b"x-mailseal")]
        s.check(case, rest == [], "incoming fields kept: %r" % rest)
        s.check(case, b"continuation line" not in data,
                "a folded incoming field survived")
        s.check(case, body.encode() in data, "the body is missing")
        s.check(case, r.rc == (0 if verdict in ("validated",
                                                "mailbox-validated",
                                                "signed") else 1),
                "exit %d for %s" % (r.rc, verdict))
        return data

    run_output("output-validated", with_forged(signed), "validated",
               V4_DISPLAY)
    run_output("output-tampered", with_forged(signed.replace(
        b"4711", b"4712", 1)), "invalid", "INVALID",
        body=BODY.replace("4711", "4712"))
    run_output("output-unsigned", with_forged(A.message(JANE_FROM)),
               "unsigned", "UNSIGNED")
    run_output("output-forged-from", with_forged(A.replace_header(
        sign_from(s, "v1-sign", EVE), "From", ["From: " + JANE_FROM])),
        "mismatch", "FROM MISMATCH")
    mbox = b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\r\n" + \
        with_forged(signed)
    data = run_output("output-mbox-from-line", mbox, "validated", V4_DISPLAY)
    s.check("output-mbox-from-line", data.startswith(b"From MAILER-DAEMON"),
            "the envelope line moved: %r" % data[:80])
    r = s.mailseal(["seal", "--cert", s.p("v4-sign.pem"), "--key",
                    s.p("v4-sign.key"), "--chain", s.p("ca-v4.pem"),
                    "--recipient-cert", s.p("v1-enc.pem")],
                   A.message(JANE_FROM, body=BODY))
    run_output("output-sealed", with_forged(r.out), "validated", V4_DISPLAY,
               ["--cert", s.p("v1-enc.pem"), "--key", s.p("v1-enc.key")])


GROUPS = {
    "good": group_good,
    "from": group_from,
    "structure": group_structure,
    "invalid": group_invalid,
    "untrusted": group_untrusted,
    "revoked": group_revoked,
    "expired": None,
    "revocation": group_revocation,
    "ocsp": group_ocsp,
    "timestamp": None,
    "limits": group_limits,
    "crypto": group_crypto,
    "output": group_output,
}


def tsa_copy(s):
    """A private copy of the PKI for tsa-server.py: `openssl ts -reply`
    updates tsa-serial next to tsa.cnf, which parallel tests must not
    share."""
    d = s.w("pki-tsa")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(s.pki, d)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--pki", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("group", choices=sorted(GROUPS))
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    s = A.Suite(os.path.abspath(args.cli), os.path.abspath(args.pki),
                os.path.abspath(args.work), os.path.abspath(args.src))
    t0 = time.monotonic()
    if args.group == "expired":
        group_expired(s, tsa_copy(s))
    elif args.group == "timestamp":
        group_timestamp(s, tsa_copy(s))
    else:
        GROUPS[args.group](s)
    print("%s: %d checks, %d failed, %.1fs" % (args.group, s.checks,
                                               len(s.failures),
                                               time.monotonic() - t0))
    if s.failures:
        print("FAILURES:\n  " + "\n  ".join(s.failures))
        return 1
    shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
