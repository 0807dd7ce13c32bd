/* expr.c - the pre-processing expression language: parser, type checker, compiler
 * to column operations, and the block-wise vectorised evaluator. See expr.h for the
 * language.
 *
 * Pipeline: text -> tokens (lexer, on the fly) -> tree of nodes (recursive descent,
 * typed and constant-folded as it is built) -> list of instructions over registers
 * (post-order code generation with register reuse) -> evaluation.
 *
 * Evaluation runs the whole instruction list over a block of EXPR_BLOCK events at a
 * time (the block's elements for jagged operations), so temporaries stay in cache;
 * every instruction is one tight loop selected by a switch once per block, never
 * per value. Registers hold one block; the last instruction writes straight into
 * the result column. Jagged element spaces are identified by the input branch whose
 * offsets they use ("source"); two different sources meeting in an element-wise
 * operation are checked for equal per-event lengths once per chunk. */
#include "data/expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/suggest.h"

#define EXPR_BLOCK 2048

/* ---------- scalar kernels (static inline: inlined into the loops) ---------- */

static inline double f_neg(double x) { return -x; }
static inline double f_truth(double x) { return (double)(x != 0); }
static inline double f_not(double x) { return (double)(x == 0); }
static inline double f_sign(double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; /* 0, -0, NaN kept */ }
static inline double f_square(double x) { return x * x; }
static inline double f_isnan(double x) { return (double)(x != x); }
static inline double f_isinf(double x) { return (double)(fabs(x) == INFINITY); }
static inline double f_isfinite(double x) { return (double)(fabs(x) < INFINITY); }
static inline double f_signbit(double x) { return (double)(signbit(x) != 0); }
static inline double f_lgamma(double x)
{
    int s;
    return lgamma_r(x, &s);
}

static inline double f_add(double x, double y) { return x + y; }
static inline double f_sub(double x, double y) { return x - y; }
static inline double f_mul(double x, double y) { return x * y; }
static inline double f_div(double x, double y) { return x / y; }
/* Python/numpy floor division and modulo (result of % has the sign of the divisor). */
static inline double f_floordiv(double x, double y)
{
    if (y == 0)
        return x / y;
    double mod = fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0 && ((y < 0) != (mod < 0)))
        div -= 1.0;
    if (div == 0)
        return copysign(0.0, x / y);
    double fl = floor(div);
    if (div - fl > 0.5)
        fl += 1.0;
    return fl;
}
static inline double f_mod(double x, double y)
{
    if (y == 0)
        return fmod(x, y);
    double mod = fmod(x, y);
    if (mod != 0) {
        if ((y < 0) != (mod < 0))
            mod += y;
    } else {
        mod = copysign(0.0, y);
    }
    return mod;
}
static inline double f_eq(double x, double y) { return (double)(x == y); }
static inline double f_ne(double x, double y) { return (double)(x != y); }
static inline double f_lt(double x, double y) { return (double)(x < y); }
static inline double f_le(double x, double y) { return (double)(x <= y); }
static inline double f_gt(double x, double y) { return (double)(x > y); }
static inline double f_ge(double x, double y) { return (double)(x >= y); }
static inline double f_and(double x, double y) { return (double)((x != 0) & (y != 0)); }
static inline double f_or(double x, double y) { return (double)((x != 0) | (y != 0)); }
static inline double f_minimum(double x, double y) { return (x < y || isnan(x)) ? x : y; }
static inline double f_maximum(double x, double y) { return (x > y || isnan(x)) ? x : y; }

/* Element-wise operations: enum tag, kernel, result is boolean. */
#define UNARY_OPS(X)                                                                       \
    X(U_NEG, f_neg, 0) X(U_NOT, f_not, 1) X(U_TRUTH, f_truth, 1) X(U_ABS, fabs, 0)        \
    X(U_SQRT, sqrt, 0) X(U_CBRT, cbrt, 0) X(U_EXP, exp, 0) X(U_EXP2, exp2, 0)              \
    X(U_EXPM1, expm1, 0) X(U_LOG, log, 0) X(U_LOG10, log10, 0) X(U_LOG2, log2, 0)          \
    X(U_LOG1P, log1p, 0) X(U_SIN, sin, 0) X(U_COS, cos, 0) X(U_TAN, tan, 0)                \
    X(U_ASIN, asin, 0) X(U_ACOS, acos, 0) X(U_ATAN, atan, 0) X(U_SINH, sinh, 0)            \
    X(U_COSH, cosh, 0) X(U_TANH, tanh, 0) X(U_ASINH, asinh, 0) X(U_ACOSH, acosh, 0)        \
    X(U_ATANH, atanh, 0) X(U_FLOOR, floor, 0) X(U_CEIL, ceil, 0) X(U_TRUNC, trunc, 0)      \
    X(U_RINT, nearbyint, 0) X(U_SIGN, f_sign, 0) X(U_SQUARE, f_square, 0)                  \
    X(U_ISNAN, f_isnan, 1) X(U_ISINF, f_isinf, 1) X(U_ISFINITE, f_isfinite, 1)             \
    X(U_SIGNBIT, f_signbit, 1) X(U_ERF, erf, 0) X(U_ERFC, erfc, 0) X(U_TGAMMA, tgamma, 0)  \
    X(U_LGAMMA, f_lgamma, 0)

#define BINARY_OPS(X)                                                                      \
    X(B_ADD, f_add, 0) X(B_SUB, f_sub, 0) X(B_MUL, f_mul, 0) X(B_DIV, f_div, 0)            \
    X(B_FLOORDIV, f_floordiv, 0) X(B_MOD, f_mod, 0) X(B_POW, pow, 0) X(B_EQ, f_eq, 1)      \
    X(B_NE, f_ne, 1) X(B_LT, f_lt, 1) X(B_LE, f_le, 1) X(B_GT, f_gt, 1) X(B_GE, f_ge, 1)   \
    X(B_AND, f_and, 1) X(B_OR, f_or, 1) X(B_ATAN2, atan2, 0) X(B_HYPOT, hypot, 0)          \
    X(B_FMIN, fmin, 0) X(B_FMAX, fmax, 0) X(B_MINIMUM, f_minimum, 0)                       \
    X(B_MAXIMUM, f_maximum, 0) X(B_COPYSIGN, copysign, 0) X(B_FMOD, fmod, 0)               \
    X(B_NEXTAFTER, nextafter, 0)

#define X_ENUM(tag, f, b) tag,
enum { UNARY_OPS(X_ENUM) U_COUNT_ };
enum { BINARY_OPS(X_ENUM) B_COUNT_ };
#undef X_ENUM

enum { R_SUM, R_PROD, R_COUNT, R_COUNT_NONZERO, R_ANY, R_ALL, R_MEAN, R_MIN, R_MAX };
static const char *const red_name[] = {"sum", "prod", "count", "count_nonzero", "any", "all",
                                       "mean", "min", "max"};

static int unary_isbool(int op)
{
    switch (op) {
#define X_B(tag, f, b) case tag: return b;
    UNARY_OPS(X_B)
#undef X_B
    }
    return 0;
}

static int binary_isbool(int op)
{
    switch (op) {
#define X_B(tag, f, b) case tag: return b;
    BINARY_OPS(X_B)
#undef X_B
    }
    return 0;
}

static double fold_unary(int op, double x)
{
    switch (op) {
#define X_F(tag, f, b) case tag: return f(x);
    UNARY_OPS(X_F)
#undef X_F
    }
    return NAN;
}

static double fold_binary(int op, double x, double y)
{
    switch (op) {
#define X_F(tag, f, b) case tag: return f(x, y);
    BINARY_OPS(X_F)
#undef X_F
    }
    return NAN;
}

/* ---------- function table ---------- */

