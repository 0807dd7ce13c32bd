/* amqp_client.c - see amqp_client.h. rabbitmq-c 0.11 specifics: no
 * amqp_publisher_confirm_wait (we read the ack frames ourselves), and
 * amqp_consume_message reports non-delivery frames as AMQP_STATUS_UNEXPECTED_STATE. */
#include "service/amqp_client.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define MAXCH 8

struct amqpc {
    char *host, *user, *password, *vhost;
    int port, heartbeat_s, timeout_ms;
    amqp_connection_state_t conn;
    int open;
    unsigned generation;
    uint64_t published[MAXCH]; /* publishes since confirm.select, per channel */
    int confirm[MAXCH];
    char returned_corr[128];   /* correlation id of the last message returned unroutable */
    uint64_t confirm_tag;      /* the last publisher confirm amqpc_receive saw */
    int confirm_multiple, confirm_nack;
};

struct priv {
    amqp_envelope_t env;
};

static int lib_err(amqpc *c, int status, const char *what, mlhep_err *e)
{
    c->open = 0;
    return err_set(e, MLHEP_ENET, "broker %s:%d: %s: %s", c->host, c->port, what,
                   amqp_error_string2(status));
}

int amqpc_fail(amqpc *c, int status, const char *what, mlhep_err *e)
{
    return lib_err(c, status, what, e);
}

/* Turns an RPC reply into 0 or an error with the server's words. */
int amqpc_check_reply(amqpc *c, const amqp_rpc_reply_t *rp, const char *what, mlhep_err *e)
{
    amqp_rpc_reply_t r = *rp;
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_NONE:
        c->open = 0;
        return err_set(e, MLHEP_ENET, "broker %s:%d: %s: no reply", c->host, c->port, what);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return lib_err(c, r.library_error, what, e);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            c->open = 0;
            int code = m->reply_code == 403 || m->reply_code == 530 ? MLHEP_EAUTH : MLHEP_ENET;
            return err_set(e, code, "broker %s:%d: %s: connection closed by server: %u %.*s",
                           c->host, c->port, what, m->reply_code, (int)m->reply_text.len,
                           (char *)m->reply_text.bytes);
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            c->open = 0; /* we treat a dead channel as a dead session: caller reconnects */
            int code = m->reply_code == 403 ? MLHEP_EAUTH : m->reply_code == 404 ? MLHEP_ENOTFOUND : MLHEP_ENET;
            return err_set(e, code, "broker: %s: channel closed by server: %u %.*s", what,
                           m->reply_code, (int)m->reply_text.len, (char *)m->reply_text.bytes);
        }
        c->open = 0;
        return err_set(e, MLHEP_ENET, "broker: %s: server exception (method 0x%08x)", what,
                       r.reply.id);
    }
    return err_set(e, MLHEP_ENET, "broker: %s: unknown reply", what);
}

/* the reply to the synchronous method just sent */
static int last_reply(amqpc *c, const char *what, mlhep_err *e)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c->conn);
    return amqpc_check_reply(c, &r, what, e);
}

static void drop(amqpc *c)
{
    if (c->conn) {
        if (c->open) {
            amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(c->conn);
        c->conn = NULL;
    }
    c->open = 0;
    memset(c->published, 0, sizeof c->published);
    memset(c->confirm, 0, sizeof c->confirm);
}

static int do_connect(amqpc *c, mlhep_err *e)
{
    drop(c);
    c->conn = amqp_new_connection();
    if (!c->conn)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    amqp_socket_t *s = amqp_tcp_socket_new(c->conn);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "cannot create a socket");
    struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    int st = amqp_socket_open_noblock(s, c->host, c->port, &tv);
    if (st != AMQP_STATUS_OK)
        return lib_err(c, st, "connect", e);
    c->open = 1; /* socket up; login may still fail */
    amqp_rpc_reply_t r = amqp_login(c->conn, c->vhost, 0, 131072, c->heartbeat_s,
                                    AMQP_SASL_METHOD_PLAIN, c->user, c->password);
    if (amqpc_check_reply(c, &r, "login", e)) {
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
            err_set(e, MLHEP_EAUTH,
                    "broker %s:%d: login as '%s' to vhost '%s' refused or connection dropped (%s); "
                    "check amqp_user/amqp_password/amqp_vhost",
                    c->host, c->port, c->user, c->vhost, amqp_error_string2(r.library_error));
        return e ? e->code : MLHEP_ENET;
    }
    c->generation++;
    return 0;
}

