/* amqp_client.h - a small, blocking RabbitMQ client on rabbitmq-c 0.11.
 *
 * What the service needs and nothing more: connect with user/password/vhost and AMQP
 * heartbeats; publish persistent messages and wait for the publisher confirm (mandatory
 * flag: an unroutable message is an error, not a silent drop); consume with a
 * per-consumer prefetch and manual ack/nack/reject; reconnect after the broker went
 * away (the caller re-opens its channels and consumers; delivery tags of the old
 * connection are void, see amqpc_generation).
 *
 * This is the project's one AMQP connection: amqp_rpc.h (prediction requests and
 * replies) runs over an amqpc too (see the end of this file).
 *
 * Not thread-safe: one thread owns an amqpc. Waiting for confirms reads frames off the
 * connection, so do not publish with confirms on a connection that also consumes. */
#ifndef MLHEP_AMQP_CLIENT_H
#define MLHEP_AMQP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "service/msgsig.h"

typedef struct amqpc amqpc;

typedef struct amqpc_params {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *vhost;
    int heartbeat_s;   /* AMQP heartbeat; 0 disables */
    int timeout_ms;    /* connect and confirm timeout */
} amqpc_params;

/* One delivered message. Body and strings point into memory owned by the delivery;
 * release with amqpc_delivery_free. */
typedef struct amqpc_delivery {
    int channel;
    uint64_t tag;
    unsigned generation;     /* connection generation the tag belongs to */
    char consumer_tag[64];
    char message_id[80];
    int redelivered;
    long delivery_count;     /* x-delivery-count header (quorum queues), 0 if absent */
    char death_reason[64];   /* dead-lettered messages: x-first-death-reason or x-death[0].reason */
    long death_count;        /* x-death[0].count */
    char sig[MSGSIG_MAX];    /* the MSGSIG_HEADER header (msgsig.h), "" if absent */
    const void *body;
    size_t len;
    void *priv_;
} amqpc_delivery;

#define AMQPC_TIMEOUT 1 /* amqpc_next: nothing arrived in time */

/* Connects (params are copied). */
int amqpc_connect(amqpc **out, const amqpc_params *p, mlhep_err *e);

/* Drops the current connection (if any) and opens a new one with the same parameters.
 * Channels, confirm mode and consumers must be set up again by the caller. */
int amqpc_reconnect(amqpc *c, mlhep_err *e);

/* Increments on every (re)connect. */
unsigned amqpc_generation(const amqpc *c);

/* 1 while the connection is believed healthy. */
int amqpc_is_open(const amqpc *c);

/* Closes politely and frees. NULL is fine. */
void amqpc_close(amqpc *c);

int amqpc_channel_open(amqpc *c, int channel, mlhep_err *e);

/* Puts the channel into publisher-confirm mode. */
int amqpc_confirm_select(amqpc *c, int channel, mlhep_err *e);

/* Publishes a persistent, mandatory message (content type application/json). If the
 * channel is in confirm mode, waits for the broker's ack; a nack, a return (no queue
 * bound for the routing key) or a channel error is reported as an error. sig: the
 * message's signature (msgsig_sign), sent as header MSGSIG_HEADER; NULL sends none. */
int amqpc_publish(amqpc *c, int channel, const char *exchange, const char *routing_key,
                  const void *body, size_t len, const char *message_id, const char *sig, mlhep_err *e);

/* Publishes n persistent, mandatory messages (bodies[i], lens[i]; message ids and
 * signatures may be NULL, or NULL entries) and, in confirm mode, waits once for the
 * broker's confirms of all of them (one round trip instead of n). Any nack or return
 * fails the whole batch (some messages may then be queued: consumers must tolerate
 * duplicates). */
int amqpc_publish_batch(amqpc *c, int channel, const char *exchange, const char *routing_key,
                        const void *const *bodies, const size_t *lens, const char *const *message_ids,
                        const char *const *sigs, size_t n, mlhep_err *e);

/* basic.get: takes one message from queue with manual acknowledgement. Returns 0 with d
 * filled (settle it with amqpc_ack/nack, release with amqpc_delivery_free),
 * AMQPC_TIMEOUT if the queue is empty, or a negative error. Do not mix with amqpc_publish
 * confirms on the same channel. */
int amqpc_get(amqpc *c, int channel, const char *queue, amqpc_delivery *d, mlhep_err *e);

/* Sets the per-consumer prefetch on the channel and starts consuming queue with manual
 * acknowledgements under consumer_tag. */
int amqpc_consume(amqpc *c, int channel, const char *queue, const char *consumer_tag,
                  int prefetch, mlhep_err *e);

/* Stops a consumer. */
int amqpc_cancel(amqpc *c, int channel, const char *consumer_tag, mlhep_err *e);

/* Waits up to timeout_ms for a delivery on any channel. Returns 0 with d filled,
 * AMQPC_TIMEOUT, or a negative error (connection or channel lost: reconnect). */
