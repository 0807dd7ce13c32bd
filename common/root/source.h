/* source.h - where ROOT bytes come from: a random-access byte source.
 *
 * The reader never opens files itself; it asks a source for byte ranges. A source is
 * a small vtable (read_at, readv, close) so local files (pread), XRootD and HTTP
 * sources plug in behind the same calls; readv takes many ranges at once so remote
 * sources can turn a chunk's baskets into one vector read. Sources are safe to read
 * from several threads at once (local: pread has no shared file position).
 *
 * The back ends implement this interface and know nothing of each other; opening a
 * path or URL with the right one is source_open.h, above them all.
 *
 * Ownership: source_open*() allocates; source_close() frees. Buffers in ranges are
 * the caller's. */
#ifndef MLHEP_SOURCE_H
#define MLHEP_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct source source;

typedef struct source_range {
    uint64_t off; /* file offset */
    size_t len;   /* bytes wanted */
    void *buf;    /* where to put them (len bytes) */
} source_range;

typedef struct source_ops {
    /* Reads exactly len bytes at off into buf, or fails. */
    int (*read_at)(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e);
    /* Reads every range, or fails; NULL means "loop over read_at". */
    int (*readv)(source *s, source_range *r, size_t n, mlhep_err *e);
    void (*close)(source *s);
} source_ops;

struct source {
    const source_ops *ops;
    uint64_t size;  /* total bytes */
    char name[512]; /* path or URL, for messages */
    void *impl;     /* owned by the implementation */
    /* counters for benchmarks and tests (updated with relaxed atomics): requests that
     * reached the implementation (a remote readv split to server limits counts each
     * part), bytes asked for */
    uint64_t n_requests, n_bytes;
    /* remote sources: the file's first and last bytes, read once at open, so the
     * metadata walk (header, directory, keys, tree record) costs no round trips
     * (source_load_edges; NULL for local sources) */
    struct source_edges *edges;
};

/* Opening by path or URL (picking the back end) is source_open.h. */
int source_open_local(const char *path, source **out, mlhep_err *e);
/* A source over bytes in memory (not copied: buf must outlive the source). */
int source_open_memory(const void *buf, size_t len, const char *name, source **out, mlhep_err *e);

/* Exact read of [off, off+len); reading past the end is a format error ("truncated"). */
int source_read(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e);
int source_readv(source *s, source_range *r, size_t n, mlhep_err *e);
void source_close(source *s);

/* For back ends: a zeroed source with ops, name (copied, cut to fit) and impl_size
 * zeroed bytes at s->impl (NULL when 0). ops->close frees what impl holds and impl
 * itself; source_close() then frees the source. */
int source_new(const source_ops *ops, const char *name, size_t impl_size, source **out, mlhep_err *e);

/* Reads the first and last 64 KiB of s once and serves later reads inside them from
 * memory (the metadata walk then costs no round trips); for remote sources. */
int source_load_edges(source *s, mlhep_err *e);

#endif
