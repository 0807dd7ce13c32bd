/* jsonschema.c - JSON Schema (draft 2020-12 subset) validation; see jsonschema.h.
 *
 * Loading walks the whole schema once: every keyword is checked for shape, every
 * pattern is compiled and every $ref resolved; the results live in a small hash
 * table keyed by the address of the schema node they belong to (pattern string,
 * patternProperties key, $ref string). Validation is then a plain recursive walk
 * that stops at the first error and reports it with the instance's JSON pointer. */
#include "base/jsonschema.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/suggest.h"

#define JS_MAX_DEPTH 128 /* schema+instance recursion limit (also stops $ref loops) */
#define JS_PTR_MAX 512

typedef struct side {
    const void *key;       /* address of the schema node; NULL = empty slot */
    int has_re;
    regex_t re;
    const json_t *target;  /* resolved $ref */
} side;

struct jschema {
    json_t *doc;
    char name[256];
    side *tab;
    size_t cap; /* power of two */
    size_t n;
};

/* ------------------------------------------------------------ side table */

static size_t hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static const side *side_get(const jschema *s, const void *key)
{
    if (!s->cap)
        return NULL;
    for (size_t i = hash_ptr(key) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->tab[i].key == key)
            return &s->tab[i];
        if (!s->tab[i].key)
            return NULL;
    }
}

static side *side_put(jschema *s, const void *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        side *nt = calloc(ncap, sizeof *nt);
        if (!nt)
            return NULL;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->tab[i].key)
                continue;
            size_t j = hash_ptr(s->tab[i].key) & (ncap - 1);
            while (nt[j].key)
                j = (j + 1) & (ncap - 1);
            nt[j] = s->tab[i];
        }
        free(s->tab);
        s->tab = nt;
        s->cap = ncap;
    }
    size_t i = hash_ptr(key) & (s->cap - 1);
    while (s->tab[i].key && s->tab[i].key != key)
        i = (i + 1) & (s->cap - 1);
    if (!s->tab[i].key) {
        s->tab[i].key = key;
        s->n++;
    }
    return &s->tab[i];
}

void jschema_free(jschema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        if (s->tab[i].key && s->tab[i].has_re)
            regfree(&s->tab[i].re);
    free(s->tab);
    json_decref(s->doc);
    free(s);
}

/* ------------------------------------------------------------ pointers */

void jschema_ptr_append(char *ptr, size_t cap, const char *tok)
{
    size_t n = strnlen(ptr, cap);
    if (n + 2 >= cap)
        return;
    ptr[n++] = '/';
    for (; *tok && n + 3 < cap; tok++) {
        if (*tok == '~' || *tok == '/') {
            ptr[n++] = '~';
            ptr[n++] = *tok == '~' ? '0' : '1';
        } else {
            ptr[n++] = *tok;
        }
    }
    ptr[n] = '\0';
}

static void ptr_append_index(char *ptr, size_t cap, size_t i)
{
    char b[32];
    snprintf(b, sizeof b, "%zu", i);
    jschema_ptr_append(ptr, cap, b);
}

/* Resolves a local "#..." reference against doc; NULL if it does not resolve. */
static const json_t *resolve_ref(const json_t *doc, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    const char *p = ref + 1;
    const json_t *cur = doc;
    if (!*p)
        return cur;
    if (*p != '/')
        return NULL;
    char tok[256];
    while (*p == '/') {
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            if (n + 1 >= sizeof tok)
                return NULL;
            if (*p == '~') {
                if (p[1] == '0')
                    tok[n++] = '~';
                else if (p[1] == '1')
                    tok[n++] = '/';
                else
                    return NULL;
                p += 2;
            } else {
                tok[n++] = *p++;
            }
        }
        tok[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            errno = 0;
            unsigned long i = strtoul(tok, &end, 10);
            if (!n || *end || errno || (n > 1 && tok[0] == '0'))
                return NULL;
            cur = json_array_get(cur, i);
        } else {
            return NULL;
        }
        if (!cur)
            return NULL;
    }
    return cur;
}

const json_t *jschema_node(const jschema *s, const char *ref)
{
    return s && ref ? resolve_ref(s->doc, ref) : NULL;
}

/* ------------------------------------------------------------ load / check */

static const char *const annotations[] = {"$schema", "$id", "$comment", "title", "description",
                                          "default", "examples", "format", "deprecated",
                                          "readOnly", "writeOnly", NULL};

static int in_list(const char *k, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(k, list[i]) == 0)
            return 1;
    return 0;
}

typedef struct loader {
    jschema *s;
    mlhep_err *e;
} loader;

