#!/usr/bin/python3
"""batch_mix.py - many predictions at once through the gateway, of several users, forms,
models and errors mixed, each of which must get exactly the answer it gets when it comes
alone (the gateway sends small predictions of one user that wait together as one batch
message: tests/cli/gateway_batch.sh). Standard library only.

  batch_mix.py --url https://127.0.0.1:PORT --ca CA.pem --rounds N --threads T REQ...

REQ is TOKENFILE,PATH,CONTENT_TYPE,BODYFILE (CONTENT_TYPE "-": application/json). First
every request once, alone (the expected answers: status and body, the worker's timing
left out); then N rounds of all of them in a random order from T threads,
each thread on its own keep-alive connection. Prints the counts and the first mismatches;
exits 0 when every answer matched."""
import argparse
import http.client
import random
import ssl
import sys
import threading
import urllib.parse

from answer_norm import norm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("reqs", nargs="+")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    ctx = ssl.create_default_context(cafile=a.ca)
    reqs = []
    for r in a.reqs:
        tf, path, ct, bf = r.split(",")
        reqs.append((open(tf).read().strip(), path, "application/json" if ct == "-" else ct, open(bf, "rb").read()))

    def connect():
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)

    def ask(conn, i):
        tok, path, ct, body = reqs[i]
        conn.request("POST", path, body, {"Authorization": "Bearer " + tok, "Content-Type": ct})
        r = conn.getresponse()
        return r.status, norm(r.read())

    c = connect()
    want = [ask(c, i) for i in range(len(reqs))]
    c.close()
    work = [i for _ in range(a.rounds) for i in range(len(reqs))]
    random.Random(7).shuffle(work)
    lock = threading.Lock()
    bad, done = [], [0]

    def run(part):
        conn = connect()
        for i in part:
            try:
                got = ask(conn, i)
            except (OSError, http.client.HTTPException) as e:
                got = ("error", str(e).encode())
                conn.close()
                conn = connect()
            with lock:
                done[0] += 1
                if got != want[i]:
                    bad.append((i, want[i], got))
        conn.close()

    ts = [threading.Thread(target=run, args=(work[k::a.threads],)) for k in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("%d requests (%d kinds, statuses alone %s), %d answers differ from the answer alone"
          % (done[0], len(reqs), sorted(set(w[0] for w in want)), len(bad)))
    for i, w, g in bad[:5]:
        print("request %d (%s): alone %s %r, mixed %s %r" % (i, reqs[i][1], w[0], w[1][:200], g[0], g[1][:200]))
    return 1 if bad or done[0] != len(work) else 0


if __name__ == "__main__":
    sys.exit(main())
