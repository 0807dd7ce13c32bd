/* preproc.h - the MLaaS4HEP pre-processing document (preproc.json), compiled against
 * the branch schema of the input tree before any data is read, then applied chunk by
 * chunk: new branches are computed, cuts give one event mask, and the list of
 * branches to drop from the features is known up front.
 *
 * Document (all sections optional, entries processed in document order):
 *   {
 *     "new_branch": { NAME: { "def": EXPR, "type": "flat"|"jagged",
 *                             "cut" | "cut_1", "cut_2", ...: CUT,
 *                             "remove": "True"|"False"|true|false,
 *                             "keys_to_remove": [BRANCH, ...] } },
 *     "flat_cut":   { BRANCH: { "cut" | "cut_i": CUT, "remove": ... } },
 *     "jagged_cut": { BRANCH: { "cut" | "cut_i": CUT, "remove": ... } }
 *   }
 *   CUT is either a string, a flat expression (one value per event: "x<=2",
 *   "1<=x<=16", "count(Jet_pt) >= 2"), or a list [EXPR, "any"|"all"] whose EXPR is
 *   jagged and is reduced per event (any: at least one element passes; all: every
 *   element passes, so an empty list passes).
 * Rules:
 *   - A new branch's def may use the input branches and the new branches defined
 *     before it; its "type" must match the kind of def (if "type" is absent the kind
 *     of def is used). Its cuts may also use the new branch itself. Its name must be
 *     a valid expression name and must not exist yet.
 *   - flat_cut keys must be flat branches, jagged_cut keys jagged branches (input or
 *     new). Their cut expressions may use any branch.
 *   - All cuts are AND-combined into one event mask (1 = keep the event).
 *   - Removed branches: new branches with remove true, every keys_to_remove entry,
 *     and flat_cut/jagged_cut branches with remove true. They are still read and
 *     computed when an expression needs them; they just never become features.
 *   - Unknown keys, wrong value types and bad expressions are errors naming the
 *     place: "preproc: new_branch 'ht': def: expression 'sum(Jet_ptt)': column 5:
 *     unknown branch 'Jet_ptt'".
 * Limits: the document text is at most PREPROC_MAX_TEXT bytes; each expression has
 * the limits of expr.h.
 *
 * Threading: a compiled preproc is immutable; each thread applies it with its own
 * preproc_ws. */
#ifndef MLHEP_PREPROC_H
#define MLHEP_PREPROC_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "data/expr.h"

#define PREPROC_MAX_TEXT (1 << 20)

struct json_t;
typedef struct preproc preproc;

/* Compiles the document in text[0..len) (JSON; duplicate keys are an error) against
 * schema (the input branches; not retained). On success *out is new (free with
 * preproc_free). Errors: MLHEP_EINVAL (bad document), MLHEP_ENOMEM. */
int preproc_compile(const char *text, size_t len, const expr_schema *schema, preproc **out,
                    mlhep_err *e);
/* Same from an already parsed jansson value (not retained). */
int preproc_compile_json(const struct json_t *doc, const expr_schema *schema, preproc **out,
                         mlhep_err *e);
void preproc_free(preproc *pp);

/* The same with an event weight: `weight` (may be NULL) is a flat expression over the
 * input branches and the new branches, compiled as one more new branch named
 * PREPROC_WEIGHT_NAME after the document's, which is removed from the features; errors
 * in it are prefixed "weight". doc may be NULL (no pre-processing, only the weight). */
#define PREPROC_WEIGHT_NAME "mlhep.weight"
int preproc_compile_weighted(const struct json_t *doc, const char *weight,
                             const expr_schema *schema, preproc **out, mlhep_err *e);
/* Index among the new branches of the weight, or -1 without one (pp may be NULL). */
int preproc_weight_index(const preproc *pp);

/* New branches in definition order. */
size_t preproc_nnew(const preproc *pp);
const char *preproc_new_name(const preproc *pp, size_t i);
expr_kind preproc_new_kind(const preproc *pp, size_t i);
const expr *preproc_new_expr(const preproc *pp, size_t i);

/* Cuts (each a flat expression; the event mask is their AND). The label names the
 * cut's place in the document, e.g. "new_branch 'log_E' cut_2". */
size_t preproc_ncuts(const preproc *pp);
const char *preproc_cut_label(const preproc *pp, size_t i);
const expr *preproc_cut_expr(const preproc *pp, size_t i);

/* Branches (input or new) to drop from the features, in document order, no repeats. */
size_t preproc_nremoved(const preproc *pp);
const char *preproc_removed(const preproc *pp, size_t i);
int preproc_is_removed(const preproc *pp, const char *name);

/* Input branches the expressions read, in schema order: the reader must read them
 * even when they are excluded from or removed from the features. */
size_t preproc_nneeded(const preproc *pp);
const char *preproc_needed(const preproc *pp, size_t i);

/* The input schema followed by the new branches. */
const expr_schema *preproc_schema(const preproc *pp);

/* Per-thread evaluation state: one expression workspace per new branch (their
 * columns stay valid together) and one for the cuts. */
typedef struct preproc_ws preproc_ws;
preproc_ws *preproc_ws_new(const preproc *pp); /* NULL on allocation failure */
void preproc_ws_free(preproc_ws *ws);

/* Applies pp to a chunk of n events whose input columns are inputs[0..ninputs)
 * (looked up by name; at least the preproc_needed branches). On success:
 *   *new_cols points at preproc_nnew(pp) columns (name, kind, offsets, values) owned by
 *             ws, valid until the next preproc_apply with ws or preproc_ws_free;
 *   mask[0..n) is 1 for events passing every cut, 0 otherwise (caller-allocated).
 * Errors (missing column, jagged length mismatch) are prefixed with the place in the
 * document. */
int preproc_apply(const preproc *pp, preproc_ws *ws, const expr_column *inputs, size_t ninputs,
                  size_t n, const expr_column **new_cols, uint8_t *mask, mlhep_err *e);

#endif
