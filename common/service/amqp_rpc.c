/* amqp_rpc.c - see amqp_rpc.h. rabbitmq-c 0.11: amqp_consume_message reports frames
 * other than deliveries (basic.return, channel.close) as AMQP_STATUS_UNEXPECTED_STATE;
 * we then read that frame ourselves. */
#include "service/amqp_rpc.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define CH 1

/* The connection (open, log in, heartbeats, reconnect, close, the broker's errors) is
 * an amqpc; this file adds channel CH and the request/reply frames. */
/* A client's requests not yet confirmed by the broker (publish sequence number ->
 * correlation id), oldest first, and the ids of refused ones not yet reported. */
typedef struct pending {
    uint64_t seq;
    char corr[128];
} pending;

struct rpc_conn {
    amqpc *a;
    int client;          /* rpc_client_start ran: requests are confirmed */
    uint64_t seq;        /* publishes on CH since confirm.select */
    pending *pend;       /* unconfirmed requests, by seq */
    size_t npend, cappend;
    char (*refused)[128]; /* nacked requests' correlation ids, to report */
    size_t nrefused, caprefused;
};

/* the rabbitmq-c connection under the amqpc (it changes on a reconnect) */
static amqp_connection_state_t raw(const rpc_conn *c)
{
    return amqpc_raw(c->a);
}

typedef struct priv {
    amqp_envelope_t env;
} priv;

int rpc_reconnect(rpc_conn *c, mlhep_err *e)
{
    int rc = amqpc_reconnect(c->a, e);
    return rc ? rc : amqpc_channel_open(c->a, CH, e);
}

