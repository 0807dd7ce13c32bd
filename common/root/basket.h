/* basket.h - decoding a branch's baskets into typed column buffers, by entry range.
 *
 * Built on ttree.h (which baskets exist, what they hold) and rootfile.h (bytes,
 * decompression). basket_read() returns the values of branch B for entries [a, b)
 * decoding only the baskets that overlap the range, straight into the column's
 * buffers (byte-swapped in one pass; no per-entry allocation). Buffers are reused
 * across calls, so streaming a file chunk by chunk costs memory proportional to the
 * chunk, not the file. basket_read_many() spreads several branches over threads.
 *
 * Ownership: a column is the caller's struct; basket_read() grows its buffers as
 * needed and column_free() releases them. A basket_ctx holds per-thread scratch
 * (record buffer, decompression buffer and state); one per thread. */
#ifndef MLHEP_BASKET_H
#define MLHEP_BASKET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/team.h"
#include "root/rootfile.h"
#include "root/ttree.h"

typedef struct column {
    dtype dt;
    int jagged;          /* 1: offsets give each entry's values */
    int64_t first;       /* first entry held */
    int64_t n;           /* entries held */
    int64_t per_entry;   /* values per entry for flat (1) and fixed arrays; per element for jagged x[n][k] */
    int64_t *offsets;    /* jagged: n+1 value offsets, offsets[0] == 0 */
    void *values;        /* nvalues values of dt, host byte order */
    size_t nvalues;
    size_t cap_values;   /* capacity of values in bytes */
    size_t cap_offsets;  /* capacity in entries+1 */
    struct bigarena *arena; /* NULL: buffers are malloc'd; else taken from this arena
                               (bigbuf.h), which must outlive the column */
} column;

void column_init(column *c);
void column_free(column *c);

typedef struct basket_ctx basket_ctx;
basket_ctx *basket_ctx_new(void); /* NULL if out of memory */
/* Same, with the scratch buffers (decompressed baskets) in an arena of huge pages
 * (bigbuf.h), which columns decoded by the same thread may share
 * (column.arena = basket_ctx_arena(ctx)): first touches of fresh memory are the
 * dominant cost of opening a file on some virtual machines. */
basket_ctx *basket_ctx_new_big(void);
struct bigarena *basket_ctx_arena(basket_ctx *c); /* NULL for basket_ctx_new() contexts */
void basket_ctx_free(basket_ctx *c);

/* Basket bytes fetched in advance (readplan.h). With a plan set, a basket whose
 * record the plan holds is decoded from the plan's buffer; others are read from the
 * file as usual. The plan is not owned and must outlive its use; NULL unsets. */
typedef struct readplan readplan;
void basket_ctx_set_plan(basket_ctx *c, const readplan *plan);

/* Bytes decompressed so far by this context (uncompressed basket bytes), for benchmarks. */
uint64_t basket_ctx_bytes(const basket_ctx *c);

/* Values of branch b (kind flat, fixed_array or jagged) for entries [a, z).
 * ctx may be NULL (a temporary one is made). */
int basket_read(rootfile *f, const tbranch *b, int64_t a, int64_t z, column *out, basket_ctx *ctx, mlhep_err *e);

/* Reads n branches over [a, z) into out[0..n) using up to nthreads threads (a team
 * started for the call). When the file's source has native vector reads (root://,
 * http(s)://), the baskets are first fetched with a readplan (a few requests instead
 * of one per basket). */
int basket_read_many(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, column *out, int nthreads,
                     mlhep_err *e);

/* Same on the caller's team (base/team.h; NULL: the calling thread alone), kept
 * across calls, with caller-owned per-thread contexts ctxs[0..team_size(tm)) (so
 * scratch buffers are not reallocated for every block); thread i reads branches i,
 * i + team_size, ... so its context's basket cache keeps following them. */
int basket_read_many_ctx(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, column *out,
                         basket_ctx *const *ctxs, team *tm, mlhep_err *e);

/* Same (ctxs may be NULL: branches go to whichever thread is free, each with a
 * temporary context), taking basket bytes from plan (fetched, e.g. by a readahead)
 * where it holds them; plan NULL: one source read per basket, whatever the source.
 * The contexts do not keep the plan after the call. */
int basket_read_many_plan(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, column *out,
                          basket_ctx *const *ctxs, team *tm, const readplan *plan, mlhep_err *e);

/* Only decompress the baskets of b overlapping [a, z) (no decoding), for benchmarks:
 * adds the uncompressed bytes to *bytes. */
int basket_inflate_only(rootfile *f, const tbranch *b, int64_t a, int64_t z, basket_ctx *ctx, uint64_t *bytes,
                        mlhep_err *e);

/* Value i of a column as double (for statistics and printing). */
double column_get(const column *c, size_t i);

#endif
