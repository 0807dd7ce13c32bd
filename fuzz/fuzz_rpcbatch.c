/* fuzz_rpcbatch.c - fuzzes the batch message parser (common/service/rpcbatch.c), which
 * mlhep-infer runs on message bodies from the broker and the gateway on the worker's
 * replies.
 *
 * Input: the bytes of a message. When they parse, every item's body is read whole (ASan
 * catches a view past the buffer) and the items are written again: the copy must parse
 * to the same items. The same bytes re-sealed with a correct checksum go through the
 * parser too, so that the fuzzer gets past the checksum to the item layout.
 * Corpus: fuzz/corpus/rpcbatch (valid batches of 1 to 3 items). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "service/rpcbatch.h"

static void check(const uint8_t *data, size_t size)
{
    rpcbatch_item *it;
    size_t n;
    mlhep_err e;
    if (rpcbatch_parse(data, size, &it, &n, &e))
        return;
    volatile uint8_t s = 0;
    wbuf w = WBUF_INIT;
    rpcbatch_begin(&w);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < it[i].len; k++)
            s ^= ((const uint8_t *)it[i].body)[k];
        rpcbatch_add(&w, it[i].content_type, it[i].body, it[i].len);
    }
    (void)s;
    rpcbatch_item *again;
    size_t m;
    if (rpcbatch_end(&w, &e) || rpcbatch_parse(w.p, w.len, &again, &m, &e) || m != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (again[i].len != it[i].len || memcmp(again[i].body, it[i].body, it[i].len) ||
            strcmp(again[i].content_type, it[i].content_type))
            abort();
    free(again);
    wbuf_free(&w);
    free(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size >= 20) {
        uint8_t *c = malloc(size);
        if (!c)
            return 0;
        memcpy(c, data, size);
        uint64_t h = XXH64(c, size - 8, 0);
        for (int i = 0; i < 8; i++)
            c[size - 8 + i] = (uint8_t)(h >> (8 * i));
        check(c, size);
        free(c);
    }
    return 0;
}
