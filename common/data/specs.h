/* specs.h - the data layer's first pass: what every feature looks like.
 *
 * specs_compute() streams every input file once (through evsource, so with the
 * pre-processing applied: new branches computed, cuts applied) and records, per
 * feature branch, min, max, mean and standard deviation over the events that pass
 * the cuts, and per jagged branch the length distribution, from which the padded
 * length is chosen: the user's cap if given, else the smallest length that holds
 * 99.5% of events (never more than the maximum seen, never more than 256), so one
 * outlier event cannot blow up the row width. Per-file counts of raw and passing
 * events drive the mixing of files into chunks.
 *
 * specs.json carries a fingerprint of everything it depends on (files with size and
 * modification time, labels, tree, branch selection, pre-processing, caps); a saved
 * file is reused only when the fingerprint matches (MLaaS4HEP silently reused stale
 * ones; a specs.json of an input feature without its "type", written before types were
 * recorded, is treated as stale too). specs_plan() decides which branches are read and which are features; the
 * dataset module turns specs into rows.
 *
 * Ownership: specs_* results are heap objects freed with specs_free(). */
#ifndef MLHEP_SPECS_H
#define MLHEP_SPECS_H

#include <jansson.h>
#include <stdint.h>

#include "base/err.h"
#include "data/preproc.h"
#include "data/dataparams.h"

#define SPECS_MAX_JAGGED_DEFAULT 256
#define SPECS_LEN_BINS 1025 /* histogram of jagged lengths 0..1023, last bin = 1024 or more */

typedef struct specs_feature {
    char *name;
    int jagged;       /* 0 flat, 1 jagged (fixed arrays count as jagged) */
    int is_new;       /* defined by the preproc */
    char type[12];    /* input branches: the values' type in the file, dtype_name() ("float32",
                         "int32", ...; "float32" too for a Double32_t stored as float);
                         "" for new features */
    double min, max, mean, std;
    int64_t count;    /* values seen */
    int max_len;      /* jagged: longest list seen */
    int len;          /* jagged: padded length in the rows (1 for flat) */
    int64_t *len_hist; /* jagged: SPECS_LEN_BINS counts (NULL for flat) */
} specs_feature;

typedef struct specs {
    char fingerprint[65];
    char *tree;
    size_t nfiles;
    char **files;
    int64_t *entries;    /* raw entries per file */
    int64_t *events;     /* events passing the cuts per file */
    int64_t total_events;
    size_t nfeat;        /* flat features first, then jagged, in tree order then new */
    specs_feature *feat;
    size_t nread;        /* input branches to read (features, preproc inputs, ids, label) */
    char **read;
    size_t nid;          /* identifier branches present in the tree */
    char **ids;
    int width;           /* row width: flat features + sum of jagged lengths */
} specs;

/* Which branches to read and which are features, from the first file's tree (metadata
 * only, no entries are read). Entries of selected_branches and exclude_branches are
 * branch names or shell patterns ("GenPart_*", fnmatch(3)); exclude_branches applies to
 * the pre-processing's new branches too. An entry that matches no branch of the tree
 * (nor a new branch) is refused, naming the closest branch ("did you mean"): a typo is
 * never silently ignored. */
int specs_plan(const dataparams *dp, const preproc *pp, specs **out, mlhep_err *e);

/* Compiles dp->preproc and the event weight dp->weight (preproc_compile_weighted; NULL
 * when there is neither) against the first file's tree. */
int specs_preproc(const dataparams *dp, preproc **out, mlhep_err *e);

typedef void (*specs_progress_fn)(void *ctx, size_t file, size_t nfiles, int64_t done, int64_t total);

/* The full pass. progress may be NULL. */
int specs_compute(const dataparams *dp, const preproc *pp, specs_progress_fn progress, void *pctx, specs **out,
                  mlhep_err *e);

/* ---- the pass in parts (the unit of a fanned-out specs pass, see fanout.h) ----------
 * Entries of a file are grouped into accumulation units of SPECS_UNIT_ENTRIES (a multiple
 * of the 8192-entry read block). A part holds, for a run of consecutive units of one file,
 * what the pass gathers: min, max, count, length histogram, and the sum and sum of
 * squares of every unit separately. Folding parts in (file, unit) order gives exactly
 * (bit for bit) what specs_compute gives, which is itself a fold of one part per file. */
#define SPECS_UNIT_ENTRIES (2 * 8192)

typedef struct specs_part_feat {
    double min, max;        /* +inf / -inf when no value */
    int64_t count;
    int max_len;
    int64_t *len_hist;      /* jagged: SPECS_LEN_BINS counts, else NULL */
    long double *sum, *sumsq; /* nunits entries */
} specs_part_feat;

typedef struct specs_part {
    size_t file;            /* index in dp->files */
    int64_t unit0, nunits;  /* units covered */
    int64_t entries;        /* the file's raw entries */
    int64_t events;         /* entries passing the cuts in these units */
    size_t nfeat;           /* = the plan's */
    specs_part_feat *feat;
} specs_part;

/* Streams units [unit0, unit0 + nunits) of file `file` (nunits < 0 or past the end: to
 * the end of the file) with plan's branches and features (plan from specs_plan on the
 * whole input, pp from specs_preproc). *out freed with specs_part_free. */
int specs_part_compute(const dataparams *dp, const preproc *pp, const specs *plan, size_t file,
                       int64_t unit0, int64_t nunits, specs_progress_fn progress, void *pctx,
                       specs_part **out, mlhep_err *e);
void specs_part_free(specs_part *p);

/* The part as a JSON document (format described in specs.c) and back; from_json checks
 * the document against plan (same features, in range) and refuses anything else. */
json_t *specs_part_to_json(const specs *plan, const specs_part *p);
int specs_part_from_json(const json_t *doc, const specs *plan, specs_part **out, mlhep_err *e);

/* The reduce: specs_folder_new takes ownership of plan (freed on error too); parts are
 * added in (file, unit) order covering every unit of every file once (anything else is
 * refused); finish returns the specs of dp's inputs (the folder is freed either way on
 * success; on error call specs_folder_free). */
typedef struct specs_folder specs_folder;
int specs_folder_new(const dataparams *dp, specs *plan, specs_folder **out, mlhep_err *e);
int specs_folder_add(specs_folder *f, const specs_part *p, mlhep_err *e);
int specs_folder_finish(specs_folder *f, const dataparams *dp, specs **out, mlhep_err *e);
void specs_folder_free(specs_folder *f);

/* Fingerprint of the inputs (hex sha256), as stored in specs.json. */
int specs_fingerprint(const dataparams *dp, char out[65], mlhep_err *e);

int specs_save(const specs *s, const char *path, mlhep_err *e);
/* Loads path if its fingerprint equals want; MLHEP_ENOTFOUND if absent, MLHEP_EINVAL
 * (with the reason) if stale or malformed. */
int specs_load(const char *path, const char *want, specs **out, mlhep_err *e);
json_t *specs_to_json(const specs *s);
void specs_free(specs *s);

/* Index of a feature by name, or -1. */
int specs_find(const specs *s, const char *name);

#endif
