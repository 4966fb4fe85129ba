#!/usr/bin/env python3
"""gen-kms-corpus.py - seeds for fuzz/corpus/kms_wrap and kms_envelope.

Needs python3-cryptography (Debian package); not part of `make test`.

Writes wrap blobs and key envelopes (formats: lib/kms/escrow.h and
lib/kms/deliver.h) made with the Python "cryptography" package, an
implementation independent of ours, under the fixed TEST-ONLY keys the fuzz
targets use (fuzz/kms_wrap.c, fuzz/kms_envelope.c), so the fuzzers start
from inputs that pass authentication. Run by hand; review and commit.

  gen-kms-corpus.py            rewrite the seed-* files
  gen-kms-corpus.py --kat      print the fixed vectors of tests/unit/test_kms.c
"""
import hashlib
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# TEST-ONLY keys, the same bytes as in the fuzz targets.
MASTER = bytes(range(0x00, 0x20))
DEVICE = bytes(range(0x40, 0x60))
KEY_ID = b"fuzz-key-1"
MAILBOX = b"bob@fuzz.example"


def field(b):
    return struct.pack(">I", len(b)) + b


def master_id(key):
    d = hashlib.sha256(b"mailseal kms master key id" + key).digest()
    return struct.unpack(">I", d[:4])[0]


def wrap(key, key_id, mailbox, pt, nonce):
    head = b"W\x01" + struct.pack(">I", master_id(key))
    aad = head + field(b"mailseal kms wrap v1") + field(key_id) + field(mailbox)
    return head + nonce + AESGCM(key).encrypt(nonce, pt, aad)


def seal(device_pub, key_id, mailbox, pt, eph, nonce):
    spub = eph.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)
    shared = eph.exchange(x25519.X25519PublicKey.from_public_bytes(device_pub))
    info = field(b"mailseal kms envelope v1") + field(key_id) + field(mailbox)
    key = HKDF(hashes.SHA256(), 32, spub + device_pub, info).derive(shared)
    head = b"E\x01" + spub
    aad = head + device_pub + info
    return head + nonce + AESGCM(key).encrypt(nonce, pt, aad)


def pkcs8(k):
    return k.private_bytes(serialization.Encoding.DER,
                           serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def device_pub():
    return x25519.X25519PrivateKey.from_private_bytes(DEVICE).public_key() \
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kat():
    # A fixed P-256 key, nonce and server ephemeral key: fixed output.
    k = ec.derive_private_key(0x1234567890abcdef, ec.SECP256R1())
    pt = pkcs8(k)
    eph = x25519.X25519PrivateKey.from_private_bytes(bytes(range(0x80, 0xa0)))
    w = wrap(MASTER, KEY_ID, MAILBOX, pt, bytes(range(0xc0, 0xcc)))
    e = seal(device_pub(), KEY_ID, MAILBOX, pt, eph, bytes(range(0xd0, 0xdc)))
    for name, b in (("kat_pkcs8", pt), ("kat_wrap", w), ("kat_envelope", e)):
        print("static const uint8_t %s[%d] = {" % (name, len(b)))
        for i in range(0, len(b), 12):
            print("    " + " ".join("0x%02x," % c for c in b[i:i + 12]))
        print("};")


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def seeds():
    here = os.path.dirname(os.path.abspath(__file__))
    wd = os.path.join(here, "corpus", "kms_wrap")
    ed = os.path.join(here, "corpus", "kms_envelope")
    for d in (wd, ed):
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f.startswith("seed-"):
                os.remove(os.path.join(d, f))
    p256 = pkcs8(ec.generate_private_key(ec.SECP256R1()))
    p384 = pkcs8(ec.generate_private_key(ec.SECP384R1()))
    w = wrap(MASTER, KEY_ID, MAILBOX, p256, os.urandom(12))
    write(wd, "seed-p256", w)
    write(wd, "seed-p384", wrap(MASTER, KEY_ID, MAILBOX, p384, os.urandom(12)))
    write(wd, "seed-other-mailbox",
          wrap(MASTER, KEY_ID, b"eve@fuzz.example", p256, os.urandom(12)))
    write(wd, "seed-other-master",
          wrap(bytes(32), KEY_ID, MAILBOX, p256, os.urandom(12)))
    write(wd, "seed-version-2", w[:1] + b"\x02" + w[2:])
    write(wd, "seed-short", w[:34])
    dp = device_pub()
    eph = x25519.X25519PrivateKey.generate
    e = seal(dp, KEY_ID, MAILBOX, p256, eph(), os.urandom(12))
    write(ed, "seed-p256", e)
    write(ed, "seed-p384", seal(dp, KEY_ID, MAILBOX, p384, eph(),
                                os.urandom(12)))
    write(ed, "seed-other-key-id", seal(dp, b"fuzz-key-2", MAILBOX, p256,
                                        eph(), os.urandom(12)))
    write(ed, "seed-low-order", e[:2] + bytes(32) + e[34:])
    write(ed, "seed-version-2", e[:1] + b"\x02" + e[2:])
    write(ed, "seed-short", e[:62])


if __name__ == "__main__":
    if sys.argv[1:] == ["--kat"]:
        kat()
    else:
        seeds()
