/* reqparse.h - a small dedicated parser for the two common JSON prediction request
 * forms, TFaaS {"model","keys","values"} and {"model","rows":[{...}]}, straight into
 * model rows: no jansson tree, no allocation per request.
 *
 * How it fits: the inference worker (mlhep_infer.c) spent ~70% of its CPU on single-row
 * requests building and freeing jansson trees. It now tries this parser first; it
 * accepts only a strict SUBSET of what the jansson path (schema_view + jschema_validate
 * + featmap_from_request) accepts, and gives bit-identical rows for it:
 *   - the top level is an object of exactly "model" + ("keys" and "values" | "rows"),
 *     each at most once, nothing after it but JSON whitespace;
 *   - the model reference matches the schema's pattern
 *     ^[A-Za-z0-9][A-Za-z0-9_.-]*(@([0-9]+|latest))?$ (1..160 bytes);
 *   - strings are printable ASCII without escapes, quotes or commas (branch names of
 *     the model, which the schema's name rule admits);
 *   - every branch of the model given exactly once (per row), none unknown; a flat
 *     branch takes a number, a jagged one a list of at most 100000 numbers;
 *   - numbers follow the JSON grammar and are converted as jansson does (integers with
 *     strtoll, refused on overflow; reals with strtod, refused on overflow), at most 63
 *     characters; values of float32 branches are then rounded to float32 like every
 *     path does (featmap_norm).
 * Anything else (including every error) returns REQPARSE_OTHER and the caller runs the
 * jansson path, which produces the error reply naming the problem. Reads go through a
 * bounds-checked reader (every byte access is checked against the end).
 *
 * Ownership: reqparse is a caller struct (zero it), reusable between requests, released
 * with reqparse_free; its views point into the parsed buffer. */
#ifndef MLHEP_REQPARSE_H
#define MLHEP_REQPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "data/featmap.h"

#define REQPARSE_OTHER 1 /* not for the fast path: use the general parser */

typedef struct reqparse {
    char model[161];             /* the model reference */
    const char *keys, *keys_end; /* spans of the members' values in the buffer */
    const char *values, *values_end;
    const char *rows, *rows_end;
    int32_t *kidx;               /* keys -> feature index (reused) */
    size_t kcap;
} reqparse;

/* Pass 1: the envelope. 0 (model and spans filled) or REQPARSE_OTHER. */
int reqparse_scan(reqparse *p, const char *buf, size_t len);
/* Pass 2: the rows of fm into b->x (b->mask is not filled). 0, REQPARSE_OTHER, or
 * MLHEP_ENOMEM when the scratch cannot be allocated. */
int reqparse_rows(reqparse *p, const featmap *fm, featmap_batch *b);
void reqparse_free(reqparse *p);

#endif
