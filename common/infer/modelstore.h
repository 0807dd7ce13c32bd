/* modelstore.h - trained models by name and version, and the inference worker's LRU cache.
 *
 * How it fits: a training job leaves <artifact_dir>/<user>/<job id>/model.mlhep
 * (artifacts.h). A model is referred to either by that job id (32 hex digits, the
 * owner's own jobs only) or by a NAME given to it with modelstore_tag(): every tag
 * makes a new immutable VERSION (a copy of the model file and the job's metrics), so
 * `ttH@3` always means the same bytes and `ttH` / `ttH@latest` the newest version.
 *
 * Registry layout, under the artifact root (user names never start with '.'):
 *   .models/.lock                    flock(2) taken by every writer
 *   .models/NAME/index.json          {"name","owner","shared","created","next",
 *                                     "versions":[{"version","job","created","kind",
 *                                     "features":[names],"width","outputs","bytes",
 *                                     "metrics":{scalars of the job's metrics.json}}]}
 *   .models/NAME/vN/model.mlhep      the model of version N (+ metrics.json if any)
 * index.json is replaced atomically (temp file + rename), so readers never see half a
 * document and need no lock.
 *
 * Names: 1-128 of [A-Za-z0-9_.-], starting with a letter or digit, not 32 hex digits
 * (those are job ids). A name belongs to the user who tagged it first; only the owner
 * adds versions, deletes or shares. Access: a user resolves their own models and the
 * names their owners marked shared; everything else is MLHEP_EAUTH ("forbidden"), an
 * unknown name or version MLHEP_ENOTFOUND.
 *
 * The cache (mscache) keeps up to max_models loaded models within max_bytes, evicting
 * the least recently used. A resolution (user, reference) -> file is reused for ttl
 * seconds; after that the reference is resolved again and the file's identity (device,
 * inode, size, mtime) checked, so a new `@latest` version or a deleted one is seen
 * within ttl. Not thread-safe: one cache per worker thread (the worker is one thread).
 *
 * Ownership: modelstore_open/mscache_new allocate; modelstore_close/mscache_free free.
 * Models returned by mscache_get belong to the cache and stay valid until the next
 * mscache_get or mscache_free. */
#ifndef MLHEP_MODELSTORE_H
#define MLHEP_MODELSTORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "service/job.h"
#include "infer/predict.h"

#define MS_NAME_MAX 128
#define MS_REF_MAX (MS_NAME_MAX + 24)

typedef struct modelstore modelstore;

/* root: the artifact store's root directory (configuration key artifact_dir). */
int modelstore_open(const char *root, modelstore **out, mlhep_err *e);
void modelstore_close(modelstore *ms);

/* 1 if s is a valid model name (see above). */
int modelstore_name_valid(const char *s);

typedef struct ms_ref {
    char canonical[MS_REF_MAX]; /* "ttH@3", or the job id */
    char owner[JOB_USER_MAX + 1];
    char path[4096];            /* the model file */
    int shared;
    int version;                /* 0 for a job id */
} ms_ref;

/* Resolves "ID", "NAME", "NAME@N" or "NAME@latest" for user. */
int modelstore_resolve(modelstore *ms, const char *user, const char *ref, ms_ref *out, mlhep_err *e);

/* Makes version N+1 of name from user's job (its model.mlhep must exist; the model file
 * is checked by loading it). Creates the name (owned by user) if new; `shared` < 0
 * leaves the sharing flag as it is (new names: not shared). *version may be NULL. */
int modelstore_tag(modelstore *ms, const char *user, const char *job_id, const char *name, int shared,
                   int *version, mlhep_err *e);

/* "NAME@N" deletes one version, "NAME" (or NAME@all) the name and every version. */
int modelstore_delete(modelstore *ms, const char *user, const char *ref, mlhep_err *e);

int modelstore_share(modelstore *ms, const char *user, const char *name, int shared, mlhep_err *e);

/* What user can use: {"models":[index documents of own and shared names, plus "mine"],
 * "jobs":[{"id","created","kind","features","width","outputs","bytes"}] for the user's
 * jobs holding a model file}. *out: new reference. */
int modelstore_list(modelstore *ms, const char *user, json_t **out, mlhep_err *e);

/* ---- LRU cache of loaded models ---- */

typedef struct mscache mscache;

typedef struct mscache_opts {
    size_t max_models; /* default 16 */
    size_t max_bytes;  /* default 1 GiB */
    double ttl_s;      /* default 1 s */
} mscache_opts;

typedef struct mscache_stats {
    size_t models, bytes;
    uint64_t hits, misses, loads, evictions;
} mscache_stats;

int mscache_new(modelstore *ms, const mscache_opts *o, mscache **out, mlhep_err *e);
void mscache_free(mscache *c);

/* The model user means by ref (now: seconds, any monotonic clock). *canonical points
 * into the cache ("ttH@3"), valid like the model. */
int mscache_get(mscache *c, const char *user, const char *ref, double now, predict_model **m,
                const char **canonical, mlhep_err *e);

void mscache_get_stats(const mscache *c, mscache_stats *s);

#endif
