/* modelpy.c - see modelpy.h.
 *
 * Four parts, in this order: the tokenizer (Python's lexical rules: NAME, NUMBER,
 * STRING, operators, NEWLINE/INDENT/DEDENT), the statement tree (blocks by indentation,
 * the clauses of compound statements), the evaluator (a recursive-descent reader of
 * expressions that computes values as it parses, over the statement tree), and the
 * conversion of the Sequential model found into mlhep's MLP spec.
 *
 * Values live in one arena freed at the end. Nothing executes outside this file: a
 * "call" of a framework class only records its name and arguments; user functions
 * (def) are evaluated by this evaluator. With c->skip > 0 expressions are parsed
 * without effect (the parts of a comprehension, a lambda or a dict that are stepped
 * over). */
#include "model/modelpy.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/arena.h"
#include "base/numarg.h"
#include "model/mlp.h"
#include "model/nncore.h"

#define MAX_INDENT 64           /* nested blocks */
#define MAX_NEST 64             /* nested brackets and expressions */
#define MAX_CALLS 32            /* user function call depth */
#define MAX_STEPS 200000L       /* statements and loop iterations executed */
#define MAX_LIST 100000         /* items of one list (range(), repetition) */
#define MAX_ARENA ((size_t)64 << 20)

/* ================================================================ tokens */

typedef enum tkind { T_END, T_NL, T_INDENT, T_DEDENT, T_NAME, T_NUM, T_STR, T_OP } tkind;

typedef struct tok {
    tkind k;
    int line;
    const char *s; /* NAME/OP: into the source; STR: decoded text (arena) */
    size_t n;
    double num;    /* NUM */
    int is_int;
} tok;

/* ================================================================ statements */

typedef struct stmt stmt;
typedef struct block {
    stmt **v;
    size_t n;
} block;
typedef struct clause {
    const tok *kw; /* if, elif, else, for, while, try, except, finally, with, def, class */
    size_t h0, h1; /* header tokens between the keyword and ':' */
    block body;
} clause;
struct stmt {
    int line;
    size_t t0, t1; /* simple statement: its tokens */
    clause *cl;    /* compound statement: its clauses */
    size_t ncl;
};

/* ================================================================ values */

typedef enum vkind {
    V_NONE, V_BOOL, V_NUM, V_STR, V_LIST,
    V_NAME,    /* a dotted name: an import, a framework attribute, an unbound name */
    V_CALL,    /* a call of a framework class: callee path, arguments */
    V_SEQ,     /* a Sequential model (Keras or PyTorch) */
    V_FUNC,    /* a def of the file */
    V_CLASS,   /* a class of the file */
    V_METHOD,  /* an attribute of a model or list, to be called */
    V_INPUT,   /* the input width: a parameter of model(idim) */
    V_UNKNOWN, /* something this reader cannot evaluate; s says what */
} vkind;

typedef struct value value;
typedef struct kwarg {
    const char *name;
    value *v;
} kwarg;

struct value {
    vkind k;
    int line;
    double num;        /* V_NUM, V_BOOL */
    int is_int;
    const char *s;     /* STR text, NAME path, CALL/SEQ callee path, FUNC/CLASS/METHOD/INPUT name, UNKNOWN what */
    value **it;        /* LIST items, CALL positional arguments, SEQ layers */
    size_t n, cap;
    int tuple;
    kwarg *kw;         /* CALL keyword arguments; SEQ: compile()'s */
    size_t nkw;
    int compile_line;  /* SEQ: line of compile(), 0 if none */
    value *self;       /* METHOD */
    const stmt *def;   /* FUNC */
};

typedef struct binding {
    const char *name;
    value *v;
} binding;
typedef struct scope {
    binding *b;
    size_t n, cap;
    struct scope *parent;
} scope;

enum { FW_NONE = 0, FW_KERAS, FW_TORCH };
enum { X_OK = 0, X_RET = 1, X_BRK = 2, X_CONT = 3 };

typedef struct ctx {
    const char *fname;
    mlhep_err *e;
    int rc;            /* first error (then every function returns it) */
    arena a;
    tok *t;
    size_t nt, cap;
    size_t pos, lim;   /* evaluator: current token, end of the current statement */
    int nest, calls, skip;
    long steps;
    scope *globals;
    scope *cur;        /* the innermost scope names are looked up in */
    value none;
} ctx;