__attribute__((format(printf, 3, 4)))
static int lerr(loader *L, const char *sptr, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(L->e, MLHEP_EFORMAT, "schema %s: %s: %s", L->s->name, *sptr ? sptr : "/", msg);
}

static int compile_re(loader *L, const char *sptr, const void *key, const char *pat)
{
    /* ECMA-262-only constructs would silently mean something else in POSIX ERE. */
    for (const char *p = pat; *p; p++) {
        if (p[0] == '\\' && (p[1] == 'd' || p[1] == 'D'))
            return lerr(L, sptr, "pattern \"%s\": \\d is not POSIX, write [0-9]", pat);
        if (p[0] == '(' && p[1] == '?')
            return lerr(L, sptr, "pattern \"%s\": (?...) groups are not POSIX ERE", pat);
        if ((p[0] == '*' || p[0] == '+' || p[0] == '}') && p[1] == '?')
            return lerr(L, sptr, "pattern \"%s\": lazy quantifiers are not POSIX ERE", pat);
        if (p[0] == '\\' && p[1])
            p++;
    }
    side *sd = side_put(L->s, key);
    if (!sd)
        return err_set(L->e, MLHEP_ENOMEM, "out of memory");
    if (sd->has_re)
        return 0;
    int rc = regcomp(&sd->re, pat, REG_EXTENDED);
    if (rc) {
        char b[200];
        regerror(rc, &sd->re, b, sizeof b);
        return lerr(L, sptr, "pattern \"%s\" does not compile as POSIX ERE: %s", pat, b);
    }
    sd->has_re = 1;
    return 0;
}

static int check_schema(loader *L, const json_t *sc, char *sptr, int depth);

static int check_sub(loader *L, const json_t *sc, char *sptr, const char *tok, int depth)
{
    size_t n = strlen(sptr);
    jschema_ptr_append(sptr, JS_PTR_MAX, tok);
    int rc = check_schema(L, sc, sptr, depth + 1);
    sptr[n] = '\0';
    return rc;
}