enum { FN_UNARY, FN_BINARY, FN_WHERE, FN_REDUCE, FN_MINMAX };

typedef struct fn_def {
    const char *name;
    int cls, op;
} fn_def;

static const fn_def fn_table[] = {
    {"abs", FN_UNARY, U_ABS},        {"absolute", FN_UNARY, U_ABS},
    {"fabs", FN_UNARY, U_ABS},       {"sqrt", FN_UNARY, U_SQRT},
    {"cbrt", FN_UNARY, U_CBRT},      {"exp", FN_UNARY, U_EXP},
    {"exp2", FN_UNARY, U_EXP2},      {"expm1", FN_UNARY, U_EXPM1},
    {"log", FN_UNARY, U_LOG},        {"log10", FN_UNARY, U_LOG10},
    {"log2", FN_UNARY, U_LOG2},      {"log1p", FN_UNARY, U_LOG1P},
    {"sin", FN_UNARY, U_SIN},        {"cos", FN_UNARY, U_COS},
    {"tan", FN_UNARY, U_TAN},        {"arcsin", FN_UNARY, U_ASIN},
    {"asin", FN_UNARY, U_ASIN},      {"arccos", FN_UNARY, U_ACOS},
    {"acos", FN_UNARY, U_ACOS},      {"arctan", FN_UNARY, U_ATAN},
    {"atan", FN_UNARY, U_ATAN},      {"sinh", FN_UNARY, U_SINH},
    {"cosh", FN_UNARY, U_COSH},      {"tanh", FN_UNARY, U_TANH},
    {"arcsinh", FN_UNARY, U_ASINH},  {"asinh", FN_UNARY, U_ASINH},
    {"arccosh", FN_UNARY, U_ACOSH},  {"acosh", FN_UNARY, U_ACOSH},
    {"arctanh", FN_UNARY, U_ATANH},  {"atanh", FN_UNARY, U_ATANH},
    {"floor", FN_UNARY, U_FLOOR},    {"ceil", FN_UNARY, U_CEIL},
    {"trunc", FN_UNARY, U_TRUNC},    {"round", FN_UNARY, U_RINT},
    {"rint", FN_UNARY, U_RINT},      {"sign", FN_UNARY, U_SIGN},
    {"square", FN_UNARY, U_SQUARE},  {"negative", FN_UNARY, U_NEG},
    {"neg", FN_UNARY, U_NEG},        {"isnan", FN_UNARY, U_ISNAN},
    {"isinf", FN_UNARY, U_ISINF},    {"isfinite", FN_UNARY, U_ISFINITE},
    {"signbit", FN_UNARY, U_SIGNBIT}, {"erf", FN_UNARY, U_ERF},
    {"erfc", FN_UNARY, U_ERFC},      {"gamma", FN_UNARY, U_TGAMMA},
    {"tgamma", FN_UNARY, U_TGAMMA},  {"lgamma", FN_UNARY, U_LGAMMA},
    {"logical_not", FN_UNARY, U_NOT},
    {"arctan2", FN_BINARY, B_ATAN2}, {"atan2", FN_BINARY, B_ATAN2},
    {"hypot", FN_BINARY, B_HYPOT},   {"pow", FN_BINARY, B_POW},
    {"power", FN_BINARY, B_POW},     {"fmin", FN_BINARY, B_FMIN},
    {"fmax", FN_BINARY, B_FMAX},     {"minimum", FN_BINARY, B_MINIMUM},
    {"maximum", FN_BINARY, B_MAXIMUM}, {"copysign", FN_BINARY, B_COPYSIGN},
    {"fmod", FN_BINARY, B_FMOD},     {"nextafter", FN_BINARY, B_NEXTAFTER},
    {"logical_and", FN_BINARY, B_AND}, {"logical_or", FN_BINARY, B_OR},
    {"where", FN_WHERE, 0},
    {"sum", FN_REDUCE, R_SUM},       {"prod", FN_REDUCE, R_PROD},
    {"count", FN_REDUCE, R_COUNT},   {"count_nonzero", FN_REDUCE, R_COUNT_NONZERO},
    {"any", FN_REDUCE, R_ANY},       {"all", FN_REDUCE, R_ALL},
    {"mean", FN_REDUCE, R_MEAN},
    {"min", FN_MINMAX, 0},           {"max", FN_MINMAX, 1},
};

static const fn_def *fn_lookup(const char *s, size_t len)
{
    if (len > 3 && memcmp(s, "np.", 3) == 0)
        s += 3, len -= 3;
    else if (len > 6 && memcmp(s, "numpy.", 6) == 0)
        s += 6, len -= 6;
    for (size_t i = 0; i < sizeof fn_table / sizeof fn_table[0]; i++)
        if (strlen(fn_table[i].name) == len && memcmp(fn_table[i].name, s, len) == 0)
            return &fn_table[i];
    return NULL;
}

/* ---------- schema ---------- */

struct expr_schema {
    size_t n, cap;
    char **name;
    expr_kind *kind;
};

expr_schema *expr_schema_new(void)
{
    return calloc(1, sizeof(expr_schema));
}

void expr_schema_free(expr_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->name[i]);
    free(s->name);
    free(s->kind);
    free(s);
}

const char *expr_schema_closest(const expr_schema *s, const char *name, size_t len)
{
    char w[EXPR_MAX_NAME + 1];
    if (!s || len > EXPR_MAX_NAME)
        return NULL;
    memcpy(w, name, len);
    w[len] = '\0';
    return suggest_closest(w, (const char *const *)s->name, s->n);
}

int expr_schema_find(const expr_schema *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strncmp(s->name[i], name, len) == 0 && s->name[i][len] == '\0')
            return (int)i;
    return -1;
}

int expr_schema_add(expr_schema *s, const char *name, expr_kind kind, mlhep_err *e)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > EXPR_MAX_NAME)
        return err_set(e, MLHEP_EINVAL, "branch name is empty or longer than %d bytes",
                       EXPR_MAX_NAME);
    if (kind != EXPR_FLAT && kind != EXPR_JAGGED)
        return err_set(e, MLHEP_EINVAL, "branch '%s': kind must be flat or jagged", name);
    if (expr_schema_find(s, name, len) >= 0)
        return err_set(e, MLHEP_EINVAL, "branch '%s' is defined twice", name);
    if (s->n >= 0x7fff)
        return err_set(e, MLHEP_ENOMEM, "too many branches (max %d)", 0x7fff);
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 16;
        char **nn = realloc(s->name, nc * sizeof *nn);
        if (!nn)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        s->name = nn;
        expr_kind *nk = realloc(s->kind, nc * sizeof *nk);
        if (!nk)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        s->kind = nk;
        s->cap = nc;
    }
    char *c = strdup(name);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->name[s->n] = c;
    s->kind[s->n] = kind;
    s->n++;
    return 0;
}

size_t expr_schema_count(const expr_schema *s) { return s->n; }
const char *expr_schema_name(const expr_schema *s, size_t i) { return i < s->n ? s->name[i] : NULL; }
expr_kind expr_schema_kind(const expr_schema *s, size_t i) { return i < s->n ? s->kind[i] : EXPR_FLAT; }

expr_schema *expr_schema_clone(const expr_schema *s)
{
    expr_schema *c = expr_schema_new();
    if (!c)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (expr_schema_add(c, s->name[i], s->kind[i], NULL) != 0) {
            expr_schema_free(c);
            return NULL;
        }
    return c;
}

/* ---------- tree ---------- */

enum { N_NUM, N_VAR, N_UN, N_BIN, N_WHERE, N_RED, N_REF };

typedef struct node {
    uint8_t t, op, kind, isbool;
    int32_t src;   /* jagged: input index whose offsets define the element space */
    int32_t pos;   /* 1-based column */
    int32_t k[3];  /* children */
    int32_t depth; /* tree depth */
    int32_t uses;  /* how many parents consume the value (2 for a shared chain operand) */
    int32_t input; /* N_VAR */
    double num;    /* N_NUM */
} node;

