/* wbuf.c - growable big-endian output buffer (see wbuf.h). */
#include "base/wbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"

void wbuf_free(wbuf *w)
{
    free(w->p);
    w->p = NULL;
    w->len = w->cap = 0;
}

uint8_t *wbuf_reserve(wbuf *w, size_t more)
{
    if (w->err)
        return NULL;
    if (more > SIZE_MAX / 2 - w->len) {
        w->err = 1;
        return NULL;
    }
    if (w->len + more > w->cap) {
        /* double (amortised appends), or exactly what is asked when that is more: a
         * writer that reserves its whole size once gets that size, not the next power
         * of two */
        size_t nc = w->cap ? w->cap * 2 : 256;
        if (nc < w->len + more)
            nc = w->len + more;
        uint8_t *np = realloc(w->p, nc);
        if (!np) {
            w->err = 1;
            return NULL;
        }
        w->p = np;
        w->cap = nc;
    }
    return w->p + w->len;
}

void wbuf_put(wbuf *w, const void *src, size_t n)
{
    uint8_t *d = wbuf_reserve(w, n);
    if (!d)
        return;
    if (n)
        memcpy(d, src, n);
    w->len += n;
}

void wbuf_zero(wbuf *w, size_t n)
{
    uint8_t *d = wbuf_reserve(w, n);
    if (!d)
        return;
    memset(d, 0, n);
    w->len += n;
}

void wbuf_printf(wbuf *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    uint8_t *d = n < 0 ? NULL : wbuf_reserve(w, (size_t)n + 1);
    if (!d) {
        w->err = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        memcpy(d, tmp, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf((char *)d, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    w->len += (size_t)n;
}

void wbuf_u8(wbuf *w, uint8_t v) { wbuf_put(w, &v, 1); }

void wbuf_u16(wbuf *w, uint16_t v)
{
    uint8_t b[2];
    be_put16(b, v);
    wbuf_put(w, b, 2);
}

void wbuf_u32(wbuf *w, uint32_t v)
{
    uint8_t b[4];
    be_put32(b, v);
    wbuf_put(w, b, 4);
}

void wbuf_u64(wbuf *w, uint64_t v)
{
    uint8_t b[8];
    be_put64(b, v);
    wbuf_put(w, b, 8);
}

void wbuf_f32(wbuf *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    wbuf_u32(w, u);
}

void wbuf_f64(wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    wbuf_u64(w, u);
}

size_t wbuf_rootstr_len(const char *s)
{
    size_t n = strlen(s);
    return n < 255 ? 1 + n : 5 + n;
}

void wbuf_rootstr(wbuf *w, const char *s)
{
    size_t n = strlen(s);
    if (n < 255) {
        wbuf_u8(w, (uint8_t)n);
    } else {
        wbuf_u8(w, 255);
        wbuf_u32(w, (uint32_t)n);
    }
    wbuf_put(w, s, n);
}

void wbuf_cstr(wbuf *w, const char *s) { wbuf_put(w, s, strlen(s) + 1); }

size_t wbuf_bc_begin(wbuf *w)
{
    size_t pos = w->len;
    wbuf_u32(w, 0);
    return pos;
}

void wbuf_patch32(wbuf *w, size_t pos, uint32_t v)
{
    if (w->err || pos + 4 > w->len)
        return;
    be_put32(w->p + pos, v);
}

void wbuf_bc_end(wbuf *w, size_t pos)
{
    wbuf_patch32(w, pos, (uint32_t)(w->len - pos - 4) | 0x40000000u);
}

void wbuf_le16(wbuf *w, uint16_t v)
{
    uint8_t b[2];
    wbuf_store_le16(b, v);
    wbuf_put(w, b, 2);
}

void wbuf_le32(wbuf *w, uint32_t v)
{
    uint8_t b[4];
    wbuf_store_le32(b, v);
    wbuf_put(w, b, 4);
}

void wbuf_le64(wbuf *w, uint64_t v)
{
    uint8_t b[8];
    wbuf_store_le64(b, v);
    wbuf_put(w, b, 8);
}

void wbuf_lef32(wbuf *w, float v)
{
    uint8_t b[4];
    wbuf_store_lef32(b, v);
    wbuf_put(w, b, 4);
}

void wbuf_lef64(wbuf *w, double v)
{
    uint8_t b[8];
    wbuf_store_lef64(b, v);
    wbuf_put(w, b, 8);
}

void wbuf_str(wbuf *w, const char *s)
{
    size_t n = strlen(s);
    uint8_t *dst = wbuf_reserve(w, n + 1);
    if (!dst)
        return;
    memcpy(dst, s, n + 1);
    w->len += n;
}