static int is_nonneg_int(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int check_schema(loader *L, const json_t *sc, char *sptr, int depth)
{
    if (depth > JS_MAX_DEPTH)
        return lerr(L, sptr, "schema nested deeper than %d levels", JS_MAX_DEPTH);
    if (json_is_boolean(sc))
        return 0;
    if (!json_is_object(sc))
        return lerr(L, sptr, "a schema must be an object or a boolean");
    const char *k;
    json_t *v;
    int rc;
    json_object_foreach((json_t *)sc, k, v) {
        size_t n = strlen(sptr);
        jschema_ptr_append(sptr, JS_PTR_MAX, k);
        rc = 0;
        if (in_list(k, annotations)) {
            /* ignored */
        } else if (strcmp(k, "type") == 0) {
            static const char *const types[] = {"null", "boolean", "object", "array",
                                                "number", "string", "integer", NULL};
            if (json_is_string(v)) {
                if (!in_list(json_string_value(v), types))
                    rc = lerr(L, sptr, "unknown type \"%s\"", json_string_value(v));
            } else if (json_is_array(v) && json_array_size(v) > 0) {
                size_t i;
                json_t *t;
                json_array_foreach(v, i, t) if (!rc && (!json_is_string(t) ||
                                                        !in_list(json_string_value(t), types)))
                    rc = lerr(L, sptr, "type list holds something that is not a type name");
            } else {
                rc = lerr(L, sptr, "type must be a type name or a non-empty array of them");
            }
        } else if (strcmp(k, "enum") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0)
                rc = lerr(L, sptr, "enum must be a non-empty array");
        } else if (strcmp(k, "const") == 0) {
            /* any value */
        } else if (strcmp(k, "properties") == 0 || strcmp(k, "$defs") == 0 ||
                   strcmp(k, "patternProperties") == 0) {
            if (!json_is_object(v)) {
                rc = lerr(L, sptr, "%s must be an object", k);
            } else {
                const char *pk;
                json_t *pv;
                int pat = k[0] == 'p' && k[1] == 'a';
                json_object_foreach(v, pk, pv) {
                    if (!rc && pat)
                        rc = compile_re(L, sptr, pk, pk);
                    if (!rc)
                        rc = check_sub(L, pv, sptr, pk, depth);
                }
            }
        } else if (strcmp(k, "dependentRequired") == 0) {
            if (!json_is_object(v))
                rc = lerr(L, sptr, "dependentRequired must be an object");
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv) {
                size_t i;
                json_t *t;
                if (!rc && !json_is_array(pv))
                    rc = lerr(L, sptr, "dependentRequired values must be arrays of names");
                json_array_foreach(pv, i, t) if (!rc && !json_is_string(t))
                    rc = lerr(L, sptr, "dependentRequired values must be arrays of names");
            }
        } else if (strcmp(k, "additionalProperties") == 0 || strcmp(k, "items") == 0 ||
                   strcmp(k, "not") == 0 || strcmp(k, "if") == 0 || strcmp(k, "then") == 0 ||
                   strcmp(k, "else") == 0 || strcmp(k, "propertyNames") == 0) {
            rc = check_schema(L, v, sptr, depth + 1);
        } else if (strcmp(k, "prefixItems") == 0 || strcmp(k, "allOf") == 0 ||
                   strcmp(k, "anyOf") == 0 || strcmp(k, "oneOf") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0) {
                rc = lerr(L, sptr, "%s must be a non-empty array of schemas", k);
            } else {
                size_t i;
                json_t *t;
                json_array_foreach(v, i, t) {
                    if (rc)
                        break;
                    char idx[32];
                    snprintf(idx, sizeof idx, "%zu", i);
                    rc = check_sub(L, t, sptr, idx, depth);
                }
            }
        } else if (strcmp(k, "required") == 0) {
            size_t i;
            json_t *t;
            if (!json_is_array(v))
                rc = lerr(L, sptr, "required must be an array of property names");
            json_array_foreach(v, i, t) if (!rc && !json_is_string(t))
                rc = lerr(L, sptr, "required must be an array of property names");
        } else if (strcmp(k, "minProperties") == 0 || strcmp(k, "maxProperties") == 0 ||
                   strcmp(k, "minItems") == 0 || strcmp(k, "maxItems") == 0 ||
                   strcmp(k, "minLength") == 0 || strcmp(k, "maxLength") == 0) {
            if (!is_nonneg_int(v))
                rc = lerr(L, sptr, "%s must be a non-negative integer", k);
        } else if (strcmp(k, "minimum") == 0 || strcmp(k, "maximum") == 0 ||
                   strcmp(k, "exclusiveMinimum") == 0 || strcmp(k, "exclusiveMaximum") == 0) {
            if (!json_is_number(v))
                rc = lerr(L, sptr, "%s must be a number", k);
        } else if (strcmp(k, "multipleOf") == 0) {
            if (!json_is_number(v) || !(json_number_value(v) > 0))
                rc = lerr(L, sptr, "multipleOf must be a number > 0");
        } else if (strcmp(k, "uniqueItems") == 0) {
            if (!json_is_boolean(v))
                rc = lerr(L, sptr, "uniqueItems must be true or false");
        } else if (strcmp(k, "pattern") == 0) {
            if (!json_is_string(v))
                rc = lerr(L, sptr, "pattern must be a string");
            else
                rc = compile_re(L, sptr, v, json_string_value(v));
        } else if (strcmp(k, "$ref") == 0) {
            const json_t *t = json_is_string(v) ? resolve_ref(L->s->doc, json_string_value(v)) : NULL;
            if (!t) {
                rc = lerr(L, sptr, "$ref %s does not resolve (only local \"#/...\" pointers are "
                          "supported)", json_is_string(v) ? json_string_value(v) : "(not a string)");
            } else {
                side *sd = side_put(L->s, v);
                if (!sd)
                    rc = err_set(L->e, MLHEP_ENOMEM, "out of memory");
                else
                    sd->target = t;
            }
        } else {
            rc = lerr(L, sptr, "unsupported keyword \"%s\"", k);
        }
        sptr[n] = '\0';
        if (rc)
            return rc;
    }
    return 0;
}

int jschema_load_json(json_t *doc, const char *name, jschema **out, mlhep_err *e)
{
    if (!doc || !out)
        return err_set(e, MLHEP_EINVAL, "jschema_load_json: NULL argument");
    *out = NULL;
    jschema *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->doc = json_incref(doc);
    snprintf(s->name, sizeof s->name, "%s", name ? name : "(inline)");
    loader L = {s, e};
    char sptr[JS_PTR_MAX] = "";
    int rc = check_schema(&L, doc, sptr, 0);
    if (rc) {
        jschema_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int jschema_load_file(const char *path, jschema **out, mlhep_err *e)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, errno == ENOENT ? MLHEP_ENOTFOUND : MLHEP_EFORMAT,
                       "schema %s: line %d: %s", path, je.line, je.text);
    const char *base = strrchr(path, '/');
    int rc = jschema_load_json(doc, base ? base + 1 : path, out, e);
    json_decref(doc);
    return rc;
}

