#!/usr/bin/python3
"""amqp_forge.py - publishes one hand-made message to the test broker, as a hostile user
(the operator account) or a compromised service component (the worker account) would,
for tests/cli/service_forgery.sh. Uses python3-pika (deploy/packages.txt).

  amqp_forge.py --port P --user U --password-file F --exchange X --key K [--body FILE]
                [--sign-kind job|cancel|specs --key-file SERVICE_KEY] [--sig TEXT]
                [--expiration MS] [--reply-to Q] [--corr ID] [--type T] [--token TOKEN]
                [--header NAME=VALUE]...

--sign-kind signs the body as the service would (common/service/msgsig.h: header
x-mlhep-sig = "mlhepsig1.<kind>.<HMAC-SHA256(key, "mlhepsig1" 0 kind 0 body)>"): a replay
of a genuine message. --sig sets the header to any text (forgeries). The publish is
confirmed; exit 0 when the broker took it, 3 when it refused it (nack: a full queue),
4 when it came back unroutable."""
import argparse
import hashlib
import hmac
import sys

import pika


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--exchange", default="")
    ap.add_argument("--key", required=True)
    ap.add_argument("--body", default="-")
    ap.add_argument("--sign-kind")
    ap.add_argument("--key-file")
    ap.add_argument("--sig")
    ap.add_argument("--expiration")
    ap.add_argument("--reply-to")
    ap.add_argument("--corr")
    ap.add_argument("--type")
    ap.add_argument("--token")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--hold", metavar="QUEUE",
                    help="consume QUEUE with prefetch 1 and never ack: a consumer that takes one message and "
                         "stays (prints 'holding', runs until killed; the message returns to the queue then)")
    a = ap.parse_args()
    if a.hold:
        cred = pika.PlainCredentials(a.user, open(a.password_file).read().strip())
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", a.port, "mlhep", cred))
        ch = conn.channel()
        ch.basic_qos(prefetch_count=1)
        ch.basic_consume(a.hold, lambda *args: None, auto_ack=False)
        print("holding", flush=True)
        ch.start_consuming()
        return 0
    body = sys.stdin.buffer.read() if a.body == "-" else open(a.body, "rb").read()
    headers = {}
    for h in a.header:
        k, v = h.split("=", 1)
        headers[k] = v
    if a.sign_kind:
        key = open(a.key_file).readline().strip().encode()
        mac = hmac.new(key, b"mlhepsig1\0" + a.sign_kind.encode() + b"\0" + body, hashlib.sha256).hexdigest()
        headers["x-mlhep-sig"] = "mlhepsig1.%s.%s" % (a.sign_kind, mac)
    if a.sig is not None:
        headers["x-mlhep-sig"] = a.sig
    if a.token:
        headers["authorization"] = a.token
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json", headers=headers or None,
                                 expiration=a.expiration, reply_to=a.reply_to, correlation_id=a.corr, type=a.type)
    cred = pika.PlainCredentials(a.user, open(a.password_file).read().strip())
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", a.port, "mlhep", cred))
    ch = conn.channel()
    ch.confirm_delivery()
    rc = 0
    try:
        ch.basic_publish(a.exchange, a.key, body, props, mandatory=True)
    except pika.exceptions.NackError:
        rc = 3
    except pika.exceptions.UnroutableError:
        rc = 4
    conn.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