int amqpc_next(amqpc *c, amqpc_delivery *d, int timeout_ms, mlhep_err *e);

void amqpc_delivery_free(amqpc_delivery *d);

/* Waits up to timeout_ms until the broker connection has data to read (bit 1) and/or
 * extra_fd (if >= 0) is readable (bit 2); returns the bits, 0 on timeout, or a
 * negative error. Frames already buffered by the library count as data. Lets a caller
 * wake on its own events (e.g. a job finishing) without polling on a short timer. */
int amqpc_poll(amqpc *c, int extra_fd, int timeout_ms, mlhep_err *e);

int amqpc_ack(amqpc *c, int channel, uint64_t tag, mlhep_err *e);
/* Acknowledges every delivery on the channel up to and including tag. */
int amqpc_ack_upto(amqpc *c, int channel, uint64_t tag, mlhep_err *e);
int amqpc_nack(amqpc *c, int channel, uint64_t tag, int requeue, mlhep_err *e);
int amqpc_reject(amqpc *c, int channel, uint64_t tag, int requeue, mlhep_err *e);

/* Number of ready messages in a queue (passive declare; needs no configure right on
 * RabbitMQ for an existing queue). */
int amqpc_queue_depth(amqpc *c, int channel, const char *queue, uint32_t *messages,
                      uint32_t *consumers, mlhep_err *e);

/* ---- for amqp_rpc.c, which speaks its own frames over an amqpc's connection ----
 * The request/reply client and server (amqp_rpc.h) keep an amqpc for everything about
 * the connection (open, log in, heartbeats, reconnect, close, the broker's errors) and
 * publish and consume through rabbitmq-c on it. The rabbitmq-c types stay opaque here. */
struct amqp_connection_state_t_;
struct amqp_rpc_reply_t_;
struct amqp_frame_t_;
struct amqp_envelope_t_;
struct amqp_bytes_t_;

#define AMQPC_RETURNED 2 /* amqpc_receive: a mandatory message came back unroutable */
#define AMQPC_CONFIRM 3  /* amqpc_receive: a publisher confirm (ack or nack) arrived on a
                            channel in confirm mode: amqpc_last_confirm says which */

/* The rabbitmq-c connection (amqp_connection_state_t), NULL when there is none. */
struct amqp_connection_state_t_ *amqpc_raw(const amqpc *c);
/* 0 when c is connected and channel is in range, else the error ("not connected"). */
int amqpc_need_open(amqpc *c, int channel, mlhep_err *e);
/* A rabbitmq-c status (AMQP_STATUS_*) returned for `what` as an error; the connection
 * counts as lost (reconnect). */
int amqpc_fail(amqpc *c, int status, const char *what, mlhep_err *e);
/* The reply to a synchronous method or to amqp_consume_message: 0, or the error in the
 * broker's words (403 -> MLHEP_EAUTH, 404 -> MLHEP_ENOTFOUND). */
int amqpc_check_reply(amqpc *c, const struct amqp_rpc_reply_t_ *r, const char *what, mlhep_err *e);
/* A channel.close or connection.close frame from the broker: answers it (close-ok) and
 * reports it as an error; the connection counts as lost. */
int amqpc_closed_by_broker(amqpc *c, const struct amqp_frame_t_ *f, const char *what, mlhep_err *e);

/* Waits up to timeout_ms (< 0: no limit) for a delivery on any channel into env
 * (release it with amqp_destroy_envelope). Returns 0, AMQPC_TIMEOUT, AMQPC_RETURNED (a
 * message published here came back unroutable; e says where it was sent), or a
 * AMQPC_CONFIRM (a publisher confirm: amqpc_last_confirm), or a negative error: channel
 * or connection closed by the broker, consumer cancelled, connection lost (reconnect).
 * amqpc_next is this plus the delivery's fields. */
int amqpc_receive(amqpc *c, struct amqp_envelope_t_ *env, int timeout_ms, const char *what, mlhep_err *e);

/* The correlation id of the last message amqpc_receive reported AMQPC_RETURNED ("" if
 * it had none): an RPC client learns which of its requests found no queue. */
const char *amqpc_returned_corr_id(const amqpc *c);

/* The last confirm amqpc_receive reported (AMQPC_CONFIRM): its delivery tag (the
 * publish sequence number on that channel), whether it covers every earlier one too
 * (multiple), and 1 for a nack (the broker refused the message: e.g. a full queue with
 * x-overflow reject-publish), 0 for an ack. */
int amqpc_last_confirm(const amqpc *c, uint64_t *tag, int *multiple);

/* A message property (amqp_bytes_t) into out as a C string, cut to outsz - 1 bytes. */
void amqpc_copy_bytes(const struct amqp_bytes_t_ *b, char *out, size_t outsz);

#endif
