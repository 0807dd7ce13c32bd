#!/usr/bin/python3
"""credbox_seal.py - seals a storage credential as common/service/credbox.c does, for
tests that forge job messages (tests/cli/grid_deleg.sh): a box for another job or user,
or one that was altered, must not open on the worker.

  credbox_seal.py --key-file SERVICE_KEY --job ID --owner USER [--kind token] < CRED

Key: HMAC-SHA256(service key, "mlhep credbox v1"); AES-256-GCM, 12-byte nonce,
associated data "job\\0owner\\0kind\\0"; output "cb1." + base64url(nonce || ct || tag)
without padding. Uses python3-cryptography."""
import argparse
import base64
import hashlib
import hmac
import os
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--job", required=True)
    ap.add_argument("--owner", required=True)
    ap.add_argument("--kind", default="token")
    a = ap.parse_args()
    skey = open(a.key_file).readline().strip().encode()
    key = hmac.new(skey, b"mlhep credbox v1", hashlib.sha256).digest()
    cred = sys.stdin.buffer.read().strip()
    nonce = os.urandom(12)
    aad = a.job.encode() + b"\0" + a.owner.encode() + b"\0" + a.kind.encode() + b"\0"
    ct = AESGCM(key).encrypt(nonce, cred, aad)
    print("cb1." + base64.urlsafe_b64encode(nonce + ct).rstrip(b"=").decode())


if __name__ == "__main__":
    main()