static int fail(ctx *c, int line, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(ctx *c, int line, int code, const char *fmt, ...)
{
    if (c->rc)
        return c->rc;
    char msg[MLHEP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        err_set(c->e, code, "%s:%d: %s", c->fname, line, msg);
    else
        err_set(c->e, code, "%s: %s", c->fname, msg);
    c->rc = code;
    return code;
}

static void *alloc(ctx *c, size_t n)
{
    void *p = c->a.total + n > MAX_ARENA ? NULL : arena_alloc(&c->a, n);
    if (!p)
        fail(c, 0, MLHEP_ENOMEM, "out of memory (or more than %zu MiB of values)", MAX_ARENA >> 20);
    return p;
}

static char *adup(ctx *c, const char *s, size_t n)
{
    char *d = alloc(c, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ================================================================ tokenizer */

static int push_tok(ctx *c, tkind k, int line, const char *s, size_t n)
{
    if (c->nt == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        tok *t = realloc(c->t, cap * sizeof *t);
        if (!t)
            return fail(c, 0, MLHEP_ENOMEM, "out of memory");
        c->t = t;
        c->cap = cap;
    }
    c->t[c->nt++] = (tok){k, line, s, n, 0, 0};
    return 0;
}

static int is_name0(int ch) { return isalpha(ch) || ch == '_' || ch >= 0x80; }
static int is_name1(int ch) { return isalnum(ch) || ch == '_' || ch >= 0x80; }

/* A string literal at p (after its prefix); decodes into the arena. */
static int lex_string(ctx *c, const char **pp, const char *end, int *line, int raw)
{
    const char *p = *pp;
    char q = *p;
    int triple = end - p >= 3 && p[1] == q && p[2] == q;
    int line0 = *line;
    p += triple ? 3 : 1;
    const char *start = p;
    for (;;) {
        if (p >= end)
            return fail(c, line0, MLHEP_EINVAL, "string not closed");
        if (*p == '\\') {
            if (p + 1 >= end)
                return fail(c, line0, MLHEP_EINVAL, "string not closed");
            if (p[1] == '\n')
                ++*line;
            p += 2;
            continue;
        }
        if (*p == '\n') {
            if (!triple)
                return fail(c, line0, MLHEP_EINVAL, "string not closed on its line");
            ++*line;
        }
        if (*p == q && (!triple || (end - p >= 3 && p[1] == q && p[2] == q)))
            break;
        p++;
    }
    size_t n = (size_t)(p - start);
    char *d = alloc(c, n + 1);
    if (!d)
        return c->rc;
    size_t o = 0;
    for (const char *s = start; s < p; s++) {
        if (*s != '\\' || raw || s + 1 >= p) {
            d[o++] = *s;
            continue;
        }
        char x = *++s;
        switch (x) {
        case 'n': d[o++] = '\n'; break;
        case 't': d[o++] = '\t'; break;
        case 'r': d[o++] = '\r'; break;
        case '0': d[o++] = '\0'; break;
        case '\\': case '\'': case '"': d[o++] = x; break;
        case '\n': break; /* line continuation inside the string */
        default: d[o++] = '\\'; d[o++] = x; break;
        }
    }
    d[o] = '\0';
    if (push_tok(c, T_STR, line0, d, o))
        return c->rc;
    *pp = p + (triple ? 3 : 1);
    return 0;
}

static int lex_number(ctx *c, const char **pp, const char *end, int line)
{
    const char *p = *pp;
    char buf[80];
    size_t o = 0;
    int is_int = 1;
    double v;
    if (*p == '0' && p + 1 < end && strchr("xXoObB", p[1])) {
        int base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
        p += 2;
        v = 0;
        int digits = 0;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_')) {
            if (*p != '_') {
                int d = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
                if (d >= base)
                    return fail(c, line, MLHEP_EINVAL, "bad digit '%c' in a number", *p);
                v = v * base + d;
                digits++;
                if (v > 9007199254740992.0)
                    return fail(c, line, MLHEP_EINVAL, "a whole number beyond 2^53 (model.py numbers are read as doubles)");
            }
            p++;
        }
        if (!digits)
            return fail(c, line, MLHEP_EINVAL, "number without digits");
    } else {
        while (p < end && (isdigit((unsigned char)*p) || *p == '_' || *p == '.' || *p == 'e' || *p == 'E' ||
                           ((*p == '+' || *p == '-') && o > 0 && (buf[o - 1] == 'e' || buf[o - 1] == 'E')))) {
            if (*p != '_') {
                if (o + 1 >= sizeof buf)
                    return fail(c, line, MLHEP_EINVAL, "number too long");
                if (*p == '.' || *p == 'e' || *p == 'E')
                    is_int = 0;
                buf[o++] = *p;
            }
            p++;
        }
        buf[o] = '\0';
        mlhep_err ne;
        if (numarg_double("number", buf, 0, DBL_MAX, &v, &ne))
            return fail(c, line, MLHEP_EINVAL, "cannot read the number '%s' (malformed, or beyond %g)", buf, DBL_MAX);
    }
    if (p < end && (*p == 'j' || *p == 'J' || is_name1((unsigned char)*p)))
        return fail(c, line, MLHEP_EINVAL, "cannot read the number (complex numbers and suffixes are not read)");
    if (push_tok(c, T_NUM, line, *pp, (size_t)(p - *pp)))
        return c->rc;
    c->t[c->nt - 1].num = v;
    c->t[c->nt - 1].is_int = is_int;
    *pp = p;
    return 0;
}

static int tokenize(ctx *c, const char *src, size_t len)
{
    const char *p = src, *end = src + len;
    int line = 1, depth = 0, bol = 1;
    int indent[MAX_INDENT + 1], ni = 0;
    int open_line[MAX_NEST];
    indent[0] = 0;
    while (!c->rc) {
        if (bol && depth == 0) {
            int col = 0;
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\f'))
                col = *p++ == '\t' ? (col / 8 + 1) * 8 : col + 1;
            if (p >= end)
                break;
            if (*p == '#' || *p == '\n' || *p == '\r') { /* blank or comment line */
                while (p < end && *p != '\n')
                    p++;
                if (p < end) {
                    p++;
                    line++;
                }
                continue;
            }
            bol = 0;
            if (col > indent[ni]) {
                if (ni == MAX_INDENT)
                    return fail(c, line, MLHEP_ENOMEM, "blocks nested more than %d deep", MAX_INDENT);
                indent[++ni] = col;
                push_tok(c, T_INDENT, line, p, 0);
            } else {
                while (col < indent[ni]) {
                    ni--;
                    push_tok(c, T_DEDENT, line, p, 0);
                }
                if (col != indent[ni])
                    return fail(c, line, MLHEP_EINVAL, "indentation does not match any outer block");
            }
            continue;
        }
        if (p >= end)
            break;
        unsigned char ch = (unsigned char)*p;
        if (ch == ' ' || ch == '\t' || ch == '\f' || ch == '\r') {
            p++;
        } else if (ch == '#') {
            while (p < end && *p != '\n')
                p++;
        } else if (ch == '\n') {
            if (depth == 0 && c->nt && c->t[c->nt - 1].k != T_NL && c->t[c->nt - 1].k != T_INDENT &&
                c->t[c->nt - 1].k != T_DEDENT)
                push_tok(c, T_NL, line, p, 0);
            p++;
            line++;
            bol = depth == 0; /* inside brackets, indentation means nothing */
        } else if (ch == '\\') {
            /* line continuation; a comment after it (not Python, but seen in MLaaS4HEP's
             * examples) is tolerated */
            p++;
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
                p++;
            if (p < end && *p == '#')
                while (p < end && *p != '\n')
                    p++;
            if (p < end && *p != '\n')
                return fail(c, line, MLHEP_EINVAL, "unexpected character after a line continuation '\\'");
            if (p < end) {
                p++;
                line++;
            }
        } else if (is_name0(ch)) {
            const char *s = p;
            while (p < end && is_name1((unsigned char)*p))
                p++;
            size_t n = (size_t)(p - s);
            int is_prefix = n <= 2 && p < end && (*p == '\'' || *p == '"');
            int raw = 0;
            for (size_t i = 0; is_prefix && i < n; i++) {
                char x = (char)tolower((unsigned char)s[i]);
                if (!strchr("rbuf", x))
                    is_prefix = 0;
                raw |= x == 'r';
            }
            if (is_prefix)
                lex_string(c, &p, end, &line, raw);
            else
                push_tok(c, T_NAME, line, s, n);
        } else if (isdigit(ch) || (ch == '.' && p + 1 < end && isdigit((unsigned char)p[1]))) {
            lex_number(c, &p, end, line);
        } else if (ch == '\'' || ch == '"') {
            lex_string(c, &p, end, &line, 0);
        } else {
            static const char *const ops3[] = {"**=", "//=", ">>=", "<<=", "...", NULL};
            static const char *const ops2[] = {"**", "//", "==", "!=", "<=", ">=", "->", "+=", "-=", "*=", "/=",
                                               "%=", "&=", "|=", "^=", "<<", ">>", ":=", "@=", NULL};
            size_t n = 0;
            for (const char *const *o = ops3; !n && *o; o++)
                if (end - p >= 3 && !memcmp(p, *o, 3))
                    n = 3;
            for (const char *const *o = ops2; !n && *o; o++)
                if (end - p >= 2 && !memcmp(p, *o, 2))
                    n = 2;
            if (!n && strchr("()[]{},:;.=+-*/%<>&|^~@!", ch))
                n = 1;
            if (!n)
                return fail(c, line, MLHEP_EINVAL, "unexpected character '%c' (0x%02x)", isprint(ch) ? ch : '?', ch);
            if (n == 1 && strchr("([{", ch)) {
                if (depth == MAX_NEST)
                    return fail(c, line, MLHEP_ENOMEM, "brackets nested more than %d deep", MAX_NEST);
                open_line[depth++] = line;
            } else if (n == 1 && strchr(")]}", ch)) {
                if (depth == 0)
                    return fail(c, line, MLHEP_EINVAL, "'%c' closes nothing", ch);
                depth--;
            }
            push_tok(c, T_OP, line, p, n);
            p += n;
        }
    }
    if (c->rc)
        return c->rc;
    if (depth > 0)
        return fail(c, open_line[depth - 1], MLHEP_EINVAL, "bracket opened here is never closed");
    if (c->nt && c->t[c->nt - 1].k != T_NL && c->t[c->nt - 1].k != T_DEDENT)
        push_tok(c, T_NL, line, p, 0);
    while (ni-- > 0)
        push_tok(c, T_DEDENT, line, p, 0);
    return push_tok(c, T_END, line, p, 0);
}

static int tok_is(const tok *t, tkind k, const char *s)
{
    return t->k == k && t->n == strlen(s) && !memcmp(t->s, s, t->n);
}
static int op_is(const tok *t, const char *s) { return tok_is(t, T_OP, s); }
static int kw_is(const tok *t, const char *s) { return tok_is(t, T_NAME, s); }

/* ================================================================ statement tree */

static int parse_block(ctx *c, size_t *p, block *out, int top);

static int block_add(ctx *c, block *b, size_t *cap, stmt *s)
{
    if (b->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        stmt **v = alloc(c, nc * sizeof *v);
        if (!v)
            return c->rc;
        if (b->n)
            memcpy(v, b->v, b->n * sizeof *v);
        b->v = v;
        *cap = nc;
    }
    b->v[b->n++] = s;
    return 0;
}

/* Simple statements up to the end of the line, split at ';'. */
static int parse_simple_line(ctx *c, size_t *p, block *b, size_t *cap)
{
    size_t t0 = *p;
    for (;;) {
        const tok *t = &c->t[*p];
        if (t->k == T_NL || t->k == T_END || op_is(t, ";")) {
            if (*p > t0) {
                stmt *s = alloc(c, sizeof *s);
                if (!s || block_add(c, b, cap, s))
                    return c->rc;
                s->line = c->t[t0].line;
                s->t0 = t0;
                s->t1 = *p;
            }
            if (t->k == T_END)
                return 0;
            (*p)++;
            if (t->k == T_NL)
                return 0;
            t0 = *p;
            continue;
        }
        if (t->k == T_INDENT || t->k == T_DEDENT)
            return fail(c, t->line, MLHEP_EINVAL, "unexpected indentation");
        (*p)++;
    }
}

static int is_compound(const tok *t)
{
    static const char *const kws[] = {"if", "for", "while", "try", "with", "def", "class", NULL};
    for (const char *const *k = kws; *k; k++)
        if (kw_is(t, *k))
            return 1;
    return 0;
}

static int continues(const tok *first, const tok *t)
{
    if (kw_is(first, "if"))
        return kw_is(t, "elif") || kw_is(t, "else");
    if (kw_is(first, "for") || kw_is(first, "while"))
        return kw_is(t, "else");
    if (kw_is(first, "try"))
        return kw_is(t, "except") || kw_is(t, "else") || kw_is(t, "finally");
    return 0;
}

static int parse_compound(ctx *c, size_t *p, block *b, size_t *cap)
{
    stmt *s = alloc(c, sizeof *s);
    if (!s || block_add(c, b, cap, s))
        return c->rc;
    const tok *first = &c->t[*p];
    s->line = first->line;
    size_t ccap = 0;
    for (;;) {
        const tok *kw = &c->t[*p];
        if (s->ncl == ccap) {
            size_t nc = ccap ? ccap * 2 : 4;
            clause *v = alloc(c, nc * sizeof *v);
            if (!v)
                return c->rc;
            if (s->ncl)
                memcpy(v, s->cl, s->ncl * sizeof *v);
            s->cl = v;
            ccap = nc;
        }
        clause *cl = &s->cl[s->ncl++];
        cl->kw = kw;
        cl->h0 = ++*p;
        int depth = 0;
        for (;;) {
            const tok *t = &c->t[*p];
            if (t->k == T_NL || t->k == T_END)
                return fail(c, kw->line, MLHEP_EINVAL, "expected ':' after '%.*s'", (int)kw->n, kw->s);
            if (t->k == T_OP && t->n == 1 && strchr("([{", *t->s))
                depth++;
            else if (t->k == T_OP && t->n == 1 && strchr(")]}", *t->s))
                depth--;
            else if (depth == 0 && op_is(t, ":"))
                break;
            (*p)++;
        }
        cl->h1 = (*p)++;
        size_t bcap = 0;
        if (c->t[*p].k == T_NL) {
            (*p)++;
            if (c->t[*p].k != T_INDENT)
                return fail(c, c->t[*p].line, MLHEP_EINVAL, "expected an indented block after '%.*s'", (int)kw->n,
                            kw->s);
            (*p)++;
            if (parse_block(c, p, &cl->body, 0))
                return c->rc;
            if (c->t[*p].k != T_DEDENT)
                return fail(c, c->t[*p].line, MLHEP_EINVAL, "unexpected end of block");
            (*p)++;
        } else if (parse_simple_line(c, p, &cl->body, &bcap)) {
            return c->rc;
        }
        if (!continues(first, &c->t[*p]))
            return 0;
    }
}

static int parse_block(ctx *c, size_t *p, block *out, int top)
{
    size_t cap = 0;
    while (!c->rc) {
        const tok *t = &c->t[*p];
        if (t->k == T_END)
            return top ? 0 : fail(c, t->line, MLHEP_EINVAL, "unexpected end of file");
        if (t->k == T_DEDENT) {
            if (top)
                return fail(c, t->line, MLHEP_EINVAL, "unexpected indentation");
            return 0;
        }
        if (t->k == T_NL) {
            (*p)++;
        } else if (t->k == T_INDENT) {
            return fail(c, t->line, MLHEP_EINVAL, "unexpected indentation");
        } else if (kw_is(t, "async") && is_compound(&c->t[*p + 1])) {
            (*p)++;
        } else if (is_compound(t)) {
            parse_compound(c, p, out, &cap);
        } else if (kw_is(t, "elif") || kw_is(t, "else") || kw_is(t, "except") || kw_is(t, "finally")) {
            return fail(c, t->line, MLHEP_EINVAL, "'%.*s' without its 'if'/'try'", (int)t->n, t->s);
        } else {
            parse_simple_line(c, p, out, &cap);
        }
    }
    return c->rc;
}

/* ================================================================ values and scopes */

static value *mk(ctx *c, vkind k, int line)
{
    value *v = alloc(c, sizeof *v);
    if (v) {
        v->k = k;
        v->line = line;
    }
    return v;
}

/* Numbers are doubles: a result that is not finite (1e308 * 10, 2 ** 5000) or a whole
 * number beyond 2^53 (not held exactly, and not an index or a count) is refused, so
 * nothing downstream converts an out-of-range double to an integer. */
static value *mk_num(ctx *c, double x, int is_int, int line)
{
    if (!isfinite(x)) {
        fail(c, line, MLHEP_EINVAL, "a number too large to compute (%g)", x);
        return NULL;
    }
    if (is_int && fabs(x) > 9007199254740992.0) {
        fail(c, line, MLHEP_EINVAL, "the whole number %.17g is beyond 2^53 (model.py numbers are read as doubles)", x);
        return NULL;
    }
    value *v = mk(c, V_NUM, line);
    if (v) {
        v->num = x;
        v->is_int = is_int;
    }
    return v;
}

static value *mk_unknown(ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static value *mk_unknown(ctx *c, int line, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    value *v = mk(c, V_UNKNOWN, line);
    if (v && !(v->s = adup(c, buf, strlen(buf))))
        return NULL;
    return v;
}

static int list_push(ctx *c, value *l, value *x)
{
    if (l->n >= MAX_LIST)
        return fail(c, x ? x->line : 0, MLHEP_ENOMEM, "a list of more than %d items", MAX_LIST);
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        value **v = alloc(c, nc * sizeof *v);
        if (!v)
            return c->rc;
        if (l->n)
            memcpy(v, l->it, l->n * sizeof *v);
        l->it = v;
        l->cap = nc;
    }
    l->it[l->n++] = x;
    return 0;
}

static int bind(ctx *c, scope *sc, const char *name, value *v)
{
    for (size_t i = 0; i < sc->n; i++)
        if (!strcmp(sc->b[i].name, name)) {
            sc->b[i].v = v;
            return 0;
        }
    if (sc->n == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 16;
        binding *b = alloc(c, nc * sizeof *b);
        if (!b)
            return c->rc;
        if (sc->n)
            memcpy(b, sc->b, sc->n * sizeof *b);
        sc->b = b;
        sc->cap = nc;
    }
    sc->b[sc->n++] = (binding){name, v};
    return 0;
}

static value *lookup(scope *sc, const char *name)
{
    for (; sc; sc = sc->parent)
        for (size_t i = 0; i < sc->n; i++)
            if (!strcmp(sc->b[i].name, name))
                return sc->b[i].v;
    return NULL;
}

static const char *last_part(const char *path)
{
    const char *d = strrchr(path, '.');
    return d ? d + 1 : path;
}

static int fw_of(const char *path)
{
    if (!strncmp(path, "torch", 5) || strstr(path, "MLaaS4HEP") || strstr(path, "jarray"))
        return FW_TORCH;
    if (strstr(path, "keras") || !strncmp(path, "tensorflow", 10) || !strncmp(path, "tf.", 3))
        return FW_KERAS;
    return FW_NONE;
}

/* A short description of a value for messages. */
static const char *describe(const value *v, char *buf, size_t n)
{
    if (!v) {
        snprintf(buf, n, "nothing");
        return buf;
    }
    switch (v->k) {
    case V_NONE: snprintf(buf, n, "None"); break;
    case V_BOOL: snprintf(buf, n, "%s", v->num ? "True" : "False"); break;
    case V_NUM: snprintf(buf, n, "the number %.17g", v->num); break;
    case V_STR: snprintf(buf, n, "the string '%.60s'", v->s); break;
    case V_LIST: snprintf(buf, n, "a %s of %zu items", v->tuple ? "tuple" : "list", v->n); break;
    case V_NAME: snprintf(buf, n, "%.80s", v->s); break;
    case V_CALL: snprintf(buf, n, "%.80s(...)", last_part(v->s)); break;
    case V_SEQ: snprintf(buf, n, "a Sequential model"); break;
    case V_FUNC: snprintf(buf, n, "the function %.80s", v->s); break;
    case V_CLASS: snprintf(buf, n, "the class %.80s", v->s); break;
    case V_METHOD: snprintf(buf, n, "the method %.80s", v->s); break;
    case V_INPUT: snprintf(buf, n, "the input width '%.80s'", v->s); break;
    case V_UNKNOWN: snprintf(buf, n, "%.200s", v->s); break;
    }
    return buf;
}

static int truth(ctx *c, const value *v, int line, int *out)
{
    switch (v->k) {
    case V_NONE: *out = 0; return 0;
    case V_BOOL:
    case V_NUM: *out = v->num != 0; return 0;
    case V_STR: *out = v->s[0] != '\0'; return 0;
    case V_LIST: *out = v->n > 0; return 0;
    case V_UNKNOWN:
    case V_INPUT: {
        char d[256];
        return fail(c, line, MLHEP_EINVAL, "cannot decide this condition: it depends on %s", describe(v, d, sizeof d));
    }
    default: *out = 1; return 0;
    }
}

/* ================================================================ evaluator */

static value *ev_expr(ctx *c);
static value *ev_or(ctx *c);
static int exec_block(ctx *c, const block *b, scope *sc, value **ret);
static value *call_value(ctx *c, value *f, value **args, size_t nargs, kwarg *kw, size_t nkw, int line);

static const tok *cur(ctx *c)
{
    static const tok end = {T_END, 0, "", 0, 0, 0};
    return c->pos < c->lim ? &c->t[c->pos] : &end;
}
static int at_op(ctx *c, const char *s) { return op_is(cur(c), s); }
static int at_kw(ctx *c, const char *s) { return kw_is(cur(c), s); }
static int line_now(ctx *c) { return c->pos < c->lim ? c->t[c->pos].line : c->pos ? c->t[c->pos - 1].line : 1; }

static int expect_op(ctx *c, const char *s)
{
    if (!at_op(c, s)) {
        const tok *t = cur(c);
        return fail(c, line_now(c), MLHEP_EINVAL, "expected '%s' here, found %s%.*s%s", s,
                    t->k == T_END ? "the end of the statement" : "'", t->k == T_END ? 0 : (int)t->n, t->s,
                    t->k == T_END ? "" : "'");
    }
    c->pos++;
    return 0;
}

/* Scans ahead (without evaluating) from the current token to the end of one element of
 * a display or an argument list: returns 1 if a 'for' at bracket depth 0 comes first
 * (a comprehension). */
static int ahead_for(ctx *c)
{
    int depth = 0;
    for (size_t i = c->pos; i < c->lim; i++) {
        const tok *t = &c->t[i];
        if (t->k == T_OP && t->n == 1 && strchr("([{", *t->s))
            depth++;
        else if (t->k == T_OP && t->n == 1 && strchr(")]}", *t->s)) {
            if (depth-- == 0)
                return 0;
        } else if (depth == 0 && (op_is(t, ",")))
            return 0;
        else if (depth == 0 && kw_is(t, "for"))
            return 1;
    }
    return 0;
}

static int assign_names(ctx *c, scope *sc, size_t t0, size_t t1, value *v, int line);

/* Comprehension: [elem for target in iterable (if cond)*] with the current token at
 * the element; closer is "]" or ")". Returns the list. */
static value *ev_comprehension(ctx *c, const char *closer, int line);

static value *ev_atom(ctx *c)
{
    const tok *t = cur(c);
    int line = line_now(c);
    if (t->k == T_NUM) {
        c->pos++;
        return mk_num(c, t->num, t->is_int, line);
    }
    if (t->k == T_STR) {
        /* adjacent literals concatenate */
        size_t n = 0;
        for (size_t i = c->pos; i < c->lim && c->t[i].k == T_STR; i++)
            n += c->t[i].n;
        char *s = alloc(c, n + 1);
        if (!s)
            return NULL;
        size_t o = 0;
        while (c->pos < c->lim && c->t[c->pos].k == T_STR) {
            memcpy(s + o, c->t[c->pos].s, c->t[c->pos].n);
            o += c->t[c->pos].n;
            c->pos++;
        }
        s[o] = '\0';
        value *v = mk(c, V_STR, line);
        if (v)
            v->s = s;
        return v;
    }
    if (t->k == T_NAME) {
        c->pos++;
        if (kw_is(t, "None"))
            return mk(c, V_NONE, line);
        if (kw_is(t, "True") || kw_is(t, "False")) {
            value *v = mk(c, V_BOOL, line);
            if (v)
                v->num = kw_is(t, "True");
            return v;
        }
        if (kw_is(t, "lambda")) {
            /* parameters up to ':', then the body, stepped over */
            while (c->pos < c->lim && !at_op(c, ":"))
                c->pos++;
            if (expect_op(c, ":"))
                return NULL;
            c->skip++;
            value *b = ev_expr(c);
            c->skip--;
            return b ? mk_unknown(c, line, "a lambda") : NULL;
        }
        if (kw_is(t, "yield") || kw_is(t, "await")) {
            fail(c, line, MLHEP_EINVAL, "'%.*s' is not read", (int)t->n, t->s);
            return NULL;
        }
        char *name = adup(c, t->s, t->n);
        if (!name)
            return NULL;
        if (c->skip)
            return mk(c, V_NONE, line);
        value *v = lookup(c->cur, name);
        if (v)
            return v;
        v = mk(c, V_NAME, line); /* a builtin, a framework name used without import, or unbound */
        if (v)
            v->s = name;
        return v;
    }
    if (op_is(t, "...")) {
        c->pos++;
        return mk(c, V_NONE, line);
    }
    if (op_is(t, "(") || op_is(t, "[")) {
        int paren = op_is(t, "(");
        const char *closer = paren ? ")" : "]";
        c->pos++;
        if (ahead_for(c))
            return ev_comprehension(c, closer, line);
        value *l = mk(c, V_LIST, line);
        if (!l)
            return NULL;
        l->tuple = paren;
        int comma = 0;
        while (!at_op(c, closer)) {
            value *x;
            if (at_op(c, "*")) { /* [*a, *b] */
                c->pos++;
                x = ev_or(c);
                if (!x)
                    return NULL;
                if (x->k == V_LIST) {
                    for (size_t i = 0; i < x->n; i++)
                        if (list_push(c, l, x->it[i]))
                            return NULL;
                } else if (list_push(c, l, mk_unknown(c, line, "an unpacked %s", x->k == V_UNKNOWN ? x->s : "value"))) {
                    return NULL;
                }
            } else {
                x = ev_expr(c);
                if (!x || list_push(c, l, x))
                    return NULL;
            }
            if (!at_op(c, ","))
                break;
            c->pos++;
            comma = 1;
        }
        if (expect_op(c, closer))
            return NULL;
        if (paren && l->n == 1 && !comma)
            return l->it[0]; /* (x) is x */
        return l;
    }
    if (op_is(t, "{")) {
        /* dicts and sets are stepped over */
        c->pos++;
        int depth = 0;
        while (c->pos < c->lim && !(depth == 0 && at_op(c, "}"))) {
            const tok *x = cur(c);
            if (x->k == T_OP && x->n == 1 && strchr("([{", *x->s))
                depth++;
            else if (x->k == T_OP && x->n == 1 && strchr(")]}", *x->s))
                depth--;
            c->pos++;
        }
        if (expect_op(c, "}"))
            return NULL;
        return mk_unknown(c, line, "a dict or set");
    }
    if (t->k == T_END)
        fail(c, line, MLHEP_EINVAL, "expression expected at the end of the statement");
    else
        fail(c, line, MLHEP_EINVAL, "unexpected '%.*s'", (int)t->n, t->s);
    return NULL;
}

/* Call arguments after '(' up to and including ')'. */
static int ev_args(ctx *c, value *args, kwarg **kw, size_t *nkw)
{
    size_t kcap = 0;
    *kw = NULL;
    *nkw = 0;
    int line = line_now(c);
    if (ahead_for(c)) { /* f(x for x in y) */
        value *g = ev_comprehension(c, ")", line);
        return g ? list_push(c, args, g) : c->rc;
    }
    while (!at_op(c, ")")) {
        const tok *t = cur(c);
        if (op_is(t, "*") || op_is(t, "**")) {
            int dbl = op_is(t, "**");
            c->pos++;
            value *x = ev_expr(c);
            if (!x)
                return c->rc;
            if (!dbl && x->k == V_LIST) {
                for (size_t i = 0; i < x->n; i++)
                    if (list_push(c, args, x->it[i]))
                        return c->rc;
            } else if (!c->skip) {
                char d[256];
                return fail(c, line_now(c), MLHEP_EINVAL, "cannot read the argument %s%s", dbl ? "**" : "*",
                            describe(x, d, sizeof d));
            }
        } else if (t->k == T_NAME && c->pos + 1 < c->lim && op_is(&c->t[c->pos + 1], "=")) {
            char *name = adup(c, t->s, t->n);
            if (!name)
                return c->rc;
            c->pos += 2;
            value *x = ev_expr(c);
            if (!x)
                return c->rc;
            for (size_t i = 0; i < *nkw; i++)
                if (!strcmp((*kw)[i].name, name))
                    return fail(c, line_now(c), MLHEP_EINVAL, "argument '%s' given twice", name);
            if (*nkw == kcap) {
                size_t nc = kcap ? kcap * 2 : 4;
                kwarg *k = alloc(c, nc * sizeof *k);
                if (!k)
                    return c->rc;
                if (*nkw)
                    memcpy(k, *kw, *nkw * sizeof *k);
                *kw = k;
                kcap = nc;
            }
            (*kw)[(*nkw)++] = (kwarg){name, x};
        } else {
            if (*nkw)
                return fail(c, line_now(c), MLHEP_EINVAL, "positional argument after keyword arguments");
            value *x = ev_expr(c);
            if (!x || list_push(c, args, x))
                return c->rc;
        }
        if (!at_op(c, ","))
            break;
        c->pos++;
    }
    return expect_op(c, ")");
}

static value *attribute(ctx *c, value *v, const char *name, int line)
{
    if (c->skip)
        return v;
    if (v->k == V_NAME) {
        size_t a = strlen(v->s), b = strlen(name);
        value *r = mk(c, V_NAME, line);
        char *s = r ? alloc(c, a + b + 2) : NULL;
        if (!s)
            return NULL;
        memcpy(s, v->s, a);
        s[a] = '.';
        memcpy(s + a + 1, name, b + 1);
        r->s = s;
        return r;
    }
    if (v->k == V_SEQ || v->k == V_LIST) {
        value *m = mk(c, V_METHOD, line);
        if (m) {
            m->self = v;
            m->s = name;
        }
        return m;
    }
    char d[256];
    return mk_unknown(c, line, "the attribute '%s' of %s", name, describe(v, d, sizeof d));
}

static value *ev_primary(ctx *c)
{
    if (++c->nest > MAX_NEST) {
        fail(c, line_now(c), MLHEP_ENOMEM, "expression nested more than %d deep", MAX_NEST);
        return NULL;
    }
    value *v = ev_atom(c);
    while (v) {
        int line = line_now(c);
        if (at_op(c, ".")) {
            c->pos++;
            const tok *t = cur(c);
            if (t->k != T_NAME) {
                fail(c, line, MLHEP_EINVAL, "a name must follow '.'");
                v = NULL;
                break;
            }
            c->pos++;
            char *name = adup(c, t->s, t->n);
            v = name ? attribute(c, v, name, line) : NULL;
        } else if (at_op(c, "(")) {
            c->pos++;
            value *args = mk(c, V_LIST, line);
            kwarg *kw;
            size_t nkw;
            if (!args || ev_args(c, args, &kw, &nkw)) {
                v = NULL;
                break;
            }
            v = c->skip ? v : call_value(c, v, args->it, args->n, kw, nkw, line);
        } else if (at_op(c, "[")) {
            c->pos++;
            int slice = 0, depth = 0;
            for (size_t i = c->pos; i < c->lim; i++) {
                const tok *x = &c->t[i];
                if (x->k == T_OP && x->n == 1 && strchr("([{", *x->s))
                    depth++;
                else if (x->k == T_OP && x->n == 1 && strchr(")]}", *x->s)) {
                    if (depth-- == 0)
                        break;
                } else if (depth == 0 && (op_is(x, ":") || op_is(x, ",")))
                    slice = 1;
            }
            if (slice) {
                c->skip++;
                while (c->pos < c->lim && !at_op(c, "]")) {
                    if (at_op(c, ":") || at_op(c, ","))
                        c->pos++;
                    else if (!ev_expr(c))
                        break;
                }
                c->skip--;
                if (c->rc || expect_op(c, "]"))
                    return NULL;
                v = mk_unknown(c, line, "a slice");
                continue;
            }
            value *ix = ev_expr(c);
            if (!ix || expect_op(c, "]"))
                return NULL;
            if (c->skip)
                continue;
            if (v->k == V_LIST && ix->k == V_NUM && ix->is_int) {
                long long i = (long long)ix->num;
                if (i < 0)
                    i += (long long)v->n;
                if (i < 0 || i >= (long long)v->n) {
                    fail(c, line, MLHEP_EINVAL, "index %lld out of range (%zu items)", (long long)ix->num, v->n);
                    return NULL;
                }
                v = v->it[i];
            } else {
                char d[256];
                v = mk_unknown(c, line, "an item of %s", describe(v, d, sizeof d));
            }
        } else {
            break;
        }
    }
    c->nest--;
    return v;
}

static value *arith(ctx *c, const char *op, value *a, value *b, int line)
{
    if (c->skip)
        return a;
    if ((a->k == V_NUM || a->k == V_BOOL) && (b->k == V_NUM || b->k == V_BOOL)) {
        double x = a->num, y = b->num, r;
        int ints = a->is_int && b->is_int;
        if (a->k == V_BOOL)
            ints = b->k == V_BOOL || b->is_int;
        if (!strcmp(op, "+")) r = x + y;
        else if (!strcmp(op, "-")) r = x - y;
        else if (!strcmp(op, "*")) r = x * y;
        else if (!strcmp(op, "**")) r = pow(x, y), ints = ints && y >= 0;
        else if (y == 0 && (!strcmp(op, "/") || !strcmp(op, "//") || !strcmp(op, "%"))) {
            fail(c, line, MLHEP_EINVAL, "division by zero");
            return NULL;
        } else if (!strcmp(op, "/")) r = x / y, ints = 0;
        else if (!strcmp(op, "//")) r = floor(x / y);
        else if (!strcmp(op, "%")) r = x - floor(x / y) * y;
        else return mk_unknown(c, line, "the operator '%s'", op);
        return mk_num(c, r, ints, line);
    }
    if (!strcmp(op, "+") && a->k == V_STR && b->k == V_STR) {
        size_t n = strlen(a->s), m = strlen(b->s);
        value *v = mk(c, V_STR, line);
        char *s = v ? alloc(c, n + m + 1) : NULL;
        if (!s)
            return NULL;
        memcpy(s, a->s, n);
        memcpy(s + n, b->s, m + 1);
        v->s = s;
        return v;
    }
    if ((!strcmp(op, "+") && a->k == V_LIST && b->k == V_LIST) ||
        (!strcmp(op, "*") && ((a->k == V_LIST && b->k == V_NUM && b->is_int) || (b->k == V_LIST && a->k == V_NUM && a->is_int)))) {
        value *l = mk(c, V_LIST, line);
        if (!l)
            return NULL;
        if (!strcmp(op, "+")) {
            l->tuple = a->tuple;
            for (size_t i = 0; i < a->n; i++)
                if (list_push(c, l, a->it[i]))
                    return NULL;
            for (size_t i = 0; i < b->n; i++)
                if (list_push(c, l, b->it[i]))
                    return NULL;
        } else {
            value *src = a->k == V_LIST ? a : b;
            double times = a->k == V_LIST ? b->num : a->num;
            l->tuple = src->tuple;
            for (double k = 0; src->n && k < times; k++) /* [] * n: no n-step loop */
                for (size_t i = 0; i < src->n; i++)
                    if (list_push(c, l, src->it[i]))
                        return NULL;
        }
        return l;
    }
    char da[256], db[256];
    if (a->k == V_INPUT || b->k == V_INPUT)
        return mk_unknown(c, line, "a value computed from the input width (mlhep takes the input width from the data)");
    return mk_unknown(c, line, "'%s' applied to %s and %s", op, describe(a, da, sizeof da), describe(b, db, sizeof db));
}

static value *ev_unary(ctx *c)
{
    int line = line_now(c);
    if (at_op(c, "-") || at_op(c, "+") || at_op(c, "~")) {
        const tok *t = cur(c);
        c->pos++;
        if (++c->nest > MAX_NEST) {
            fail(c, line, MLHEP_ENOMEM, "expression nested more than %d deep", MAX_NEST);
            return NULL;
        }
        value *x = ev_unary(c);
        c->nest--;
        if (!x || c->skip)
            return x;
        if (x->k == V_NUM || x->k == V_BOOL) {
            if (op_is(t, "+"))
                return mk_num(c, x->num, x->is_int || x->k == V_BOOL, line);
            if (op_is(t, "-"))
                return mk_num(c, -x->num, x->is_int || x->k == V_BOOL, line);
            return mk_num(c, -x->num - 1, 1, line);
        }
        return mk_unknown(c, line, "the sign of a value that is not a number");
    }
    value *a = ev_primary(c);
    if (a && at_op(c, "**")) {
        c->pos++;
        value *b = ev_unary(c);
        return b ? arith(c, "**", a, b, line) : NULL;
    }
    return a;
}

static value *ev_term(ctx *c)
{
    value *a = ev_unary(c);
    while (a && (at_op(c, "*") || at_op(c, "/") || at_op(c, "//") || at_op(c, "%") || at_op(c, "@"))) {
        int line = line_now(c);
        char op[3] = {0};
        memcpy(op, cur(c)->s, cur(c)->n);
        c->pos++;
        value *b = ev_unary(c);
        a = b ? arith(c, op, a, b, line) : NULL;
    }
    return a;
}

static value *ev_sum(ctx *c)
{
    value *a = ev_term(c);
    while (a && (at_op(c, "+") || at_op(c, "-"))) {
        int line = line_now(c);
        char op[2] = {*cur(c)->s, 0};
        c->pos++;
        value *b = ev_term(c);
        a = b ? arith(c, op, a, b, line) : NULL;
    }
    /* bit operations are not read: & | ^ << >> */
    if (a && (at_op(c, "&") || at_op(c, "|") || at_op(c, "^") || at_op(c, "<<") || at_op(c, ">>"))) {
        int line = line_now(c);
        c->pos++;
        value *b = ev_sum(c);
        a = b ? (c->skip ? a : mk_unknown(c, line, "a bit operation")) : NULL;
    }
    return a;
}

static int same(const value *a, const value *b, int *eq)
{
    if ((a->k == V_NUM || a->k == V_BOOL) && (b->k == V_NUM || b->k == V_BOOL)) {
        *eq = a->num == b->num;
        return 0;
    }
    if (a->k == V_STR && b->k == V_STR) {
        *eq = !strcmp(a->s, b->s);
        return 0;
    }
    if (a->k == V_NONE || b->k == V_NONE) {
        *eq = a->k == b->k;
        return 0;
    }
    return -1;
}

static value *ev_compare(ctx *c)
{
    value *a = ev_sum(c);
    value *res = NULL;
    int all = 1;
    while (a) {
        int line = line_now(c);
        const tok *t = cur(c);
        char op[8] = "";
        if (t->k == T_OP && (op_is(t, "<") || op_is(t, ">") || op_is(t, "==") || op_is(t, "!=") || op_is(t, "<=") ||
                             op_is(t, ">="))) {
            memcpy(op, t->s, t->n);
            c->pos++;
        } else if (kw_is(t, "in")) {
            strcpy(op, "in");
            c->pos++;
        } else if (kw_is(t, "not") && c->pos + 1 < c->lim && kw_is(&c->t[c->pos + 1], "in")) {
            strcpy(op, "notin");
            c->pos += 2;
        } else if (kw_is(t, "is")) {
            c->pos++;
            strcpy(op, "is");
            if (at_kw(c, "not")) {
                c->pos++;
                strcpy(op, "isnot");
            }
        } else {
            break;
        }
        value *b = ev_sum(c);
        if (!b)
            return NULL;
        if (c->skip) {
            a = b;
            res = b;
            continue;
        }
        int r = 0, ok = 0, eq;
        if (!strcmp(op, "in") || !strcmp(op, "notin")) {
            if (b->k == V_LIST) {
                ok = 1;
                for (size_t i = 0; i < b->n && !r; i++)
                    if (same(a, b->it[i], &eq) == 0 && eq)
                        r = 1;
            }
            if (!strcmp(op, "notin"))
                r = !r;
        } else if (!strcmp(op, "is") || !strcmp(op, "isnot")) {
            if (a->k == V_NONE || b->k == V_NONE || a->k == V_BOOL || b->k == V_BOOL) {
                ok = 1;
                r = a->k == b->k && (a->k != V_BOOL || a->num == b->num);
            } else if (a->k != V_UNKNOWN && b->k != V_UNKNOWN && a->k != V_INPUT && b->k != V_INPUT) {
                ok = 1;
                r = a == b;
            }
            if (!strcmp(op, "isnot"))
                r = !r;
        } else if (!strcmp(op, "==") || !strcmp(op, "!=")) {
            if (same(a, b, &eq) == 0) {
                ok = 1;
                r = !strcmp(op, "==") ? eq : !eq;
            }
        } else if ((a->k == V_NUM || a->k == V_BOOL) && (b->k == V_NUM || b->k == V_BOOL)) {
            ok = 1;
            r = !strcmp(op, "<") ? a->num < b->num : !strcmp(op, ">") ? a->num > b->num
                : !strcmp(op, "<=") ? a->num <= b->num : a->num >= b->num;
        } else if (a->k == V_STR && b->k == V_STR) {
            ok = 1;
            int d = strcmp(a->s, b->s);
            r = !strcmp(op, "<") ? d < 0 : !strcmp(op, ">") ? d > 0 : !strcmp(op, "<=") ? d <= 0 : d >= 0;
        }
        if (!ok) {
            char da[256], db[256];
            res = mk_unknown(c, line, "a comparison of %s and %s", describe(a, da, sizeof da),
                             describe(b, db, sizeof db));
            if (!res)
                return NULL;
            all = -1;
        } else if (all >= 0) {
            all = all && r;
            res = mk(c, V_BOOL, line);
            if (!res)
                return NULL;
            res->num = all;
        }
        a = b;
    }
    return res && a ? res : a;
}

static value *ev_not(ctx *c)
{
    if (at_kw(c, "not")) {
        int line = line_now(c);
        c->pos++;
        if (++c->nest > MAX_NEST) {
            fail(c, line, MLHEP_ENOMEM, "expression nested more than %d deep", MAX_NEST);
            return NULL;
        }
        value *x = ev_not(c);
        c->nest--;
        if (!x || c->skip)
            return x;
        int t;
        if (truth(c, x, line, &t))
            return NULL;
        value *r = mk(c, V_BOOL, line);
        if (r)
            r->num = !t;
        return r;
    }
    return ev_compare(c);
}

static value *ev_and(ctx *c)
{
    value *a = ev_not(c);
    while (a && at_kw(c, "and")) {
        int line = line_now(c);
        c->pos++;
        int t = 1;
        if (!c->skip && truth(c, a, line, &t))
            return NULL;
        if (!t)
            c->skip++;
        value *b = ev_not(c);
        if (!t) {
            c->skip--;
            continue; /* a stays */
        }
        a = b;
    }
    return a;
}

static value *ev_or(ctx *c)
{
    value *a = ev_and(c);
    while (a && at_kw(c, "or")) {
        int line = line_now(c);
        c->pos++;
        int t = 0;
        if (!c->skip && truth(c, a, line, &t))
            return NULL;
        if (t)
            c->skip++;
        value *b = ev_and(c);
        if (t) {
            c->skip--;
            continue;
        }
        a = b;
    }
    return a;
}

static value *ev_expr(ctx *c)
{
    if (++c->nest > MAX_NEST) {
        fail(c, line_now(c), MLHEP_ENOMEM, "expression nested more than %d deep", MAX_NEST);
        return NULL;
    }
    value *a = ev_or(c);
    if (a && at_kw(c, "if")) { /* a if cond else b */
        int line = line_now(c);
        c->pos++;
        value *cond = ev_or(c);
        if (!cond)
            return NULL;
        if (!at_kw(c, "else")) {
            fail(c, line, MLHEP_EINVAL, "'if' without 'else' in an expression");
            return NULL;
        }
        c->pos++;
        int t = 1;
        if (!c->skip && truth(c, cond, line, &t))
            return NULL;
        if (t)
            c->skip++;
        value *b = ev_expr(c);
        if (t)
            c->skip--;
        else
            a = b;
        if (!b)
            return NULL;
    }
    if (a && at_op(c, ":=")) {
        fail(c, line_now(c), MLHEP_EINVAL, "':=' is not read");
        return NULL;
    }
    c->nest--;
    return a;
}

/* expr, expr, ... (a tuple when there is a comma) */
static value *ev_exprlist(ctx *c)
{
    int line = line_now(c);
    value *a = ev_expr(c);
    if (!a || !at_op(c, ","))
        return a;
    value *l = mk(c, V_LIST, line);
    if (!l || list_push(c, l, a))
        return NULL;
    l->tuple = 1;
    while (at_op(c, ",")) {
        c->pos++;
        if (c->pos >= c->lim || at_op(c, "=") || at_op(c, ")"))
            break;
        value *x = ev_expr(c);
        if (!x || list_push(c, l, x))
            return NULL;
    }
    return l;
}

static int step(ctx *c, int line)
{
    if (++c->steps > MAX_STEPS)
        return fail(c, line, MLHEP_ENOMEM, "stopped after %ld steps (a loop too long?)", MAX_STEPS);
    return 0;
}

/* Iterating values: a list or a tuple. */
static int iter_items(ctx *c, value *v, int line)
{
    if (v->k != V_LIST) {
        char d[256];
        return fail(c, line, MLHEP_EINVAL, "cannot iterate over %s", describe(v, d, sizeof d));
    }
    return 0;
}

static value *ev_comprehension(ctx *c, const char *closer, int line)
{
    size_t elem = c->pos;
    c->skip++;
    value *x = ev_expr(c);
    c->skip--;
    if (!x)
        return NULL;
    if (!at_kw(c, "for")) {
        fail(c, line, MLHEP_EINVAL, "expected 'for'");
        return NULL;
    }
    c->pos++;
    size_t tg0 = c->pos;
    while (c->pos < c->lim && !at_kw(c, "in"))
        c->pos++;
    size_t tg1 = c->pos;
    if (!at_kw(c, "in")) {
        fail(c, line, MLHEP_EINVAL, "expected 'in'");
        return NULL;
    }
    c->pos++;
    value *seq = ev_or(c);
    if (!seq)
        return NULL;
    size_t conds[16], nconds = 0;
    while (at_kw(c, "if")) {
        c->pos++;
        if (nconds == 16) {
            fail(c, line, MLHEP_EINVAL, "too many 'if' in a comprehension");
            return NULL;
        }
        conds[nconds++] = c->pos;
        c->skip++;
        value *cv = ev_or(c);
        c->skip--;
        if (!cv)
            return NULL;
    }
    if (at_kw(c, "for")) {
        fail(c, line_now(c), MLHEP_EINVAL, "comprehensions with several 'for' are not read");
        return NULL;
    }
    size_t after = c->pos;
    if (expect_op(c, closer))
        return NULL;
    after = c->pos;
    value *out = mk(c, V_LIST, line);
    if (!out)
        return NULL;
    if (c->skip)
        return out;
    if (iter_items(c, seq, line))
        return NULL;
    scope *outer = c->cur;
    scope inner = {0};
    inner.parent = outer;
    c->cur = &inner;
    size_t lim = c->lim;
    for (size_t i = 0; i < seq->n && !c->rc; i++) {
        if (step(c, line))
            break;
        if (assign_names(c, &inner, tg0, tg1, seq->it[i], line))
            break;
        int keep = 1;
        for (size_t k = 0; k < nconds && keep && !c->rc; k++) {
            c->pos = conds[k];
            c->lim = lim;
            value *cv = ev_or(c);
            if (!cv || truth(c, cv, line, &keep))
                break;
        }
        if (c->rc)
            break;
        if (!keep)
            continue;
        c->pos = elem;
        c->lim = lim;
        value *y = ev_expr(c);
        if (!y || list_push(c, out, y))
            break;
    }
    c->cur = outer;
    c->pos = after;
    c->lim = lim;
    return c->rc ? NULL : out;
}

/* ---------------------------------------------------------------- calls */

static const char *const BUILTINS[] = {"range", "len", "int", "float", "print", "list", "tuple", "str", "bool",
                                       "OrderedDict", "abs", "min", "max", "round", "enumerate", "zip",
                                       "reversed", NULL};

static int is_builtin(const char *p)
{
    if (!strcmp(p, "collections.OrderedDict"))
        return 1;
    for (const char *const *b = BUILTINS; *b; b++)
        if (!strcmp(p, *b))
            return 1;
    return 0;
}

static value *builtin(ctx *c, const char *name, value **a, size_t n, int line)
{
    name = last_part(name);
    if (!strcmp(name, "print"))
        return &c->none;
    if (!strcmp(name, "range")) {
        double v[3] = {0, 0, 1};
        if (n < 1 || n > 3) {
            fail(c, line, MLHEP_EINVAL, "range() takes 1 to 3 numbers");
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            if (a[i]->k != V_NUM || !a[i]->is_int) {
                char d[256];
                return mk_unknown(c, line, "range() of %s", describe(a[i], d, sizeof d));
            }
        if (n == 1)
            v[1] = a[0]->num;
        else {
            v[0] = a[0]->num;
            v[1] = a[1]->num;
            if (n == 3)
                v[2] = a[2]->num;
        }
        if (v[2] == 0) {
            fail(c, line, MLHEP_EINVAL, "range() step is zero");
            return NULL;
        }
        value *l = mk(c, V_LIST, line);
        if (!l)
            return NULL;
        for (double x = v[0]; v[2] > 0 ? x < v[1] : x > v[1]; x += v[2])
            if (list_push(c, l, mk_num(c, x, 1, line)))
                return NULL;
        return l;
    }
    if (!strcmp(name, "len") && n == 1 && (a[0]->k == V_LIST || a[0]->k == V_STR))
        return mk_num(c, a[0]->k == V_LIST ? (double)a[0]->n : (double)strlen(a[0]->s), 1, line);
    if ((!strcmp(name, "int") || !strcmp(name, "float") || !strcmp(name, "round")) && n == 1 &&
        (a[0]->k == V_NUM || a[0]->k == V_BOOL)) {
        double x = a[0]->num;
        if (!strcmp(name, "int"))
            x = trunc(x);
        else if (!strcmp(name, "round"))
            x = nearbyint(x);
        return mk_num(c, x, strcmp(name, "float") != 0, line);
    }
    if (!strcmp(name, "abs") && n == 1 && a[0]->k == V_NUM)
        return mk_num(c, fabs(a[0]->num), a[0]->is_int, line);
    if ((!strcmp(name, "min") || !strcmp(name, "max")) && n >= 1) {
        value *const *xs = a;
        size_t m = n;
        if (n == 1 && a[0]->k == V_LIST) {
            xs = a[0]->it;
            m = a[0]->n;
        }
        value *best = NULL;
        for (size_t i = 0; i < m; i++) {
            if (xs[i]->k != V_NUM)
                return mk_unknown(c, line, "%s() of values that are not numbers", name);
            if (!best || (!strcmp(name, "min") ? xs[i]->num < best->num : xs[i]->num > best->num))
                best = xs[i];
        }
        if (best)
            return best;
    }
    if ((!strcmp(name, "list") || !strcmp(name, "tuple")) && n <= 1) {
        value *l = mk(c, V_LIST, line);
        if (!l)
            return NULL;
        l->tuple = !strcmp(name, "tuple");
        if (n == 1) {
            if (a[0]->k != V_LIST) {
                char d[256];
                return mk_unknown(c, line, "%s() of %s", name, describe(a[0], d, sizeof d));
            }
            for (size_t i = 0; i < a[0]->n; i++)
                if (list_push(c, l, a[0]->it[i]))
                    return NULL;
        }
        return l;
    }
    if (!strcmp(name, "OrderedDict") && n <= 1) {
        /* OrderedDict([(name, module), ...]): the modules, in order */
        value *l = mk(c, V_LIST, line);
        if (!l)
            return NULL;
        if (n == 1) {
            if (a[0]->k != V_LIST)
                return mk_unknown(c, line, "an OrderedDict not built from a list of (name, layer) pairs");
            for (size_t i = 0; i < a[0]->n; i++) {
                value *p = a[0]->it[i];
                if (p->k != V_LIST || p->n != 2)
                    return mk_unknown(c, line, "an OrderedDict not built from a list of (name, layer) pairs");
                if (list_push(c, l, p->it[1]))
                    return NULL;
            }
        }
        return l;
    }
    if ((!strcmp(name, "enumerate") && n == 1 && a[0]->k == V_LIST) ||
        (!strcmp(name, "zip") && n >= 1 && n <= 8)) {
        /* lists of tuples: (index, item) or (a[i], b[i], ...) */
        size_t m = a[0]->k == V_LIST ? a[0]->n : 0;
        for (size_t j = 0; j < n; j++) {
            if (a[j]->k != V_LIST)
                return mk_unknown(c, line, "%s() of something not a list", name);
            if (a[j]->n < m)
                m = a[j]->n;
        }
        value *l = mk(c, V_LIST, line);
        if (!l)
            return NULL;
        for (size_t i = 0; i < m; i++) {
            value *t = mk(c, V_LIST, line);
            if (!t || list_push(c, l, t))
                return NULL;
            t->tuple = 1;
            if (!strcmp(name, "enumerate") && list_push(c, t, mk_num(c, (double)i, 1, line)))
                return NULL;
            for (size_t j = 0; j < n; j++)
                if (list_push(c, t, a[j]->it[i]))
                    return NULL;
        }
        return l;
    }
    if (!strcmp(name, "reversed") && n == 1 && a[0]->k == V_LIST) {
        value *l = mk(c, V_LIST, line);
        if (!l)
            return NULL;
        for (size_t i = a[0]->n; i-- > 0;)
            if (list_push(c, l, a[0]->it[i]))
                return NULL;
        return l;
    }
    if (!strcmp(name, "str") && n == 1 && a[0]->k == V_STR)
        return a[0];
    if (!strcmp(name, "bool") && n == 1) {
        int t;
        if (truth(c, a[0], line, &t))
            return NULL;
        value *r = mk(c, V_BOOL, line);
        if (r)
            r->num = t;
        return r;
    }
    return mk_unknown(c, line, "%s() of these arguments", name);
}

static int call_user(ctx *c, value *f, value **args, size_t nargs, kwarg *kw, size_t nkw, int line, int entry,
                     value **out);

static value *seq_new(ctx *c, const char *path, value **args, size_t nargs, kwarg *kw, size_t nkw, int line)
{
    value *s = mk(c, V_SEQ, line);
    if (!s)
        return NULL;
    s->s = path;
    int fw = fw_of(path);
    value *layers = NULL;
    for (size_t i = 0; i < nkw; i++) {
        if (!strcmp(kw[i].name, "layers") && fw != FW_TORCH)
            layers = kw[i].v;
        else if (strcmp(kw[i].name, "name") && strcmp(kw[i].name, "trainable")) {
            fail(c, line, MLHEP_EINVAL, "Sequential(): the argument '%s' is not read", kw[i].name);
            return NULL;
        }
    }
    if (fw == FW_TORCH || (fw == FW_NONE && nargs > 1)) {
        /* nn.Sequential(a, b, c) or nn.Sequential(OrderedDict(...)) */
        if (nargs == 1 && args[0]->k == V_LIST)
            layers = args[0];
        else
            for (size_t i = 0; i < nargs; i++)
                if (list_push(c, s, args[i]))
                    return NULL;
    } else if (nargs >= 1) {
        if (nargs > 2) {
            fail(c, line, MLHEP_EINVAL, "Sequential() takes a list of layers");
            return NULL;
        }
        layers = args[0];
    }
    if (layers && layers->k != V_NONE) {
        if (layers->k != V_LIST) {
            char d[256];
            fail(c, line, MLHEP_EINVAL, "Sequential() takes a list of layers, not %s", describe(layers, d, sizeof d));
            return NULL;
        }
        for (size_t i = 0; i < layers->n; i++)
            if (list_push(c, s, layers->it[i]))
                return NULL;
    }
    return s;
}

static value *method(ctx *c, value *m, value **a, size_t n, kwarg *kw, size_t nkw, int line)
{
    value *self = m->self;
    const char *name = m->s;
    if (self->k == V_LIST) {
        if (!strcmp(name, "append") && n == 1 && !nkw) {
            if (list_push(c, self, a[0]))
                return NULL;
            return &c->none;
        }
        if (!strcmp(name, "extend") && n == 1 && !nkw && a[0]->k == V_LIST) {
            for (size_t i = 0; i < a[0]->n; i++)
                if (list_push(c, self, a[0]->it[i]))
                    return NULL;
            return &c->none;
        }
        return mk_unknown(c, line, "the list method %s()", name);
    }
    /* a Sequential model */
    if ((!strcmp(name, "add") || !strcmp(name, "append")) && n == 1 && !nkw) {
        if (list_push(c, self, a[0]))
            return NULL;
        return !strcmp(name, "append") ? self : &c->none;
    }
    if (!strcmp(name, "add_module") && n == 2 && !nkw) {
        if (list_push(c, self, a[1]))
            return NULL;
        return &c->none;
    }
    if (!strcmp(name, "compile")) {
        static const char *const pos[] = {"optimizer", "loss", "metrics"};
        if (n > 3) {
            fail(c, line, MLHEP_EINVAL, "compile(): too many positional arguments");
            return NULL;
        }
        kwarg *k = alloc(c, (n + nkw + 1) * sizeof *k);
        if (!k)
            return NULL;
        for (size_t i = 0; i < n; i++)
            k[i] = (kwarg){pos[i], a[i]};
        for (size_t i = 0; i < nkw; i++)
            k[n + i] = kw[i];
        self->kw = k;
        self->nkw = n + nkw;
        self->compile_line = line;
        return &c->none;
    }
    static const char *const harmless[] = {"summary", "build", "to", "cuda", "cpu", "float", "double", "train",
                                           "eval", "count_params", "get_config", NULL};
    for (const char *const *h = harmless; *h; h++)
        if (!strcmp(name, *h))
            return self;
    fail(c, line, MLHEP_EINVAL, "%s() on the model is not read (mlhep reads the layers and compile())", name);
    return NULL;
}

static value *call_value(ctx *c, value *f, value **args, size_t nargs, kwarg *kw, size_t nkw, int line)
{
    switch (f->k) {
    case V_FUNC: {
        value *r = NULL;
        return call_user(c, f, args, nargs, kw, nkw, line, 0, &r) ? NULL : r;
    }
    case V_METHOD: return method(c, f, args, nargs, kw, nkw, line);
    case V_NAME: {
        if (is_builtin(f->s) && !nkw)
            return builtin(c, f->s, args, nargs, line);
        if (!strcmp(last_part(f->s), "Sequential"))
            return seq_new(c, f->s, args, nargs, kw, nkw, line);
        value *v = mk(c, V_CALL, line);
        if (!v)
            return NULL;
        v->s = f->s;
        v->it = args;
        v->n = v->cap = nargs;
        v->kw = kw;
        v->nkw = nkw;
        return v;
    }
    case V_CLASS:
        return mk_unknown(c, line, "an instance of %s, a class defined in %s (mlhep reads Sequential models: write the "
                          "network as keras.Sequential([...]) or torch.nn.Sequential(...))", f->s, c->fname);
    case V_CALL:
    case V_SEQ:
        return mk_unknown(c, line, "a layer or model applied to a tensor (the functional API: mlhep reads Sequential "
                          "models)");
    default: {
        char d[256];
        return mk_unknown(c, line, "a call of %s", describe(f, d, sizeof d));
    }
    }
}

/* ---------------------------------------------------------------- statements */

/* Binds the target tokens [t0, t1) (a name, or names separated by commas, optionally
 * in brackets) to v. Attribute and item targets are refused when they change the model. */
static int assign_names(ctx *c, scope *sc, size_t t0, size_t t1, value *v, int line)
{
    while (t1 > t0 + 1 && (op_is(&c->t[t0], "(") || op_is(&c->t[t0], "[")) &&
           (op_is(&c->t[t1 - 1], ")") || op_is(&c->t[t1 - 1], "]")))
        t0++, t1--;
    if (t1 == t0 + 1 && c->t[t0].k == T_NAME) {
        char *name = adup(c, c->t[t0].s, c->t[t0].n);
        return name ? bind(c, sc, name, v) : c->rc;
    }
    /* names separated by commas */
    int names_only = 1;
    size_t count = 0;
    for (size_t i = t0; i < t1; i++) {
        if ((i - t0) % 2 == 0 ? c->t[i].k != T_NAME : !op_is(&c->t[i], ","))
            names_only = 0;
        count += (i - t0) % 2 == 0;
    }
    if (names_only && t1 > t0) {
        if (v->k != V_LIST) {
            /* unknown values spread over the names */
            for (size_t i = t0; i < t1; i += 2) {
                char *name = adup(c, c->t[i].s, c->t[i].n);
                if (!name || bind(c, sc, name, mk_unknown(c, line, "a value unpacked from %s", v->k == V_UNKNOWN ? v->s : "something not a list")))
                    return c->rc;
            }
            return 0;
        }
        if (v->n != count)
            return fail(c, line, MLHEP_EINVAL, "%zu values for %zu names", v->n, count);
        for (size_t i = t0, k = 0; i < t1; i += 2, k++) {
            char *name = adup(c, c->t[i].s, c->t[i].n);
            if (!name || bind(c, sc, name, v->it[k]))
                return c->rc;
        }
        return 0;
    }
    /* x.attr = ..., x[i] = ...: harmless unless x is the model or a layer */
    if (c->t[t0].k == T_NAME) {
        char *name = adup(c, c->t[t0].s, c->t[t0].n);
        value *root = name ? lookup(sc, name) : NULL;
        if (!name)
            return c->rc;
        if (root && (root->k == V_SEQ || root->k == V_CALL))
            return fail(c, line, MLHEP_EINVAL, "changing %s after it is built is not read", name);
        return 0;
    }
    return fail(c, line, MLHEP_EINVAL, "cannot read this assignment");
}

static char *dotted(ctx *c, size_t *p, size_t lim)
{
    char buf[512];
    size_t o = 0;
    while (*p < lim && c->t[*p].k == T_NAME) {
        const tok *t = &c->t[*p];
        if (o + t->n + 2 >= sizeof buf) {
            fail(c, t->line, MLHEP_EINVAL, "module name too long");
            return NULL;
        }
        memcpy(buf + o, t->s, t->n);
        o += t->n;
        (*p)++;
        if (*p < lim && op_is(&c->t[*p], ".")) {
            buf[o++] = '.';
            (*p)++;
        } else {
            break;
        }
    }
    if (!o) {
        fail(c, c->t[*p < c->nt ? *p : c->nt - 1].line, MLHEP_EINVAL, "module name expected");
        return NULL;
    }
    return adup(c, buf, o);
}

static int exec_import(ctx *c, const stmt *s, scope *sc)
{
    size_t p = s->t0 + 1, lim = s->t1;
    if (kw_is(&c->t[s->t0], "import")) {
        for (;;) {
            size_t n0 = p;
            char *mod = dotted(c, &p, lim);
            if (!mod)
                return c->rc;
            char *alias;
            if (p + 1 < lim && kw_is(&c->t[p], "as") && c->t[p + 1].k == T_NAME) {
                alias = adup(c, c->t[p + 1].s, c->t[p + 1].n);
                p += 2;
            } else {
                alias = adup(c, c->t[n0].s, c->t[n0].n); /* import a.b binds a */
                char *d = mod ? strchr(mod, '.') : NULL;
                if (d)
                    *d = '\0';
            }
            value *v = mk(c, V_NAME, s->line);
            if (!alias || !v)
                return c->rc;
            v->s = mod;
            if (bind(c, sc, alias, v))
                return c->rc;
            if (p >= lim)
                return 0;
            if (!op_is(&c->t[p], ","))
                return fail(c, s->line, MLHEP_EINVAL, "cannot read this import");
            p++;
        }
    }
    /* from X import a [as b], ... */
    while (p < lim && op_is(&c->t[p], "."))
        p++;
    char *mod = (p < lim && c->t[p].k == T_NAME && !kw_is(&c->t[p], "import")) ? dotted(c, &p, lim) : adup(c, "", 0);
    if (!mod)
        return c->rc;
    if (p >= lim || !kw_is(&c->t[p], "import"))
        return fail(c, s->line, MLHEP_EINVAL, "expected 'import' in 'from ... import'");
    p++;
    if (p < lim && op_is(&c->t[p], "*"))
        return 0; /* names resolve by themselves (unbound names are taken as framework names) */
    int paren = p < lim && op_is(&c->t[p], "(");
    if (paren)
        p++;
    while (p < lim && c->t[p].k == T_NAME) {
        const tok *nm = &c->t[p++];
        const tok *al = nm;
        if (p + 1 < lim && kw_is(&c->t[p], "as") && c->t[p + 1].k == T_NAME) {
            al = &c->t[p + 1];
            p += 2;
        }
        size_t ml = strlen(mod);
        char *path = alloc(c, ml + nm->n + 2);
        char *alias = adup(c, al->s, al->n);
        value *v = mk(c, V_NAME, s->line);
        if (!path || !alias || !v)
            return c->rc;
        if (ml)
            memcpy(path, mod, ml), path[ml++] = '.';
        memcpy(path + ml, nm->s, nm->n);
        path[ml + nm->n] = '\0';
        v->s = path;
        if (bind(c, sc, alias, v))
            return c->rc;
        if (p < lim && op_is(&c->t[p], ","))
            p++;
        else
            break;
    }
    if (paren && p < lim && op_is(&c->t[p], ")"))
        p++;
    if (p != lim)
        return fail(c, s->line, MLHEP_EINVAL, "cannot read this import");
    return 0;
}

static int exec_simple(ctx *c, const stmt *s, scope *sc, value **ret)
{
    const tok *t = &c->t[s->t0];
    c->pos = s->t0;
    c->lim = s->t1;
    if (kw_is(t, "import") || kw_is(t, "from"))
        return exec_import(c, s, sc);
    if (kw_is(t, "pass") || kw_is(t, "assert") || kw_is(t, "global") || kw_is(t, "nonlocal") || kw_is(t, "del") ||
        op_is(t, "@"))
        return X_OK;
    if (kw_is(t, "break"))
        return X_BRK;
    if (kw_is(t, "continue"))
        return X_CONT;
    if (kw_is(t, "raise"))
        return fail(c, s->line, MLHEP_EINVAL, "the model code raises an exception here");
    if (kw_is(t, "return")) {
        c->pos++;
        value *v = c->pos < c->lim ? ev_exprlist(c) : &c->none;
        if (!v)
            return c->rc;
        if (c->pos != c->lim)
            return fail(c, s->line, MLHEP_EINVAL, "cannot read the end of this statement");
        *ret = v;
        return X_RET;
    }
    /* assignment targets: the segments before depth-0 '=' (or an augmented operator) */
    size_t eqs[32], neq = 0, aug = 0, colon = 0;
    int depth = 0;
    for (size_t i = s->t0; i < s->t1; i++) {
        const tok *x = &c->t[i];
        if (x->k == T_OP && x->n == 1 && strchr("([{", *x->s))
            depth++;
        else if (x->k == T_OP && x->n == 1 && strchr(")]}", *x->s))
            depth--;
        else if (depth == 0 && op_is(x, "=")) {
            if (neq == 32)
                return fail(c, s->line, MLHEP_EINVAL, "too many '='");
            eqs[neq++] = i;
        } else if (depth == 0 && !neq && !aug && x->k == T_OP && x->n >= 2 && x->s[x->n - 1] == '=' && !op_is(x, "==") && !op_is(x, "!=") && !op_is(x, "<=") && !op_is(x, ">="))
            aug = i;
        else if (depth == 0 && !neq && !colon && op_is(x, ":") && i > s->t0)
            colon = i;
    }
    if (aug) {
        if (aug != s->t0 + 1 || c->t[s->t0].k != T_NAME)
            return fail(c, s->line, MLHEP_EINVAL, "cannot read this assignment");
        char *name = adup(c, t->s, t->n);
        if (!name)
            return c->rc;
        value *old = lookup(sc, name);
        c->pos = aug + 1;
        value *b = ev_exprlist(c);
        if (!b)
            return c->rc;
        if (c->pos != c->lim)
            return fail(c, s->line, MLHEP_EINVAL, "cannot read the end of this statement");
        if (!old)
            return fail(c, s->line, MLHEP_EINVAL, "'%s' is used before it is assigned", name);
        char op[4] = {0};
        memcpy(op, c->t[aug].s, c->t[aug].n - 1);
        if (old->k == V_LIST && !strcmp(op, "+") && b->k == V_LIST) { /* in place, as list += list */
            for (size_t i = 0; i < b->n; i++)
                if (list_push(c, old, b->it[i]))
                    return c->rc;
            return X_OK;
        }
        value *r = arith(c, op, old, b, s->line);
        return r ? bind(c, sc, name, r) : c->rc;
    }
    if (colon && !neq) /* annotation without a value */
        return X_OK;
    if (neq) {
        c->pos = eqs[neq - 1] + 1;
        value *v = ev_exprlist(c);
        if (!v)
            return c->rc;
        if (c->pos != c->lim)
            return fail(c, s->line, MLHEP_EINVAL, "cannot read the end of this statement");
        size_t from = s->t0;
        for (size_t k = 0; k < neq; k++) {
            size_t to = (k == 0 && colon && colon < eqs[0]) ? colon : eqs[k];
            if (assign_names(c, sc, from, to, v, s->line))
                return c->rc;
            from = eqs[k] + 1;
        }
        return X_OK;
    }
    value *v = ev_exprlist(c);
    if (!v)
        return c->rc;
    if (c->pos != c->lim)
        return fail(c, line_now(c), MLHEP_EINVAL, "cannot read '%.*s' here", (int)cur(c)->n, cur(c)->s);
    return X_OK;
}

static value *eval_range(ctx *c, size_t t0, size_t t1)
{
    c->pos = t0;
    c->lim = t1;
    value *v = ev_exprlist(c);
    if (v && c->pos != c->lim) {
        fail(c, line_now(c), MLHEP_EINVAL, "cannot read '%.*s' here", (int)cur(c)->n, cur(c)->s);
        return NULL;
    }
    return v;
}

static int exec_stmt(ctx *c, const stmt *s, scope *sc, value **ret)
{
    if (step(c, s->line))
        return c->rc;
    if (!s->ncl)
        return exec_simple(c, s, sc, ret);
    const clause *c0 = &s->cl[0];
    const tok *kw = c0->kw;
    if (kw_is(kw, "def") || kw_is(kw, "class")) {
        if (c0->h0 >= c0->h1 || c->t[c0->h0].k != T_NAME)
            return fail(c, s->line, MLHEP_EINVAL, "a name must follow '%.*s'", (int)kw->n, kw->s);
        value *v = mk(c, kw_is(kw, "def") ? V_FUNC : V_CLASS, s->line);
        char *name = adup(c, c->t[c0->h0].s, c->t[c0->h0].n);
        if (!v || !name)
            return c->rc;
        v->s = name;
        v->def = s;
        return bind(c, sc, name, v);
    }
    if (kw_is(kw, "if")) {
        for (size_t i = 0; i < s->ncl; i++) {
            const clause *cl = &s->cl[i];
            int t = 1;
            if (!kw_is(cl->kw, "else")) {
                value *cond = eval_range(c, cl->h0, cl->h1);
                if (!cond || truth(c, cond, cl->kw->line, &t))
                    return c->rc;
            }
            if (t)
                return exec_block(c, &cl->body, sc, ret);
        }
        return X_OK;
    }
    if (kw_is(kw, "for")) {
        size_t in = c0->h0;
        int depth = 0;
        while (in < c0->h1 && !(depth == 0 && kw_is(&c->t[in], "in"))) {
            const tok *x = &c->t[in];
            if (x->k == T_OP && x->n == 1 && strchr("([{", *x->s))
                depth++;
            else if (x->k == T_OP && x->n == 1 && strchr(")]}", *x->s))
                depth--;
            in++;
        }
        if (in >= c0->h1)
            return fail(c, s->line, MLHEP_EINVAL, "expected 'in' in the for statement");
        value *seq = eval_range(c, in + 1, c0->h1);
        if (!seq || iter_items(c, seq, s->line))
            return c->rc;
        int broke = 0;
        for (size_t i = 0; i < seq->n; i++) {
            if (step(c, s->line) || assign_names(c, sc, c0->h0, in, seq->it[i], s->line))
                return c->rc;
            int r = exec_block(c, &c0->body, sc, ret);
            if (r < 0 || r == X_RET)
                return r;
            if (r == X_BRK) {
                broke = 1;
                break;
            }
        }
        if (!broke && s->ncl > 1)
            return exec_block(c, &s->cl[1].body, sc, ret);
        return X_OK;
    }
    if (kw_is(kw, "while"))
        return fail(c, s->line, MLHEP_EINVAL, "while loops are not read (use for ... in range(...))");
    if (kw_is(kw, "with"))
        return exec_block(c, &c0->body, sc, ret);
    if (kw_is(kw, "try")) {
        int r = exec_block(c, &c0->body, sc, ret);
        if (r != X_OK)
            return r;
        for (size_t i = 1; i < s->ncl; i++) /* handlers are skipped: nothing raised */
            if (kw_is(s->cl[i].kw, "else") || kw_is(s->cl[i].kw, "finally")) {
                r = exec_block(c, &s->cl[i].body, sc, ret);
                if (r != X_OK)
                    return r;
            }
        return X_OK;
    }
    return fail(c, s->line, MLHEP_EINVAL, "'%.*s' is not read", (int)kw->n, kw->s);
}

static int exec_block(ctx *c, const block *b, scope *sc, value **ret)
{
    scope *outer = c->cur;
    c->cur = sc;
    int r = X_OK;
    for (size_t i = 0; i < b->n && r == X_OK; i++)
        r = exec_stmt(c, b->v[i], sc, ret);
    c->cur = outer;
    return c->rc ? c->rc : r;
}

/* Calls the def f. entry: the call that asks for the model (parameters without a
 * value stand for the input width). */
static int call_user(ctx *c, value *f, value **args, size_t nargs, kwarg *kw, size_t nkw, int line, int entry,
                     value **out)
{
    if (c->calls >= MAX_CALLS)
        return fail(c, line, MLHEP_ENOMEM, "function calls nested more than %d deep", MAX_CALLS);
    const stmt *d = f->def;
    const clause *cl = &d->cl[0];
    size_t save_pos = c->pos, save_lim = c->lim;
    scope *save_cur = c->cur;
    scope *sc = alloc(c, sizeof *sc);
    if (!sc)
        return c->rc;
    sc->parent = c->globals;
    /* def NAME ( params ) [-> ann] */
    size_t p = cl->h0 + 1;
    if (p >= cl->h1 || !op_is(&c->t[p], "("))
        return fail(c, d->line, MLHEP_EINVAL, "expected '(' after def %s", f->s);
    p++;
    size_t used = 0;
    int star = 0;
    while (p < cl->h1 && !op_is(&c->t[p], ")")) {
        const tok *t = &c->t[p];
        int kind = 0; /* 1: *args, 2: **kw */
        if (op_is(t, "*") || op_is(t, "**")) {
            kind = op_is(t, "*") ? 1 : 2;
            p++;
            t = &c->t[p];
            if (kind == 1 && (op_is(t, ",") || op_is(t, ")"))) { /* bare * */
                star = 1;
                if (op_is(t, ","))
                    p++;
                continue;
            }
        } else if (op_is(t, "/")) {
            p++;
            if (p < cl->h1 && op_is(&c->t[p], ","))
                p++;
            continue;
        }
        if (t->k != T_NAME)
            return fail(c, d->line, MLHEP_EINVAL, "cannot read the parameters of %s", f->s);
        char *name = adup(c, t->s, t->n);
        if (!name)
            return c->rc;
        p++;
        /* annotation and default: find their extents */
        size_t ann0 = 0, def0 = 0, endp = p;
        int depth = 0;
        for (; endp < cl->h1; endp++) {
            const tok *x = &c->t[endp];
            if (x->k == T_OP && x->n == 1 && strchr("([{", *x->s))
                depth++;
            else if (x->k == T_OP && x->n == 1 && strchr(")]}", *x->s)) {
                if (depth-- == 0)
                    break;
            } else if (depth == 0 && op_is(x, ","))
                break;
            else if (depth == 0 && op_is(x, ":") && !ann0 && !def0)
                ann0 = endp + 1;
            else if (depth == 0 && op_is(x, "=") && !def0)
                def0 = endp + 1;
        }
        (void)ann0;
        value *v = NULL;
        if (kind == 1) {
            v = mk(c, V_LIST, d->line);
            if (!v)
                return c->rc;
            v->tuple = 1;
            while (!star && used < nargs)
                if (list_push(c, v, args[used++]))
                    return c->rc;
            star = 1;
        } else if (kind == 2) {
            v = mk_unknown(c, d->line, "the keyword arguments **%s", name);
        } else {
            if (!star && used < nargs)
                v = args[used++];
            for (size_t k = 0; k < nkw; k++)
                if (!strcmp(kw[k].name, name)) {
                    if (v)
                        return fail(c, line, MLHEP_EINVAL, "%s() got '%s' twice", f->s, name);
                    v = kw[k].v;
                    kw[k].name = ""; /* used */
                }
            if (!v && def0) {
                c->pos = def0;
                c->lim = endp;
                c->cur = c->globals;
                v = ev_expr(c);
                c->cur = save_cur;
                if (!v)
                    return c->rc;
            }
            if (!v && entry) {
                v = mk(c, V_INPUT, d->line);
                if (v)
                    v->s = name;
            }
            if (!v)
                return fail(c, line, MLHEP_EINVAL, "%s() misses its argument '%s'", f->s, name);
        }
        if (!v || bind(c, sc, name, v))
            return c->rc;
        p = endp;
        if (p < cl->h1 && op_is(&c->t[p], ","))
            p++;
    }
    if (used < nargs)
        return fail(c, line, MLHEP_EINVAL, "%s() takes %zu positional arguments, %zu given", f->s, used, nargs);
    for (size_t k = 0; k < nkw; k++)
        if (kw[k].name[0])
            return fail(c, line, MLHEP_EINVAL, "%s() has no parameter '%s'", f->s, kw[k].name);
    c->calls++;
    value *r = NULL;
    int x = exec_block(c, &cl->body, sc, &r);
    c->calls--;
    c->pos = save_pos;
    c->lim = save_lim;
    c->cur = save_cur;
    if (x < 0)
        return x;
    *out = x == X_RET && r ? r : &c->none;
    return 0;
}

/* ================================================================ the model -> spec */

typedef struct conv {
    ctx *c;
    int fw;           /* the model's framework */
    json_t *layers;
    long width;       /* PyTorch: values out of the last layer so far (-1: the input) */
    long n_inputs;    /* the input width written as a number (-1: not written) */
    int ndense;
} conv;

static const char *const KERAS_LIST = "Dense, Dropout, BatchNormalization and activations";
static const char *const TORCH_LIST = "Linear, Dropout, BatchNorm1d and activations";

static int v_none(const value *v) { return !v || v->k == V_NONE; }

/* The argument `name` of a call: positional at its index in names, or by keyword. */
static value *arg(const value *call, const char *const *names, const char *name)
{
    size_t i = 0;
    while (names[i] && strcmp(names[i], name))
        i++;
    if (names[i] && i < call->n)
        return call->it[i];
    for (size_t k = 0; k < call->nkw; k++)
        if (!strcmp(call->kw[k].name, name))
            return call->kw[k].v;
    return NULL;
}

/* Refuses arguments a call of `what` may not have: more than npos positional ones,
 * keywords not in names, a keyword also given by position. */
static int args_check(ctx *c, const value *call, const char *what, const char *const *names, size_t npos)
{
    if (call->n > npos)
        return fail(c, call->line, MLHEP_EINVAL, "%s takes at most %zu positional argument%s, %zu given", what, npos,
                    npos == 1 ? "" : "s", call->n);
    for (size_t k = 0; k < call->nkw; k++) {
        size_t i = 0;
        while (names[i] && strcmp(names[i], call->kw[k].name))
            i++;
        if (!names[i])
            return fail(c, call->line, MLHEP_EUNSUPPORTED, "%s: the argument '%s' is not read by mlhep", what,
                        call->kw[k].name);
        if (i < call->n)
            return fail(c, call->line, MLHEP_EINVAL, "%s: '%s' given twice", what, call->kw[k].name);
    }
    return 0;
}

static int want_num(ctx *c, const value *v, int line, const char *what, double lo, double hi, int integer,
                    double *out)
{
    char d[256];
    if (!v || (v->k != V_NUM && v->k != V_BOOL)) {
        if (v && v->k == V_NAME && !strchr(v->s, '.'))
            return fail(c, v->line, MLHEP_EINVAL, "%s: '%s' is not defined", what, v->s);
        return fail(c, v && v->line ? v->line : line, MLHEP_EINVAL, "%s must be a number, not %s", what,
                    describe(v, d, sizeof d));
    }
    if (integer && !(v->is_int || v->k == V_BOOL))
        return fail(c, v->line, MLHEP_EINVAL, "%s must be a whole number, not %.17g", what, v->num);
    if (!(v->num >= lo && v->num <= hi))
        return fail(c, v->line, MLHEP_EINVAL, "%s %.17g is out of range (%g to %g)", what, v->num, lo, hi);
    *out = v->num;
    return 0;
}

static int want_bool(ctx *c, const value *v, int line, const char *what, int *out)
{
    if (v && (v->k == V_BOOL || (v->k == V_NUM && v->is_int && (v->num == 0 || v->num == 1)))) {
        *out = v->num != 0;
        return 0;
    }
    char d[256];
    return fail(c, v ? v->line : line, MLHEP_EINVAL, "%s must be True or False, not %s", what, describe(v, d, sizeof d));
}

/* "GlorotUniform" -> "glorot_uniform" (Keras class names to their function names). */
static void snake(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; s[i] && o + 2 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isupper(ch) && i > 0 && (islower((unsigned char)s[i - 1]) || (s[i + 1] && islower((unsigned char)s[i + 1]))) &&
            out[o - 1] != '_')
            out[o++] = '_';
        out[o++] = (char)tolower(ch);
    }
    out[o] = '\0';
}

/* The name a string, a dotted name (keras.activations.relu) or a call's class gives. */
static const char *name_of(const value *v, char *buf, size_t n)
{
    if (v->k == V_STR) {
        snprintf(buf, n, "%s", v->s);
        for (char *p = buf; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return buf;
    }
    if (v->k == V_NAME || v->k == V_CALL) {
        snake(last_part(v->s), buf, n);
        return buf;
    }
    return NULL;
}

static int num_set(json_t *o, const char *k, double x, int is_int)
{
    return json_object_set_new(o, k, is_int ? json_integer((json_int_t)x) : json_real(x));
}

static int layer_act(conv *cv, const value *L, const char *name, const char **act, double *alpha, int *has_alpha);

/* An activation given as an argument: None, a name, keras.activations.X, tf.nn.X, or an
 * activation layer object. */
static int act_of(conv *cv, const value *v, int line, const char *what, const char **act, double *alpha,
                  int *has_alpha)
{
    ctx *c = cv->c;
    *has_alpha = 0;
    if (v_none(v)) {
        *act = "linear";
        return 0;
    }
    if (v->k == V_CALL) {
        const char *n = last_part(v->s);
        if (layer_act(cv, v, n, act, alpha, has_alpha) == 0 && *act)
            return 0;
        if (c->rc)
            return c->rc;
    }
    char buf[96];
    const char *n = v->k == V_CALL ? NULL : name_of(v, buf, sizeof buf);
    nn_act a;
    if (n && !strcmp(n, "leakyrelu"))
        n = "leaky_relu";
    if (n && nn_act_parse(n, &a) == 0) {
        *act = nn_act_name(a);
        return 0;
    }
    char d[256];
    if (n)
        return fail(c, v->line ? v->line : line, MLHEP_EUNSUPPORTED,
                    "%s: activation '%s' is not supported (relu, leaky_relu, elu, tanh, sigmoid, softmax, linear)", what,
                    n);
    return fail(c, v->line ? v->line : line, MLHEP_EINVAL, "%s: cannot read the activation %s", what,
                describe(v, d, sizeof d));
}

/* Activation layers (Keras and PyTorch): *act NULL when L is not one. */
static int layer_act(conv *cv, const value *L, const char *name, const char **act, double *alpha, int *has_alpha)
{
    ctx *c = cv->c;
    int torch = fw_of(L->s) == FW_TORCH || (fw_of(L->s) == FW_NONE && cv->fw == FW_TORCH);
    double x;
    *act = NULL;
    *has_alpha = 0;
    if (!strcmp(name, "Activation")) {
        static const char *const n[] = {"activation", "name", "dtype", "trainable", NULL};
        if (args_check(c, L, "Activation", n, 1))
            return c->rc;
        value *a = arg(L, n, "activation");
        if (!a)
            return fail(c, L->line, MLHEP_EINVAL, "Activation needs its activation");
        return act_of(cv, a, L->line, "Activation", act, alpha, has_alpha);
    }
    if (!strcmp(name, "ReLU")) {
        static const char *const k[] = {"max_value", "negative_slope", "threshold", "name", "dtype", "trainable", NULL};
        static const char *const t[] = {"inplace", NULL};
        if (args_check(c, L, "ReLU", torch ? t : k, torch ? 1 : 3))
            return c->rc;
        *act = "relu";
        if (!torch) {
            const value *mv = arg(L, k, "max_value"), *ns = arg(L, k, "negative_slope"), *th = arg(L, k, "threshold");
            if (!v_none(mv))
                return fail(c, L->line, MLHEP_EUNSUPPORTED, "ReLU: max_value is not supported");
            if (!v_none(th) && (want_num(c, th, L->line, "ReLU threshold", -1e30, 1e30, 0, &x) || x != 0))
                return c->rc ? c->rc : fail(c, L->line, MLHEP_EUNSUPPORTED, "ReLU: a threshold is not supported");
            if (!v_none(ns)) {
                if (want_num(c, ns, L->line, "ReLU negative_slope", 0, 1e6, 0, &x))
                    return c->rc;
                if (x > 0) {
                    *act = "leaky_relu";
                    *alpha = x;
                    *has_alpha = 1;
                }
            }
        }
        return 0;
    }
    if (!strcmp(name, "LeakyReLU")) {
        static const char *const k[] = {"alpha", "negative_slope", "name", "dtype", "trainable", NULL};
        static const char *const t[] = {"negative_slope", "inplace", NULL};
        if (args_check(c, L, "LeakyReLU", torch ? t : k, 1))
            return c->rc;
        const value *a = torch ? arg(L, t, "negative_slope") : arg(L, k, "alpha");
        if (!torch && v_none(a))
            a = arg(L, k, "negative_slope");
        *act = "leaky_relu";
        *alpha = torch ? 0.01 : 0.3; /* each framework's default */
        *has_alpha = 1;
        if (!v_none(a) && want_num(c, a, L->line, "LeakyReLU slope", 1e-12, 1e6, 0, alpha))
            return c->rc;
        return 0;
    }
    if (!strcmp(name, "ELU")) {
        static const char *const k[] = {"alpha", "name", "dtype", "trainable", NULL};
        static const char *const t[] = {"alpha", "inplace", NULL};
        if (args_check(c, L, "ELU", torch ? t : k, 1))
            return c->rc;
        const value *a = arg(L, k, "alpha");
        *act = "elu";
        *alpha = 1.0;
        *has_alpha = 1;
        if (!v_none(a) && want_num(c, a, L->line, "ELU alpha", 1e-12, 1e6, 0, alpha))
            return c->rc;
        return 0;
    }
    if (!strcmp(name, "Softmax")) {
        static const char *const k[] = {"axis", "name", "dtype", "trainable", NULL};
        static const char *const t[] = {"dim", NULL};
        if (args_check(c, L, "Softmax", torch ? t : k, 1))
            return c->rc;
        const value *a = arg(L, torch ? t : k, torch ? "dim" : "axis");
        if (!v_none(a) && (want_num(c, a, L->line, "Softmax axis", -1, 1, 1, &x) || x == 0))
            return c->rc ? c->rc
                         : fail(c, L->line, MLHEP_EUNSUPPORTED, "Softmax over axis 0 is not supported (rows are axis 0)");
        *act = "softmax";
        return 0;
    }
    if (!strcmp(name, "Tanh") || !strcmp(name, "Sigmoid")) {
        static const char *const none[] = {NULL};
        if (args_check(c, L, name, none, 0))
            return c->rc;
        *act = !strcmp(name, "Tanh") ? "tanh" : "sigmoid";
        return 0;
    }
    return 0;
}

static int input_width(conv *cv, const value *shape, int line, const char *what)
{
    ctx *c = cv->c;
    const value *x = shape;
    if (v_none(x))
        return 0;
    if (x->k == V_LIST) {
        if (x->n != 1)
            return fail(c, line, MLHEP_EUNSUPPORTED,
                        "%s: an input shape of %zu dimensions: mlhep trains on flat rows (shape=(n,))", what, x->n);
        x = x->it[0];
    }
    if (x->k == V_INPUT || v_none(x))
        return 0;
    double n;
    if (want_num(c, x, line, what, 1, 1 << 22, 1, &n))
        return c->rc;
    if (cv->n_inputs >= 0 && cv->n_inputs != (long)n)
        return fail(c, line, MLHEP_EINVAL, "%s: the input width %ld disagrees with %ld given before", what, (long)n,
                    cv->n_inputs);
    cv->n_inputs = (long)n;
    return 0;
}

static int keras_initializer(conv *cv, const value *v, int line, json_t *o)
{
    ctx *c = cv->c;
    if (v_none(v))
        return 0;
    char buf[96];
    const char *n = name_of(v, buf, sizeof buf);
    nn_init init;
    if (n && v->k == V_CALL) {
        static const char *const k[] = {"seed", NULL};
        if (args_check(c, v, last_part(v->s), k, 1))
            return c->rc;
    }
    if (!n || nn_init_parse(n, &init))
        return fail(c, v->line ? v->line : line, MLHEP_EUNSUPPORTED,
                    "Dense: kernel_initializer %s is not supported (glorot_uniform, glorot_normal, he_uniform, "
                    "he_normal)", n ? n : "?");
    return json_object_set_new(o, "init", json_string(nn_init_name(init)));
}

static int keras_regularizer(conv *cv, const value *v, int line, json_t *o)
{
    ctx *c = cv->c;
    if (v_none(v))
        return 0;
    char buf[96];
    const char *n = name_of(v, buf, sizeof buf);
    double l1 = 0, l2 = 0.01; /* keras.regularizers.l2() default */
    if (n && v->k == V_STR && !strcmp(n, "l2"))
        return num_set(o, "l2", l2, 0);
    if (n && v->k == V_CALL && (!strcmp(n, "l2") || !strcmp(n, "l1_l2") || !strcmp(n, "l1l2"))) {
        static const char *const k2[] = {"l2", "l", NULL};
        static const char *const k12[] = {"l1", "l2", NULL};
        int both = strcmp(n, "l2") != 0;
        if (args_check(c, v, last_part(v->s), both ? k12 : k2, both ? 2 : 1))
            return c->rc;
        const value *a = both ? arg(v, k12, "l2") : arg(v, k2, "l2");
        if (!both && !a)
            a = arg(v, k2, "l");
        if (both)
            l2 = 0;
        if (!v_none(a) && want_num(c, a, v->line, "l2", 0, 1e6, 0, &l2))
            return c->rc;
        const value *b = both ? arg(v, k12, "l1") : NULL;
        if (!v_none(b) && want_num(c, b, v->line, "l1", 0, 1e6, 0, &l1))
            return c->rc;
        if (l1 == 0)
            return num_set(o, "l2", l2, 0);
    }
    return fail(c, v->line ? v->line : line, MLHEP_EUNSUPPORTED,
                "Dense: kernel_regularizer %s is not supported (l2 only)", n ? n : "?");
}

static int must_be_none(conv *cv, const value *call, const char *const *names, const char *what, const char *arg_name)
{
    const value *v = arg(call, names, arg_name);
    if (v_none(v))
        return 0;
    return fail(cv->c, v->line ? v->line : call->line, MLHEP_EUNSUPPORTED, "%s: %s is not supported", what, arg_name);
}

static int must_be_named(conv *cv, const value *call, const char *const *names, const char *what, const char *arg_name,
                         const char *want)
{
    const value *v = arg(call, names, arg_name);
    char buf[96];
    const char *n = v_none(v) ? want : name_of(v, buf, sizeof buf);
    if (n && !strcmp(n, want))
        return 0;
    return fail(cv->c, v->line ? v->line : call->line, MLHEP_EUNSUPPORTED, "%s: %s other than '%s' is not supported",
                what, arg_name, want);
}

static json_t *act_layer_json(const char *act, double alpha, int has_alpha)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "activation", json_string(act));
        if (has_alpha)
            json_object_set_new(o, "alpha", json_real(alpha));
    }
    return o;
}

