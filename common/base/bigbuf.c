/* bigbuf.c - see bigbuf.h. */
#include "base/bigbuf.h"

#include <malloc.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define BIGBUF_MALLOC_ONLY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIGBUF_MALLOC_ONLY 1
#endif
#endif

#define HUGE ((size_t)1 << 21)

#ifndef BIGBUF_MALLOC_ONLY
static size_t mapped_size(size_t n)
{
    return (n + HUGE - 1) & ~(HUGE - 1);
}
#endif

void *bigbuf_alloc(size_t n)
{
#ifndef BIGBUF_MALLOC_ONLY
    if (n >= BIGBUF_MIN) {
        size_t m = mapped_size(n);
        if (m < n)
            return NULL;
        /* map one huge page more than needed and trim to a 2 MiB-aligned range */
        uint8_t *p = mmap(NULL, m + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        uintptr_t a = ((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1);
        uint8_t *q = (uint8_t *)a;
        if (q > p)
            munmap(p, (size_t)(q - p));
        size_t tail = (size_t)(p + m + HUGE - (q + m));
        if (tail)
            munmap(q + m, tail);
        madvise(q, m, MADV_HUGEPAGE); /* advice only: small pages if refused */
        return q;
    }
#endif
    return malloc(n ? n : 1);
}

void bigbuf_free(void *p, size_t n)
{
    (void)n;
    if (!p)
        return;
#ifndef BIGBUF_MALLOC_ONLY
    if (n >= BIGBUF_MIN) {
        munmap(p, mapped_size(n));
        return;
    }
#endif
    free(p);
}

/* Regions (or, in sanitizer builds, single pieces) the arena holds. */
struct bigarena {
    void **blk;
    size_t *len;
    size_t n, cap;
    uint8_t *cur; /* free space of the newest region */
    size_t left;
    size_t grow;  /* size of the next region (BIGARENA_FIRST doubling up to BIGARENA_REGION) */
};

bigarena *bigarena_new(void)
{
    return calloc(1, sizeof(bigarena));
}

void bigarena_free(bigarena *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        bigbuf_free(a->blk[i], a->len[i]);
    free(a->blk);
    free(a->len);
    free(a);
}

static int keep(bigarena *a, void *p, size_t len)
{
    if (a->n == a->cap) {
        size_t c = a->cap ? 2 * a->cap : 16;
        void **b = realloc(a->blk, c * sizeof *b);
        if (!b)
            return -1;
        a->blk = b;
        size_t *l = realloc(a->len, c * sizeof *l);
        if (!l)
            return -1;
        a->len = l;
        a->cap = c;
    }
    a->blk[a->n] = p;
    a->len[a->n] = len;
    a->n++;
    return 0;
}

void *bigarena_alloc(bigarena *a, size_t n)
{
    if (n > ((size_t)1 << 46))
        return NULL;
    n = (n + 63) & ~(size_t)63;
    if (!n)
        n = 64;
#ifdef BIGBUF_MALLOC_ONLY
    void *p = aligned_alloc(64, n); /* n is a multiple of 64 */
    if (p && keep(a, p, n)) {
        free(p);
        return NULL;
    }
    return p;
#else
    if (n > a->left) {
        /* small regions first (malloc), doubling up to huge-page regions: an arena that
         * stays small (a small file's reader) never holds a whole huge page */
        size_t len = a->grow ? a->grow : BIGARENA_FIRST;
        while (len < n && len < BIGARENA_REGION)
            len *= 2;
        if (n > len)
            len = mapped_size(n);
        a->grow = len < BIGARENA_REGION ? 2 * len : BIGARENA_REGION;
        uint8_t *r = bigbuf_alloc(len);
        if (!r)
            return NULL;
        if (keep(a, r, len)) {
            bigbuf_free(r, len);
            return NULL;
        }
        a->cur = r;
        a->left = len;
    }
    void *p = a->cur;
    a->cur += n;
    a->left -= n;
    return p;
#endif
}

int bigbuf_retain_freed(void)
{
    /* glibc: allocations below the mmap threshold come from the heap, and the heap is
     * trimmed only past the trim threshold; 32 MiB is the largest threshold it takes */
    int ok = mallopt(M_MMAP_THRESHOLD, 32 << 20);
    ok &= mallopt(M_TRIM_THRESHOLD, 512 << 20);
    /* and one arena for every thread: a thread's own arena grows in heaps of its own
     * that are unmapped as soon as they are wholly free, whatever the trim threshold,
     * so a buffer of many MB filled by one thread (the gateway's connection thread)
     * and freed by another came from fresh pages every time (measured: 10 times the
     * page faults, 20% of the gateway's CPU per 15 MB v2 request). Small allocations
     * stay in each thread's cache and do not take the arena's lock. */
    ok &= mallopt(M_ARENA_MAX, 1);
    return ok ? 0 : -1;
}