static int is_schema_dir(const char *d)
{
    char p[4400];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/workflow.schema.json", d) >= sizeof p)
        return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int jschema_find_dir(const char *configured, char *buf, size_t bufsz, mlhep_err *e)
{
    if (configured && *configured) {
        if (!is_schema_dir(configured))
            return err_set(e, MLHEP_ENOTFOUND, "schema directory %s has no workflow.schema.json",
                           configured);
        if ((size_t)snprintf(buf, bufsz, "%s", configured) >= bufsz)
            return err_set(e, MLHEP_EINVAL, "schema directory path too long");
        return 0;
    }
    const char *env = getenv("MLHEP_SCHEMAS");
    if (env && *env) {
        if (!is_schema_dir(env))
            return err_set(e, MLHEP_ENOTFOUND,
                           "MLHEP_SCHEMAS=%s: no workflow.schema.json in that directory", env);
        if ((size_t)snprintf(buf, bufsz, "%s", env) >= bufsz)
            return err_set(e, MLHEP_EINVAL, "schema directory path too long");
        return 0;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up <= 4; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash)
                break;
            *slash = '\0';
            char cand[4200];
            if ((size_t)snprintf(cand, sizeof cand, "%s/schemas", exe) >= sizeof cand)
                break;
            if (is_schema_dir(cand)) {
                if ((size_t)snprintf(buf, bufsz, "%s", cand) >= bufsz)
                    return err_set(e, MLHEP_EINVAL, "schema directory path too long");
                return 0;
            }
        }
    }
    const char *sys[] = {"/usr/local/share/mlhep/schemas", "/usr/share/mlhep/schemas"};
    for (int i = 0; i < 2; i++)
        if (is_schema_dir(sys[i])) {
            snprintf(buf, bufsz, "%s", sys[i]);
            return 0;
        }
    return err_set(e, MLHEP_ENOTFOUND,
                   "cannot find the schemas directory: set MLHEP_SCHEMAS or the configured "
                   "schema directory (looked next to the executable and in /usr/share/mlhep)");
}

int jschema_load_named(const char *configured_dir, const char *name, jschema **out, mlhep_err *e)
{
    char dir[4096], path[4400];
    int rc = jschema_find_dir(configured_dir, dir, sizeof dir, e);
    if (rc)
        return rc;
    if ((size_t)snprintf(path, sizeof path, "%s/%s.schema.json", dir, name) >= sizeof path)
        return err_set(e, MLHEP_EINVAL, "schema path too long");
    return jschema_load_file(path, out, e);
}

/* ------------------------------------------------------------ validation */

enum { T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_NUM = 16, T_STR = 32, T_INT = 64 };

static int type_bit(const char *t)
{
    static const struct { const char *n; int b; } tb[] = {
        {"null", T_NULL}, {"boolean", T_BOOL}, {"object", T_OBJ}, {"array", T_ARR},
        {"number", T_NUM | T_INT}, {"string", T_STR}, {"integer", T_INT}};
    for (size_t i = 0; i < sizeof tb / sizeof tb[0]; i++)
        if (strcmp(t, tb[i].n) == 0)
            return tb[i].b;
    return 0;
}

static int is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return 1;
    if (!json_is_real(v))
        return 0;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static int inst_bits(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return T_NULL;
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOL;
    case JSON_OBJECT: return T_OBJ;
    case JSON_ARRAY: return T_ARR;
    case JSON_STRING: return T_STR;
    case JSON_INTEGER: return T_NUM | T_INT;
    case JSON_REAL: return is_integral(v) ? (T_NUM | T_INT) : T_NUM;
    }
    return 0;
}

static const char *inst_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return "null";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    }
    return "?";
}

/* "integer or string", "object, array or null". */
static void types_text(int mask, char *buf, size_t n)
{
    static const struct { int b; const char *n; } order[] = {
        {T_OBJ, "object"}, {T_ARR, "array"}, {T_INT, "integer"}, {T_NUM, "number"},
        {T_STR, "string"}, {T_BOOL, "boolean"}, {T_NULL, "null"}};
    if ((mask & T_NUM) && (mask & T_INT))
        mask &= ~T_INT;
    const char *names[8];
    int k = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (mask & order[i].b)
            names[k++] = order[i].n;
    buf[0] = '\0';
    size_t o = 0;
    for (int i = 0; i < k && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i == 0 ? "" : i == k - 1 ? " or " : ", ",
                              names[i]);
}

static void fmt_num(double d, char *b, size_t n)
{
    if (isfinite(d) && floor(d) == d && fabs(d) < 1e15)
        snprintf(b, n, "%.0f", d);
    else
        snprintf(b, n, "%.6g", d);
}