/* One Keras layer -> *out (NULL: nothing to add, e.g. Flatten or Input). */
static int keras_layer(conv *cv, const value *L, size_t index, json_t **out)
{
    ctx *c = cv->c;
    const char *name = last_part(L->s);
    double x;
    *out = NULL;
    if (!strcmp(name, "Dense")) {
        static const char *const n[] = {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
                                        "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                                        "kernel_constraint", "bias_constraint", "input_shape", "input_dim",
                                        "batch_input_shape", "name", "dtype", "trainable", NULL};
        if (args_check(c, L, "Dense", n, 10))
            return c->rc;
        const value *u = arg(L, n, "units");
        if (!u)
            return fail(c, L->line, MLHEP_EINVAL, "Dense needs its number of units");
        if (want_num(c, u, L->line, "Dense units", 1, 1e7, 1, &x))
            return c->rc;
        const char *act;
        double alpha = 0;
        int has_alpha, use_bias = 1;
        if (act_of(cv, arg(L, n, "activation"), L->line, "Dense", &act, &alpha, &has_alpha))
            return c->rc;
        const value *ub = arg(L, n, "use_bias");
        if (!v_none(ub) && want_bool(c, ub, L->line, "Dense use_bias", &use_bias))
            return c->rc;
        if (must_be_named(cv, L, n, "Dense", "bias_initializer", "zeros") ||
            must_be_none(cv, L, n, "Dense", "bias_regularizer") ||
            must_be_none(cv, L, n, "Dense", "activity_regularizer") ||
            must_be_none(cv, L, n, "Dense", "kernel_constraint") || must_be_none(cv, L, n, "Dense", "bias_constraint"))
            return c->rc;
        const value *is = arg(L, n, "input_shape"), *id = arg(L, n, "input_dim"), *bis = arg(L, n, "batch_input_shape");
        if ((is || id || bis) && index != 0)
            return fail(c, L->line, MLHEP_EINVAL, "Dense: an input shape on a layer that is not the first");
        if (bis && bis->k == V_LIST && bis->n == 2) {
            value tmp = *bis;
            tmp.it = bis->it + 1;
            tmp.n = 1;
            if (input_width(cv, &tmp, L->line, "Dense batch_input_shape"))
                return c->rc;
        } else if (!v_none(bis)) {
            return fail(c, L->line, MLHEP_EUNSUPPORTED, "Dense: batch_input_shape must be (batch, n)");
        }
        if (input_width(cv, is, L->line, "Dense input_shape") || input_width(cv, id, L->line, "Dense input_dim"))
            return c->rc;
        json_t *o = json_object();
        if (!o)
            return fail(c, 0, MLHEP_ENOMEM, "out of memory");
        num_set(o, "dense", x, 1);
        json_object_set_new(o, "activation", json_string(act));
        if (has_alpha)
            json_object_set_new(o, "alpha", json_real(alpha));
        if (!use_bias)
            json_object_set_new(o, "use_bias", json_false());
        if (keras_initializer(cv, arg(L, n, "kernel_initializer"), L->line, o) ||
            keras_regularizer(cv, arg(L, n, "kernel_regularizer"), L->line, o)) {
            json_decref(o);
            return c->rc;
        }
        cv->ndense++;
        *out = o;
        return 0;
    }
    if (!strcmp(name, "Dropout")) {
        static const char *const n[] = {"rate", "noise_shape", "seed", "name", "dtype", "trainable", NULL};
        if (args_check(c, L, "Dropout", n, 3) || must_be_none(cv, L, n, "Dropout", "noise_shape"))
            return c->rc;
        const value *r = arg(L, n, "rate");
        if (!r)
            return fail(c, L->line, MLHEP_EINVAL, "Dropout needs its rate");
        if (want_num(c, r, L->line, "Dropout rate", 0, 0.999999, 0, &x))
            return c->rc;
        json_t *o = json_object();
        if (o)
            json_object_set_new(o, "dropout", json_real(x));
        *out = o;
        return o ? 0 : fail(c, 0, MLHEP_ENOMEM, "out of memory");
    }
    if (!strcmp(name, "BatchNormalization")) {
        static const char *const n[] = {"axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
                                        "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
                                        "beta_regularizer", "gamma_regularizer", "beta_constraint",
                                        "gamma_constraint", "synchronized", "name", "dtype", "trainable", NULL};
        if (args_check(c, L, "BatchNormalization", n, 13))
            return c->rc;
        const value *ax = arg(L, n, "axis");
        if (!v_none(ax) && (want_num(c, ax, L->line, "BatchNormalization axis", -1, 1, 1, &x) || x == 0))
            return c->rc ? c->rc : fail(c, L->line, MLHEP_EUNSUPPORTED, "BatchNormalization over axis 0 is not supported");
        double mom = 0.99, eps = 0.001;
        int center = 1, scale = 1;
        const value *m = arg(L, n, "momentum"), *ep = arg(L, n, "epsilon"), *ce = arg(L, n, "center"),
                    *sc = arg(L, n, "scale");
        if ((!v_none(m) && want_num(c, m, L->line, "BatchNormalization momentum", 0, 1, 0, &mom)) ||
            (!v_none(ep) && want_num(c, ep, L->line, "BatchNormalization epsilon", 1e-12, 1e3, 0, &eps)) ||
            (!v_none(ce) && want_bool(c, ce, L->line, "BatchNormalization center", &center)) ||
            (!v_none(sc) && want_bool(c, sc, L->line, "BatchNormalization scale", &scale)) ||
            must_be_named(cv, L, n, "BatchNormalization", "beta_initializer", "zeros") ||
            must_be_named(cv, L, n, "BatchNormalization", "gamma_initializer", "ones") ||
            must_be_named(cv, L, n, "BatchNormalization", "moving_mean_initializer", "zeros") ||
            must_be_named(cv, L, n, "BatchNormalization", "moving_variance_initializer", "ones") ||
            must_be_none(cv, L, n, "BatchNormalization", "beta_regularizer") ||
            must_be_none(cv, L, n, "BatchNormalization", "gamma_regularizer") ||
            must_be_none(cv, L, n, "BatchNormalization", "beta_constraint") ||
            must_be_none(cv, L, n, "BatchNormalization", "gamma_constraint"))
            return c->rc;
        json_t *o = json_object(), *b = json_object();
        if (!o || !b) {
            json_decref(o);
            json_decref(b);
            return fail(c, 0, MLHEP_ENOMEM, "out of memory");
        }
        json_object_set_new(b, "momentum", json_real(mom));
        json_object_set_new(b, "epsilon", json_real(eps));
        json_object_set_new(b, "center", json_boolean(center));
        json_object_set_new(b, "scale", json_boolean(scale));
        json_object_set_new(o, "batchnorm", b);
        *out = o;
        return 0;
    }
    if (!strcmp(name, "Flatten")) {
        static const char *const n[] = {"data_format", "name", "dtype", "trainable", NULL};
        return args_check(c, L, "Flatten", n, 1);
    }
    if (!strcmp(name, "Input") || !strcmp(name, "InputLayer")) {
        static const char *const n[] = {"shape", "batch_size", "name", "dtype", "sparse", "tensor", "ragged",
                                        "batch_shape", "input_shape", "batch_input_shape", "optional", NULL};
        if (args_check(c, L, name, n, 2))
            return c->rc;
        if (index != 0)
            return fail(c, L->line, MLHEP_EINVAL, "%s must be the first layer", name);
        const value *s = arg(L, n, "shape");
        if (!s)
            s = arg(L, n, "input_shape");
        if (input_width(cv, s, L->line, name))
            return c->rc;
        const value *bs = arg(L, n, "batch_shape");
        if (!bs)
            bs = arg(L, n, "batch_input_shape");
        if (bs && bs->k == V_LIST && bs->n == 2) {
            value tmp = *bs;
            tmp.it = bs->it + 1;
            tmp.n = 1;
            return input_width(cv, &tmp, L->line, name);
        }
        if (!v_none(bs))
            return fail(c, L->line, MLHEP_EUNSUPPORTED, "%s: batch_shape must be (batch, n)", name);
        return 0;
    }
    const char *act;
    double alpha = 0;
    int has_alpha;
    if (layer_act(cv, L, name, &act, &alpha, &has_alpha))
        return c->rc;
    if (act) {
        *out = act_layer_json(act, alpha, has_alpha);
        return *out ? 0 : fail(c, 0, MLHEP_ENOMEM, "out of memory");
    }
    return fail(c, L->line, MLHEP_EUNSUPPORTED, "%s is not supported (mlhep trains dense networks: %s)", name,
                KERAS_LIST);
}

