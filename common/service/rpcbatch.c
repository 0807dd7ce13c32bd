/* rpcbatch.c - several prediction requests or replies in one broker message: the format
 * (field by field in rpcbatch.h), written and read. */
#include "service/rpcbatch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/cursor.h"

#define MAGIC "MLHB"
#define VERSION 1
#define HEAD 12 /* magic, version, reserved, count */

void rpcbatch_begin(wbuf *w)
{
    wbuf_reset(w);
    w->err = 0;
    wbuf_put(w, MAGIC, 4);
    wbuf_le16(w, VERSION);
    wbuf_le16(w, 0);
    wbuf_le32(w, 0); /* the count, patched as items come */
}

static uint32_t count_of(const wbuf *w)
{
    cursor c;
    cur_init(&c, w->p + 8, 4);
    return cur_le32(&c);
}

static int ctype_ok(const char *s, size_t n)
{
    if (n > RPCBATCH_CTYPE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

void rpcbatch_add(wbuf *w, const char *content_type, const void *body, size_t len)
{
    size_t t = content_type ? strlen(content_type) : 0;
    if (!wbuf_ok(w) || w->len < HEAD || !ctype_ok(content_type, t) || len > UINT32_MAX) {
        w->err = 1;
        return;
    }
    uint32_t n = count_of(w) + 1;
    if (n > RPCBATCH_MAX_ITEMS) {
        w->err = 1;
        return;
    }
    wbuf_u8(w, (uint8_t)t);
    wbuf_put(w, content_type, t);
    wbuf_le32(w, (uint32_t)len);
    wbuf_put(w, body, len);
    if (wbuf_ok(w))
        wbuf_store_le32(w->p + 8, n);
}

int rpcbatch_end(wbuf *w, mlhep_err *e)
{
    uint32_t n = 0;
    if (wbuf_ok(w) && w->len >= HEAD)
        n = count_of(w);
    if (!wbuf_ok(w) || w->len < HEAD)
        return err_set(e, MLHEP_ENOMEM, "cannot write a batch message (out of memory, more than %d items, or an "
                                        "item's content type longer than %d bytes or not printable)",
                       RPCBATCH_MAX_ITEMS, RPCBATCH_CTYPE_MAX);
    if (n == 0)
        return err_set(e, MLHEP_EINVAL, "a batch message needs at least one item");
    wbuf_le64(w, XXH64(w->p, w->len, 0));
    return wbuf_ok(w) ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory writing a batch message");
}

int rpcbatch_parse(const void *buf, size_t len, rpcbatch_item **items, size_t *nitems, mlhep_err *e)
{
    *items = NULL;
    *nitems = 0;
    if (len < HEAD + 8 || memcmp(buf, MAGIC, 4))
        return err_set(e, MLHEP_EFORMAT, "not a batch message (magic '%s' and %d bytes at least)", MAGIC, HEAD + 8);
    cursor c;
    cur_init(&c, buf, len - 8);
    cur_skip(&c, 4);
    unsigned version = cur_le16(&c);
    if (version != VERSION)
        return err_set(e, MLHEP_EFORMAT, "batch message format version %u (this build reads %d)", version, VERSION);
    if (cur_le16(&c) != 0)
        return err_set(e, MLHEP_EFORMAT, "batch message: reserved field is not 0");
    uint32_t n = cur_le32(&c);
    if (n == 0 || n > RPCBATCH_MAX_ITEMS)
        return err_set(e, MLHEP_EFORMAT, "batch message with %u items (1 to %d)", (unsigned)n, RPCBATCH_MAX_ITEMS);
    cursor k;
    cur_init(&k, (const uint8_t *)buf + len - 8, 8);
    uint64_t sum = cur_le64(&k);
    if (sum != XXH64(buf, len - 8, 0))
        return err_set(e, MLHEP_EFORMAT, "batch message: checksum mismatch (damaged or truncated)");
    /* each item is at least 5 bytes: a count beyond what the bytes can hold is refused
     * before anything is allocated */
    if ((size_t)n > cur_left(&c) / 5)
        return err_set(e, MLHEP_EFORMAT, "batch message: %u items announced, the message is too short for them",
                       (unsigned)n);
    rpcbatch_item *it = calloc(n, sizeof *it);
    if (!it)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        size_t t = cur_u8(&c);
        const uint8_t *ct = cur_take(&c, t);
        uint32_t b = cur_le32(&c);
        const uint8_t *body = cur_take(&c, b);
        if (!cur_ok(&c)) {
            free(it);
            return err_set(e, MLHEP_EFORMAT, "batch message: item %u of %u is truncated", (unsigned)i + 1, (unsigned)n);
        }
        if (!ctype_ok((const char *)ct, t)) {
            free(it);
            return err_set(e, MLHEP_EFORMAT, "batch message: item %u's content type is too long or not printable",
                           (unsigned)i + 1);
        }
        memcpy(it[i].content_type, ct, t);
        it[i].content_type[t] = '\0';
        it[i].body = body;
        it[i].len = b;
    }
    if (cur_left(&c)) {
        free(it);
        return err_set(e, MLHEP_EFORMAT, "batch message: %zu bytes after its %u items", cur_left(&c), (unsigned)n);
    }
    *items = it;
    *nitems = n;
    return 0;
}
