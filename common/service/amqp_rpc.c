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
struct rpc_conn {
    amqpc *a;
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
    if (rc)
        return rc;
    amqp_basic_consume(raw(c), CH, amqp_cstring_bytes(RPC_REPLY_TO), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(raw(c));
    return amqpc_check_reply(c->a, &r, "consume direct reply-to", e);
}

int rpc_reply(rpc_conn *c, const rpc_msg *req, const void *body, size_t len, mlhep_err *e)
{
    return rpc_reply_as(c, req, NULL, body, len, e);
}

int rpc_reply_as(rpc_conn *c, const rpc_msg *req, const char *content_type, const void *body, size_t len,
                 mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc || !req->reply_to[0])
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
                  const char *corr_id, const void *body, size_t len, mlhep_err *e)
{
    return rpc_call_send_as(c, exchange, rk, type, NULL, token, corr_id, body, len, e);
}

int rpc_call_send_as(rpc_conn *c, const char *exchange, const char *rk, const char *type, const char *content_type,
                     const char *token, const char *corr_id, const void *body, size_t len, mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc)
        return rc;
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
    return st != AMQP_STATUS_OK ? amqpc_fail(c->a, st, "publish request", e) : 0;
}

int rpc_next(rpc_conn *c, rpc_msg *m, int timeout_ms, mlhep_err *e)
{
    memset(m, 0, sizeof *m);
    priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int rc = amqpc_receive(c->a, &p->env, timeout_ms, "receive", e);
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
    return raw(c) && (amqp_frames_enqueued(raw(c)) || amqp_data_in_buffer(raw(c)));
}