/* The input width a PyTorch layer declares: must follow the layer before. */
static int torch_in(conv *cv, const value *v, int line, const char *what)
{
    ctx *c = cv->c;
    if (v && v->k == V_INPUT) {
        if (cv->width >= 0)
            return fail(c, line, MLHEP_EINVAL, "%s takes the input width '%s' but follows a layer giving %ld values",
                        what, v->s, cv->width);
        return 0;
    }
    double n;
    if (want_num(c, v, line, what, 1, 1 << 22, 1, &n))
        return c->rc;
    if (cv->width >= 0 && (long)n != cv->width)
        return fail(c, line, MLHEP_EINVAL, "%s takes %ld values but the layer before gives %ld", what, (long)n,
                    cv->width);
    if (cv->width < 0)
        cv->n_inputs = (long)n;
    return 0;
}

static int torch_layer(conv *cv, const value *L, json_t **out)
{
    ctx *c = cv->c;
    const char *name = last_part(L->s);
    double x;
    *out = NULL;
    if (!strcmp(name, "Linear") || !strcmp(name, "JaggedArrayLinear")) {
        static const char *const n[] = {"in_features", "out_features", "bias", "device", "dtype", NULL};
        if (args_check(c, L, name, n, 3))
            return c->rc;
        const value *in = arg(L, n, "in_features"), *o = arg(L, n, "out_features"), *b = arg(L, n, "bias");
        if (!in || !o)
            return fail(c, L->line, MLHEP_EINVAL, "%s needs in_features and out_features", name);
        int bias = 1;
        char what[64];
        snprintf(what, sizeof what, "%s in_features", name);
        if (torch_in(cv, in, L->line, what) || want_num(c, o, L->line, "Linear out_features", 1, 1e7, 1, &x) ||
            (!v_none(b) && want_bool(c, b, L->line, "Linear bias", &bias)))
            return c->rc;
        cv->width = (long)x;
        json_t *j = json_object();
        if (!j)
            return fail(c, 0, MLHEP_ENOMEM, "out of memory");
        num_set(j, "dense", x, 1);
        json_object_set_new(j, "activation", json_string("linear"));
        if (!bias)
            json_object_set_new(j, "use_bias", json_false());
        cv->ndense++;
        *out = j;
        return 0;
    }
    if (!strcmp(name, "Dropout")) {
        static const char *const n[] = {"p", "inplace", NULL};
        if (args_check(c, L, "Dropout", n, 2))
            return c->rc;
        const value *p = arg(L, n, "p");
        x = 0.5;
        if (!v_none(p) && want_num(c, p, L->line, "Dropout p", 0, 0.999999, 0, &x))
            return c->rc;
        json_t *o = json_object();
        if (o)
            json_object_set_new(o, "dropout", json_real(x));
        *out = o;
        return o ? 0 : fail(c, 0, MLHEP_ENOMEM, "out of memory");
    }
    if (!strcmp(name, "BatchNorm1d")) {
        static const char *const n[] = {"num_features", "eps", "momentum", "affine", "track_running_stats", "device",
                                        "dtype", NULL};
        if (args_check(c, L, "BatchNorm1d", n, 5))
            return c->rc;
        const value *nf = arg(L, n, "num_features"), *ep = arg(L, n, "eps"), *m = arg(L, n, "momentum"),
                    *af = arg(L, n, "affine"), *tr = arg(L, n, "track_running_stats");
        if (!nf)
            return fail(c, L->line, MLHEP_EINVAL, "BatchNorm1d needs num_features");
        double eps = 1e-5, mom = 0.1;
        int affine = 1, track = 1;
        if (torch_in(cv, nf, L->line, "BatchNorm1d num_features") ||
            (!v_none(ep) && want_num(c, ep, L->line, "BatchNorm1d eps", 1e-12, 1e3, 0, &eps)) ||
            (!v_none(af) && want_bool(c, af, L->line, "BatchNorm1d affine", &affine)) ||
            (!v_none(tr) && want_bool(c, tr, L->line, "BatchNorm1d track_running_stats", &track)))
            return c->rc;
        if (m && m->k == V_NONE)
            return fail(c, L->line, MLHEP_EUNSUPPORTED, "BatchNorm1d: momentum=None (a cumulative average) is not "
                        "supported");
        if (m && want_num(c, m, L->line, "BatchNorm1d momentum", 0, 1, 0, &mom))
            return c->rc;
        if (!track)
            return fail(c, L->line, MLHEP_EUNSUPPORTED, "BatchNorm1d: track_running_stats=False is not supported");
        if (cv->width < 0 && nf->k == V_NUM)
            cv->width = (long)nf->num;
        json_t *o = json_object(), *b = json_object();
        if (!o || !b) {
            json_decref(o);
            json_decref(b);
            return fail(c, 0, MLHEP_ENOMEM, "out of memory");
        }
        json_object_set_new(b, "momentum", json_real(1 - mom)); /* PyTorch's m is Keras's 1 - m */
        json_object_set_new(b, "epsilon", json_real(eps));
        json_object_set_new(b, "center", json_boolean(affine));
        json_object_set_new(b, "scale", json_boolean(affine));
        json_object_set_new(o, "batchnorm", b);
        *out = o;
        return 0;
    }
    if (!strcmp(name, "Flatten") || !strcmp(name, "Identity")) {
        static const char *const n[] = {"start_dim", "end_dim", NULL};
        static const char *const none[] = {NULL};
        return args_check(c, L, name, !strcmp(name, "Flatten") ? n : none, !strcmp(name, "Flatten") ? 2 : 0);
    }
    const char *act;
    double alpha = 0;
    int has_alpha;
    if (layer_act(cv, L, name, &act, &alpha, &has_alpha))
        return c->rc;
    if (act) {
        *out = act_layer_json(act, alpha, has_alpha);
        return *out ? 0 : fail(c, 0, MLHEP_ENOMEM, "out of memory");
    }
    return fail(c, L->line, MLHEP_EUNSUPPORTED, "%s is not supported (mlhep trains dense networks: %s)", name,
                TORCH_LIST);
}

