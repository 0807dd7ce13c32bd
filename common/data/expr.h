/* expr.h - the pre-processing expression language over branches (MLaaS4HEP preproc
 * `def` and `cut` strings), compiled once and evaluated column-wise over whole chunks.
 *
 * Two phases:
 *   1. expr_compile(): parse, resolve branch names against a schema (name -> flat or
 *      jagged) and type-check, before any data is read. Errors carry the 1-based
 *      column: "expression 'Jet_pt > 30 and': column 16: expected an operand".
 *   2. expr_eval(): run the compiled program over a chunk of N events. The program is
 *      a short list of column operations; each one is a tight loop over a block of
 *      events (or of their elements), so there is no per-event interpretation, no
 *      per-value function pointer and no allocation once the workspace has grown.
 *
 * Language (Python/numpy flavoured):
 *   literals     1  2.5  .5  1e-3  True  False
 *   arithmetic   + - * / // % **   (** is right-associative and binds tighter than a
 *                unary minus on its left: -x**2 == -(x**2), 2**-1 == 0.5)
 *   comparisons  == != < <= > >=, chained as in Python: 1 <= x < 5 means
 *                (1 <= x) and (x < 5), x evaluated once
 *   logic        and or not; also && || ! and & | ~ as LOGICAL operators with the
 *                precedence of and/or/not (unlike numpy's bitwise & binding tighter
 *                than comparisons: here x > 1 & y < 2 means (x > 1) and (y < 2)).
 *                Truth of a number: != 0 (NaN is true, as bool(nan) in Python).
 *                Results of comparisons and logic are 0.0 / 1.0.
 *   functions    (an optional "np." or "numpy." prefix is accepted)
 *     1 arg:  abs absolute fabs sqrt cbrt exp exp2 expm1 log log10 log2 log1p
 *             sin cos tan arcsin asin arccos acos arctan atan sinh cosh tanh
 *             arcsinh asinh arccosh acosh arctanh atanh floor ceil trunc
 *             round rint (half to even, as numpy) sign square negative neg
 *             isnan isinf isfinite signbit erf erfc gamma tgamma lgamma
 *             logical_not
 *     2 args: arctan2 atan2 hypot pow power fmin fmax (NaN-ignoring) minimum maximum
 *             (NaN-propagating) copysign fmod nextafter logical_and logical_or
 *             min(a,b) max(a,b) (= minimum/maximum)
 *     3 args: where(cond, a, b)
 *   reductions over a jagged argument, one value per event (flat result):
 *     sum, count (number of elements), count_nonzero, any, all, mean, min(x), max(x),
 *     prod. Empty lists: sum 0, count 0, count_nonzero 0, any False, all True, prod 1,
 *     mean/min/max NaN (so a cut on them fails, as NaN compares false).
 *   element-wise: any operation with a jagged operand is applied per element; a flat
 *     operand is broadcast over the event's elements; two jagged operands must have
 *     the same number of elements in every event (checked per chunk; a mismatch is a
 *     run-time error naming both branches and the first event where they differ).
 *   names: [A-Za-z_][A-Za-z0-9_.]*; a name followed by '(' is a function, otherwise a
 *     branch that must be in the schema.
 *
 * Limits (hostile input): EXPR_MAX_LEN bytes of text, EXPR_MAX_NODES tree nodes,
 * EXPR_MAX_DEPTH levels of nesting of ( ), unary operators and calls, EXPR_MAX_TREE
 * levels of tree depth (long chains a+b+c+...). Numeric literals must be finite.
 *
 * Threading: a compiled expr is immutable and may be shared by threads; each thread
 * evaluates with its own expr_ws. */
#ifndef MLHEP_EXPR_H
#define MLHEP_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define EXPR_MAX_LEN 65536
#define EXPR_MAX_NODES 4096
#define EXPR_MAX_DEPTH 100
#define EXPR_MAX_TREE 256
#define EXPR_MAX_NAME 1024

typedef enum { EXPR_FLAT = 0, EXPR_JAGGED = 1 } expr_kind;

