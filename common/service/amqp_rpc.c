/* amqp_rpc.c - see amqp_rpc.h. rabbitmq-c 0.11: amqp_consume_message reports frames
 * other than deliveries (basic.return, channel.close) as AMQP_STATUS_UNEXPECTED_STATE;
 * we then read that frame ourselves. */
#include "service/amqp_rpc.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define CH 1

struct rpc_conn {
    char *host, *user, *password, *vhost;
    int port, heartbeat_s, timeout_ms;
    amqp_connection_state_t conn;
    int open;
};

typedef struct priv {
    amqp_envelope_t env;
} priv;

static int lib_err(rpc_conn *c, int st, const char *what, mlhep_err *e)
{
    c->open = 0;
    return err_set(e, MLHEP_ENET, "broker %s:%d: %s: %s", c->host, c->port, what, amqp_error_string2(st));
}

static int reply_check(rpc_conn *c, amqp_rpc_reply_t r, const char *what, mlhep_err *e)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return lib_err(c, r.library_error, what, e);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        c->open = 0;
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD || r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            unsigned code;
            amqp_bytes_t t;
            if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
                amqp_connection_close_t *m = r.reply.decoded;
                code = m->reply_code;
                t = m->reply_text;
            } else {
                amqp_channel_close_t *m = r.reply.decoded;
                code = m->reply_code;
                t = m->reply_text;
            }
            int ec = code == 403 || code == 530 ? MLHEP_EAUTH : code == 404 ? MLHEP_ENOTFOUND : MLHEP_ENET;
            return err_set(e, ec, "broker %s:%d: %s: %u %.*s", c->host, c->port, what, code, (int)t.len,
                           (char *)t.bytes);
        }
        return err_set(e, MLHEP_ENET, "broker: %s: server exception", what);
    default:
        c->open = 0;
        return err_set(e, MLHEP_ENET, "broker %s:%d: %s: no reply", c->host, c->port, what);
    }
}

static void drop(rpc_conn *c)
{
    if (c->conn) {
        if (c->open)
            amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(c->conn);
        c->conn = NULL;
    }
    c->open = 0;
}

int rpc_reconnect(rpc_conn *c, mlhep_err *e)
{
    drop(c);
    if (!(c->conn = amqp_new_connection()))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    amqp_socket_t *s = amqp_tcp_socket_new(c->conn);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "cannot create a socket");
    struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    int st = amqp_socket_open_noblock(s, c->host, c->port, &tv);
    if (st != AMQP_STATUS_OK)
        return lib_err(c, st, "connect", e);
    c->open = 1;
    amqp_rpc_reply_t r = amqp_login(c->conn, c->vhost, 0, 131072, c->heartbeat_s, AMQP_SASL_METHOD_PLAIN, c->user,
                                    c->password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        reply_check(c, r, "login", e);
        return err_set(e, MLHEP_EAUTH,
                       "broker %s:%d: login as '%s' to vhost '%s' refused or connection dropped; check "
                       "amqp_user/amqp_password/amqp_vhost",
                       c->host, c->port, c->user, c->vhost);
    }
    amqp_channel_open(c->conn, CH);
    return reply_check(c, amqp_get_rpc_reply(c->conn), "channel.open", e);
}

int rpc_connect(const amqpc_params *p, rpc_conn **out, mlhep_err *e)
{
    *out = NULL;
    rpc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    c->host = strdup(p->host ? p->host : "127.0.0.1");
    c->user = strdup(p->user ? p->user : "");
    c->password = strdup(p->password ? p->password : "");
    c->vhost = strdup(p->vhost ? p->vhost : "/");
    c->port = p->port;
    c->heartbeat_s = p->heartbeat_s;
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 10000;
    int rc = (!c->host || !c->user || !c->password || !c->vhost) ? err_set(e, MLHEP_ENOMEM, "out of memory")
                                                                  : rpc_reconnect(c, e);
    if (rc) {
        rpc_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int rpc_is_open(const rpc_conn *c)
{
    return c && c->conn && c->open;
}

void rpc_close(rpc_conn *c)
{
    if (!c)
        return;
    drop(c);
    if (c->password)
        memset(c->password, 0, strlen(c->password));
    free(c->host);
    free(c->user);
    free(c->password);
    free(c->vhost);
    free(c);
}

static int need_open(rpc_conn *c, mlhep_err *e)
{
    return rpc_is_open(c) ? 0 : err_set(e, MLHEP_ENET, "broker %s:%d: not connected", c->host, c->port);
}

int rpc_serve(rpc_conn *c, const char *queue, int prefetch, mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc)
        return rc;
    amqp_basic_qos(c->conn, CH, 0, (uint16_t)(prefetch > 0 && prefetch < 65536 ? prefetch : 1), 0);
    if ((rc = reply_check(c, amqp_get_rpc_reply(c->conn), "basic.qos", e)))
        return rc;
    amqp_basic_consume(c->conn, CH, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    rc = reply_check(c, amqp_get_rpc_reply(c->conn), "basic.consume", e);
    return rc ? err_prefix(e, "consume from queue '%s'", queue) : 0;
}

int rpc_client_start(rpc_conn *c, mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc)
        return rc;
    amqp_basic_consume(c->conn, CH, amqp_cstring_bytes(RPC_REPLY_TO), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    return reply_check(c, amqp_get_rpc_reply(c->conn), "consume direct reply-to", e);
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
    int st = amqp_basic_publish(c->conn, CH, amqp_empty_bytes, amqp_cstring_bytes(req->reply_to), 0, 0, &props, b);
    return st != AMQP_STATUS_OK ? lib_err(c, st, "publish reply", e) : 0;
}

int rpc_ack(rpc_conn *c, uint64_t tag, mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc)
        return rc;
    int st = amqp_basic_ack(c->conn, CH, tag, 0);
    return st ? lib_err(c, st, "ack", e) : 0;
}

int rpc_ack_multiple(rpc_conn *c, uint64_t tag, mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc)
        return rc;
    int st = amqp_basic_ack(c->conn, CH, tag, 1);
    return st ? lib_err(c, st, "ack", e) : 0;
}

