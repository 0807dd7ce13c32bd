/* gwhttp.h - a request and its response as the gateway's handlers see them, apart
 * from the HTTP server library.
 *
 * The server glue (httpd.c, on libmicrohttpd) fills a gw_req from the connection and
 * turns the gw_resp a handler filled into the library's response; handlers, unit tests
 * and fuzzers never see the library. A response is either a body (malloc'ed, freed by
 * whoever sends it) or a reader that produces the body piece by piece (Server-Sent
 * Events, archives), plus a few extra headers.
 *
 * Errors are JSON everywhere: {"error": "a sentence a user can act on", "code":
 * "bad_request"}, with the HTTP status that fits (gw_resp_error). */
#ifndef MLHEP_GW_HTTP_H
#define MLHEP_GW_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

#define GW_MAX_HEADERS 8

/* A request body taken while it arrives, for a route that reads it chunk by chunk
 * (gateway_body_sink): feed gets every chunk in order, on the server's event loop, and
 * keeps any error to itself (the handler asks it at the end); release frees it, once. */
typedef struct gw_sink {
    void *s;
    void (*feed)(void *s, const void *p, size_t n);
    void (*release)(void *s);
} gw_sink;

typedef struct gw_req {
    const char *method;
    const char *path;     /* decoded, without the query string */
    const char *body;     /* NULL when empty or taken by sink */
    size_t body_len;
    const char *peer;     /* client address, for logs */
    int tls;              /* the connection is TLS */
    /* header (case-insensitive name) and query argument lookups; NULL when absent */
    const char *(*header)(void *cls, const char *name);
    const char *(*query)(void *cls, const char *name);
    void *cls;
    const gw_sink *sink;  /* the body went to the route's sink (body_len: its size), else NULL */
} gw_req;

/* Produces up to max bytes of a streamed body at pos: bytes written (> 0), 0 when
 * nothing is ready yet, GW_READER_END at the end, or GW_READER_ERROR. Never blocks: it
 * runs on the server's event loop. On 0 the server parks the connection until the
 * producer calls wake (below). */
#define GW_READER_END ((ssize_t)-1)
#define GW_READER_ERROR ((ssize_t)-2)
typedef ssize_t (*gw_reader)(void *cls, uint64_t pos, char *buf, size_t max);

/* The server's side of a streamed body, handed to the producer once (stream_attach)
 * before the first read: wake(srv) when the reader may have something new (any
 * thread, any time until release), release(srv) once, when the producer will never
 * call wake again (before it frees itself). */
typedef struct gw_wakeup {
    void (*wake)(void *srv);
    void (*release)(void *srv);
    void *srv;
} gw_wakeup;

typedef struct gw_resp {
    int status;
    char content_type[96];
    char *body;           /* malloc'ed */
    size_t len;
    gw_reader reader;     /* streamed body instead of body (length unknown unless reader_sized) */
    int reader_sized;     /* the streamed body is reader_size bytes (Content-Length) */
    uint64_t reader_size;
    void *reader_cls;
    void (*reader_free)(void *cls);
    void (*stream_attach)(void *reader_cls, const gw_wakeup *w); /* NULL: never parks */
    int nheaders;
    char hname[GW_MAX_HEADERS][40];
    char hvalue[GW_MAX_HEADERS][256];
    const char *code;     /* the error code of an error response (for logs), else NULL */
} gw_resp;

const char *gw_header(const gw_req *r, const char *name);
const char *gw_query(const gw_req *r, const char *name);

/* Adds a response header (ignored past GW_MAX_HEADERS; values cut at 255 bytes). */
void gw_resp_header(gw_resp *o, const char *name, const char *value);

/* Body helpers; each replaces what o held. Return 0, or MLHEP_ENOMEM after turning o
 * into a 500 response. */
int gw_resp_bytes(gw_resp *o, int status, const char *content_type, const void *data, size_t len);
int gw_resp_take(gw_resp *o, int status, const char *content_type, char *data, size_t len);
/* Serialises j compactly (steals the reference). */
int gw_resp_json(gw_resp *o, int status, json_t *j);
/* {"error": msg, "code": code}; code among bad_request, unauthorized, forbidden,
 * not_found, method_not_allowed, conflict, too_large, unsupported_media_type,
 * too_many_requests, unknown_model, unknown_branch, internal, unavailable, timeout. */
int gw_resp_error(gw_resp *o, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The HTTP status and code that fit an mlhep error code (MLHEP_EINVAL -> 400
 * bad_request, MLHEP_EAUTH -> 403, MLHEP_ENOTFOUND -> 404, MLHEP_ENOMEM -> 413,
 * MLHEP_ENET -> 503, others 500). */
void gw_status_for(int mlhep_code, int *status, const char **code);

/* Frees what o holds (body, reader) and zeroes it. */
void gw_resp_clear(gw_resp *o);

/* The token of an "Authorization: Bearer TOKEN" header (scheme case-insensitive),
 * pointing into the header, or NULL. */
const char *gw_bearer(const gw_req *r);

/* 1 if the request's Content-Type is mime (parameters such as charset ignored). */
int gw_content_type_is(const gw_req *r, const char *mime);

/* Decodes the %XX escapes of a URL path or query argument in place and returns the new
 * length - except %2F ('/') and %00 (NUL), which stay as they are: an encoded slash
 * cannot add a path segment (so it cannot reach another route or climb a directory)
 * and a NUL cannot cut the path short; such a path then matches no route (404). The
 * server glue gives it to libmicrohttpd as its unescaper. */
size_t gw_unescape(char *s);

/* s (NULL: "-") made safe for one field of a log line: bytes outside printable ASCII,
 * spaces, '"', '%' and '\\' become %XX, so a path cannot start a new line or forge
 * fields; cut to fit out (ending "..." when cut). out always NUL-terminated. */
void gw_log_text(char *out, size_t outsz, const char *s);

#endif
