#!/usr/bin/python3
"""rpcbatch_call.py - mlhep-infer's batch messages (common/service/rpcbatch.h) checked over the
real broker, with a writer and reader of the format written here from its description in
rpcbatch.h (not from the C code; XXH64 too): every item of a batch gets exactly the answer
the same request gets when it comes alone; a damaged batch gets one error reply naming
the problem; a batch under a bad token gets one refusal. For tests/cli/gateway_batch.sh.
Uses python3-pika (deploy/packages.txt).

  rpcbatch_call.py --port P --user U --password-file F --token-file T ITEM...

ITEM is CONTENT_TYPE=FILE (CONTENT_TYPE "-": none, i.e. JSON). Prints one line per check
and exits 0 when every check passed, 1 otherwise."""
import argparse
import struct
import sys
import time
import uuid

import pika

from answer_norm import norm

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63,
                      0x27D4EB2F165667C5)


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def xxh_round(acc, lane):
    acc = (acc + lane * P2) & M64
    return (rotl(acc, 31) * P1) & M64


def xxh64(data, seed=0):
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            for k in range(4):
                v[k] = xxh_round(v[k], struct.unpack_from("<Q", data, i + 8 * k)[0])
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M64
        for k in range(4):
            h = ((h ^ xxh_round(0, v[k])) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= xxh_round(0, struct.unpack_from("<Q", data, i)[0])
        h = (rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from("<I", data, i)[0] * P1) & M64
        h = (rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    return h ^ (h >> 32)


def batch(items):
    """items: [(content_type, body)] -> the message bytes (version 1)"""
    out = bytearray(b"MLHB" + struct.pack("<HHI", 1, 0, len(items)))
    for ct, body in items:
        c = ct.encode()
        out += struct.pack("<B", len(c)) + c + struct.pack("<I", len(body)) + body
    out += struct.pack("<Q", xxh64(bytes(out)))
    return bytes(out)


def unbatch(msg):
    """the message bytes -> [(content_type, body)]; raises ValueError when malformed"""
    if len(msg) < 20 or msg[:4] != b"MLHB":
        raise ValueError("no magic")
    if struct.unpack_from("<Q", msg, len(msg) - 8)[0] != xxh64(msg[:-8]):
        raise ValueError("checksum")
    ver, res, n = struct.unpack_from("<HHI", msg, 4)
    if ver != 1 or res != 0:
        raise ValueError("version %d" % ver)
    i, out = 12, []
    for _ in range(n):
        t = msg[i]
        ct = msg[i + 1:i + 1 + t].decode()
        i += 1 + t
        (b,) = struct.unpack_from("<I", msg, i)
        i += 4
        if i + b > len(msg) - 8:
            raise ValueError("truncated")
        out.append((ct, msg[i:i + b]))
        i += b
    if i != len(msg) - 8:
        raise ValueError("trailing bytes")
    return out


class Rpc:
    def __init__(self, port, user, password, token):
        cred = pika.PlainCredentials(user, password)
        self.conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, "mlhep", cred))
        self.ch = self.conn.channel()
        self.token = token
        self.replies = {}
        self.ch.basic_consume("amq.rabbitmq.reply-to", self.on_reply, auto_ack=True)

    def on_reply(self, ch, method, props, body):
        self.replies[props.correlation_id] = (props.content_type or "", body)

    def call(self, mtype, content_type, body, token=None):
        corr = uuid.uuid4().hex
        props = pika.BasicProperties(content_type=content_type or "application/json", type=mtype,
                                     reply_to="amq.rabbitmq.reply-to", correlation_id=corr,
                                     headers={"authorization": token or self.token}, expiration="30000")
        self.ch.basic_publish("predict", "predict", body, props)
        deadline = time.monotonic() + 60
        while corr not in self.replies:
            if time.monotonic() > deadline:
                return ("", b"no reply within 60 s")
            self.conn.process_data_events(time_limit=1)
        return self.replies.pop(corr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("items", nargs="+")
    a = ap.parse_args()
    items = []
    for it in a.items:
        ct, path = it.split("=", 1)
        items.append(("" if ct == "-" else ct, open(path, "rb").read()))
    rpc = Rpc(a.port, a.user, open(a.password_file).read().strip(), open(a.token_file).read().strip())
    fails = 0

    def check(ok, what, detail=""):
        nonlocal fails
        print("%s %s%s" % ("ok" if ok else "FAILED", what, (": " + detail) if detail and not ok else ""))
        fails += 0 if ok else 1

    alone = [rpc.call("predict", ct, body) for ct, body in items]
    ct, rep = rpc.call("predict-batch", "application/x-mlhep-batch", batch(items))
    check(ct == "application/x-mlhep-batch", "a batch is answered with a batch", ct + " " + rep[:200].decode("latin1"))
    try:
        got = unbatch(rep)
    except ValueError as e:
        got = []
        check(False, "the batch reply parses", str(e))
    check(len(got) == len(items), "one answer per item", "%d answers for %d items" % (len(got), len(items)))
    for k, (want, have) in enumerate(zip(alone, got)):
        w = (want[0] if want[0] != "application/json" else "", norm(want[1]))
        h = (have[0] if have[0] != "application/json" else "", norm(have[1]))
        check(w == h, "item %d (%s) answered as alone" % (k + 1, items[k][0] or "json"),
              "alone %r, in the batch %r" % (want[1][:160], have[1][:160]))
    # damaged: one byte of the last item's body changed -> one error reply naming the checksum
    bad = bytearray(batch(items))
    bad[-9] ^= 0x01
    ct, rep = rpc.call("predict-batch", "application/x-mlhep-batch", bytes(bad))
    check(b"checksum" in rep and b"bad_request" in rep, "a damaged batch: one error reply naming the checksum",
          rep[:200].decode("latin1"))
    # another version, and a count beyond the bytes
    v2 = bytearray(batch(items))
    v2[4] = 2
    v2[-8:] = struct.pack("<Q", xxh64(bytes(v2[:-8])))
    ct, rep = rpc.call("predict-batch", "application/x-mlhep-batch", bytes(v2))
    check(b"version 2" in rep, "a batch of another format version: refused naming it", rep[:200].decode("latin1"))
    # a bad token: the whole batch refused once
    ct, rep = rpc.call("predict-batch", "application/x-mlhep-batch", batch(items), token="garbage")
    check(b"unauthorized" in rep and ct != "application/x-mlhep-batch", "a batch under a bad token: one refusal",
          rep[:200].decode("latin1"))
    rpc.conn.close()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