/* Compact JSON of a value for messages, truncated. */
static void fmt_json(const json_t *v, char *b, size_t n)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(b, n, "?");
        return;
    }
    if (strlen(s) >= n && n > 4)
        snprintf(b, n, "%.*s...", (int)(n - 4), s);
    else
        snprintf(b, n, "%s", s);
    free(s);
}

/* JSON Schema equality: numbers by value, containers recursively. */
static int jv_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!jv_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !jv_equal(v, w))
                return 0;
        }
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

typedef struct vctx {
    const jschema *s;
    char ptr[JS_PTR_MAX];
    mlhep_err *e;
    int err_depth;  /* number of pointer tokens at the failure location */
    int err_types;  /* if the failure was a type mismatch: the allowed-types mask */
} vctx;

static int ptr_depth(const char *p)
{
    int d = 0;
    for (; *p; p++)
        d += *p == '/';
    return d;
}

__attribute__((format(printf, 2, 3)))
static int vfail(vctx *c, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->err_depth = ptr_depth(c->ptr);
    c->err_types = 0;
    return err_set(c->e, MLHEP_EINVAL, "%s: %s", c->ptr[0] ? c->ptr : "/", msg);
}

static int validate(vctx *c, const json_t *sc, const json_t *inst, int depth);

static int validate_child(vctx *c, const json_t *sc, const json_t *inst, const char *key,
                          size_t idx, int depth)
{
    size_t n = strlen(c->ptr);
    if (key)
        jschema_ptr_append(c->ptr, sizeof c->ptr, key);
    else
        ptr_append_index(c->ptr, sizeof c->ptr, idx);
    int rc = validate(c, sc, inst, depth + 1);
    c->ptr[n] = '\0';
    return rc;
}

/* Runs sc against inst with errors captured into *sub (c's pointer is shared). */
static int try_schema(vctx *c, const json_t *sc, const json_t *inst, int depth, mlhep_err *sub,
                      int *sub_depth, int *sub_types)
{
    mlhep_err *saved = c->e;
    err_clear(sub);
    c->e = sub;
    c->err_depth = 0;
    c->err_types = 0;
    int rc = validate(c, sc, inst, depth + 1);
    c->e = saved;
    *sub_depth = c->err_depth;
    *sub_types = c->err_types;
    return rc;
}

/* anyOf / oneOf with no passing branch: report the most specific failure. */
static int report_alternatives(vctx *c, const json_t *inst, const char *kw, mlhep_err *errs,
                               int *depths, int *types, size_t n)
{
    int here = ptr_depth(c->ptr), best = -1, all_type = 1, mask = 0;
    for (size_t i = 0; i < n; i++) {
        if (depths[i] > here && (best < 0 || depths[i] > depths[best]))
            best = (int)i;
        if (depths[i] != here || !types[i])
            all_type = 0;
        mask |= types[i];
    }
    if (best >= 0) {
        /* one branch got further into the instance: its error is the useful one */
        int rc = err_set(c->e, errs[best].code, "%s", errs[best].msg);
        c->err_depth = depths[best];
        c->err_types = 0;
        return rc;
    }
    if (all_type) {
        char t[128];
        types_text(mask, t, sizeof t);
        int rc = vfail(c, "expected %s, got %s", t, inst_type_name(inst));
        c->err_types = mask;
        return rc;
    }
    char msg[900];
    size_t o = 0, pl = strlen(c->ptr[0] ? c->ptr : "/") + 2;
    o += (size_t)snprintf(msg, sizeof msg, "matches none of the %s alternatives: ", kw);
    for (size_t i = 0; i < n && o < sizeof msg; i++) {
        const char *m = strlen(errs[i].msg) > pl ? errs[i].msg + pl : errs[i].msg;
        o += (size_t)snprintf(msg + o, sizeof msg - o, "%s(%zu) %s", i ? "; " : "", i + 1, m);
    }
    return vfail(c, "%s", msg);
}

