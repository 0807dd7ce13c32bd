/* readplan.h - fetching a block of entries' baskets in a few vector reads, and
 * fetching the next block in the background while the current one decodes.
 *
 * Latency, not bandwidth, limits remote reading: instead of one request per basket
 * (basket_read's default), a readplan gathers the (seek, nbytes) of every basket the
 * branches need for entries [a, z) (plus their counter branches), sorts them,
 * coalesces neighbours whose gap is small and fetches the result with one
 * source_readv per request (<= max_ranges ranges, <= max_request bytes). basket.h
 * then takes each basket's bytes from the plan's buffer (basket_read_many_plan,
 * basket_ctx_set_plan) instead of reading them. See root-format.md section 12.
 *
 * A readahead does this block after block: readahead_get(a, z) returns the plan of
 * [a, z) (prefetched if it was the predicted block, else fetched now) and starts
 * fetching [z, 2z - a) on one background thread. Memory: at most two blocks of
 * compressed bytes (the current plan and the next).
 *
 * Ownership: readplan_build() and readahead_new() allocate; readplan_free() and
 * readahead_free() release. A plan from readahead_get() belongs to the readahead
 * and stays valid until its next readahead_get() or readahead_free(). */
#ifndef MLHEP_READPLAN_H
#define MLHEP_READPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "root/rootfile.h"
#include "root/source.h"
#include "root/ttree.h"

typedef struct readplan_limits {
    uint64_t max_gap;     /* merge ranges separated by at most this many bytes (32 KiB) */
    size_t max_ranges;    /* ranges per request (1024) */
    uint64_t max_request; /* bytes per request and per merged range (16 MiB) */
} readplan_limits;

void readplan_limits_default(readplan_limits *l);

typedef struct rp_span {
    uint64_t off, len;
} rp_span;

typedef struct rp_range {
    uint64_t off, len;
    size_t req; /* the request (0, 1, ...) that fetches it */
} rp_range;

/* The planning itself, without I/O: sorts spans[0..n) in place, merges overlapping
 * spans and spans whose gap is <= max_gap (as long as the merged range stays
 * <= max_request; overlapping spans always merge), and assigns the ranges, in file
 * order, to requests of <= max_ranges ranges and <= max_request bytes (a range larger
 * than max_request gets a request of its own). Zero-length spans are dropped.
 * *out (malloc'd, caller frees; NULL when *nout is 0), *nreq requests. */
int readplan_coalesce(rp_span *spans, size_t n, const readplan_limits *lim, rp_range **out, size_t *nout, size_t *nreq,
                      mlhep_err *e);

typedef struct readplan readplan;

/* Plans the on-disk baskets of b[0..n) (and of their counter branches) that overlap
 * entries [a, z) of file f. Baskets lying outside the file are left out (basket_read
 * reports them). lim NULL: defaults. Nothing is read yet. */
int readplan_build(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, const readplan_limits *lim,
                   readplan **out, mlhep_err *e);
/* Reads every planned range from the plan's file: one source_readv per request. */
int readplan_fetch(readplan *p, mlhep_err *e);
/* The bytes [off, off+len) if the (fetched) plan holds them entirely, else NULL. */
const uint8_t *readplan_find(const readplan *p, uint64_t off, uint64_t len);
void readplan_free(readplan *p);

typedef struct readplan_info {
    size_t baskets;   /* basket records planned */
    size_t ranges;    /* after coalescing */
    size_t requests;  /* source_readv calls */
    uint64_t useful;  /* bytes of the baskets */
    uint64_t fetched; /* bytes read (useful + gaps) */
} readplan_info;
void readplan_get_info(const readplan *p, readplan_info *out);

typedef struct readahead readahead;

/* Block reader over branches b[0..n) (copied; the tbranches must outlive it) of f,
 * whose entries end at `entries`. lim NULL: defaults. */
int readahead_new(rootfile *f, const tbranch *const *b, int n, int64_t entries, const readplan_limits *lim,
                  readahead **out, mlhep_err *e);
/* The fetched plan of [a, z) (see above); errors of a prefetch surface here. */
int readahead_get(readahead *r, int64_t a, int64_t z, const readplan **plan, mlhep_err *e);
/* Blocks served from a prefetch / fetched on demand, so far. */
void readahead_stats(const readahead *r, uint64_t *prefetched, uint64_t *on_demand);
void readahead_free(readahead *r);

#endif