static char *dupz(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

int amqpc_connect(amqpc **out, const amqpc_params *p, mlhep_err *e)
{
    *out = NULL;
    amqpc *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    c->host = dupz(p->host, "127.0.0.1");
    c->user = dupz(p->user, "");
    c->password = dupz(p->password, "");
    c->vhost = dupz(p->vhost, "/");
    c->port = p->port;
    c->heartbeat_s = p->heartbeat_s;
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 10000;
    if (!c->host || !c->user || !c->password || !c->vhost) {
        amqpc_close(c);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    int rc = do_connect(c, e);
    if (rc) {
        amqpc_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int amqpc_reconnect(amqpc *c, mlhep_err *e)
{
    return do_connect(c, e);
}

unsigned amqpc_generation(const amqpc *c)
{
    return c->generation;
}

amqp_connection_state_t amqpc_raw(const amqpc *c)
{
    return c->conn;
}

int amqpc_is_open(const amqpc *c)
{
    return c && c->conn && c->open;
}

void amqpc_close(amqpc *c)
{
    if (!c)
        return;
    drop(c);
    if (c->password) {
        memset(c->password, 0, strlen(c->password));
    }
    free(c->host);
    free(c->user);
    free(c->password);
    free(c->vhost);
    free(c);
}

static int connected(amqpc *c, mlhep_err *e)
{
    return c->conn && c->open ? 0 : err_set(e, MLHEP_ENET, "broker %s:%d: not connected", c->host, c->port);
}

int amqpc_need_open(amqpc *c, int ch, mlhep_err *e)
{
    int rc = connected(c, e);
    if (rc)
        return rc;
    if (ch < 1 || ch >= MAXCH)
        return err_set(e, MLHEP_EINVAL, "channel %d out of range", ch);
    return 0;
}

int amqpc_channel_open(amqpc *c, int ch, mlhep_err *e)
{
    int rc = amqpc_need_open(c, ch, e);
    if (rc)
        return rc;
    amqp_channel_open(c->conn, (amqp_channel_t)ch);
    return last_reply(c, "channel.open", e);
}

int amqpc_confirm_select(amqpc *c, int ch, mlhep_err *e)
{
    int rc = amqpc_need_open(c, ch, e);
    if (rc)
        return rc;
    amqp_confirm_select(c->conn, (amqp_channel_t)ch);
    rc = last_reply(c, "confirm.select", e);
    if (!rc) {
        c->confirm[ch] = 1;
        c->published[ch] = 0;
    }
    return rc;
}

int amqpc_closed_by_broker(amqpc *c, const amqp_frame_t *f, const char *what, mlhep_err *e)
{
    c->open = 0;
    /* answer the close so the connection stays consistent, then report */
    if (f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = f->payload.method.decoded;
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(c->conn, f->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        int code = m->reply_code == 403 ? MLHEP_EAUTH : m->reply_code == 404 ? MLHEP_ENOTFOUND : MLHEP_ENET;
        return err_set(e, code, "broker: %s: channel closed by server: %u %.*s", what, m->reply_code,
                       (int)m->reply_text.len, (char *)m->reply_text.bytes);
    }
    const amqp_connection_close_t *m = f->payload.method.decoded;
    amqp_connection_close_ok_t ok = {0};
    amqp_send_method(c->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    return err_set(e, MLHEP_ENET, "broker: %s: connection closed by server: %u %.*s", what,
                   m->reply_code, (int)m->reply_text.len, (char *)m->reply_text.bytes);
}

int amqpc_publish(amqpc *c, int ch, const char *exchange, const char *rkey, const void *body,
                  size_t len, const char *message_id, const char *sig, mlhep_err *e)
{
    return amqpc_publish_batch(c, ch, exchange, rkey, &body, &len, &message_id, &sig, 1, e);
}

int amqpc_publish_batch(amqpc *c, int ch, const char *exchange, const char *rkey,
                        const void *const *bodies, const size_t *lens, const char *const *ids,
                        const char *const *sigs, size_t n, mlhep_err *e)
{
    int rc = amqpc_need_open(c, ch, e);
    if (rc || n == 0)
        return rc;
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    uint64_t first = c->published[ch] + 1;
    for (size_t i = 0; i < n; i++) {
        props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        props.content_type = amqp_cstring_bytes("application/json");
        if (ids && ids[i]) {
            props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
            props.message_id = amqp_cstring_bytes(ids[i]);
        }
        amqp_table_entry_t sig;
        if (sigs && sigs[i]) {
            sig.key = amqp_cstring_bytes(MSGSIG_HEADER);
            sig.value.kind = AMQP_FIELD_KIND_UTF8;
            sig.value.value.bytes = amqp_cstring_bytes(sigs[i]);
            props._flags |= AMQP_BASIC_HEADERS_FLAG;
            props.headers.num_entries = 1;
            props.headers.entries = &sig;
        } else {
            props.headers.num_entries = 0;
            props.headers.entries = NULL;
        }
        amqp_bytes_t b = {lens[i], (void *)bodies[i]};
        int st = amqp_basic_publish(c->conn, (amqp_channel_t)ch, amqp_cstring_bytes(exchange),
                                    amqp_cstring_bytes(rkey), 1, 0, &props, b);
        if (st != AMQP_STATUS_OK)
            return lib_err(c, st, "publish", e);
        if (c->confirm[ch])
            c->published[ch]++;
    }
    if (!c->confirm[ch])
        return 0;
    uint64_t last = c->published[ch];
    unsigned char *acked = calloc(n, 1);
    if (!acked)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t nacked = 0;
    int returned = 0;
    rc = 0;
    while (nacked < n && !rc) {
        amqp_frame_t f;
        struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
        int st = amqp_simple_wait_frame_noblock(c->conn, &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT) {
            rc = err_set(e, MLHEP_ENET, "broker: no publisher confirm within %d ms for %zu of %zu "
                         "message(s): they may or may not have been queued", c->timeout_ms, n - nacked, n);
            break;
        }
        if (st != AMQP_STATUS_OK) {
            rc = lib_err(c, st, "waiting for publisher confirms (the message(s) may or may not have been queued)", e);
            break;
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            uint64_t lo = a->multiple ? first : a->delivery_tag, hi = a->delivery_tag;
            for (uint64_t t = lo < first ? first : lo; t <= hi && t <= last; t++)
                if (!acked[t - first]) {
                    acked[t - first] = 1;
                    nacked++;
                }
            break;
        }
        case AMQP_BASIC_NACK_METHOD:
            rc = err_set(e, MLHEP_ENET, "broker refused %s (nack): not queued",
                         n == 1 ? "the message" : "a message of the batch");
            break;
        case AMQP_BASIC_RETURN_METHOD: {
            amqp_message_t m;
            amqp_read_message(c->conn, f.channel, &m, 0);
            amqp_destroy_message(&m);
            returned = 1;
            break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
            rc = amqpc_closed_by_broker(c, &f, "publish", e);
            break;
        default:
            break;
        }
    }
    free(acked);
    if (!rc && returned)
        rc = err_set(e, MLHEP_ENOTFOUND, "broker: message(s) to exchange '%s' with routing key '%s' "
                     "not routed to any queue (broker definitions not loaded?)", exchange, rkey);
    return rc;
}

int amqpc_consume(amqpc *c, int ch, const char *queue, const char *tag, int prefetch, mlhep_err *e)
{
    int rc = amqpc_need_open(c, ch, e);
    if (rc)
        return rc;
    amqp_basic_qos(c->conn, (amqp_channel_t)ch, 0, (uint16_t)prefetch, 0);
    rc = last_reply(c, "basic.qos", e);
    if (rc)
        return rc;
    amqp_basic_consume(c->conn, (amqp_channel_t)ch, amqp_cstring_bytes(queue),
                       amqp_cstring_bytes(tag), 0, 0, 0, amqp_empty_table);
    rc = last_reply(c, "basic.consume", e);
    if (rc)
        err_prefix(e, "consume from queue '%s'", queue);
    return rc;
}

int amqpc_cancel(amqpc *c, int ch, const char *tag, mlhep_err *e)
{
    int rc = amqpc_need_open(c, ch, e);
    if (rc)
        return rc;
    amqp_basic_cancel(c->conn, (amqp_channel_t)ch, amqp_cstring_bytes(tag));
    return last_reply(c, "basic.cancel", e);
}

static const amqp_field_value_t *table_get(const amqp_table_t *t, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; t && i < t->num_entries; i++)
        if (t->entries[i].key.len == kl && memcmp(t->entries[i].key.bytes, key, kl) == 0)
            return &t->entries[i].value;
    return NULL;
}

static long field_int(const amqp_field_value_t *v)
{
    if (!v)
        return 0;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: return v->value.i8;
    case AMQP_FIELD_KIND_U8: return v->value.u8;
    case AMQP_FIELD_KIND_I16: return v->value.i16;
    case AMQP_FIELD_KIND_U16: return v->value.u16;
    case AMQP_FIELD_KIND_I32: return v->value.i32;
    case AMQP_FIELD_KIND_U32: return (long)v->value.u32;
    case AMQP_FIELD_KIND_I64: return (long)v->value.i64;
    case AMQP_FIELD_KIND_U64: return (long)v->value.u64;
    default: return 0;
    }
}

static void field_str(const amqp_field_value_t *v, char *out, size_t outsz)
{
    out[0] = '\0';
    if (v && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES))
        amqpc_copy_bytes(&v->value.bytes, out, outsz);
}

void amqpc_copy_bytes(const amqp_bytes_t *b, char *out, size_t outsz)
{
    size_t n = b->len < outsz - 1 ? b->len : outsz - 1;
    if (n)
        memcpy(out, b->bytes, n);
    out[n] = '\0';
}

static void fill_from_message(amqpc_delivery *d, const amqp_message_t *m)
{
    if (m->properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        amqpc_copy_bytes(&m->properties.message_id, d->message_id, sizeof d->message_id);
    if (m->properties._flags & AMQP_BASIC_HEADERS_FLAG) {
        const amqp_table_t *h = &m->properties.headers;
        d->delivery_count = field_int(table_get(h, "x-delivery-count"));
        field_str(table_get(h, "x-first-death-reason"), d->death_reason, sizeof d->death_reason);
        field_str(table_get(h, MSGSIG_HEADER), d->sig, sizeof d->sig);
        const amqp_field_value_t *xd = table_get(h, "x-death");
        if (xd && xd->kind == AMQP_FIELD_KIND_ARRAY && xd->value.array.num_entries > 0 &&
            xd->value.array.entries[0].kind == AMQP_FIELD_KIND_TABLE) {
            const amqp_table_t *t0 = &xd->value.array.entries[0].value.table;
            if (!d->death_reason[0])
                field_str(table_get(t0, "reason"), d->death_reason, sizeof d->death_reason);
            d->death_count = field_int(table_get(t0, "count"));
        }
    }
    d->body = m->body.bytes;
    d->len = m->body.len;
}

int amqpc_get(amqpc *c, int ch, const char *queue, amqpc_delivery *d, mlhep_err *e)
{
    memset(d, 0, sizeof *d);
    int rc = amqpc_need_open(c, ch, e);
    if (rc)
        return rc;
    amqp_maybe_release_buffers(c->conn);
    amqp_rpc_reply_t r = amqp_basic_get(c->conn, (amqp_channel_t)ch, amqp_cstring_bytes(queue), 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return amqpc_check_reply(c, &r, "basic.get", e);
    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
        return AMQPC_TIMEOUT;
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
        return err_set(e, MLHEP_ENET, "basic.get: unexpected reply 0x%08x", (unsigned)r.reply.id);
    amqp_basic_get_ok_t *ok = r.reply.decoded;
    d->channel = ch;
    d->tag = ok->delivery_tag;
    d->redelivered = ok->redelivered;
    d->generation = c->generation;
    struct priv *p = calloc(1, sizeof *p);
    if (!p) {
        amqp_basic_nack(c->conn, (amqp_channel_t)ch, d->tag, 0, 1);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    r = amqp_read_message(c->conn, (amqp_channel_t)ch, &p->env.message, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        free(p);
        memset(d, 0, sizeof *d);
        return amqpc_check_reply(c, &r, "basic.get (message body)", e);
    }
    p->env.channel = (amqp_channel_t)ch;
    p->env.delivery_tag = d->tag;
    fill_from_message(d, &p->env.message);
    d->priv_ = p;
    return 0;
}

int amqpc_receive(amqpc *c, amqp_envelope_t *env, int timeout_ms, const char *what, mlhep_err *e)
{
    int rc = connected(c, e);
    if (rc)
        return rc;
    amqp_maybe_release_buffers(c->conn);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000}, *tvp = timeout_ms >= 0 ? &tv : NULL;
    amqp_rpc_reply_t r = amqp_consume_message(c->conn, env, tvp, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return AMQPC_TIMEOUT;
    if (r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION || r.library_error != AMQP_STATUS_UNEXPECTED_STATE)
        return amqpc_check_reply(c, &r, what, e);
    /* a frame other than a delivery: read it ourselves */
    amqp_frame_t f;
    int st = amqp_simple_wait_frame_noblock(c->conn, &f, tvp);
    if (st == AMQP_STATUS_TIMEOUT)
        return AMQPC_TIMEOUT;
    if (st != AMQP_STATUS_OK)
        return lib_err(c, st, what, e);
    if (f.frame_type != AMQP_FRAME_METHOD)
        return AMQPC_TIMEOUT;
    switch (f.payload.method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        return amqpc_closed_by_broker(c, &f, what, e);
    case AMQP_BASIC_CANCEL_METHOD: /* queue deleted or broker-side cancel */
        c->open = 0;
        return err_set(e, MLHEP_ENET, "broker cancelled our consumer (queue deleted or node going down)");
    case AMQP_BASIC_RETURN_METHOD: {
        const amqp_basic_return_t *ret = f.payload.method.decoded;
        err_set(e, MLHEP_ENOTFOUND, "broker: message to exchange '%.*s' with routing key '%.*s' reached no queue",
                (int)ret->exchange.len, (char *)ret->exchange.bytes, (int)ret->routing_key.len,
                (char *)ret->routing_key.bytes);
        amqp_message_t m;
        c->returned_corr[0] = '\0';
        if (amqp_read_message(c->conn, f.channel, &m, 0).reply_type == AMQP_RESPONSE_NORMAL) {
            if (m.properties._flags & AMQP_BASIC_CORRELATION_ID_FLAG)
                amqpc_copy_bytes(&m.properties.correlation_id, c->returned_corr, sizeof c->returned_corr);
            amqp_destroy_message(&m);
        }
        return AMQPC_RETURNED;
    }
    case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *a = f.payload.method.decoded;
        c->confirm_tag = a->delivery_tag;
        c->confirm_multiple = a->multiple;
        c->confirm_nack = 0;
        return AMQPC_CONFIRM;
    }
    case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *n = f.payload.method.decoded;
        c->confirm_tag = n->delivery_tag;
        c->confirm_multiple = n->multiple;
        c->confirm_nack = 1;
        return AMQPC_CONFIRM;
    }
    default:
        return AMQPC_TIMEOUT;
    }
}

int amqpc_last_confirm(const amqpc *c, uint64_t *tag, int *multiple)
{
    *tag = c->confirm_tag;
    *multiple = c->confirm_multiple;
    return c->confirm_nack;
}

int amqpc_next(amqpc *c, amqpc_delivery *d, int timeout_ms, mlhep_err *e)
{
    memset(d, 0, sizeof *d);
    struct priv *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int rc = amqpc_receive(c, &p->env, timeout_ms < 0 ? 0 : timeout_ms, "consume", e);
    if (rc) {
        free(p);
        /* a returned publish or a confirm is not ours to report */
        return rc == AMQPC_RETURNED || rc == AMQPC_CONFIRM ? AMQPC_TIMEOUT : rc;
    }
    amqp_envelope_t *env = &p->env;
    d->channel = env->channel;
    d->tag = env->delivery_tag;
    d->generation = c->generation;
    d->redelivered = env->redelivered;
    amqpc_copy_bytes(&env->consumer_tag, d->consumer_tag, sizeof d->consumer_tag);
    fill_from_message(d, &env->message);
    d->priv_ = p;
    return 0;
}

void amqpc_delivery_free(amqpc_delivery *d)
{
    if (d && d->priv_) {
        struct priv *p = d->priv_;
        amqp_destroy_envelope(&p->env);
        free(p);
    }
    if (d)
        memset(d, 0, sizeof *d);
}

int amqpc_poll(amqpc *c, int extra_fd, int timeout_ms, mlhep_err *e)
{
    int rc = connected(c, e);
    if (rc)
        return rc;
    if (amqp_frames_enqueued(c->conn) || amqp_data_in_buffer(c->conn))
        return 1;
    struct pollfd p[2] = {{amqp_get_sockfd(c->conn), POLLIN, 0}, {extra_fd, POLLIN, 0}};
    int n = poll(p, extra_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : err_set(e, MLHEP_EIO, "poll: %s", strerror(errno));
    int bits = 0;
    if (p[0].revents)
        bits |= 1; /* data, or an error/hangup that amqpc_next will report */
    if (extra_fd >= 0 && p[1].revents)
        bits |= 2;
    return bits;
}

/* ack (up to and including tag when multiple), nack or reject one delivery */
enum { ACK, NACK, REJECT };
static int settle(amqpc *c, int ch, uint64_t tag, int how, int multiple, int requeue, mlhep_err *e)
{
    int rc = amqpc_need_open(c, ch, e);
    if (rc)
        return rc;
    amqp_channel_t chan = (amqp_channel_t)ch;
    int st = how == ACK    ? amqp_basic_ack(c->conn, chan, tag, multiple)
             : how == NACK ? amqp_basic_nack(c->conn, chan, tag, multiple, requeue)
                           : amqp_basic_reject(c->conn, chan, tag, requeue);
    return st ? lib_err(c, st, how == ACK ? "ack" : how == NACK ? "nack" : "reject", e) : 0;
}

int amqpc_ack(amqpc *c, int ch, uint64_t tag, mlhep_err *e)
{
    return settle(c, ch, tag, ACK, 0, 0, e);
}

int amqpc_ack_upto(amqpc *c, int ch, uint64_t tag, mlhep_err *e)
{
    return settle(c, ch, tag, ACK, 1, 0, e);
}

int amqpc_nack(amqpc *c, int ch, uint64_t tag, int requeue, mlhep_err *e)
{
    return settle(c, ch, tag, NACK, 0, requeue, e);
}

int amqpc_reject(amqpc *c, int ch, uint64_t tag, int requeue, mlhep_err *e)
{
    return settle(c, ch, tag, REJECT, 0, requeue, e);
}

int amqpc_queue_depth(amqpc *c, int ch, const char *queue, uint32_t *messages, uint32_t *consumers,
                      mlhep_err *e)
{
    int rc = amqpc_need_open(c, ch, e);
    if (rc)
        return rc;
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c->conn, (amqp_channel_t)ch,
                                                     amqp_cstring_bytes(queue), 1, 0, 0, 0,
                                                     amqp_empty_table);
    rc = last_reply(c, "queue.declare(passive)", e);
    if (rc)
        return rc;
    *messages = ok->message_count;
    *consumers = ok->consumer_count;
    return 0;
}

const char *amqpc_returned_corr_id(const amqpc *c)
{
    return c ? c->returned_corr : "";
}
