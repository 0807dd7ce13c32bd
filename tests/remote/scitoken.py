#!/usr/bin/python3
"""tests/remote/scitoken.py - SciTokens for the XRootD token (ztn) test, through the
scitokens-cpp library the server's token plugin uses (libSciTokens.so.0, Debian package
libscitokens0, pulled in by xrootd-scitokens-plugins), called with ctypes.

  store ISSUER KID PUB.pem      puts the issuer's EC public key in scitokens-cpp's key
                                cache ($XDG_CACHE_HOME/scitokens/scitokens_cpp.sqllite),
                                so the server validates tokens without fetching the
                                issuer's keys over HTTPS (none on loopback)
  token ISSUER KID PUB.pem PRIV.pem AUD SCOPE LIFETIME SUB
                                prints an ES256-signed token; LIFETIME in seconds, < 0
                                for one that has already expired
"""
import ctypes, sys

lib = ctypes.CDLL("libSciTokens.so.0")
err = ctypes.c_char_p()
b = lambda s: s.encode()


def check(rc, what):
    if rc != 0:
        sys.exit("%s: %s" % (what, err.value.decode() if err.value else "failed"))


if sys.argv[1] == "store":
    issuer, kid, pub = sys.argv[2:5]
    check(lib.scitoken_store_public_ec_key(b(issuer), b(kid), b(open(pub).read()), ctypes.byref(err)), "store")
elif sys.argv[1] == "token":
    issuer, kid, pub, priv, aud, scope, life, sub = sys.argv[2:10]
    lib.scitoken_key_create.restype = ctypes.c_void_p
    key = lib.scitoken_key_create(b(kid), b"ES256", b(open(pub).read()), b(open(priv).read()), ctypes.byref(err))
    if not key:
        sys.exit("key: %s" % err.value)
    lib.scitoken_create.restype = ctypes.c_void_p
    tok = ctypes.c_void_p(lib.scitoken_create(ctypes.c_void_p(key)))
    for k, v in (("iss", issuer), ("aud", aud), ("scope", scope), ("sub", sub)):
        check(lib.scitoken_set_claim_string(tok, b(k), b(v), ctypes.byref(err)), "claim " + k)
    lib.scitoken_set_lifetime(tok, ctypes.c_int(int(life)))
    out = ctypes.c_char_p()
    check(lib.scitoken_serialize(tok, ctypes.byref(out), ctypes.byref(err)), "serialize")
    print(out.value.decode())