/* ---------- program ---------- */

enum { O_CONST, O_INPUT, O_REG };
typedef struct opnd {
    uint8_t kind, jag;
    int32_t idx, src;
    double k;
} opnd;

enum { I_UNARY, I_BINARY, I_WHERE, I_REDUCE, I_BCAST, I_COPY, I_FILL };
#define REG_OUT (-1)
typedef struct instr {
    uint8_t cls, op, jag;
    int32_t src; /* element space (jag) or the reduced operand's source */
    int32_t dst;
    opnd a, b, c;
} instr;

struct expr {
    char *text;
    int nin;
    char **in_name;
    uint8_t *in_kind;
    int ncode;
    instr *code;
    int nregs;
    int nchk;
    int32_t (*chk)[2];
    uint8_t kind, isbool;
    int32_t src;
};

/* ---------- lexer + parser ---------- */

enum {
    T_END, T_NUM, T_NAME, T_LP, T_RP, T_COMMA, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_DSLASH,
    T_PCT, T_POW, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR, T_NOT, T_TRUE, T_FALSE
};

typedef struct tok {
    int t, pos, len;
    const char *s;
    double num;
} tok;

typedef struct P {
    const char *s;
    size_t len, i;
    tok cur;
    node *nodes;
    int nn, cap;
    int depth;
    const expr_schema *schema;
    int *in_of;  /* schema index -> input index or -1 */
    int *in_sch; /* input index -> schema index */
    int nin;
    mlhep_err *e;
    int failed, errcode;
} P;

