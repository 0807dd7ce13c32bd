/* amqp_rpc.h - request/reply over RabbitMQ (rabbitmq-c 0.11) for the prediction service.
 *
 * amqp_client.h serves the job queue (persistent, confirmed, no reply); prediction is
 * RPC: a client publishes a request with `reply_to` + `correlation_id` and a bearer
 * token in the `authorization` header, an inference worker consumes the request queue
 * (prefetch N, manual ack), publishes the reply to the default exchange with routing key
 * = reply_to and the same correlation_id, then acks. Clients receive replies through
 * RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`, consumed no-ack on the same
 * channel BEFORE publishing), so they need no queue of their own and no configure
 * permission. Requests are transient (a request outlives neither the client's wait nor
 * a broker restart) and mandatory (an unroutable request comes back as an error rather
 * than being dropped). A worker that dies before acking leaves its requests to be
 * redelivered to another worker (or to itself after a restart).
 *
 * Requests are published with publisher confirms: the request queue refuses what it
 * cannot hold (broker/definitions.json: x-max-length with x-overflow reject-publish) and
 * the client hears it at once (rpc_next: RPC_REFUSED with the request's correlation id)
 * instead of waiting for a reply that never comes; each request carries an expiration
 * (the client's own timeout, and the queue's x-message-ttl caps it), so requests
 * abandoned during an outage are dropped by the broker, not answered later.
 *
 * One rpc_conn = one connection (an amqpc, amqp_client.h: connect, login, heartbeats,
 * reconnect, close) + channel 1, owned by one thread. Errors on the
 * connection make every call fail with MLHEP_ENET; the caller reconnects with
 * rpc_reconnect() and sets up its consumer again.
 *
 * Ownership: rpc_connect allocates, rpc_close frees; a received rpc_msg holds the
 * delivery until rpc_msg_free (body, token and ids point into it). */
#ifndef MLHEP_AMQP_RPC_H
#define MLHEP_AMQP_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "service/amqp_client.h"
#include "base/err.h"

#define RPC_TIMEOUT 1  /* rpc_next: nothing arrived in time */
#define RPC_REFUSED 2  /* rpc_next (client): the broker refused a request (m->corr_id) */
#define RPC_REPLY_TO "amq.rabbitmq.reply-to"
#define RPC_TOKEN_MAX 8192

typedef struct rpc_conn rpc_conn;

typedef struct rpc_msg {
    const void *body;
    size_t len;
    uint64_t tag;            /* delivery tag (server side, for rpc_ack) */
    int redelivered;
    char reply_to[256];
    char corr_id[128];
    char type[32];           /* the message's `type` property ("" if absent) */
    char content_type[64];   /* the `content_type` property ("" if absent) */
    const char *token;       /* authorization header (not NUL-terminated), or NULL */
    size_t token_len;
    void *priv_;
} rpc_msg;

int rpc_connect(const amqpc_params *p, rpc_conn **out, mlhep_err *e);
int rpc_reconnect(rpc_conn *c, mlhep_err *e);
int rpc_is_open(const rpc_conn *c);
void rpc_close(rpc_conn *c);

/* ---- server ---- */
/* qos(prefetch) + consume queue with manual acks. */
int rpc_serve(rpc_conn *c, const char *queue, int prefetch, mlhep_err *e);
/* 1 if reply_to is a direct reply-to address (RPC_REPLY_TO + ".<channel>": what the
 * broker gives a client that consumes RPC_REPLY_TO), the only kind a server replies to.
 * Anything else - a queue's name, jobs.train, "" - would make the server publish into a
 * queue of the requester's choosing through the default exchange. */
int rpc_reply_to_ok(const char *reply_to);

/* Publishes body to req's reply_to with req's correlation_id (not mandatory: a client
 * that went away just loses its reply). A request without a direct reply-to address
 * (rpc_reply_to_ok) is not answered: nothing is published. */
int rpc_reply(rpc_conn *c, const rpc_msg *req, const void *body, size_t len, mlhep_err *e);
/* Same with a content type other than application/json. */
int rpc_reply_as(rpc_conn *c, const rpc_msg *req, const char *content_type, const void *body, size_t len,
                 mlhep_err *e);
/* Acks tag; multiple: also every earlier unacked delivery of the channel. */
int rpc_ack(rpc_conn *c, uint64_t tag, mlhep_err *e);
int rpc_ack_multiple(rpc_conn *c, uint64_t tag, mlhep_err *e);
/* Passive declare: ready messages and consumers of a queue (health checks). */
int rpc_queue_depth(rpc_conn *c, const char *queue, uint32_t *messages, uint32_t *consumers, mlhep_err *e);

/* ---- client ---- */
/* Starts consuming direct reply-to and puts the channel in confirm mode (again after
 * every reconnect). */
int rpc_client_start(rpc_conn *c, mlhep_err *e);
/* Publishes a request (transient, mandatory, confirmed, reply_to = direct reply-to).
 * type and token may be NULL; expire_ms > 0: the broker drops the request if no worker
 * took it within that time (the caller's wait for the reply). */
int rpc_call_send(rpc_conn *c, const char *exchange, const char *routing_key, const char *type, const char *token,
                  const char *corr_id, int expire_ms, const void *body, size_t len, mlhep_err *e);
/* Same with a content type other than application/json (NULL: application/json). */
int rpc_call_send_as(rpc_conn *c, const char *exchange, const char *routing_key, const char *type,
                     const char *content_type, const char *token, const char *corr_id, int expire_ms,
                     const void *body, size_t len, mlhep_err *e);
/* The same request queued, not yet written: rpc_flush writes every queued request with
 * one system call (rpc_call_send_as is queue + flush). body must stay valid until the
 * flush (it is written in place, not copied). */
int rpc_call_queue_as(rpc_conn *c, const char *exchange, const char *routing_key, const char *type,
                      const char *content_type, const char *token, const char *corr_id, int expire_ms,
                      const void *body, size_t len, mlhep_err *e);
/* Writes what rpc_call_queue_as queued (0 when nothing is). A failure loses the
 * connection (reconnect); what was queued is dropped either way. */
int rpc_flush(rpc_conn *c, mlhep_err *e);

/* ---- both ---- */
/* Next delivery (a request on the server, a reply on the client): 0 with m filled,
 * RPC_TIMEOUT, or a negative error. A request returned unroutable is reported as
 * MLHEP_ENOTFOUND naming the exchange and routing key, with m->corr_id set to the
 * returned request's correlation id (nothing to free); a request the broker refused
 * (client side: a nack, the queue is full) as RPC_REFUSED, with m->corr_id and e set
 * (nothing to free). */
int rpc_next(rpc_conn *c, rpc_msg *m, int timeout_ms, mlhep_err *e);
void rpc_msg_free(rpc_msg *m);

/* The connection's socket (poll for readability) and whether frames are already
 * buffered in the library (then do not wait on the socket). */
int rpc_fd(const rpc_conn *c);
int rpc_buffered(const rpc_conn *c);

#endif