int rpc_connect(const amqpc_params *p, rpc_conn **out, mlhep_err *e)
{
    *out = NULL;
    rpc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int rc = amqpc_connect(&c->a, p, e);
    if (!rc)
        rc = amqpc_channel_open(c->a, CH, e);
    if (rc) {
        rpc_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int rpc_is_open(const rpc_conn *c)
{
    return c && amqpc_is_open(c->a);
}

void rpc_close(rpc_conn *c)
{
    if (!c)
        return;
    amqpc_close(c->a);
    free(c->pend);
    free(c->refused);
    free(c);
}

static int need_open(rpc_conn *c, mlhep_err *e)
{
    return amqpc_need_open(c->a, CH, e);
}

int rpc_serve(rpc_conn *c, const char *queue, int prefetch, mlhep_err *e)
{
    return amqpc_consume(c->a, CH, queue, "", prefetch > 0 && prefetch < 65536 ? prefetch : 1, e);
}

int rpc_client_start(rpc_conn *c, mlhep_err *e)
{
    int rc = need_open(c, e);
    if (!rc) /* every request confirmed: a full queue (reject-publish) says so at once */
        rc = amqpc_confirm_select(c->a, CH, e);
    if (rc)
        return rc;
    c->client = 1;
    c->seq = 0;
    c->npend = 0;
    c->nrefused = 0;
    amqp_basic_consume(raw(c), CH, amqp_cstring_bytes(RPC_REPLY_TO), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(raw(c));
    return amqpc_check_reply(c->a, &r, "consume direct reply-to", e);
}

int rpc_reply(rpc_conn *c, const rpc_msg *req, const void *body, size_t len, mlhep_err *e)
{
    return rpc_reply_as(c, req, NULL, body, len, e);
}

int rpc_reply_to_ok(const char *reply_to)
{
    size_t n = strlen(RPC_REPLY_TO);
    return reply_to && strncmp(reply_to, RPC_REPLY_TO, n) == 0 && reply_to[n] == '.' && reply_to[n + 1];
}

int rpc_reply_as(rpc_conn *c, const rpc_msg *req, const char *content_type, const void *body, size_t len,
                 mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc || !rpc_reply_to_ok(req->reply_to))
        return rc;
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes(content_type ? content_type : "application/json");
    props.delivery_mode = 1; /* transient */
    if (req->corr_id[0]) {
        props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        props.correlation_id = amqp_cstring_bytes(req->corr_id);
    }
    amqp_bytes_t b = {len, (void *)body};
    int st = amqp_basic_publish(raw(c), CH, amqp_empty_bytes, amqp_cstring_bytes(req->reply_to), 0, 0, &props, b);
    return st != AMQP_STATUS_OK ? amqpc_fail(c->a, st, "publish reply", e) : 0;
}

int rpc_ack(rpc_conn *c, uint64_t tag, mlhep_err *e)
{
    return amqpc_ack(c->a, CH, tag, e);
}

int rpc_ack_multiple(rpc_conn *c, uint64_t tag, mlhep_err *e)
{
    return amqpc_ack_upto(c->a, CH, tag, e);
}

int rpc_queue_depth(rpc_conn *c, const char *queue, uint32_t *messages, uint32_t *consumers, mlhep_err *e)
{
    int rc = amqpc_queue_depth(c->a, CH, queue, messages, consumers, e);
    return rc ? err_prefix(e, "queue '%s'", queue) : 0;
}

int rpc_call_send(rpc_conn *c, const char *exchange, const char *rk, const char *type, const char *token,
                  const char *corr_id, int expire_ms, const void *body, size_t len, mlhep_err *e)
{
    return rpc_call_send_as(c, exchange, rk, type, NULL, token, corr_id, expire_ms, body, len, e);
}

int rpc_call_send_as(rpc_conn *c, const char *exchange, const char *rk, const char *type, const char *content_type,
                     const char *token, const char *corr_id, int expire_ms, const void *body, size_t len,
                     mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc)
        return rc;
    if (c->client && c->npend == c->cappend) {
        size_t cap = c->cappend ? 2 * c->cappend : 64;
        pending *np = realloc(c->pend, cap * sizeof *np);
        if (!np)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        c->pend = np;
        c->cappend = cap;
    }
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_REPLY_TO_FLAG |
                   AMQP_BASIC_CORRELATION_ID_FLAG;
    props.content_type = amqp_cstring_bytes(content_type ? content_type : "application/json");
    props.delivery_mode = 1;
    props.reply_to = amqp_cstring_bytes(RPC_REPLY_TO);
    props.correlation_id = amqp_cstring_bytes(corr_id);
    if (type && *type) {
        props._flags |= AMQP_BASIC_TYPE_FLAG;
        props.type = amqp_cstring_bytes(type);
    }
    char expiration[24];
    if (expire_ms > 0) { /* a request nobody took in time is dropped by the broker */
        snprintf(expiration, sizeof expiration, "%d", expire_ms);
        props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        props.expiration = amqp_cstring_bytes(expiration);
    }
    amqp_table_entry_t ent;
    if (token && *token) {
        ent.key = amqp_cstring_bytes("authorization");
        ent.value.kind = AMQP_FIELD_KIND_UTF8;
        ent.value.value.bytes = amqp_cstring_bytes(token);
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers.num_entries = 1;
        props.headers.entries = &ent;
    }
    amqp_bytes_t b = {len, (void *)body};
    int st = amqp_basic_publish(raw(c), CH, amqp_cstring_bytes(exchange), amqp_cstring_bytes(rk), 1, 0, &props, b);
    if (st != AMQP_STATUS_OK)
        return amqpc_fail(c->a, st, "publish request", e);
    if (c->client) {
        pending *p = &c->pend[c->npend++];
        p->seq = ++c->seq;
        snprintf(p->corr, sizeof p->corr, "%s", corr_id);
    }
    return 0;
}

/* A confirm for tag (and every earlier one if multiple): confirmed requests leave the
 * table; nacked ones are queued for rpc_next to report. */
static void on_confirm(rpc_conn *c, uint64_t tag, int multiple, int nack)
{
    size_t k = 0;
    for (size_t i = 0; i < c->npend; i++) {
        pending *p = &c->pend[i];
        if (p->seq == tag || (multiple && p->seq < tag)) {
            if (nack && c->nrefused == c->caprefused) {
                size_t cap = c->caprefused ? 2 * c->caprefused : 16;
                char(*nr)[128] = realloc(c->refused, cap * sizeof *nr);
                if (nr) {
                    c->refused = nr;
                    c->caprefused = cap;
                }
            }
            if (nack && c->nrefused < c->caprefused)
                memcpy(c->refused[c->nrefused++], p->corr, sizeof p->corr);
            continue;
        }
        c->pend[k++] = *p;
    }
    c->npend = k;
}

/* The next refused request, if any, as rpc_next reports it. */
static int report_refused(rpc_conn *c, rpc_msg *m, mlhep_err *e)
{
    memcpy(m->corr_id, c->refused[0], sizeof m->corr_id);
    memmove(c->refused, c->refused + 1, --c->nrefused * sizeof *c->refused);
    err_set(e, MLHEP_ENET, "the prediction queue is full: the broker refused the request (x-overflow "
            "reject-publish); try again later");
    return RPC_REFUSED;
}

int rpc_next(rpc_conn *c, rpc_msg *m, int timeout_ms, mlhep_err *e)
{
    memset(m, 0, sizeof *m);
    if (c->nrefused)
        return report_refused(c, m, e);
    priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int rc = amqpc_receive(c->a, &p->env, timeout_ms, "receive", e);
    if (rc == AMQPC_CONFIRM) {
        free(p);
        uint64_t tag;
        int multiple, nack = amqpc_last_confirm(c->a, &tag, &multiple);
        on_confirm(c, tag, multiple, nack);
        return c->nrefused ? report_refused(c, m, e) : RPC_TIMEOUT;
    }
    if (rc) {
        free(p);
        if (rc == AMQPC_RETURNED) {
            snprintf(m->corr_id, sizeof m->corr_id, "%s", amqpc_returned_corr_id(c->a));
            char why[MLHEP_ERR_MAX];
            snprintf(why, sizeof why, "%s", e ? e->msg : "");
            return err_set(e, MLHEP_ENOTFOUND,
                           "%s (is the prediction service deployed with broker/definitions.json?)", why);
        }
        return rc == AMQPC_TIMEOUT ? RPC_TIMEOUT : rc;
    }
    amqp_basic_properties_t *pr = &p->env.message.properties;
    m->body = p->env.message.body.bytes;
    m->len = p->env.message.body.len;
    m->tag = p->env.delivery_tag;
    m->redelivered = p->env.redelivered;
    if (pr->_flags & AMQP_BASIC_REPLY_TO_FLAG)
        amqpc_copy_bytes(&pr->reply_to, m->reply_to, sizeof m->reply_to);
    if (pr->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)
        amqpc_copy_bytes(&pr->correlation_id, m->corr_id, sizeof m->corr_id);
    if (pr->_flags & AMQP_BASIC_TYPE_FLAG)
        amqpc_copy_bytes(&pr->type, m->type, sizeof m->type);
    if (pr->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
        amqpc_copy_bytes(&pr->content_type, m->content_type, sizeof m->content_type);
    if (pr->_flags & AMQP_BASIC_HEADERS_FLAG) {
        for (int i = 0; i < pr->headers.num_entries; i++) {
            amqp_table_entry_t *t = &pr->headers.entries[i];
            if (t->key.len == 13 && !memcmp(t->key.bytes, "authorization", 13) &&
                (t->value.kind == AMQP_FIELD_KIND_UTF8 || t->value.kind == AMQP_FIELD_KIND_BYTES)) {
                m->token = t->value.value.bytes.bytes;
                m->token_len = t->value.value.bytes.len;
            }
        }
    }
    m->priv_ = p;
    return 0;
}

void rpc_msg_free(rpc_msg *m)
{
    if (m && m->priv_) {
        priv *p = m->priv_;
        amqp_destroy_envelope(&p->env);
        free(p);
    }
    if (m)
        memset(m, 0, sizeof *m);
}

int rpc_fd(const rpc_conn *c)
{
    return raw(c) ? amqp_get_sockfd(raw(c)) : -1;
}

int rpc_buffered(const rpc_conn *c)
{
    return c->nrefused || (raw(c) && (amqp_frames_enqueued(raw(c)) || amqp_data_in_buffer(raw(c))));
}