static int perr(P *p, int code, int pos, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int perr(P *p, int code, int pos, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = 1;
    p->errcode = code;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int show = p->len > 160 ? 160 : (int)p->len;
    err_set(p->e, code, "expression '%.*s%s': column %d: %s", show, p->s,
            p->len > 160 ? "..." : "", pos, what);
    return -1;
}

static int is_name0(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_namec(int c) { return is_name0(c) || is_digit(c) || c == '.'; }

/* Reads the next token into p->cur; -1 on a lexical error. */
static int lex(P *p)
{
    const char *s = p->s;
    size_t n = p->len, i = p->i;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    tok *t = &p->cur;
    t->pos = (int)i + 1;
    t->s = s + i;
    t->len = 1;
    if (i >= n) {
        t->t = T_END;
        t->len = 0;
        p->i = i;
        return 0;
    }
    int c = (unsigned char)s[i], c1 = i + 1 < n ? (unsigned char)s[i + 1] : 0;
    if (is_digit(c) || (c == '.' && is_digit(c1))) {
        size_t j = i;
        while (j < n && is_digit(s[j]))
            j++;
        if (j < n && s[j] == '.') {
            j++;
            while (j < n && is_digit(s[j]))
                j++;
        }
        if (j < n && (s[j] == 'e' || s[j] == 'E')) {
            size_t k = j + 1;
            if (k < n && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < n && is_digit(s[k])) {
                while (k < n && is_digit(s[k]))
                    k++;
                j = k;
            } else {
                return perr(p, MLHEP_EINVAL, t->pos, "invalid number '%.*s'",
                            (int)(k - i > 40 ? 40 : k - i), s + i);
            }
        }
        if (j < n && is_namec(s[j]))
            return perr(p, MLHEP_EINVAL, t->pos, "invalid number '%.*s'",
                        (int)(j + 1 - i > 40 ? 40 : j + 1 - i), s + i);
        char *end;
        double v = strtod(s + i, &end);
        if (end != s + j)
            return perr(p, MLHEP_EINVAL, t->pos, "invalid number");
        if (!isfinite(v))
            return perr(p, MLHEP_EINVAL, t->pos, "number '%.*s' is too large",
                        (int)(j - i > 40 ? 40 : j - i), s + i);
        t->t = T_NUM;
        t->num = v;
        t->len = (int)(j - i);
        p->i = j;
        return 0;
    }
    if (is_name0(c)) {
        size_t j = i;
        while (j < n && is_namec(s[j]))
            j++;
        if (j - i > EXPR_MAX_NAME)
            return perr(p, MLHEP_EINVAL, t->pos, "name longer than %d bytes", EXPR_MAX_NAME);
        t->len = (int)(j - i);
        t->t = T_NAME;
        if (t->len == 3 && memcmp(t->s, "and", 3) == 0)
            t->t = T_AND;
        else if (t->len == 2 && memcmp(t->s, "or", 2) == 0)
            t->t = T_OR;
        else if (t->len == 3 && memcmp(t->s, "not", 3) == 0)
            t->t = T_NOT;
        else if (t->len == 4 && memcmp(t->s, "True", 4) == 0)
            t->t = T_TRUE;
        else if (t->len == 5 && memcmp(t->s, "False", 5) == 0)
            t->t = T_FALSE;
        p->i = j;
        return 0;
    }
    int two = 0;
    switch (c) {
    case '(': t->t = T_LP; break;
    case ')': t->t = T_RP; break;
    case ',': t->t = T_COMMA; break;
    case '+': t->t = T_PLUS; break;
    case '-': t->t = T_MINUS; break;
    case '%': t->t = T_PCT; break;
    case '~': t->t = T_NOT; break;
    case '*': t->t = c1 == '*' ? (two = 1, T_POW) : T_STAR; break;
    case '/': t->t = c1 == '/' ? (two = 1, T_DSLASH) : T_SLASH; break;
    case '<': t->t = c1 == '=' ? (two = 1, T_LE) : T_LT; break;
    case '>': t->t = c1 == '=' ? (two = 1, T_GE) : T_GT; break;
    case '!': t->t = c1 == '=' ? (two = 1, T_NE) : T_NOT; break;
    case '&': t->t = T_AND; two = c1 == '&'; break;
    case '|': t->t = T_OR; two = c1 == '|'; break;
    case '=':
        if (c1 != '=')
            return perr(p, MLHEP_EINVAL, t->pos, "unexpected '=' (use '==' to compare)");
        t->t = T_EQ;
        two = 1;
        break;
    default:
        if (c >= 0x21 && c < 0x7f)
            return perr(p, MLHEP_EINVAL, t->pos, "unexpected character '%c'", c);
        return perr(p, MLHEP_EINVAL, t->pos, "unexpected byte 0x%02x", c);
    }
    t->len = 1 + two;
    p->i = i + 1 + two;
    return 0;
}

static int mk(P *p, int t, int pos)
{
    if (p->nn >= EXPR_MAX_NODES)
        return perr(p, MLHEP_ENOMEM, pos, "expression too large (more than %d nodes)",
                    EXPR_MAX_NODES);
    if (p->nn == p->cap) {
        int nc = p->cap ? 2 * p->cap : 64;
        node *nn = realloc(p->nodes, (size_t)nc * sizeof *nn);
        if (!nn)
            return perr(p, MLHEP_ENOMEM, pos, "out of memory");
        p->nodes = nn;
        p->cap = nc;
    }
    node *d = &p->nodes[p->nn];
    memset(d, 0, sizeof *d);
    d->t = (uint8_t)t;
    d->pos = pos;
    d->k[0] = d->k[1] = d->k[2] = -1;
    d->src = -1;
    d->uses = 1;
    d->depth = 1;
    d->kind = EXPR_FLAT;
    return p->nn++;
}

static int mk_num(P *p, double v, int isbool, int pos)
{
    int id = mk(p, N_NUM, pos);
    if (id < 0)
        return -1;
    p->nodes[id].num = v;
    p->nodes[id].isbool = (uint8_t)isbool;
    return id;
}

/* Common part of operation nodes: kind (jagged if any child is), source, depth. */
static int mk_opnode(P *p, int t, int op, int pos, int a, int b, int c, int isbool)
{
    int ks[3] = {a, b, c};
    int depth = 0, src = -1, kind = EXPR_FLAT, allconst = 1;
    for (int i = 0; i < 3; i++) {
        if (ks[i] < 0)
            continue;
        node *ch = &p->nodes[ks[i]];
        if (ch->depth > depth)
            depth = ch->depth;
        if (ch->kind == EXPR_JAGGED && kind == EXPR_FLAT) {
            kind = EXPR_JAGGED;
            src = ch->src;
        }
        if (ch->t != N_NUM)
            allconst = 0;
    }
    if (depth + 1 > EXPR_MAX_TREE)
        return perr(p, MLHEP_ENOMEM, pos, "expression nested deeper than %d levels",
                    EXPR_MAX_TREE);
    if (allconst && t != N_RED) { /* constant folding */
        double v;
        if (t == N_UN)
            v = fold_unary(op, p->nodes[a].num);
        else if (t == N_BIN)
            v = fold_binary(op, p->nodes[a].num, p->nodes[b].num);
        else
            v = p->nodes[a].num != 0 ? p->nodes[b].num : p->nodes[c].num;
        return mk_num(p, v, isbool, pos);
    }
    int id = mk(p, t, pos);
    if (id < 0)
        return -1;
    node *d = &p->nodes[id];
    d->op = (uint8_t)op;
    d->k[0] = a;
    d->k[1] = b;
    d->k[2] = c;
    d->kind = (uint8_t)kind;
    d->src = src;
    d->depth = depth + 1;
    d->isbool = (uint8_t)isbool;
    return id;
}

static int mk_un(P *p, int op, int a, int pos)
{
    if (a < 0)
        return -1;
    return mk_opnode(p, N_UN, op, pos, a, -1, -1, unary_isbool(op));
}

static int mk_bin(P *p, int op, int a, int b, int pos)
{
    if (a < 0 || b < 0)
        return -1;
    /* x ** 2 -> x * x (exactly what pow gives, much cheaper) */
    if (op == B_POW && p->nodes[b].t == N_NUM && p->nodes[b].num == 2.0 && p->nodes[a].t != N_NUM)
        return mk_un(p, U_SQUARE, a, pos);
    return mk_opnode(p, N_BIN, op, pos, a, b, -1, binary_isbool(op));
}

static int mk_red(P *p, int op, int a, int pos, int argpos)
{
    if (a < 0)
        return -1;
    if (p->nodes[a].kind != EXPR_JAGGED)
        return perr(p, MLHEP_EINVAL, argpos,
                    "%s() reduces a jagged value (one value per element) but its argument is "
                    "flat (one value per event)",
                    red_name[op]);
    int id = mk_opnode(p, N_RED, op, pos, a, -1, -1,
                       op == R_ANY || op == R_ALL);
    if (id < 0)
        return -1;
    p->nodes[id].kind = EXPR_FLAT;
    p->nodes[id].src = p->nodes[a].src;
    return id;
}

/* A second use of node id (middle operand of a chained comparison). */
static int share(P *p, int id)
{
    node *d = &p->nodes[id];
    if (d->t == N_NUM || d->t == N_VAR) {
        int c = mk(p, d->t, d->pos);
        if (c < 0)
            return -1;
        p->nodes[c] = p->nodes[id];
        p->nodes[c].uses = 1;
        return c;
    }
    int r = mk(p, N_REF, p->nodes[id].pos);
    if (r < 0)
        return -1;
    p->nodes[id].uses++;
    node *rn = &p->nodes[r];
    rn->k[0] = id;
    rn->kind = p->nodes[id].kind;
    rn->src = p->nodes[id].src;
    rn->isbool = p->nodes[id].isbool;
    rn->depth = p->nodes[id].depth;
    return r;
}

static int p_expr(P *p);
static int p_not(P *p);
static int p_unary(P *p);

static int enter(P *p, int pos)
{
    if (++p->depth > EXPR_MAX_DEPTH)
        return perr(p, MLHEP_ENOMEM, pos, "nesting deeper than %d levels", EXPR_MAX_DEPTH);
    return 0;
}

static const char *tokname(const tok *t, char *buf, size_t cap)
{
    if (t->t == T_END)
        return "end of expression";
    snprintf(buf, cap, "'%.*s'", t->len > 40 ? 40 : t->len, t->s);
    return buf;
}

static int p_call(P *p, tok name)
{
    const fn_def *f = fn_lookup(name.s, (size_t)name.len);
    if (!f)
        return perr(p, MLHEP_EINVAL, name.pos, "unknown function '%.*s'", name.len, name.s);
    int lp = p->cur.pos;
    if (lex(p) < 0) /* consume '(' */
        return -1;
    int args[8], argpos[8], na = 0;
    if (p->cur.t != T_RP) {
        for (;;) {
            if (na == 8)
                return perr(p, MLHEP_EINVAL, p->cur.pos, "too many arguments");
            argpos[na] = p->cur.pos;
            args[na] = p_expr(p);
            if (args[na] < 0)
                return -1;
            na++;
            if (p->cur.t == T_COMMA) {
                if (lex(p) < 0)
                    return -1;
                continue;
            }
            break;
        }
    }
    if (p->cur.t != T_RP) {
        char b[64];
        return perr(p, MLHEP_EINVAL, p->cur.pos, "expected ',' or ')' to close '(' at column %d, got %s",
                    lp, tokname(&p->cur, b, sizeof b));
    }
    if (lex(p) < 0)
        return -1;
    int want = f->cls == FN_UNARY || f->cls == FN_REDUCE ? 1 : f->cls == FN_BINARY ? 2 : 3;
    if (f->cls == FN_MINMAX) {
        if (na == 1)
            return mk_red(p, f->op ? R_MAX : R_MIN, args[0], name.pos, argpos[0]);
        if (na == 2)
            return mk_bin(p, f->op ? B_MAXIMUM : B_MINIMUM, args[0], args[1], name.pos);
        return perr(p, MLHEP_EINVAL, name.pos,
                    "function '%.*s' takes 1 argument (a jagged value to reduce) or 2 "
                    "(element-wise), got %d",
                    name.len, name.s, na);
    }
    if (na != want)
        return perr(p, MLHEP_EINVAL, name.pos, "function '%.*s' takes %d argument%s, got %d",
                    name.len, name.s, want, want == 1 ? "" : "s", na);
    switch (f->cls) {
    case FN_UNARY: return mk_un(p, f->op, args[0], name.pos);
    case FN_BINARY: return mk_bin(p, f->op, args[0], args[1], name.pos);
    case FN_REDUCE: return mk_red(p, f->op, args[0], name.pos, argpos[0]);
    default: {
        int isb = p->nodes[args[1]].isbool && p->nodes[args[2]].isbool;
        return mk_opnode(p, N_WHERE, 0, name.pos, args[0], args[1], args[2], isb);
    }
    }
}

static int p_primary(P *p)
{
    tok t = p->cur;
    switch (t.t) {
    case T_NUM:
    case T_TRUE:
    case T_FALSE:
        if (lex(p) < 0)
            return -1;
        return mk_num(p, t.t == T_NUM ? t.num : t.t == T_TRUE ? 1.0 : 0.0, t.t != T_NUM, t.pos);
    case T_NAME: {
        if (lex(p) < 0)
            return -1;
        if (p->cur.t == T_LP)
            return p_call(p, t);
        int si = expr_schema_find(p->schema, t.s, (size_t)t.len);
        if (si < 0) {
            const char *near = expr_schema_closest(p->schema, t.s, (size_t)t.len);
            return perr(p, MLHEP_EINVAL, t.pos, "unknown branch '%.*s'%s%.200s%s", t.len, t.s,
                        near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
        if (p->in_of[si] < 0) {
            p->in_of[si] = p->nin;
            p->in_sch[p->nin++] = si;
        }
        int id = mk(p, N_VAR, t.pos);
        if (id < 0)
            return -1;
        node *d = &p->nodes[id];
        d->input = p->in_of[si];
        d->kind = (uint8_t)expr_schema_kind(p->schema, (size_t)si);
        d->src = d->kind == EXPR_JAGGED ? d->input : -1;
        return id;
    }
    case T_LP: {
        if (lex(p) < 0)
            return -1;
        int r = p_expr(p);
        if (r < 0)
            return -1;
        if (p->cur.t != T_RP) {
            char b[64];
            return perr(p, MLHEP_EINVAL, p->cur.pos, "expected ')' to close '(' at column %d, got %s",
                        t.pos, tokname(&p->cur, b, sizeof b));
        }
        if (lex(p) < 0)
            return -1;
        return r;
    }
    case T_END:
        return perr(p, MLHEP_EINVAL, t.pos, "expected an operand");
    default: {
        char b[64];
        return perr(p, MLHEP_EINVAL, t.pos, "expected an operand, got %s", tokname(&t, b, sizeof b));
    }
    }
}

/* power := primary [ '**' unary ]   (right-assoc; the exponent may carry a sign) */
static int p_power(P *p)
{
    int a = p_primary(p);
    if (a < 0)
        return -1;
    if (p->cur.t != T_POW)
        return a;
    int pos = p->cur.pos;
    if (lex(p) < 0 || enter(p, pos) < 0)
        return -1;
    int b = p_unary(p);
    p->depth--;
    return mk_bin(p, B_POW, a, b, pos);
}

/* unary := ('-'|'+') unary | power */
static int p_unary(P *p)
{
    if (p->cur.t == T_MINUS || p->cur.t == T_PLUS) {
        tok t = p->cur;
        if (lex(p) < 0 || enter(p, t.pos) < 0)
            return -1;
        int a = p_unary(p);
        p->depth--;
        return t.t == T_MINUS ? mk_un(p, U_NEG, a, t.pos) : a;
    }
    return p_power(p);
}

static int p_term(P *p)
{
    int a = p_unary(p);
    while (a >= 0 && (p->cur.t == T_STAR || p->cur.t == T_SLASH || p->cur.t == T_DSLASH ||
                      p->cur.t == T_PCT)) {
        tok t = p->cur;
        if (lex(p) < 0)
            return -1;
        int b = p_unary(p);
        int op = t.t == T_STAR ? B_MUL : t.t == T_SLASH ? B_DIV : t.t == T_DSLASH ? B_FLOORDIV : B_MOD;
        a = mk_bin(p, op, a, b, t.pos);
    }
    return a;
}

static int p_sum(P *p)
{
    int a = p_term(p);
    while (a >= 0 && (p->cur.t == T_PLUS || p->cur.t == T_MINUS)) {
        tok t = p->cur;
        if (lex(p) < 0)
            return -1;
        int b = p_term(p);
        a = mk_bin(p, t.t == T_PLUS ? B_ADD : B_SUB, a, b, t.pos);
    }
    return a;
}

static int cmp_op(int t)
{
    switch (t) {
    case T_EQ: return B_EQ;
    case T_NE: return B_NE;
    case T_LT: return B_LT;
    case T_LE: return B_LE;
    case T_GT: return B_GT;
    case T_GE: return B_GE;
    }
    return -1;
}

/* cmp := sum (cmpop sum)*   a < b < c == (a < b) and (b < c), b computed once */
static int p_cmp(P *p)
{
    int left = p_sum(p);
    if (left < 0 || cmp_op(p->cur.t) < 0)
        return left;
    int result = -1, prev = left, first = 1;
    while (cmp_op(p->cur.t) >= 0) {
        tok t = p->cur;
        if (lex(p) < 0)
            return -1;
        int right = p_sum(p);
        if (right < 0)
            return -1;
        int lhs = first ? prev : share(p, prev);
        int c = mk_bin(p, cmp_op(t.t), lhs, right, t.pos);
        if (c < 0)
            return -1;
        result = first ? c : mk_bin(p, B_AND, result, c, t.pos);
        if (result < 0)
            return -1;
        prev = right;
        first = 0;
    }
    return result;
}

/* not := ('not'|'!'|'~') not | cmp */
static int p_not(P *p)
{
    if (p->cur.t == T_NOT) {
        int pos = p->cur.pos;
        if (lex(p) < 0 || enter(p, pos) < 0)
            return -1;
        int a = p_not(p);
        p->depth--;
        return mk_un(p, U_NOT, a, pos);
    }
    return p_cmp(p);
}

static int p_and(P *p)
{
    int a = p_not(p);
    while (a >= 0 && p->cur.t == T_AND) {
        int pos = p->cur.pos;
        if (lex(p) < 0)
            return -1;
        int b = p_not(p);
        a = mk_bin(p, B_AND, a, b, pos);
    }
    return a;
}

static int p_or(P *p)
{
    int a = p_and(p);
    while (a >= 0 && p->cur.t == T_OR) {
        int pos = p->cur.pos;
        if (lex(p) < 0)
            return -1;
        int b = p_and(p);
        a = mk_bin(p, B_OR, a, b, pos);
    }
    return a;
}

static int p_expr(P *p)
{
    if (enter(p, p->cur.pos) < 0)
        return -1;
    int r = p_or(p);
    p->depth--;
    return r;
}

/* ---------- code generation ---------- */

typedef struct G {
    node *nodes;
    opnd *memo; /* value of each node once generated */
    instr *code;
    int ncode, cap;
    int *freel, nfree;
    int nregs;
    int32_t (*chk)[2];
    int nchk, chkcap;
    int oom;
} G;

static void emit(G *g, instr in)
{
    if (g->oom)
        return;
    if (g->ncode == g->cap) {
        int nc = g->cap ? 2 * g->cap : 32;
        instr *n = realloc(g->code, (size_t)nc * sizeof *n);
        if (!n) {
            g->oom = 1;
            return;
        }
        g->code = n;
        g->cap = nc;
    }
    g->code[g->ncode++] = in;
}

static int reg_alloc(G *g)
{
    if (g->nfree > 0)
        return g->freel[--g->nfree];
    return g->nregs++;
}

static void reg_free(G *g, int r) { g->freel[g->nfree++] = r; }

static void release(G *g, int owner, opnd v)
{
    if (owner < 0) { /* temporary (broadcast) */
        if (v.kind == O_REG)
            reg_free(g, v.idx);
        return;
    }
    if (--g->nodes[owner].uses == 0 && v.kind == O_REG)
        reg_free(g, v.idx);
}

static void add_check(G *g, int s1, int s2)
{
    if (s1 == s2 || g->oom)
        return;
    int a = s1 < s2 ? s1 : s2, b = s1 < s2 ? s2 : s1;
    for (int i = 0; i < g->nchk; i++)
        if (g->chk[i][0] == a && g->chk[i][1] == b)
            return;
    if (g->nchk == g->chkcap) {
        int nc = g->chkcap ? 2 * g->chkcap : 4;
        int32_t(*n)[2] = realloc(g->chk, (size_t)nc * sizeof *n);
        if (!n) {
            g->oom = 1;
            return;
        }
        g->chk = n;
        g->chkcap = nc;
    }
    g->chk[g->nchk][0] = a;
    g->chk[g->nchk][1] = b;
    g->nchk++;
}

/* Generates code for node id; returns its value and, in *owner, the node whose
 * use count governs the value's register. */
static opnd gen(G *g, int id, int *owner)
{
    node *d = &g->nodes[id];
    opnd v = {0};
    *owner = id;
    switch (d->t) {
    case N_NUM:
        v.kind = O_CONST;
        v.k = d->num;
        v.src = -1;
        return v;
    case N_VAR:
        v.kind = O_INPUT;
        v.idx = d->input;
        v.jag = d->kind == EXPR_JAGGED;
        v.src = d->src;
        return v;
    case N_REF:
        *owner = d->k[0];
        return g->memo[d->k[0]];
    case N_RED: {
        int own;
        opnd a = gen(g, d->k[0], &own);
        instr in = {.cls = I_REDUCE, .op = d->op, .jag = 0, .src = a.src, .a = a};
        in.dst = reg_alloc(g);
        emit(g, in);
        release(g, own, a);
        v.kind = O_REG;
        v.idx = in.dst;
        v.src = -1;
        break;
    }
    default: { /* N_UN, N_BIN, N_WHERE */
        int nk = d->t == N_UN ? 1 : d->t == N_BIN ? 2 : 3;
        opnd a[3];
        int own[3];
        for (int i = 0; i < nk; i++)
            a[i] = gen(g, d->k[i], &own[i]);
        int jag = d->kind == EXPR_JAGGED;
        if (jag) {
            for (int i = 0; i < nk; i++) {
                if (a[i].jag) {
                    add_check(g, d->src, a[i].src);
                } else if (a[i].kind != O_CONST) {
                    instr b = {.cls = I_BCAST, .jag = 1, .src = d->src, .a = a[i]};
                    b.dst = reg_alloc(g);
                    emit(g, b);
                    release(g, own[i], a[i]);
                    own[i] = -1;
                    a[i] = (opnd){.kind = O_REG, .jag = 1, .idx = b.dst, .src = d->src};
                }
            }
        }
        /* the destination is allocated before the operands are released: it never
         * aliases an operand, so the kernels can use restrict */
        instr in = {.cls = (uint8_t)(d->t == N_UN ? I_UNARY : d->t == N_BIN ? I_BINARY : I_WHERE),
                    .op = d->op, .jag = (uint8_t)jag, .src = jag ? d->src : -1, .a = a[0]};
        if (nk > 1)
            in.b = a[1];
        if (nk > 2)
            in.c = a[2];
        in.dst = reg_alloc(g);
        emit(g, in);
        for (int i = 0; i < nk; i++)
            release(g, own[i], a[i]);
        v.kind = O_REG;
        v.idx = in.dst;
        v.jag = (uint8_t)jag;
        v.src = jag ? d->src : -1;
        break;
    }
    }
    g->memo[id] = v;
    return v;
}

/* ---------- compile ---------- */

void expr_free(expr *x)
{
    if (!x)
        return;
    free(x->text);
    for (int i = 0; i < x->nin; i++)
        free(x->in_name[i]);
    free(x->in_name);
    free(x->in_kind);
    free(x->code);
    free(x->chk);
    free(x);
}

int expr_compile(const char *text, const expr_schema *schema, const expr_opts *opts, expr **out,
                 mlhep_err *e)
{
    *out = NULL;
    if (!text)
        return err_set(e, MLHEP_EINVAL, "expression: missing");
    size_t len = strnlen(text, EXPR_MAX_LEN + 1);
    if (len > EXPR_MAX_LEN)
        return err_set(e, MLHEP_ENOMEM, "expression '%.60s...': longer than %d bytes", text,
                       EXPR_MAX_LEN);
    expr_opts o = opts ? *opts : (expr_opts){0};
    size_t ns = expr_schema_count(schema);
    P p = {.s = text, .len = len, .schema = schema, .e = e};
    p.in_of = malloc((ns ? ns : 1) * sizeof(int));
    p.in_sch = malloc((ns ? ns : 1) * sizeof(int));
    expr *x = calloc(1, sizeof *x);
    G g = {0};
    int rc = MLHEP_ENOMEM, root = -1;
    if (!p.in_of || !p.in_sch || !x) {
        err_set(e, MLHEP_ENOMEM, "expression: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ns; i++)
        p.in_of[i] = -1;

    if (lex(&p) < 0)
        goto perr;
    if (p.cur.t == T_END) {
        perr(&p, MLHEP_EINVAL, 1, "empty expression");
        goto perr;
    }
    root = p_expr(&p);
    if (root < 0)
        goto perr;
    if (p.cur.t != T_END) {
        char b[64];
        perr(&p, MLHEP_EINVAL, p.cur.pos, "unexpected %s", tokname(&p.cur, b, sizeof b));
        goto perr;
    }
    if (o.reduce != EXPR_REDUCE_NONE) {
        if (p.nodes[root].kind != EXPR_JAGGED) {
            perr(&p, MLHEP_EINVAL, 1,
                 "a jagged cut [expr, \"%s\"] needs a jagged expression (one value per "
                 "element) but this one is flat (one value per event)",
                 o.reduce == EXPR_REDUCE_ANY ? "any" : "all");
            goto perr;
        }
        root = mk_red(&p, o.reduce == EXPR_REDUCE_ANY ? R_ANY : R_ALL, root, 1, 1);
        if (root < 0)
            goto perr;
    }
    if (o.want == EXPR_WANT_FLAT && p.nodes[root].kind != EXPR_FLAT) {
        perr(&p, MLHEP_EINVAL, 1,
             "the result is jagged (one value per element) but a flat value (one per event) "
             "is required here; reduce it with any(), all(), sum(), count(), min(), max()");
        goto perr;
    }
    if (o.want == EXPR_WANT_JAGGED && p.nodes[root].kind != EXPR_JAGGED) {
        perr(&p, MLHEP_EINVAL, 1,
             "the result is flat (one value per event) but a jagged value (one per element) "
             "is required here");
        goto perr;
    }

    /* code generation */
    g.nodes = p.nodes;
    g.memo = calloc((size_t)p.nn, sizeof *g.memo);
    g.freel = malloc((size_t)(4 * p.nn + 4) * sizeof *g.freel); /* >= registers ever allocated */
    if (!g.memo || !g.freel) {
        err_set(e, MLHEP_ENOMEM, "expression: out of memory");
        goto fail;
    }
    int own;
    opnd r = gen(&g, root, &own);
    if (g.oom) {
        rc = err_set(e, MLHEP_ENOMEM, "expression: out of memory");
        goto fail;
    }
    if (r.kind == O_REG) {
        g.code[g.ncode - 1].dst = REG_OUT;
    } else if (r.kind == O_INPUT) {
        emit(&g, (instr){.cls = I_COPY, .jag = r.jag, .src = r.src, .dst = REG_OUT, .a = r});
    } else {
        emit(&g, (instr){.cls = I_FILL, .src = -1, .dst = REG_OUT, .a = r});
    }
    if (g.oom) {
        err_set(e, MLHEP_ENOMEM, "expression: out of memory");
        goto fail;
    }

    x->text = strdup(text);
    x->in_name = calloc((size_t)(p.nin ? p.nin : 1), sizeof(char *));
    x->in_kind = calloc((size_t)(p.nin ? p.nin : 1), 1);
    if (!x->text || !x->in_name || !x->in_kind) {
        err_set(e, MLHEP_ENOMEM, "expression: out of memory");
        goto fail;
    }
    for (int i = 0; i < p.nin; i++) {
        x->in_name[i] = strdup(expr_schema_name(schema, (size_t)p.in_sch[i]));
        x->in_kind[i] = (uint8_t)expr_schema_kind(schema, (size_t)p.in_sch[i]);
        x->nin = i + 1;
        if (!x->in_name[i]) {
            err_set(e, MLHEP_ENOMEM, "expression: out of memory");
            goto fail;
        }
    }
    x->nin = p.nin;
    x->code = g.code;
    x->ncode = g.ncode;
    x->nregs = g.nregs;
    x->chk = g.chk;
    x->nchk = g.nchk;
    x->kind = p.nodes[root].kind;
    x->isbool = p.nodes[root].isbool;
    x->src = p.nodes[root].src;
    g.code = NULL;
    g.chk = NULL;
    free(g.memo);
    free(g.freel);
    free(p.nodes);
    free(p.in_of);
    free(p.in_sch);
    *out = x;
    return 0;

perr:
    rc = p.errcode ? p.errcode : MLHEP_EINVAL;
fail:
    free(g.code);
    free(g.chk);
    free(g.memo);
    free(g.freel);
    free(p.nodes);
    free(p.in_of);
    free(p.in_sch);
    expr_free(x);
    return rc;
}

const char *expr_text(const expr *x) { return x->text; }
expr_kind expr_result_kind(const expr *x) { return (expr_kind)x->kind; }
int expr_result_is_bool(const expr *x) { return x->isbool; }
size_t expr_ninputs(const expr *x) { return (size_t)x->nin; }
const char *expr_input_name(const expr *x, size_t i) { return i < (size_t)x->nin ? x->in_name[i] : NULL; }
expr_kind expr_input_kind(const expr *x, size_t i) { return i < (size_t)x->nin ? (expr_kind)x->in_kind[i] : EXPR_FLAT; }
size_t expr_nops(const expr *x) { return (size_t)x->ncode; }

/* ---------- evaluation ---------- */

struct expr_ws {
    double **reg;
    size_t *regcap;
    int nreg;
    double *out;
    size_t outcap;
    int64_t *outoff;
    size_t outoffcap;
    const double **iv;   /* per input: values */
    const int64_t **io;  /* per input: offsets (NULL for flat) */
    int64_t *maxblk;     /* per input: largest element count of a block */
    int incap;
};

expr_ws *expr_ws_new(void) { return calloc(1, sizeof(expr_ws)); }

void expr_ws_free(expr_ws *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < ws->nreg; i++)
        free(ws->reg[i]);
    free(ws->reg);
    free(ws->regcap);
    free(ws->out);
    free(ws->outoff);
    free(ws->iv);
    free(ws->io);
    free(ws->maxblk);
    free(ws);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap && *p)
        return 0;
    size_t nc = need < 16 ? 16 : need + need / 4;
    void *n = realloc(*p, nc * elem);
    if (!n)
        return -1;
    *p = n;
    *cap = nc;
    return 0;
}

static int ws_prepare(expr_ws *ws, const expr *x)
{
    if (x->nin > ws->incap) {
        int nc = x->nin;
        const double **iv = realloc(ws->iv, (size_t)nc * sizeof *iv);
        if (!iv)
            return -1;
        ws->iv = iv;
        const int64_t **io = realloc(ws->io, (size_t)nc * sizeof *io);
        if (!io)
            return -1;
        ws->io = io;
        int64_t *mb = realloc(ws->maxblk, (size_t)nc * sizeof *mb);
        if (!mb)
            return -1;
        ws->maxblk = mb;
        ws->incap = nc;
    }
    if (x->nregs > ws->nreg) {
        double **r = realloc(ws->reg, (size_t)x->nregs * sizeof *r);
        if (!r)
            return -1;
        ws->reg = r;
        size_t *rc = realloc(ws->regcap, (size_t)x->nregs * sizeof *rc);
        if (!rc)
            return -1;
        ws->regcap = rc;
        for (int i = ws->nreg; i < x->nregs; i++) {
            ws->reg[i] = NULL;
            ws->regcap[i] = 0;
        }
        ws->nreg = x->nregs;
    }
    return 0;
}

static int eval_err(mlhep_err *e, int code, const expr *x, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int eval_err(mlhep_err *e, int code, const expr *x, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t len = strlen(x->text);
    return err_set(e, code, "expression '%.*s%s': %s", len > 160 ? 160 : (int)len, x->text,
                   len > 160 ? "..." : "", what);
}

/* Pointer to operand o for the block starting at event e0. */
static inline const double *optr(const expr_ws *ws, const opnd *o, size_t e0)
{
    switch (o->kind) {
    case O_CONST: return &o->k;
    case O_INPUT: return ws->iv[o->idx] + (o->jag ? (size_t)ws->io[o->idx][e0] : e0);
    default: return ws->reg[o->idx];
    }
}

/* Kernels. d never aliases an operand (see gen), hence restrict; the main loops run
 * in groups of 8 so that GCC's -O2 vectoriser (which wants a known trip count) can
 * use SIMD, with a scalar tail. */
#define LOOP8(L, BODY)                                                                     \
    do {                                                                                   \
        size_t i = 0;                                                                      \
        for (; i + 8 <= (L); i += 8)                                                       \
            for (size_t u = i; u < i + 8; u++) {                                           \
                const size_t k = u;                                                        \
                BODY;                                                                      \
            }                                                                              \
        for (; i < (L); i++) {                                                             \
            const size_t k = i;                                                            \
            BODY;                                                                          \
        }                                                                                  \
    } while (0)

static void run_unary(int op, double *restrict d, const double *restrict a, size_t L)
{
    switch (op) {
#define X_L(tag, f, b)                                                                     \
    case tag:                                                                              \
        LOOP8(L, d[k] = f(a[k]));                                                          \
        break;
        UNARY_OPS(X_L)
#undef X_L
    }
}

static void run_binary(int op, double *restrict d, const double *restrict a, int ca,
                       const double *restrict b, int cb, size_t L)
{
    switch (op) {
#define X_L(tag, f, bo)                                                                    \
    case tag:                                                                              \
        if (ca) {                                                                          \
            const double xa = *a;                                                          \
            LOOP8(L, d[k] = f(xa, b[k]));                                                  \
        } else if (cb) {                                                                   \
            const double xb = *b;                                                          \
            LOOP8(L, d[k] = f(a[k], xb));                                                  \
        } else {                                                                           \
            LOOP8(L, d[k] = f(a[k], b[k]));                                                \
        }                                                                                  \
        break;
        BINARY_OPS(X_L)
#undef X_L
    }
}

/* Reduction over events [e0, e1) whose elements start at a (block-relative via off). */
static void run_reduce(int op, double *d, const double *a, const int64_t *off, size_t e0, size_t e1)
{
    const int64_t base = off[e0];
    size_t m = e1 - e0;
    switch (op) {
    case R_SUM:
        for (size_t i = 0; i < m; i++) {
            double s = 0;
            for (int64_t j = off[e0 + i] - base; j < off[e0 + i + 1] - base; j++)
                s += a[j];
            d[i] = s;
        }
        break;
    case R_PROD:
        for (size_t i = 0; i < m; i++) {
            double s = 1;
            for (int64_t j = off[e0 + i] - base; j < off[e0 + i + 1] - base; j++)
                s *= a[j];
            d[i] = s;
        }
        break;
    case R_COUNT:
        for (size_t i = 0; i < m; i++)
            d[i] = (double)(off[e0 + i + 1] - off[e0 + i]);
        break;
    case R_COUNT_NONZERO:
        for (size_t i = 0; i < m; i++) {
            int64_t c = 0;
            for (int64_t j = off[e0 + i] - base; j < off[e0 + i + 1] - base; j++)
                c += a[j] != 0;
            d[i] = (double)c;
        }
        break;
    case R_ANY:
        for (size_t i = 0; i < m; i++) {
            int r = 0;
            for (int64_t j = off[e0 + i] - base; j < off[e0 + i + 1] - base; j++)
                r |= a[j] != 0;
            d[i] = r;
        }
        break;
    case R_ALL:
        for (size_t i = 0; i < m; i++) {
            int r = 1;
            for (int64_t j = off[e0 + i] - base; j < off[e0 + i + 1] - base; j++)
                r &= a[j] != 0;
            d[i] = r;
        }
        break;
    case R_MEAN:
        for (size_t i = 0; i < m; i++) {
            int64_t j0 = off[e0 + i] - base, j1 = off[e0 + i + 1] - base;
            double s = 0;
            for (int64_t j = j0; j < j1; j++)
                s += a[j];
            d[i] = j1 > j0 ? s / (double)(j1 - j0) : NAN;
        }
        break;
    case R_MIN:
    case R_MAX:
        for (size_t i = 0; i < m; i++) {
            int64_t j0 = off[e0 + i] - base, j1 = off[e0 + i + 1] - base;
            double r = NAN;
            if (j1 > j0) {
                r = a[j0];
                if (op == R_MIN)
                    for (int64_t j = j0 + 1; j < j1; j++)
                        r = f_minimum(r, a[j]);
                else
                    for (int64_t j = j0 + 1; j < j1; j++)
                        r = f_maximum(r, a[j]);
            }
            d[i] = r;
        }
        break;
    }
}

static void run_block(const expr *x, const expr_ws *ws, double *out, size_t e0, size_t e1)
{
    for (int k = 0; k < x->ncode; k++) {
        const instr *in = &x->code[k];
        size_t L, base = 0;
        if (in->jag) {
            const int64_t *off = ws->io[in->src];
            base = (size_t)off[e0];
            L = (size_t)off[e1] - base;
        } else {
            L = e1 - e0;
        }
        double *d = in->dst == REG_OUT ? out + (in->jag ? base : e0) : ws->reg[in->dst];
        const double *a = optr(ws, &in->a, e0);
        switch (in->cls) {
        case I_UNARY:
            run_unary(in->op, d, a, L);
            break;
        case I_BINARY:
            run_binary(in->op, d, a, in->a.kind == O_CONST, optr(ws, &in->b, e0),
                       in->b.kind == O_CONST, L);
            break;
        case I_WHERE: {
            const double *b = optr(ws, &in->b, e0), *c = optr(ws, &in->c, e0);
            size_t sa = in->a.kind != O_CONST, sb = in->b.kind != O_CONST,
                   sc = in->c.kind != O_CONST;
            for (size_t i = 0; i < L; i++)
                d[i] = a[i * sa] != 0 ? b[i * sb] : c[i * sc];
            break;
        }
        case I_REDUCE:
            run_reduce(in->op, d, a, ws->io[in->src], e0, e1);
            break;
        case I_BCAST: {
            const int64_t *off = ws->io[in->src];
            for (size_t i = e0; i < e1; i++) {
                const double v = a[i - e0];
                for (int64_t j = off[i] - (int64_t)base; j < off[i + 1] - (int64_t)base; j++)
                    d[j] = v;
            }
            break;
        }
        case I_COPY:
            memcpy(d, a, L * sizeof *d);
            break;
        case I_FILL:
            for (size_t i = 0; i < L; i++)
                d[i] = in->a.k;
            break;
        }
    }
}

int expr_eval(const expr *x, const expr_column *cols, size_t ncols, size_t n, expr_ws *ws,
              expr_column *result, mlhep_err *e)
{
    if (ws_prepare(ws, x) < 0)
        return eval_err(e, MLHEP_ENOMEM, x, "out of memory");
    /* resolve and validate the inputs */
    for (int i = 0; i < x->nin; i++) {
        const expr_column *c = NULL;
        for (size_t j = 0; j < ncols; j++)
            if (cols[j].name && strcmp(cols[j].name, x->in_name[i]) == 0) {
                c = &cols[j];
                break;
            }
        if (!c)
            return eval_err(e, MLHEP_ENOTFOUND, x, "branch '%s' is not in the chunk", x->in_name[i]);
        if (c->kind != (expr_kind)x->in_kind[i])
            return eval_err(e, MLHEP_EINVAL, x, "branch '%s' was declared %s but the chunk holds it %s",
                            x->in_name[i], x->in_kind[i] == EXPR_JAGGED ? "jagged" : "flat",
                            c->kind == EXPR_JAGGED ? "jagged" : "flat");
        if (!c->values && n > 0)
            return eval_err(e, MLHEP_EINVAL, x, "branch '%s' has no values", x->in_name[i]);
        ws->iv[i] = c->values;
        ws->io[i] = NULL;
        if (c->kind == EXPR_JAGGED) {
            const int64_t *off = c->offsets;
            if (!off || off[0] != 0)
                return eval_err(e, MLHEP_EINVAL, x, "branch '%s': jagged offsets must start at 0",
                                x->in_name[i]);
            int64_t mb = 0;
            for (size_t b0 = 0; b0 < n; b0 += EXPR_BLOCK) {
                size_t b1 = n - b0 > EXPR_BLOCK ? b0 + EXPR_BLOCK : n;
                int bad = 0;
                for (size_t k = b0; k < b1; k++)
                    bad |= off[k + 1] < off[k];
                if (bad)
                    return eval_err(e, MLHEP_EINVAL, x,
                                    "branch '%s': jagged offsets decrease (corrupt chunk)",
                                    x->in_name[i]);
                if (off[b1] - off[b0] > mb)
                    mb = off[b1] - off[b0];
            }
            if (!c->values && off[n] > 0)
                return eval_err(e, MLHEP_EINVAL, x, "branch '%s' has no values", x->in_name[i]);
            ws->io[i] = off;
            ws->maxblk[i] = mb;
        }
    }
    /* jagged operands from different branches must agree event by event */
    for (int k = 0; k < x->nchk; k++) {
        const int64_t *o1 = ws->io[x->chk[k][0]], *o2 = ws->io[x->chk[k][1]];
        if (memcmp(o1, o2, (n + 1) * sizeof *o1) == 0)
            continue;
        size_t i = 0;
        while (i < n && o1[i + 1] - o1[i] == o2[i + 1] - o2[i])
            i++;
        return eval_err(e, MLHEP_EINVAL, x,
                        "jagged branches '%s' and '%s' have different numbers of elements in "
                        "event %zu of the chunk (%lld vs %lld)",
                        x->in_name[x->chk[k][0]], x->in_name[x->chk[k][1]], i,
                        (long long)(o1[i + 1] - o1[i]), (long long)(o2[i + 1] - o2[i]));
    }
    /* size the registers and the result */
    size_t blk = n < EXPR_BLOCK ? n : EXPR_BLOCK;
    for (int k = 0; k < x->ncode; k++) {
        const instr *in = &x->code[k];
        if (in->dst == REG_OUT)
            continue;
        size_t need = in->jag ? (size_t)ws->maxblk[in->src] : blk;
        if (grow((void **)&ws->reg[in->dst], &ws->regcap[in->dst], need ? need : 1, sizeof(double)) < 0)
            return eval_err(e, MLHEP_ENOMEM, x, "out of memory");
    }
    size_t total = x->kind == EXPR_JAGGED ? (size_t)ws->io[x->src][n] : n;
    if (grow((void **)&ws->out, &ws->outcap, total ? total : 1, sizeof(double)) < 0)
        return eval_err(e, MLHEP_ENOMEM, x, "out of memory");
    if (x->kind == EXPR_JAGGED) {
        if (grow((void **)&ws->outoff, &ws->outoffcap, n + 1, sizeof(int64_t)) < 0)
            return eval_err(e, MLHEP_ENOMEM, x, "out of memory");
        memcpy(ws->outoff, ws->io[x->src], (n + 1) * sizeof(int64_t));
    }
    for (size_t e0 = 0; e0 < n; e0 += EXPR_BLOCK)
        run_block(x, ws, ws->out, e0, n - e0 > EXPR_BLOCK ? e0 + EXPR_BLOCK : n);
    result->name = x->text;
    result->kind = (expr_kind)x->kind;
    result->offsets = x->kind == EXPR_JAGGED ? ws->outoff : NULL;
    result->values = ws->out;
    return 0;
}
