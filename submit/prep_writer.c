/* prep_writer.c - see prep_writer.h. One thread and a one-chunk hand-over slot guarded
 * by a mutex: put waits until the slot is free, fills it and signals; the thread writes
 * the chunk and frees the slot. The .npy rows and masks go out with O_DIRECT (base/npy),
 * so the thread mostly waits for the disk while both cores build the next chunk. */
#include "prep_writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/npy.h"

struct prep_writer {
    char outdir[4096];
    int npy;
    rowexport *rx;
    feathist *fh;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy;      /* a chunk is in the slot */
    int stop;
    ds_chunk c;    /* the slot */
    long n;
    int rc;        /* first error, in err */
    mlhep_err err;
};

static int write_chunk(prep_writer *w, const ds_chunk *c, long n, mlhep_err *e)
{
    struct { const char *suffix, *descr; const void *data; size_t elem, cols; int ndim; } out[] = {
        {"x", "<f4", c->x, 4, (size_t)c->width, 2},      {"mask", "|u1", c->mask, 1, (size_t)c->width, 2},
        {"y", "<f4", c->y, 4, 1, 1},                      {"w", "<f4", c->w, 4, 1, 1},
        {"ids", "<i8", c->ids, 8, c->nid, 2},
        {"file", "<u4", c->file, 4, 1, 1},                {"entry", "<i8", c->entry, 8, 1, 1},
        {"split", "|u1", c->split, 1, 1, 1},
    };
    char path[4200];
    for (size_t k = 0; w->npy && k < sizeof out / sizeof out[0]; k++) {
        if (!strcmp(out[k].suffix, "ids") && c->nid == 0)
            continue;
        snprintf(path, sizeof path, "%s/chunk_%04ld_%s.npy", w->outdir, n, out[k].suffix);
        int rc = npy_write(path, out[k].descr, out[k].data, out[k].elem, c->nrows, out[k].cols, out[k].ndim, e);
        if (rc)
            return rc;
    }
    if (w->rx) {
        int rc = rowexport_chunk(w->rx, c, e);
        if (rc)
            return rc;
    }
    if (w->fh)
        feathist_fill(w->fh, c);
    return 0;
}

static void *writer_main(void *arg)
{
    prep_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy)
            break;
        ds_chunk c = w->c;
        long n = w->n;
        int skip = w->rc != 0; /* after an error nothing more is written */
        pthread_mutex_unlock(&w->mu);
        mlhep_err e = {0};
        int rc = skip ? 0 : write_chunk(w, &c, n, &e);
        pthread_mutex_lock(&w->mu);
        if (rc && !w->rc) {
            w->rc = rc;
            w->err = e;
        }
        w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int prep_writer_start(const char *outdir, int npy, rowexport *rx, feathist *fh, prep_writer **out, mlhep_err *e)
{
    *out = NULL;
    prep_writer *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    snprintf(w->outdir, sizeof w->outdir, "%s", outdir);
    w->npy = npy;
    w->rx = rx;
    w->fh = fh;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return err_set(e, MLHEP_ENOMEM, "cannot start the writer thread");
    }
    *out = w;
    return 0;
}

/* waits for the slot to empty; returns the first error not yet reported (under mu) */
static int wait_idle(prep_writer *w, mlhep_err *e)
{
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->rc) {
        *e = w->err;
        return w->rc;
    }
    return 0;
}

int prep_writer_put(prep_writer *w, const ds_chunk *c, long n, mlhep_err *e)
{
    pthread_mutex_lock(&w->mu);
    int rc = wait_idle(w, e);
    if (!rc) {
        w->c = *c;
        w->n = n;
        w->busy = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int prep_writer_finish(prep_writer *w, mlhep_err *e)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    int rc = wait_idle(w, e);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return rc;
}