static int add_layers(conv *cv, const value *seq, int depth)
{
    ctx *c = cv->c;
    char d[256];
    if (depth > 8)
        return fail(c, seq->line, MLHEP_EINVAL, "Sequential models nested too deep");
    for (size_t i = 0; i < seq->n; i++) {
        const value *L = seq->it[i];
        if (L->k == V_SEQ) { /* a Sequential inside a Sequential: its layers in place */
            if (add_layers(cv, L, depth + 1))
                return c->rc;
            continue;
        }
        if (L->k == V_UNKNOWN)
            return fail(c, L->line, MLHEP_EINVAL, "cannot read %s", L->s);
        if (L->k != V_CALL)
            return fail(c, L->line ? L->line : seq->line, MLHEP_EINVAL, "a layer of the Sequential model is %s",
                        describe(L, d, sizeof d));
        int lfw = fw_of(L->s);
        if (lfw != FW_NONE && lfw != cv->fw)
            return fail(c, L->line, MLHEP_EINVAL, "%s is a %s layer in a %s model", last_part(L->s),
                        lfw == FW_TORCH ? "PyTorch" : "Keras", cv->fw == FW_TORCH ? "PyTorch" : "Keras");
        json_t *o = NULL;
        if (cv->fw == FW_TORCH ? torch_layer(cv, L, &o) : keras_layer(cv, L, json_array_size(cv->layers), &o))
            return c->rc;
        if (o && json_array_append_new(cv->layers, o))
            return fail(c, 0, MLHEP_ENOMEM, "out of memory");
        if (json_array_size(cv->layers) > MLP_MAX_LAYERS)
            return fail(c, L->line, MLHEP_EINVAL, "more than %d layers", MLP_MAX_LAYERS);
    }
    return 0;
}