static int validate_object(vctx *c, const json_t *sc, const json_t *inst, int depth)
{
    json_t *props = json_object_get(sc, "properties");
    json_t *pprops = json_object_get(sc, "patternProperties");
    json_t *addl = json_object_get(sc, "additionalProperties");
    json_t *pnames = json_object_get(sc, "propertyNames");
    json_t *req = json_object_get(sc, "required");
    json_t *v;
    size_t nprops = json_object_size(inst);

    if (req) {
        size_t i;
        json_t *r;
        json_array_foreach(req, i, r) if (!json_object_get(inst, json_string_value(r)))
            return vfail(c, "missing required property \"%s\"", json_string_value(r));
    }
    if ((v = json_object_get(sc, "minProperties")) && nprops < (size_t)json_integer_value(v))
        return vfail(c, "has %zu properties, at least %lld required", nprops,
                     (long long)json_integer_value(v));
    if ((v = json_object_get(sc, "maxProperties")) && nprops > (size_t)json_integer_value(v))
        return vfail(c, "has %zu properties, at most %lld allowed", nprops,
                     (long long)json_integer_value(v));
    if ((v = json_object_get(sc, "dependentRequired"))) {
        const char *dk;
        json_t *dv;
        json_object_foreach(v, dk, dv) {
            if (!json_object_get(inst, dk))
                continue;
            size_t i;
            json_t *r;
            json_array_foreach(dv, i, r) if (!json_object_get(inst, json_string_value(r)))
                return vfail(c, "property \"%s\" requires property \"%s\"", dk,
                             json_string_value(r));
        }
    }
    const char *k;
    json_t *iv;
    json_object_foreach((json_t *)inst, k, iv) {
        int rc;
        if (pnames) {
            json_t *ks = json_string(k);
            if (!ks)
                return err_set(c->e, MLHEP_ENOMEM, "out of memory");
            size_t n = strlen(c->ptr);
            jschema_ptr_append(c->ptr, sizeof c->ptr, k);
            mlhep_err sub;
            int sd, st;
            rc = try_schema(c, pnames, ks, depth, &sub, &sd, &st);
            json_decref(ks);
            if (rc) {
                size_t pl = strlen(c->ptr) + 2;
                rc = vfail(c, "property name %s", strlen(sub.msg) > pl ? sub.msg + pl : sub.msg);
            }
            c->ptr[n] = '\0';
            if (rc)
                return rc;
        }
        int matched = 0;
        json_t *ps = props ? json_object_get(props, k) : NULL;
        if (ps) {
            matched = 1;
            if ((rc = validate_child(c, ps, iv, k, 0, depth)))
                return rc;
        }
        if (pprops) {
            const char *pk;
            json_t *pv;
            json_object_foreach(pprops, pk, pv) {
                const side *sd = side_get(c->s, pk);
                if (!sd || !sd->has_re)
                    continue;
                regmatch_t m[1] = {{0, (regoff_t)strlen(k)}};
                if (regexec(&sd->re, k, 1, m, REG_STARTEND) != 0)
                    continue;
                matched = 1;
                if ((rc = validate_child(c, pv, iv, k, 0, depth)))
                    return rc;
            }
        }
        if (!matched && addl) {
            if (json_is_false(addl)) {
                char allowed[400] = "";
                size_t o = 0, nk = 0;
                const char *pk;
                json_t *pv;
                const char *names[64];
                if (props)
                    json_object_foreach(props, pk, pv) {
                        if (o < sizeof allowed)
                            o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s%s",
                                                  o ? ", " : "", pk);
                        if (nk < sizeof names / sizeof *names)
                            names[nk++] = pk;
                    }
                const char *near = suggest_closest(k, names, nk);
                size_t n = strlen(c->ptr);
                jschema_ptr_append(c->ptr, sizeof c->ptr, k);
                if (near)
                    rc = vfail(c, "unknown property (did you mean \"%s\"? allowed: %s)", near,
                               allowed);
                else
                    rc = o ? vfail(c, "unknown property (allowed: %s)", allowed)
                           : vfail(c, "unknown property");
                c->ptr[n] = '\0';
                return rc;
            }
            if ((rc = validate_child(c, addl, iv, k, 0, depth)))
                return rc;
        }
    }
    return 0;
}

