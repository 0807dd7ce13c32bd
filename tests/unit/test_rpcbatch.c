/* test_rpcbatch.c - the batch message format (service/rpcbatch.h): what is written reads back
 * item for item (content types, empty and binary bodies, the most items allowed); every
 * damage is refused naming it (magic, version, reserved field, counts, a truncated item,
 * a content type that is not printable, bytes after the items, each single flipped bit
 * through the checksum); the writer refuses what the format cannot hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "service/rpcbatch.h"
#include "test.h"

static void write3(wbuf *w)
{
    static const uint8_t bin[] = {0, 1, 2, 0xff, 0};
    rpcbatch_begin(w);
    rpcbatch_add(w, NULL, "{\"a\":1}", 7);
    rpcbatch_add(w, "application/x-mlhep-columns", bin, sizeof bin);
    rpcbatch_add(w, "", "", 0);
}

/* re-seals a message changed in place (so that only the change under test is wrong) */
static void reseal(uint8_t *p, size_t len)
{
    uint64_t h = XXH64(p, len - 8, 0);
    for (int i = 0; i < 8; i++)
        p[len - 8 + i] = (uint8_t)(h >> (8 * i));
}

TEST(roundtrip)
{
    wbuf w = WBUF_INIT;
    mlhep_err e;
    write3(&w);
    CHECKF(rpcbatch_end(&w, &e) == 0, "%s", e.msg);
    CHECK(w.len == 12 + (1 + 4 + 7) + (1 + 27 + 4 + 5) + (1 + 4) + 8);
    CHECK(!memcmp(w.p, "MLHB\x01\x00\x00\x00\x03\x00\x00\x00", 12));
    rpcbatch_item *it;
    size_t n;
    CHECKF(rpcbatch_parse(w.p, w.len, &it, &n, &e) == 0, "%s", e.msg);
    CHECK(n == 3);
    CHECK(it[0].len == 7 && !memcmp(it[0].body, "{\"a\":1}", 7) && !strcmp(it[0].content_type, ""));
    CHECK(it[1].len == 5 && !memcmp(it[1].body, "\0\1\2\xff\0", 5) &&
          !strcmp(it[1].content_type, "application/x-mlhep-columns"));
    CHECK(it[2].len == 0 && !strcmp(it[2].content_type, ""));
    free(it);
    /* the most items allowed, then one more */
    rpcbatch_begin(&w);
    for (int i = 0; i < RPCBATCH_MAX_ITEMS; i++)
        rpcbatch_add(&w, "text/plain", &i, sizeof i);
    CHECKF(rpcbatch_end(&w, &e) == 0, "%s", e.msg);
    CHECK(rpcbatch_parse(w.p, w.len, &it, &n, &e) == 0 && n == RPCBATCH_MAX_ITEMS);
    int last;
    memcpy(&last, it[n - 1].body, sizeof last);
    CHECK(last == RPCBATCH_MAX_ITEMS - 1);
    free(it);
    wbuf_free(&w);
}

TEST(writer_refusals)
{
    wbuf w = WBUF_INIT;
    mlhep_err e;
    rpcbatch_begin(&w);
    CHECK(rpcbatch_end(&w, &e) == MLHEP_EINVAL && strstr(e.msg, "at least one item"));
    char longct[RPCBATCH_CTYPE_MAX + 2];
    memset(longct, 'a', sizeof longct - 1);
    longct[sizeof longct - 1] = '\0';
    rpcbatch_begin(&w);
    rpcbatch_add(&w, longct, "x", 1);
    CHECK(rpcbatch_end(&w, &e) == MLHEP_ENOMEM && strstr(e.msg, "content type longer than 63"));
    rpcbatch_begin(&w);
    rpcbatch_add(&w, "a\nb", "x", 1);
    CHECK(rpcbatch_end(&w, &e) == MLHEP_ENOMEM);
    rpcbatch_begin(&w);
    for (int i = 0; i <= RPCBATCH_MAX_ITEMS; i++)
        rpcbatch_add(&w, NULL, "x", 1);
    CHECK(rpcbatch_end(&w, &e) == MLHEP_ENOMEM && strstr(e.msg, "more than 4096 items"));
    /* begin starts over after a failure */
    rpcbatch_begin(&w);
    rpcbatch_add(&w, NULL, "x", 1);
    CHECK(rpcbatch_end(&w, &e) == 0);
    wbuf_free(&w);
}

static int refused(const uint8_t *p, size_t len, const char *says)
{
    rpcbatch_item *it = (rpcbatch_item *)1;
    size_t n = 99;
    mlhep_err e = {0};
    int rc = rpcbatch_parse(p, len, &it, &n, &e);
    if (rc != MLHEP_EFORMAT || it != NULL || n != 0 || !strstr(e.msg, says)) {
        printf("  expected a refusal saying '%s', got rc %d: %s\n", says, rc, e.msg);
        return 0;
    }
    return 1;
}

TEST(damage_refused)
{
    wbuf w = WBUF_INIT;
    mlhep_err e;
    write3(&w);
    CHECK(rpcbatch_end(&w, &e) == 0);
    size_t len = w.len;
    uint8_t *c = malloc(len + 8);
    CHECK(c);
#define FRESH() memcpy(c, w.p, len)
    FRESH();
    c[0] = 'X';
    CHECK(refused(c, len, "not a batch message"));
    CHECK(refused(c, 10, "not a batch message"));
    FRESH();
    c[4] = 2;
    reseal(c, len);
    CHECK(refused(c, len, "format version 2"));
    FRESH();
    c[6] = 1;
    reseal(c, len);
    CHECK(refused(c, len, "reserved field"));
    FRESH();
    memset(c + 8, 0, 4);
    reseal(c, len);
    CHECK(refused(c, len, "with 0 items"));
    FRESH();
    c[8] = 0xff;
    c[9] = 0xff; /* 65535 items: more than the maximum */
    reseal(c, len);
    CHECK(refused(c, len, "with 65535 items"));
    FRESH();
    c[8] = 200; /* more items than the bytes can hold */
    reseal(c, len);
    CHECK(refused(c, len, "too short for them"));
    FRESH();
    c[8] = 4; /* one more item than written: the last one is cut short */
    reseal(c, len);
    CHECK(refused(c, len, "item 4 of 4 is truncated"));
    FRESH();
    c[8] = 2; /* one item less: the third is left over */
    reseal(c, len);
    CHECK(refused(c, len, "bytes after its 2 items"));
    FRESH();
    c[12 + 12 + 1] = '\t'; /* item 2's content type */
    reseal(c, len);
    CHECK(refused(c, len, "item 2's content type"));
    FRESH();
    c[12 + 1] = 0xff; /* item 1's body length far beyond the message */
    reseal(c, len);
    CHECK(refused(c, len, "item 1 of 3 is truncated"));
    /* a byte added after the checksum, or the last byte cut off */
    FRESH();
    c[len] = 0;
    CHECK(refused(c, len + 1, "checksum"));
    CHECK(refused(c, len - 1, "checksum"));
    /* every single flipped bit is caught */
    for (size_t i = 0; i < len; i++)
        for (int b = 0; b < 8; b++) {
            FRESH();
            c[i] ^= (uint8_t)(1u << b);
            rpcbatch_item *it;
            size_t n;
            CHECKF(rpcbatch_parse(c, len, &it, &n, &e) == MLHEP_EFORMAT, "bit %d of byte %zu", b, i);
        }
#undef FRESH
    free(c);
    wbuf_free(&w);
}

int main(void)
{
    RUN(roundtrip);
    RUN(writer_refusals);
    RUN(damage_refused);
    return test_summary();
}
