/* amqp_rpc.c - see amqp_rpc.h. rabbitmq-c 0.11: amqp_consume_message reports frames
 * other than deliveries (basic.return, channel.close) as AMQP_STATUS_UNEXPECTED_STATE;
 * we then read that frame ourselves. */
#include "service/amqp_rpc.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "base/wbuf.h"

#define CH 1
#define SEND_STALL_MS 30000 /* a write the broker does not take in this long fails the connection */

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
    /* messages queued by rpc_call_queue_as, written by rpc_flush: frame bytes in out,
     * and the pieces to write in order (a piece of out, or a caller's body) */
    wbuf out;
    struct outseg {
        const uint8_t *ext;   /* a caller's bytes, or NULL: out.p + off */
        size_t off, len;
    } *seg;
    size_t nseg, capseg;
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
    c->nseg = 0; /* what was queued for the old connection */
    wbuf_reset(&c->out);
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
    wbuf_free(&c->out);
    free(c->seg);
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

/* ---- publishing: frames encoded here, written together ----
 * rabbitmq-c's amqp_basic_publish writes a message's frames (method, header, body) with
 * a send call each. A client with several requests to send (the gateway's pump, one
 * turn of its loop) queues them here and writes them all with one sendmsg; bodies are
 * not copied (the caller's bytes are written in place). The connection is plain TCP
 * (amqpc), so the frames go straight to its socket; rabbitmq-c reads, heartbeats and
 * everything else go on as before. */

#define FRAME_METHOD 1
#define FRAME_HEADER 2
#define FRAME_BODY 3
#define FRAME_END 0xCE

static int add_seg(rpc_conn *c, const uint8_t *ext, size_t off, size_t len)
{
    if (!len)
        return 0;
    if (!ext && c->nseg && !c->seg[c->nseg - 1].ext && c->seg[c->nseg - 1].off + c->seg[c->nseg - 1].len == off) {
        c->seg[c->nseg - 1].len += len; /* frame bytes right after frame bytes */
        return 0;
    }
    if (c->nseg == c->capseg) {
        size_t cap = c->capseg ? 2 * c->capseg : 64;
        struct outseg *ns = realloc(c->seg, cap * sizeof *ns);
        if (!ns)
            return -1;
        c->seg = ns;
        c->capseg = cap;
    }
    c->seg[c->nseg++] = (struct outseg){ext, off, len};
    return 0;
}

/* Frame bytes: a frame's 7-byte header (type, channel, size) is written first with
 * size 0 and patched once the payload is there. */
static size_t frame_begin(wbuf *w, int type)
{
    size_t at = w->len;
    wbuf_u8(w, (uint8_t)type);
    wbuf_u16(w, CH);
    wbuf_u32(w, 0);
    return at;
}

static void frame_end(wbuf *w, size_t at)
{
    if (wbuf_ok(w))
        wbuf_patch32(w, at + 3, (uint32_t)(w->len - at - 7));
    wbuf_u8(w, FRAME_END);
}