static int validate_array(vctx *c, const json_t *sc, const json_t *inst, int depth)
{
    size_t n = json_array_size(inst);
    json_t *v;
    if ((v = json_object_get(sc, "minItems")) && n < (size_t)json_integer_value(v))
        return vfail(c, "has %zu items, at least %lld required", n, (long long)json_integer_value(v));
    if ((v = json_object_get(sc, "maxItems")) && n > (size_t)json_integer_value(v))
        return vfail(c, "has %zu items, at most %lld allowed", n, (long long)json_integer_value(v));
    json_t *prefix = json_object_get(sc, "prefixItems");
    size_t np = prefix ? json_array_size(prefix) : 0;
    json_t *items = json_object_get(sc, "items");
    for (size_t i = 0; i < n; i++) {
        const json_t *isc = i < np ? json_array_get(prefix, i) : items;
        if (!isc)
            continue;
        if (json_is_false(isc) && i >= np)
            return vfail(c, "has %zu items, at most %zu allowed", n, np);
        int rc = validate_child(c, isc, json_array_get(inst, i), NULL, i, depth);
        if (rc)
            return rc;
    }
    if (json_is_true(json_object_get(sc, "uniqueItems")) && n > 1) {
        if (n > 20000)
            return vfail(c, "too many items (%zu) to check uniqueItems", n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (jv_equal(json_array_get(inst, i), json_array_get(inst, j)))
                    return vfail(c, "items %zu and %zu are equal (items must be unique)", i, j);
    }
    return 0;
}

static int validate_number(vctx *c, const json_t *sc, const json_t *inst)
{
    double x = json_number_value(inst);
    char a[64], b[64];
    json_t *v;
    fmt_num(x, a, sizeof a);
    if ((v = json_object_get(sc, "minimum")) && x < json_number_value(v)) {
        fmt_num(json_number_value(v), b, sizeof b);
        return vfail(c, "%s is less than the minimum %s", a, b);
    }
    if ((v = json_object_get(sc, "maximum")) && x > json_number_value(v)) {
        fmt_num(json_number_value(v), b, sizeof b);
        return vfail(c, "%s is greater than the maximum %s", a, b);
    }
    if ((v = json_object_get(sc, "exclusiveMinimum")) && !(x > json_number_value(v))) {
        fmt_num(json_number_value(v), b, sizeof b);
        return vfail(c, "%s must be greater than %s", a, b);
    }
    if ((v = json_object_get(sc, "exclusiveMaximum")) && !(x < json_number_value(v))) {
        fmt_num(json_number_value(v), b, sizeof b);
        return vfail(c, "%s must be less than %s", a, b);
    }
    if ((v = json_object_get(sc, "multipleOf"))) {
        double m = json_number_value(v), q = x / m;
        if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q))) {
            fmt_num(m, b, sizeof b);
            return vfail(c, "%s is not a multiple of %s", a, b);
        }
    }
    return 0;
}

static int validate_string(vctx *c, const json_t *sc, const json_t *inst)
{
    const char *s = json_string_value(inst);
    size_t bytes = json_string_length(inst), len = utf8_len(s, bytes);
    json_t *v;
    if ((v = json_object_get(sc, "minLength")) && len < (size_t)json_integer_value(v))
        return vfail(c, "string of %zu characters is shorter than the minimum %lld", len,
                     (long long)json_integer_value(v));
    if ((v = json_object_get(sc, "maxLength")) && len > (size_t)json_integer_value(v))
        return vfail(c, "string of %zu characters is longer than the maximum %lld", len,
                     (long long)json_integer_value(v));
    if ((v = json_object_get(sc, "pattern"))) {
        const side *sd = side_get(c->s, v);
        regmatch_t m[1] = {{0, (regoff_t)bytes}};
        if (sd && sd->has_re && regexec(&sd->re, s, 1, m, REG_STARTEND) != 0) {
            char shown[80];
            fmt_json(inst, shown, sizeof shown);
            return vfail(c, "%s does not match the pattern %s", shown, json_string_value(v));
        }
    }
    return 0;
}