/* Sets the output activation of the last layer when it is a linear Dense (PyTorch
 * outputs and Keras losses with from_logits=True): sigmoid for 1 unit, softmax for more. */
static const char *logits_to_probabilities(json_t *layers)
{
    json_t *last = json_array_get(layers, json_array_size(layers) - 1);
    json_t *d = json_object_get(last, "dense");
    const char *a = json_string_value(json_object_get(last, "activation"));
    if (json_is_integer(d) && a && !strcmp(a, "linear")) {
        const char *act = json_integer_value(d) == 1 ? "sigmoid" : "softmax";
        json_object_set_new(last, "activation", json_string(act));
        return act;
    }
    return a ? a : "linear";
}

static int keras_optimizer(conv *cv, const value *v, int line, json_t *spec)
{
    ctx *c = cv->c;
    char buf[96];
    const char *n = name_of(v, buf, sizeof buf);
    if (n && (v->k == V_STR || v->k == V_NAME) && (!strcmp(n, "adam") || !strcmp(n, "sgd")))
        return json_object_set_new(spec, "optimizer", json_string(n));
    if (n && v->k == V_CALL && (!strcmp(n, "adam") || !strcmp(n, "sgd"))) {
        int adam = !strcmp(n, "adam");
        static const char *const ka[] = {"learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "lr", "decay",
                                         "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
                                         "name", "jit_compile", NULL};
        static const char *const ks[] = {"learning_rate", "momentum", "nesterov", "lr", "decay", "weight_decay",
                                         "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "name",
                                         "jit_compile", NULL};
        const char *const *k = adam ? ka : ks;
        const char *what = adam ? "Adam" : "SGD";
        if (args_check(c, v, what, k, adam ? 5 : 3))
            return c->rc;
        static const char *const unsup[] = {"decay", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
                                            "use_ema", NULL};
        for (const char *const *u = unsup; *u; u++) {
            const value *x = arg(v, k, *u);
            double z;
            if (!v_none(x) && (want_num(c, x, v->line, *u, -1e30, 1e30, 0, &z) || z != 0))
                return c->rc ? c->rc : fail(c, v->line, MLHEP_EUNSUPPORTED, "%s: %s is not supported", what, *u);
        }
        const value *am = adam ? arg(v, k, "amsgrad") : NULL;
        int ams = 0;
        if (!v_none(am) && (want_bool(c, am, v->line, "Adam amsgrad", &ams) || ams))
            return c->rc ? c->rc : fail(c, v->line, MLHEP_EUNSUPPORTED, "Adam: amsgrad is not supported");
        json_t *cfg = json_object(), *o = json_object();
        if (!cfg || !o) {
            json_decref(cfg);
            json_decref(o);
            return fail(c, 0, MLHEP_ENOMEM, "out of memory");
        }
        json_object_set_new(o, n, cfg);
        const value *lr = arg(v, k, "learning_rate");
        if (v_none(lr))
            lr = arg(v, k, "lr");
        double x;
        int rc = 0;
        if (!v_none(lr)) {
            if (lr->k == V_CALL)
                rc = fail(c, lr->line, MLHEP_EUNSUPPORTED, "%s: a learning-rate schedule (%s) is not supported", what,
                          last_part(lr->s));
            else if (!(rc = want_num(c, lr, v->line, "learning_rate", 1e-12, 1e3, 0, &x)))
                json_object_set_new(cfg, "lr", json_real(x));
        }
        static const char *const an[][2] = {{"beta_1", "beta1"}, {"beta_2", "beta2"}, {"epsilon", "epsilon"}};
        static const char *const sn[][2] = {{"momentum", "momentum"}};
        size_t cnt = adam ? 3 : 1;
        for (size_t i = 0; !rc && i < cnt; i++) {
            const char *from = adam ? an[i][0] : sn[i][0], *to = adam ? an[i][1] : sn[i][1];
            const value *a = arg(v, k, from);
            if (!v_none(a) && !(rc = want_num(c, a, v->line, from, 0, 1, 0, &x)))
                json_object_set_new(cfg, to, json_real(x));
        }
        const value *nes = adam ? NULL : arg(v, k, "nesterov");
        int nb;
        if (!rc && !v_none(nes) && !(rc = want_bool(c, nes, v->line, "SGD nesterov", &nb)))
            json_object_set_new(cfg, "nesterov", json_boolean(nb));
        if (rc) {
            json_decref(o);
            return rc;
        }
        return json_object_set_new(spec, "optimizer", o);
    }
    char d[256];
    if (n)
        return fail(c, v->line ? v->line : line, MLHEP_EUNSUPPORTED,
                    "the optimizer %s is not supported (mlhep trains with Adam or SGD)", n);
    return fail(c, v->line ? v->line : line, MLHEP_EINVAL, "cannot read the optimizer %s", describe(v, d, sizeof d));
}