/* Encodes one basic.publish (method, header and body frames) into the queue. */
static int queue_publish(rpc_conn *c, const char *exchange, const char *rk, int mandatory,
                         amqp_basic_properties_t *props, const void *body, size_t len, mlhep_err *e)
{
    amqp_connection_state_t conn = raw(c);
    size_t frame_max = (size_t)amqp_get_frame_max(conn);
    if (frame_max < 4096)
        frame_max = 4096; /* the protocol's minimum (before tuning: none yet) */
    size_t start = c->out.len, out0 = start, nseg0 = c->nseg;
    int toolarge = 0;
    wbuf *w = &c->out;
    /* method frame: class and method ids, then the arguments */
    size_t at = frame_begin(w, FRAME_METHOD);
    wbuf_u32(w, AMQP_BASIC_PUBLISH_METHOD);
    amqp_basic_publish_t m;
    memset(&m, 0, sizeof m);
    m.exchange = amqp_cstring_bytes(exchange);
    m.routing_key = amqp_cstring_bytes(rk);
    m.mandatory = mandatory ? 1 : 0;
    size_t room = 8 + strlen(exchange) + strlen(rk);
    uint8_t *p = wbuf_reserve(w, room);
    int n = p ? amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &m, (amqp_bytes_t){room, p}) : -1;
    if (n < 0) {
        toolarge = p != NULL;
        goto fail;
    }
    w->len += (size_t)n;
    frame_end(w, at);
    /* header frame: class, weight, body size, then the properties (flags first) */
    at = frame_begin(w, FRAME_HEADER);
    wbuf_u16(w, AMQP_BASIC_CLASS);
    wbuf_u16(w, 0);
    wbuf_u64(w, (uint64_t)len);
    room = frame_max - 8 - 12; /* what a header frame can hold */
    p = wbuf_reserve(w, room);
    n = p ? amqp_encode_properties(AMQP_BASIC_CLASS, props, (amqp_bytes_t){room, p}) : -1;
    if (n < 0) {
        toolarge = p != NULL;
        goto fail;
    }
    w->len += (size_t)n;
    frame_end(w, at);
    /* body frames of at most frame_max bytes each, the bytes written in place */
    size_t chunk = frame_max - 8;
    for (size_t off = 0; off < len; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        at = frame_begin(w, FRAME_BODY);
        if (!wbuf_ok(w) || add_seg(c, NULL, out0, w->len - out0))
            goto fail;
        wbuf_patch32(w, at + 3, (uint32_t)k);
        if (add_seg(c, (const uint8_t *)body + off, 0, k))
            goto fail;
        out0 = w->len;
        wbuf_u8(w, FRAME_END);
    }
    if (!wbuf_ok(w) || add_seg(c, NULL, out0, w->len - out0))
        goto fail;
    return 0;
fail: /* the queue as it was before this message */
    c->out.len = start;
    c->nseg = nseg0;
    w->err = 0;
    if (toolarge)
        return err_set(e, MLHEP_EINVAL, "publish: the message's header does not fit a frame of %zu bytes", frame_max);
    return err_set(e, MLHEP_ENOMEM, "out of memory");
}

int rpc_flush(rpc_conn *c, mlhep_err *e)
{
    if (!c->nseg)
        return 0;
    int fd = rpc_fd(c);
    size_t i = 0, done = 0; /* the piece being written, and how much of it is gone */
    int rc = 0;
    while (i < c->nseg) {
        struct iovec iov[256];
        int k = 0;
        for (size_t j = i; j < c->nseg && k < 256; j++, k++) {
            const struct outseg *s = &c->seg[j];
            const uint8_t *b = s->ext ? s->ext : c->out.p + s->off;
            size_t skip = j == i ? done : 0;
            iov[k] = (struct iovec){(void *)(b + skip), s->len - skip};
        }
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)k;
        ssize_t sent = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = {fd, POLLOUT, 0};
                int pr = poll(&pf, 1, SEND_STALL_MS);
                if (pr > 0 || (pr < 0 && errno == EINTR))
                    continue;
                rc = amqpc_fail(c->a, AMQP_STATUS_TIMEOUT, "publish", e);
            } else {
                rc = amqpc_fail(c->a, AMQP_STATUS_SOCKET_ERROR, "publish", e);
            }
            break;
        }
        size_t left = (size_t)sent;
        while (left && i < c->nseg) {
            size_t rest = c->seg[i].len - done;
            if (left >= rest) {
                left -= rest;
                i++;
                done = 0;
            } else {
                done += left;
                left = 0;
            }
        }
    }
    c->nseg = 0;
    wbuf_reset(&c->out);
    return rc;
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
    rc = queue_publish(c, "", req->reply_to, 0, &props, body, len, e);
    return rc ? rc : rpc_flush(c, e);
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
    int rc = rpc_call_queue_as(c, exchange, rk, type, content_type, token, corr_id, expire_ms, body, len, e);
    return rc ? rc : rpc_flush(c, e);
}

int rpc_call_queue_as(rpc_conn *c, const char *exchange, const char *rk, const char *type, const char *content_type,
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
    rc = queue_publish(c, exchange, rk, 1, &props, body, len, e);
    if (rc)
        return rc;
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