/* One column of a chunk of n events.
 *   flat:   values[n]; offsets NULL.
 *   jagged: offsets[n+1] with offsets[0] == 0 and non-decreasing; event i holds
 *           values[offsets[i] .. offsets[i+1]-1]; values has offsets[n] entries.
 * Booleans are 0.0 / 1.0. The column does not own its arrays. */
typedef struct expr_column {
    const char *name;
    expr_kind kind;
    const int64_t *offsets;
    const double *values;
} expr_column;

/* A schema: the branches an expression may name, with their kind. Owns copies of
 * the names. */
typedef struct expr_schema expr_schema;

expr_schema *expr_schema_new(void); /* NULL on allocation failure; free with expr_schema_free */
void expr_schema_free(expr_schema *s);
/* Adds a branch; MLHEP_EINVAL if the name is empty, too long or already present. */
int expr_schema_add(expr_schema *s, const char *name, expr_kind kind, mlhep_err *e);
/* Index of name (first len bytes) or -1. */
int expr_schema_find(const expr_schema *s, const char *name, size_t len);
/* For a name (first len bytes) that matched none: the closest schema name by
 * base/suggest.h's rule (a typo's "did you mean"), pointing into s; NULL if none is close. */
const char *expr_schema_closest(const expr_schema *s, const char *name, size_t len);
size_t expr_schema_count(const expr_schema *s);
const char *expr_schema_name(const expr_schema *s, size_t i);
expr_kind expr_schema_kind(const expr_schema *s, size_t i);
/* A copy (NULL on allocation failure). */
expr_schema *expr_schema_clone(const expr_schema *s);

typedef enum { EXPR_WANT_ANY = 0, EXPR_WANT_FLAT, EXPR_WANT_JAGGED } expr_want;
typedef enum { EXPR_REDUCE_NONE = 0, EXPR_REDUCE_ANY, EXPR_REDUCE_ALL } expr_reduce;

typedef struct expr_opts {
    expr_want want;     /* required kind of the result (checked after `reduce`) */
    expr_reduce reduce; /* wrap the (jagged) result in any()/all(): a jagged cut */
} expr_opts;

typedef struct expr expr;

/* Parses and type-checks text against schema. opts may be NULL (any kind, no
 * reduction). On success *out is a new program (free with expr_free); on failure
 * returns MLHEP_EINVAL (syntax, names, types) or MLHEP_ENOMEM (limits, allocation)
 * with "expression '<text>': column N: <what>" in e. */
int expr_compile(const char *text, const expr_schema *schema, const expr_opts *opts, expr **out,
                 mlhep_err *e);
void expr_free(expr *x);

const char *expr_text(const expr *x);
expr_kind expr_result_kind(const expr *x);
int expr_result_is_bool(const expr *x); /* comparisons, logic, any/all, isnan... */
/* The distinct branches the expression reads, in order of first appearance. */
size_t expr_ninputs(const expr *x);
const char *expr_input_name(const expr *x, size_t i);
expr_kind expr_input_kind(const expr *x, size_t i);
/* Number of column operations in the compiled program (after constant folding). */
size_t expr_nops(const expr *x);

/* Evaluation workspace: scratch registers and the result buffer, grown on demand
 * and reused across chunks. One per thread. */
typedef struct expr_ws expr_ws;
expr_ws *expr_ws_new(void); /* NULL on allocation failure */
void expr_ws_free(expr_ws *ws);

/* Evaluates x over a chunk of n events. cols[0..ncols) are the available columns,
 * looked up by name (each input of x must be present with the kind the schema said;
 * jagged offsets are validated). On success *result is filled: kind, offsets (jagged:
 * n+1 entries, a copy) and values, all owned by ws and valid until the next
 * expr_eval with ws or expr_ws_free; result->name is expr_text(x).
 * Errors: MLHEP_ENOTFOUND missing column, MLHEP_EINVAL wrong kind, bad offsets or
 * jagged length mismatch, MLHEP_ENOMEM allocation. */
int expr_eval(const expr *x, const expr_column *cols, size_t ncols, size_t n, expr_ws *ws,
              expr_column *result, mlhep_err *e);

#endif