static int keras_loss(conv *cv, const value *v, int line, json_t *spec, int *from_logits)
{
    ctx *c = cv->c;
    char buf[96];
    const char *n = name_of(v, buf, sizeof buf);
    *from_logits = 0;
    static const char *const map[][2] = {{"binary_crossentropy", "binary_crossentropy"},
                                         {"bce", "binary_crossentropy"},
                                         {"categorical_crossentropy", "categorical_crossentropy"},
                                         {"sparse_categorical_crossentropy", "categorical_crossentropy"},
                                         {"mse", "mse"},
                                         {"mean_squared_error", "mse"}};
    const char *loss = NULL;
    for (size_t i = 0; n && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(n, map[i][0]))
            loss = map[i][1];
    if (loss && v->k == V_CALL) {
        static const char *const k[] = {"from_logits", "label_smoothing", "axis", "reduction", "name", "ignore_class",
                                        "dtype", NULL};
        if (args_check(c, v, last_part(v->s), k, 2))
            return c->rc;
        const value *fl = arg(v, k, "from_logits"), *ls = arg(v, k, "label_smoothing"), *rd = arg(v, k, "reduction");
        double x;
        if (!v_none(fl) && want_bool(c, fl, v->line, "from_logits", from_logits))
            return c->rc;
        if (!v_none(ls) && (want_num(c, ls, v->line, "label_smoothing", 0, 1, 0, &x) || x != 0))
            return c->rc ? c->rc : fail(c, v->line, MLHEP_EUNSUPPORTED, "label_smoothing is not supported");
        if (!v_none(rd) && must_be_named(cv, v, k, last_part(v->s), "reduction", "sum_over_batch_size"))
            return c->rc;
        if (must_be_none(cv, v, k, last_part(v->s), "ignore_class"))
            return c->rc;
    }
    if (loss)
        return json_object_set_new(spec, "loss", json_string(loss));
    char d[256];
    if (n)
        return fail(c, v->line ? v->line : line, MLHEP_EUNSUPPORTED,
                    "the loss %s is not supported (binary_crossentropy, categorical_crossentropy, "
                    "sparse_categorical_crossentropy, mse)", n);
    return fail(c, v->line ? v->line : line, MLHEP_EINVAL, "cannot read the loss %s", describe(v, d, sizeof d));
}

