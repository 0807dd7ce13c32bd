/* source.c - byte sources: the calls every back end serves, the local-file and
 * in-memory implementations and the head/tail cache of remote sources (see source.h).
 * Which back end a path or URL goes to is source_open.c's business: this file knows
 * none of the remote ones. */
#include "root/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of the start and of the end of a remote file kept from the open on: the
 * header, top directory and (for files written in one go) keys lists, streamer info
 * and tree records are there. */
#define EDGE_BYTES ((size_t)64 * 1024)

struct source_edges {
    uint64_t tail_off;  /* file offset of tail[0] */
    size_t head_len, tail_len;
    uint8_t *head, *tail;
};

int source_load_edges(source *s, mlhep_err *e)
{
    if (s->size == 0)
        return 0;
    struct source_edges *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    g->head_len = s->size < EDGE_BYTES ? (size_t)s->size : EDGE_BYTES;
    g->tail_off = s->size - (s->size - g->head_len < EDGE_BYTES ? s->size - g->head_len : EDGE_BYTES);
    g->tail_len = (size_t)(s->size - g->tail_off);
    g->head = malloc(g->head_len + g->tail_len + 1);
    if (!g->head) {
        free(g);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    g->tail = g->head + g->head_len;
    source_range r[2] = {{0, g->head_len, g->head}, {g->tail_off, g->tail_len, g->tail}};
    int rc = source_readv(s, r, g->tail_len ? 2 : 1, e);
    if (rc) {
        free(g->head);
        free(g);
        return rc;
    }
    s->edges = g;
    return 0;
}

static void edges_free(struct source_edges *g)
{
    if (g) {
        free(g->head);
        free(g);
    }
}

/* Serves [off, off+len) from the cached edges if it lies inside one. */
static int edges_get(const struct source_edges *g, uint64_t off, size_t len, void *buf)
{
    if (!g)
        return 0;
    if (off + len <= g->head_len) {
        memcpy(buf, g->head + off, len);
        return 1;
    }
    if (off >= g->tail_off && off + len <= g->tail_off + g->tail_len) {
        memcpy(buf, g->tail + (off - g->tail_off), len);
        return 1;
    }
    return 0;
}

int source_new(const source_ops *ops, const char *name, size_t impl_size, source **out, mlhep_err *e)
{
    *out = NULL;
    source *s = calloc(1, sizeof *s);
    void *impl = impl_size ? calloc(1, impl_size) : NULL;
    if (!s || (impl_size && !impl)) {
        free(s);
        free(impl);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    s->ops = ops;
    s->impl = impl;
    snprintf(s->name, sizeof s->name, "%s", name);
    *out = s;
    return 0;
}

typedef struct local_impl {
    int fd;
} local_impl;

static int local_read_at(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e)
{
    local_impl *li = s->impl;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(li->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return err_set(e, MLHEP_EIO, "read of %zu bytes at offset %llu failed: %s", len,
                           (unsigned long long)off, strerror(errno));
        }
        if (r == 0)
            return err_set(e, MLHEP_EFORMAT, "file is truncated: wanted %zu bytes at offset %llu, file has %llu",
                           len, (unsigned long long)off, (unsigned long long)s->size);
        done += (size_t)r;
    }
    return 0;
}

static void local_close(source *s)
{
    local_impl *li = s->impl;
    if (li) {
        close(li->fd);
        free(li);
    }
}

static const source_ops local_ops = {local_read_at, NULL, local_close};

int source_open_local(const char *path, source **out, mlhep_err *e)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, errno == ENOENT ? MLHEP_ENOTFOUND : MLHEP_EIO, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, MLHEP_EIO, "not a regular file");
    }
    source *s;
    int rc = source_new(&local_ops, path, sizeof(local_impl), &s, e);
    if (rc) {
        close(fd);
        return rc;
    }
    ((local_impl *)s->impl)->fd = fd;
    s->size = (uint64_t)st.st_size;
    *out = s;
    return 0;
}

static int mem_read_at(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e)
{
    (void)e;
    memcpy(buf, (const char *)s->impl + off, len);
    return 0;
}

static const source_ops mem_ops = {mem_read_at, NULL, NULL};

int source_open_memory(const void *buf, size_t len, const char *name, source **out, mlhep_err *e)
{
    int rc = source_new(&mem_ops, name, 0, out, e);
    if (!rc) {
        (*out)->size = len;
        (*out)->impl = (void *)buf;
    }
    return rc;
}

int source_read(source *s, uint64_t off, size_t len, void *buf, mlhep_err *e)
{
    if (off > s->size || len > s->size - off)
        return err_set(e, MLHEP_EFORMAT, "file is truncated or corrupt: wanted %zu bytes at offset %llu, file has %llu",
                       len, (unsigned long long)off, (unsigned long long)s->size);
    if (edges_get(s->edges, off, len, buf))
        return 0;
    __atomic_add_fetch(&s->n_requests, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->n_bytes, len, __ATOMIC_RELAXED);
    return s->ops->read_at(s, off, len, buf, e);
}

int source_readv(source *s, source_range *r, size_t n, mlhep_err *e)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].off > s->size || r[i].len > s->size - r[i].off)
            return err_set(e, MLHEP_EFORMAT, "file is truncated or corrupt: wanted %zu bytes at offset %llu, file has %llu",
                           r[i].len, (unsigned long long)r[i].off, (unsigned long long)s->size);
    if (s->ops->readv) {
        __atomic_add_fetch(&s->n_requests, 1, __ATOMIC_RELAXED);
        for (size_t i = 0; i < n; i++)
            __atomic_add_fetch(&s->n_bytes, r[i].len, __ATOMIC_RELAXED);
        return s->ops->readv(s, r, n, e);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = source_read(s, r[i].off, r[i].len, r[i].buf, e);
        if (rc)
            return rc;
    }
    return 0;
}

void source_close(source *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->close)
        s->ops->close(s);
    edges_free(s->edges);
    free(s);
}
