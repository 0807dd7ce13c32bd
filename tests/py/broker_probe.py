#!/usr/bin/python3
"""broker_probe.py - what one broker account may and may not do, tried for real on the test
broker with python3-pika (tests/cli/broker_accounts.sh). Each attempt opens its own
connection (a refused operation closes the channel with 403 ACCESS_REFUSED).

  broker_probe.py --port P --user U --password-file F OP ARG...
    consume QUEUE          start a consumer (cancelled at once: nothing is taken)
    publish EXCHANGE KEY   a confirmed publish of a small body ('' = the default exchange)
    declare QUEUE          declare a new queue (configure right)
    count QUEUE            passive declare: prints the ready messages
    reply-to-client EXCH KEY   as a prediction client: consume direct reply-to, publish a
                           request to EXCH/KEY with reply_to amq.rabbitmq.reply-to, wait
                           up to 10 s for the answer (prints it)
    reply-to-server QUEUE  as mlhep-infer: take one request from QUEUE (10 s at most),
                           publish "answer:<body>" to its reply_to on the default exchange
                           with its correlation_id (confirmed), ack it

Exit 0: allowed (done); 5: refused by the broker (ACCESS_REFUSED, printed); 6: timed out;
other: unexpected error (printed)."""
import argparse
import sys
import time

import pika
import pika.exceptions as px


def connect(a):
    cred = pika.PlainCredentials(a.user, open(a.password_file).read().strip())
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", a.port, "mlhep", cred,
                                                             heartbeat=0, blocked_connection_timeout=10))


def refused(ex):
    return isinstance(ex, px.ChannelClosedByBroker) and ex.reply_code == 403 or \
        isinstance(ex, px.ProbableAccessDeniedError)


def run(a):
    conn = connect(a)
    ch = conn.channel()
    op, args = a.op, a.args
    if op == "consume":
        tag = ch.basic_consume(args[0], lambda *x: None, auto_ack=False)
        ch.basic_cancel(tag)
    elif op == "publish":
        ch.confirm_delivery()
        ch.basic_publish(args[0], args[1], b'{"probe":true}', pika.BasicProperties(delivery_mode=1))
    elif op == "declare":
        ch.queue_declare(args[0], durable=False, auto_delete=True)
    elif op == "count":
        r = ch.queue_declare(args[0], passive=True)
        print(r.method.message_count)
    elif op == "reply-to-client":
        got = []
        ch.basic_consume("amq.rabbitmq.reply-to", lambda c, m, p, b: got.append((p.correlation_id, b)), auto_ack=True)
        ch.confirm_delivery()
        ch.basic_publish(args[0], args[1], b"ping", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to",
                                                                         correlation_id="probe-1", expiration="20000"),
                         mandatory=True)
        t0 = time.time()
        while not got and time.time() - t0 < 10:
            conn.process_data_events(time_limit=0.2)
        if not got:
            conn.close()
            return 6
        print("%s %s" % (got[0][0], got[0][1].decode()))
    elif op == "reply-to-server":
        t0 = time.time()
        m = None
        while m is None or m[0] is None:
            m = ch.basic_get(args[0], auto_ack=False)
            if m[0] is None:
                if time.time() - t0 > 10:
                    conn.close()
                    return 6
                time.sleep(0.1)
        meth, props, body = m
        ch.confirm_delivery()
        ch.basic_publish("", props.reply_to, b"answer:" + body, pika.BasicProperties(correlation_id=props.correlation_id))
        ch.basic_ack(meth.delivery_tag)
    else:
        print("unknown op %s" % op, file=sys.stderr)
        return 2
    conn.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("op")
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    try:
        return run(a)
    except Exception as ex:  # noqa: BLE001 - every refusal or failure is reported
        if refused(ex):
            print("refused: %s" % ex)
            return 5
        print("error: %r" % ex)
        return 7


if __name__ == "__main__":
    sys.exit(main())
