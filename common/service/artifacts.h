/* artifacts.h - the artifact store: a directory tree, one directory per job.
 *
 * Layout: <root>/<user>/<job id>/ holds one complete set of a job's artifacts
 * (model.json, metrics.json, job.log, MANIFEST.json, ...). A worker writes into a
 * private temp dir <root>/<user>/.tmp-<id>-L<lease>-<random>/ and publishes it with a
 * single rename(2) onto the final name. rename onto an existing non-empty directory
 * fails, so the first complete set wins and no later attempt (a redelivery, a worker
 * that lost its lease) can replace or mix into it: at most one set per job, always
 * complete. MANIFEST.json records which attempt (lease, worker) produced the set and
 * the size and SHA-256 of every file. */
#ifndef MLHEP_ARTIFACTS_H
#define MLHEP_ARTIFACTS_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

/* rename found a set already in place (returned by artifacts_commit, not an error) */
#define ARTIFACTS_EXISTS 1

/* Final directory path of a job's artifacts. */
int artifacts_final_path(const char *root, const char *user, const char *id, char *out,
                         size_t outsz, mlhep_err *e);

/* Creates the per-user directory if needed and a fresh private temp dir; path in out. */
int artifacts_tmpdir(const char *root, const char *user, const char *id, long long lease,
                     char *out, size_t outsz, mlhep_err *e);

/* Writes MANIFEST.json into dir: the fields of info (borrowed) plus "files":
 * [{"name","bytes","sha256"}] for every regular file in dir. */
int artifacts_manifest(const char *dir, json_t *info, mlhep_err *e);

/* fsyncs every file in tmp and tmp itself, then renames tmp to final. Returns 0,
 * ARTIFACTS_EXISTS when final already holds a set (tmp is left for the caller to
 * remove), or an error. */
int artifacts_commit(const char *tmp, const char *final, mlhep_err *e);

/* 1 if name (a directory entry of <root>/<user>/) is a temp dir made by artifacts_tmpdir,
 * with its job id (id[JOB_ID_HEX + 1]) and lease; 0 if not. */
int artifacts_tmpdir_parse(const char *name, char *id, long long *lease);

/* Removes a directory and the regular files in it (one level, as written here). */
int artifacts_remove(const char *dir, mlhep_err *e);

/* Creates directory path and its missing parents (the last one mode 0750). */
int artifacts_mkdirs(const char *path, mlhep_err *e);

/* Copies every regular file of src into dst (created if missing). */
int artifacts_copy(const char *src, const char *dst, mlhep_err *e);

#endif