static int validate(vctx *c, const json_t *sc, const json_t *inst, int depth)
{
    if (depth > JS_MAX_DEPTH)
        return vfail(c, "nested deeper than %d levels (or a $ref loop)", JS_MAX_DEPTH);
    if (json_is_true(sc))
        return 0;
    if (json_is_false(sc))
        return vfail(c, "no value is allowed here");
    int rc;
    json_t *v;

    if ((v = json_object_get(sc, "type"))) {
        int mask = 0;
        if (json_is_string(v)) {
            mask = type_bit(json_string_value(v));
        } else {
            size_t i;
            json_t *t;
            json_array_foreach(v, i, t) mask |= type_bit(json_string_value(t));
        }
        if (!(mask & inst_bits(inst))) {
            char t[128];
            types_text(mask, t, sizeof t);
            rc = vfail(c, "expected %s, got %s", t, inst_type_name(inst));
            c->err_types = mask;
            return rc;
        }
    }
    if ((v = json_object_get(sc, "$ref"))) {
        const side *sd = side_get(c->s, v);
        if (!sd || !sd->target)
            return vfail(c, "unresolved $ref");
        if ((rc = validate(c, sd->target, inst, depth + 1)))
            return rc;
    }
    if ((v = json_object_get(sc, "const")) && !jv_equal(v, inst)) {
        char b[200];
        fmt_json(v, b, sizeof b);
        return vfail(c, "must be %s", b);
    }
    if ((v = json_object_get(sc, "enum"))) {
        size_t i;
        json_t *t;
        int found = 0;
        json_array_foreach(v, i, t) found |= jv_equal(t, inst);
        if (!found) {
            char b[300], got[80];
            fmt_json(v, b, sizeof b);
            fmt_json(inst, got, sizeof got);
            const char *names[64], *near = NULL;
            size_t nn = 0;
            json_array_foreach(v, i, t) if (json_is_string(t) && nn < sizeof names / sizeof *names)
                names[nn++] = json_string_value(t);
            if (json_is_string(inst))
                near = suggest_closest(json_string_value(inst), names, nn);
            if (near)
                return vfail(c, "%s is not one of %s; did you mean \"%s\"?", got, b, near);
            return vfail(c, "%s is not one of %s", got, b);
        }
    }
    if (json_is_object(inst) && (rc = validate_object(c, sc, inst, depth)))
        return rc;
    if (json_is_array(inst) && (rc = validate_array(c, sc, inst, depth)))
        return rc;
    if (json_is_number(inst) && (rc = validate_number(c, sc, inst)))
        return rc;
    if (json_is_string(inst) && (rc = validate_string(c, sc, inst)))
        return rc;

    if ((v = json_object_get(sc, "allOf"))) {
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t) if ((rc = validate(c, t, inst, depth + 1)))
            return rc;
    }
    json_t *any = json_object_get(sc, "anyOf"), *one = json_object_get(sc, "oneOf");
    for (int pass = 0; pass < 2; pass++) {
        json_t *alts = pass == 0 ? any : one;
        if (!alts)
            continue;
        size_t n = json_array_size(alts), nok = 0, first_ok = 0, second_ok = 0;
        mlhep_err *errs = calloc(n, sizeof *errs);
        int *depths = calloc(n, sizeof *depths), *types = calloc(n, sizeof *types);
        if (!errs || !depths || !types) {
            free(errs);
            free(depths);
            free(types);
            return err_set(c->e, MLHEP_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            if (try_schema(c, json_array_get(alts, i), inst, depth, &errs[i], &depths[i],
                           &types[i]) == 0) {
                if (nok == 0)
                    first_ok = i;
                else if (nok == 1)
                    second_ok = i;
                nok++;
                if (pass == 0)
                    break;
            }
        }
        rc = 0;
        if (nok == 0)
            rc = report_alternatives(c, inst, pass == 0 ? "anyOf" : "oneOf", errs, depths, types, n);
        else if (pass == 1 && nok > 1)
            rc = vfail(c, "matches more than one of the oneOf alternatives (%zu and %zu)",
                       first_ok + 1, second_ok + 1);
        free(errs);
        free(depths);
        free(types);
        if (rc)
            return rc;
    }
    if ((v = json_object_get(sc, "not"))) {
        mlhep_err sub;
        int sd, st;
        if (try_schema(c, v, inst, depth, &sub, &sd, &st) == 0) {
            const char *d = json_string_value(json_object_get(v, "description"));
            return d ? vfail(c, "%s", d) : vfail(c, "matches a schema it must not match (not)");
        }
    }
    if ((v = json_object_get(sc, "if"))) {
        mlhep_err sub;
        int sd, st;
        const json_t *branch = try_schema(c, v, inst, depth, &sub, &sd, &st) == 0
                                   ? json_object_get(sc, "then")
                                   : json_object_get(sc, "else");
        if (branch && (rc = validate(c, branch, inst, depth + 1)))
            return rc;
    }
    return 0;
}

int jschema_validate(const jschema *s, const json_t *instance, const char *what, mlhep_err *e)
{
    return jschema_validate_at(s, "#", "", instance, what, e);
}

int jschema_validate_at(const jschema *s, const char *ref, const char *at, const json_t *instance,
                        const char *what, mlhep_err *e)
{
    if (!s || !instance)
        return err_set(e, MLHEP_EINVAL, "%s%sno schema or no document to validate",
                       what ? what : "", what ? ": " : "");
    const json_t *node = resolve_ref(s->doc, ref ? ref : "#");
    if (!node)
        return err_set(e, MLHEP_EINVAL, "%s%sthe schema has no %s", what ? what : "",
                       what ? ": " : "", ref);
    vctx *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    c->s = s;
    c->e = e;
    snprintf(c->ptr, sizeof c->ptr, "%s", at ? at : "");
    int rc = validate(c, node, instance, 0);
    free(c);
    if (rc && what)
        err_prefix(e, "%s", what);
    return rc;
}
