/* gwhttp.c - see gwhttp.h. */
#include "gateway/gwhttp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *gw_header(const gw_req *r, const char *name)
{
    return r->header ? r->header(r->cls, name) : NULL;
}

const char *gw_query(const gw_req *r, const char *name)
{
    return r->query ? r->query(r->cls, name) : NULL;
}

void gw_resp_header(gw_resp *o, const char *name, const char *value)
{
    if (o->nheaders >= GW_MAX_HEADERS)
        return;
    snprintf(o->hname[o->nheaders], sizeof o->hname[0], "%s", name);
    snprintf(o->hvalue[o->nheaders], sizeof o->hvalue[0], "%s", value);
    o->nheaders++;
}

void gw_resp_clear(gw_resp *o)
{
    free(o->body);
    if (o->reader_free)
        o->reader_free(o->reader_cls);
    memset(o, 0, sizeof *o);
}

static void drop_body(gw_resp *o)
{
    free(o->body);
    o->body = NULL;
    o->len = 0;
    if (o->reader_free)
        o->reader_free(o->reader_cls);
    o->reader = NULL;
    o->reader_cls = NULL;
    o->reader_free = NULL;
    o->reader_sized = 0;
    o->reader_size = 0;
}

static int oom(gw_resp *o)
{
    drop_body(o);
    static const char msg[] = "{\"error\":\"the gateway ran out of memory\",\"code\":\"internal\"}";
    o->status = 500;
    snprintf(o->content_type, sizeof o->content_type, "application/json");
    o->body = malloc(sizeof msg);
    if (o->body) {
        memcpy(o->body, msg, sizeof msg);
        o->len = sizeof msg - 1;
    }
    o->code = "internal";
    return MLHEP_ENOMEM;
}

int gw_resp_take(gw_resp *o, int status, const char *content_type, char *data, size_t len)
{
    drop_body(o);
    o->status = status;
    snprintf(o->content_type, sizeof o->content_type, "%s", content_type);
    o->body = data;
    o->len = len;
    return 0;
}

int gw_resp_bytes(gw_resp *o, int status, const char *content_type, const void *data, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return oom(o);
    if (len)
        memcpy(p, data, len);
    p[len] = '\0';
    return gw_resp_take(o, status, content_type, p, len);
}

int gw_resp_json(gw_resp *o, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return oom(o);
    return gw_resp_take(o, status, "application/json", s, strlen(s));
}

int gw_resp_error(gw_resp *o, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:s, s:s}", "error", msg, "code", code);
    int rc = gw_resp_json(o, status, j);
    o->code = code;
    return rc;
}

void gw_status_for(int mlhep_code, int *status, const char **code)
{
    switch (mlhep_code) {
    case MLHEP_EINVAL:
    case MLHEP_EFORMAT:
    case MLHEP_EUNSUPPORTED:
        *status = 400;
        *code = "bad_request";
        break;
    case MLHEP_EAUTH:
        *status = 403;
        *code = "forbidden";
        break;
    case MLHEP_ENOTFOUND:
        *status = 404;
        *code = "not_found";
        break;
    case MLHEP_ENOMEM:
        *status = 413;
        *code = "too_large";
        break;
    case MLHEP_ENET:
        *status = 503;
        *code = "unavailable";
        break;
    default:
        *status = 500;
        *code = "internal";
        break;
    }
}

const char *gw_bearer(const gw_req *r)
{
    const char *h = gw_header(r, "Authorization");
    if (!h)
        return NULL;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return NULL;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    return *h ? h : NULL;
}

int gw_content_type_is(const gw_req *r, const char *mime)
{
    const char *h = gw_header(r, "Content-Type");
    if (!h)
        return 0;
    while (*h == ' ')
        h++;
    size_t n = strlen(mime);
    if (strncasecmp(h, mime, n) != 0)
        return 0;
    return h[n] == '\0' || h[n] == ';' || h[n] == ' ';
}

void gw_log_text(char *out, size_t outsz, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!outsz)
        return;
    if (!s)
        s = "-";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = c > 0x20 && c < 0x7f && c != '"' && c != '%' && c != '\\';
        size_t need = plain ? 1 : 3;
        if (o + need + 1 > outsz) {
            /* cut: end with "..." if there is room for it */
            size_t at = outsz >= 4 ? outsz - 4 : 0;
            if (o > at)
                o = at;
            for (size_t i = 0; i < 3 && o + 1 < outsz; i++)
                out[o++] = '.';
            break;
        }
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t gw_unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0) {
            int c = hi * 16 + lo;
            if (c != '/' && c != 0) {
                *w++ = (char)c;
                r += 3;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    return (size_t)(w - s);
}