int rpc_queue_depth(rpc_conn *c, const char *queue, uint32_t *messages, uint32_t *consumers, mlhep_err *e)
{
    int rc = need_open(c, e);
    if (rc)
        return rc;
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(c->conn, CH, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    if ((rc = reply_check(c, amqp_get_rpc_reply(c->conn), "queue.declare(passive)", e)))
        return err_prefix(e, "queue '%s'", queue);
    *messages = ok->message_count;
    *consumers = ok->consumer_count;
    return 0;
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
    int st = amqp_basic_publish(c->conn, CH, amqp_cstring_bytes(exchange), amqp_cstring_bytes(rk), 1, 0, &props, b);
    return st != AMQP_STATUS_OK ? lib_err(c, st, "publish request", e) : 0;
}

static void copy_bytes(amqp_bytes_t b, char *out, size_t outsz)
{
    size_t n = b.len < outsz - 1 ? b.len : outsz - 1;
    if (n)
        memcpy(out, b.bytes, n);
    out[n] = '\0';
}

int rpc_next(rpc_conn *c, rpc_msg *m, int timeout_ms, mlhep_err *e)
{
    memset(m, 0, sizeof *m);
    int rc = need_open(c, e);
    if (rc)
        return rc;
    priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    amqp_maybe_release_buffers(c->conn);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    amqp_rpc_reply_t r = amqp_consume_message(c->conn, &p->env, timeout_ms >= 0 ? &tv : NULL, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        amqp_basic_properties_t *pr = &p->env.message.properties;
        m->body = p->env.message.body.bytes;
        m->len = p->env.message.body.len;
        m->tag = p->env.delivery_tag;
        m->redelivered = p->env.redelivered;
        if (pr->_flags & AMQP_BASIC_REPLY_TO_FLAG)
            copy_bytes(pr->reply_to, m->reply_to, sizeof m->reply_to);
        if (pr->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)
            copy_bytes(pr->correlation_id, m->corr_id, sizeof m->corr_id);
        if (pr->_flags & AMQP_BASIC_TYPE_FLAG)
            copy_bytes(pr->type, m->type, sizeof m->type);
        if (pr->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
            copy_bytes(pr->content_type, m->content_type, sizeof m->content_type);
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
    free(p);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return RPC_TIMEOUT;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        amqp_frame_t f;
        int st = amqp_simple_wait_frame_noblock(c->conn, &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT)
            return RPC_TIMEOUT;
        if (st != AMQP_STATUS_OK)
            return lib_err(c, st, "receive", e);
        if (f.frame_type != AMQP_FRAME_METHOD)
            return RPC_TIMEOUT;
        switch (f.payload.method.id) {
        case AMQP_BASIC_RETURN_METHOD: {
            amqp_basic_return_t *ret = f.payload.method.decoded;
            char ex[128], rk[128];
            copy_bytes(ret->exchange, ex, sizeof ex);
            copy_bytes(ret->routing_key, rk, sizeof rk);
            amqp_message_t msg;
            if (amqp_read_message(c->conn, f.channel, &msg, 0).reply_type == AMQP_RESPONSE_NORMAL) {
                /* the caller learns which request came back by its correlation id */
                if (msg.properties._flags & AMQP_BASIC_CORRELATION_ID_FLAG)
                    copy_bytes(msg.properties.correlation_id, m->corr_id, sizeof m->corr_id);
                amqp_destroy_message(&msg);
            }
            return err_set(e, MLHEP_ENOTFOUND,
                           "broker: request to exchange '%s' with routing key '%s' reached no queue (is the "
                           "prediction service deployed with broker/definitions.json?)",
                           ex, rk);
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_channel_close_t *cm = f.payload.method.decoded;
            amqp_channel_close_ok_t ok = {0};
            amqp_send_method(c->conn, f.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
            c->open = 0;
            return err_set(e, cm->reply_code == 403 ? MLHEP_EAUTH : MLHEP_ENET, "broker: channel closed: %u %.*s",
                           cm->reply_code, (int)cm->reply_text.len, (char *)cm->reply_text.bytes);
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            amqp_connection_close_t *cm = f.payload.method.decoded;
            amqp_connection_close_ok_t ok = {0};
            amqp_send_method(c->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
            c->open = 0;
            return err_set(e, MLHEP_ENET, "broker: connection closed: %u %.*s", cm->reply_code,
                           (int)cm->reply_text.len, (char *)cm->reply_text.bytes);
        }
        case AMQP_BASIC_CANCEL_METHOD:
            c->open = 0;
            return err_set(e, MLHEP_ENET, "broker cancelled the consumer (queue deleted or node going down)");
        default:
            return RPC_TIMEOUT;
        }
    }
    return reply_check(c, r, "receive", e);
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
    return c->conn ? amqp_get_sockfd(c->conn) : -1;
}

int rpc_buffered(const rpc_conn *c)
{
    return c->conn && (amqp_frames_enqueued(c->conn) || amqp_data_in_buffer(c->conn));
}
