/* bigbuf.h - large scratch buffers backed by transparent huge pages.
 *
 * The data layer's chunk buffers are tens of MB, touched for the first time by every
 * new dataset. On virtual machines the first touch of each 4 KiB page is a costly
 * fault (about 20 us measured on this project's PVM guest, more than decoding the
 * page's worth of events); with 2 MiB pages it is some 30 times cheaper. Buffers of
 * BIGBUF_MIN bytes or more are mapped 2 MiB-aligned with MADV_HUGEPAGE (the kernel
 * falls back to small pages when it has no huge page to give); smaller ones, and
 * every buffer in sanitizer builds (so that ASan keeps checking them), come from
 * malloc. Contents are not initialised.
 *
 * A bigarena hands out many buffers from a few regions: the reader's per-branch
 * buffers (decompressed baskets, decoded columns) are each too small for a huge page of
 * their own. Regions start at BIGARENA_FIRST bytes (from malloc) and double up to
 * BIGARENA_REGION (huge-page mappings from then on), so an arena that stays small - the
 * reader of a small file, one of thousands a job keeps open - costs tens of KiB, not a
 * 2 MiB huge page; a buffer larger than a region gets a mapping of its own. Nothing is freed
 * before the arena itself: a buffer that must grow takes a new piece (callers grow
 * geometrically, so the abandoned pieces stay below the final size). In sanitizer
 * builds every piece is its own malloc, so ASan still sees each buffer's bounds.
 *
 * Ownership: bigbuf_alloc(n) is released with bigbuf_free(p, n), the same n; arena
 * pieces belong to the arena (bigarena_free). An arena is used by one thread at a
 * time. */
#ifndef MLHEP_BIGBUF_H
#define MLHEP_BIGBUF_H

#include <stddef.h>

#define BIGBUF_MIN ((size_t)1 << 21)

/* Servers that take requests of many MB (the gateway, mlhep-infer) would otherwise get
 * each request's buffers from fresh mmap(2)s and pay the first-touch faults above on
 * every request: this process-wide malloc setting, made once at start (it is the
 * program's configuration, like the thread count), keeps freed buffers of up to 32 MiB
 * in the heap for the next request to reuse, in one arena shared by all threads (a
 * buffer filled by one thread and freed by another is reused too). Returns 0, or -1 if
 * libc refused. */
int bigbuf_retain_freed(void);

void *bigbuf_alloc(size_t n); /* NULL if out of memory (n == 0 gives a valid small block) */
void bigbuf_free(void *p, size_t n);

#define BIGARENA_FIRST ((size_t)64 << 10)
#define BIGARENA_REGION ((size_t)4 << 20)

typedef struct bigarena bigarena;
bigarena *bigarena_new(void); /* NULL if out of memory */
void bigarena_free(bigarena *a);
/* n bytes aligned to 64, valid until bigarena_free; NULL if out of memory. */
void *bigarena_alloc(bigarena *a, size_t n);

#endif
