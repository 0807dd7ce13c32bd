/* artifacts.h - the artifact store: a directory tree, one directory per job.
 *
 * Layout: <root>/<user>/<job id>/ holds one complete set of a job's artifacts
 * (model.json, metrics.json, job.log, MANIFEST.json, ...). A worker writes into a
 * private temp dir <root>/<user>/.tmp-<id>-L<lease>-<random>/ and publishes it with a
 * single rename(2) onto the final name. rename onto an existing non-empty directory
 * fails, so the first complete set wins and no later attempt (a redelivery, a worker
 * that lost its lease) can replace or mix into it: at most one set per job, always
 * complete. MANIFEST.json records which attempt (lease, worker) produced the set and
 * the size and SHA-256 of every file. A set may hold sub-directories (a workflow's
 * params.hist histograms): files are named by their path relative to the set,
 * "hists/index.html", at most ARTIFACTS_DEPTH_MAX segments deep. */
#ifndef MLHEP_ARTIFACTS_H
#define MLHEP_ARTIFACTS_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

/* Longest artifact name (relative path) and deepest nesting, in segments. */
#define ARTIFACTS_NAME_MAX 192 /* the gateway serves a name as one path parameter (route.h) */
#define ARTIFACTS_DEPTH_MAX 3

/* 1 if name can name a file of a set: 1..3 '/'-separated segments of [A-Za-z0-9._@-],
 * none empty, "." or "..", shorter than ARTIFACTS_NAME_MAX in all. Everything that
 * lists, serves or fetches a set's files holds to it (a file the pipeline wrote under a
 * longer name stays in the store and out of the manifest). */
int artifacts_name_valid(const char *name);

/* rename found a set already in place (returned by artifacts_commit, not an error) */
#define ARTIFACTS_EXISTS 1

/* Final directory path of a job's artifacts. */
int artifacts_final_path(const char *root, const char *user, const char *id, char *out,
                         size_t outsz, mlhep_err *e);

/* Creates the per-user directory if needed and a fresh private temp dir; path in out. */
int artifacts_tmpdir(const char *root, const char *user, const char *id, long long lease,
                     char *out, size_t outsz, mlhep_err *e);

/* Writes MANIFEST.json into dir: the fields of info (borrowed) plus "files":
 * [{"name","bytes","sha256"}] for every regular file in dir and its sub-directories
 * (links and names artifacts_name_valid refuses are left out). */
int artifacts_manifest(const char *dir, json_t *info, mlhep_err *e);

/* fsyncs every file in tmp and tmp itself, then renames tmp to final. Returns 0,
 * ARTIFACTS_EXISTS when final already holds a set (tmp is left for the caller to
 * remove), or an error. */
int artifacts_commit(const char *tmp, const char *final, mlhep_err *e);

/* 1 if name (a directory entry of <root>/<user>/) is a temp dir made by artifacts_tmpdir,
 * with its job id (id[JOB_ID_HEX + 1]) and lease; 0 if not. */
int artifacts_tmpdir_parse(const char *name, char *id, long long *lease);

/* Removes a set's directory and everything in it (links removed, never followed). */
int artifacts_remove(const char *dir, mlhep_err *e);

/* Creates directory path and its missing parents (the last one mode 0750). */
int artifacts_mkdirs(const char *path, mlhep_err *e);

/* Copies every file of src, sub-directories included, into dst (created if missing). */
int artifacts_copy(const char *src, const char *dst, mlhep_err *e);

#endif