static int keras_metrics(conv *cv, const value *v, int line, json_t *spec)
{
    ctx *c = cv->c;
    if (v_none(v))
        return 0;
    if (v->k != V_LIST)
        return fail(c, v->line ? v->line : line, MLHEP_EINVAL, "metrics must be a list");
    json_t *a = json_array();
    if (!a)
        return fail(c, 0, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        const value *m = v->it[i];
        char buf[96];
        const char *n = NULL;
        if (m->k == V_CALL) {
            for (size_t k = 0; k < m->nkw; k++)
                if (!strcmp(m->kw[k].name, "name") && m->kw[k].v->k == V_STR)
                    n = m->kw[k].v->s;
            if (!n)
                n = name_of(m, buf, sizeof buf);
        } else {
            n = name_of(m, buf, sizeof buf);
        }
        if (!n) {
            json_decref(a);
            char d[256];
            return fail(c, m->line ? m->line : line, MLHEP_EINVAL, "cannot read the metric %s",
                        describe(m, d, sizeof d));
        }
        json_array_append_new(a, json_string(n));
    }
    return json_object_set_new(spec, "metrics", a);
}

static int keras_compile(conv *cv, const value *seq, json_t *spec, int *from_logits)
{
    ctx *c = cv->c;
    *from_logits = 0;
    for (size_t i = 0; i < seq->nkw; i++) {
        const char *k = seq->kw[i].name;
        const value *v = seq->kw[i].v;
        int rc = 0;
        if (!strcmp(k, "optimizer"))
            rc = v_none(v) ? 0 : keras_optimizer(cv, v, seq->compile_line, spec);
        else if (!strcmp(k, "loss"))
            rc = v_none(v) ? 0 : keras_loss(cv, v, seq->compile_line, spec, from_logits);
        else if (!strcmp(k, "metrics"))
            rc = keras_metrics(cv, v, seq->compile_line, spec);
        else if (!strcmp(k, "run_eagerly") || !strcmp(k, "jit_compile") || !strcmp(k, "steps_per_execution") ||
                 !strcmp(k, "auto_scale_loss"))
            rc = 0; /* how Keras executes; no effect on the model */
        else if ((!strcmp(k, "weighted_metrics") || !strcmp(k, "loss_weights")) && v_none(v))
            rc = 0;
        else
            rc = fail(c, seq->compile_line, MLHEP_EUNSUPPORTED, "compile(): the argument '%s' is not read by mlhep", k);
        if (rc)
            return c->rc ? c->rc : fail(c, seq->compile_line, MLHEP_ENOMEM, "out of memory");
    }
    return 0;
}

static int convert(ctx *c, const value *seq, json_t **spec)
{
    conv cv = {c, fw_of(seq->s), json_array(), -1, -1, 0};
    json_t *s = json_object();
    if (!cv.layers || !s) {
        json_decref(cv.layers);
        json_decref(s);
        return fail(c, 0, MLHEP_ENOMEM, "out of memory");
    }
    if (cv.fw == FW_NONE) /* Sequential without a framework path: the layers say which */
        for (size_t i = 0; i < seq->n && cv.fw == FW_NONE; i++)
            if (seq->it[i]->k == V_CALL) {
                const char *n = last_part(seq->it[i]->s);
                cv.fw = fw_of(seq->it[i]->s);
                if (cv.fw == FW_NONE && (!strcmp(n, "Linear") || !strcmp(n, "BatchNorm1d")))
                    cv.fw = FW_TORCH;
            }
    if (cv.fw == FW_NONE)
        cv.fw = FW_KERAS;
    json_object_set_new(s, "type", json_string("mlp"));
    int rc = 0, from_logits = 0;
    if (seq->n == 0)
        rc = fail(c, seq->line, MLHEP_EINVAL, "the Sequential model has no layers");
    if (!rc)
        rc = add_layers(&cv, seq, 0);
    if (!rc && cv.ndense == 0)
        rc = fail(c, seq->line, MLHEP_EINVAL, "the model has no %s layer", cv.fw == FW_TORCH ? "Linear" : "Dense");
    if (!rc && cv.fw == FW_KERAS && seq->compile_line)
        rc = keras_compile(&cv, seq, s, &from_logits);
    if (!rc && seq->compile_line && cv.fw == FW_TORCH)
        rc = fail(c, seq->compile_line, MLHEP_EINVAL, "compile() on a PyTorch model");
    if (!rc) {
        if (cv.fw == FW_TORCH || from_logits) {
            const char *out = logits_to_probabilities(cv.layers);
            /* PyTorch: the loss follows the output, as MLaaS4HEP's PyTorch training does */
            if (cv.fw == FW_TORCH && !strcmp(out, "sigmoid"))
                json_object_set_new(s, "loss", json_string("binary_crossentropy"));
            else if (cv.fw == FW_TORCH && !strcmp(out, "softmax"))
                json_object_set_new(s, "loss", json_string("categorical_crossentropy"));
        }
        if (json_object_set(s, "layers", cv.layers) ||
            (cv.n_inputs >= 0 && json_object_set_new(s, "n_inputs", json_integer(cv.n_inputs))))
            rc = fail(c, 0, MLHEP_ENOMEM, "out of memory");
    }
    json_decref(cv.layers);
    if (rc) {
        json_decref(s);
        return rc;
    }
    *spec = s;
    return 0;
}

/* ================================================================ entry */

static const value *find_model(ctx *c, scope *g, int *rc)
{
    static const char *const names[] = {"model", "build_model", "get_model", "create_model", "make_model", NULL};
    value *found = NULL;
    *rc = 0;
    for (const char *const *n = names; *n && !found; n++) {
        value *v = lookup(g, *n);
        if (v && (v->k == V_FUNC || v->k == V_SEQ))
            found = v;
    }
    if (!found) { /* the only function of the file */
        size_t nf = 0;
        for (size_t i = 0; i < g->n; i++)
            if (g->b[i].v->k == V_FUNC && !strcmp(g->b[i].name, g->b[i].v->s)) {
                nf++;
                found = g->b[i].v;
            }
        if (nf != 1)
            found = NULL;
    }
    if (!found) /* a Sequential model built at the top level */
        for (size_t i = 0; i < g->n; i++)
            if (g->b[i].v->k == V_SEQ)
                found = g->b[i].v;
    if (!found) {
        *rc = fail(c, 0, MLHEP_EINVAL, "no model found: define model(idim) returning a keras.Sequential or "
                   "torch.nn.Sequential model (as MLaaS4HEP's model.py does)");
        return NULL;
    }
    if (found->k == V_SEQ)
        return found;
    value *r = NULL;
    if ((*rc = call_user(c, found, NULL, 0, NULL, 0, found->line, 1, &r)))
        return NULL;
    if (r->k != V_SEQ) {
        char d[256];
        if (r->k == V_UNKNOWN)
            *rc = fail(c, r->line, MLHEP_EINVAL, "cannot read the model: it is %s", r->s);
        else
            *rc = fail(c, r->line ? r->line : found->line, MLHEP_EINVAL,
                       "%s() returns %s, not a Sequential model (mlhep reads keras.Sequential and "
                       "torch.nn.Sequential models)", found->s, describe(r, d, sizeof d));
        return NULL;
    }
    return r;
}

int modelpy_read(const char *src, size_t len, const char *fname, json_t **spec, mlhep_err *e)
{
    *spec = NULL;
    ctx c;
    memset(&c, 0, sizeof c);
    c.fname = fname && *fname ? fname : "model.py";
    c.e = e;
    c.none.k = V_NONE;
    if (len > MODELPY_MAX_BYTES)
        return fail(&c, 0, MLHEP_EINVAL, "%zu bytes is larger than the %u-byte limit for a model file", len,
                    MODELPY_MAX_BYTES);
    if (memchr(src, '\0', len))
        return fail(&c, 0, MLHEP_EINVAL, "contains a NUL byte: not a Python text file");
    arena_init(&c.a);
    scope globals;
    memset(&globals, 0, sizeof globals);
    c.globals = &globals;
    c.cur = &globals;
    value modname = {.k = V_STR, .s = "mlhep_model_py"}; /* imported, not run: __name__ != "__main__" */
    bind(&c, &globals, "__name__", &modname);
    block top = {0};
    size_t p = 0;
    if (!tokenize(&c, src, len) && !parse_block(&c, &p, &top, 1)) {
        value *ret = NULL;
        int r = exec_block(&c, &top, &globals, &ret);
        if (r == X_RET)
            fail(&c, ret ? ret->line : 0, MLHEP_EINVAL, "'return' outside a function");
        else if (r == X_BRK || r == X_CONT)
            fail(&c, 0, MLHEP_EINVAL, "'break' or 'continue' outside a loop");
        int rc = 0;
        const value *seq = c.rc ? NULL : find_model(&c, &globals, &rc);
        if (seq)
            convert(&c, seq, spec);
    }
    free(c.t);
    arena_free(&c.a);
    return c.rc;
}
