/* preproc.c - compiles the MLaaS4HEP preproc.json document into new-branch
 * expressions, cut expressions and the removed/needed branch lists, and applies them
 * to chunks. See preproc.h for the document and its rules. */
#include "data/preproc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct nb {
    char *name;
    expr_kind kind;
    expr *x;
} nb;

typedef struct cut {
    char *label;
    expr *x;
} cut;

struct preproc {
    expr_schema *schema; /* input + new */
    size_t ninput;       /* how many of schema are input branches */
    nb *nbs;
    size_t nnb;
    cut *cuts;
    size_t ncut;
    char **removed;
    size_t nremoved;
    char **needed;
    size_t nneeded;
    int weight;          /* new branch holding the event weight, -1 none */
};

struct preproc_ws {
    expr_ws **nws; /* one per new branch */
    expr_ws *cws;  /* cuts */
    size_t nnb;
    expr_column *cols; /* [new (reversed) ..., inputs ...] */
    size_t colcap;
    expr_column *newcols;
};

void preproc_free(preproc *pp)
{
    if (!pp)
        return;
    expr_schema_free(pp->schema);
    for (size_t i = 0; i < pp->nnb; i++) {
        free(pp->nbs[i].name);
        expr_free(pp->nbs[i].x);
    }
    free(pp->nbs);
    for (size_t i = 0; i < pp->ncut; i++) {
        free(pp->cuts[i].label);
        expr_free(pp->cuts[i].x);
    }
    free(pp->cuts);
    for (size_t i = 0; i < pp->nremoved; i++)
        free(pp->removed[i]);
    free(pp->removed);
    for (size_t i = 0; i < pp->nneeded; i++)
        free(pp->needed[i]);
    free(pp->needed);
    free(pp);
}

static int oom(mlhep_err *e) { return err_set(e, MLHEP_ENOMEM, "preproc: out of memory"); }

static int add_removed(preproc *pp, const char *name, mlhep_err *e)
{
    for (size_t i = 0; i < pp->nremoved; i++)
        if (strcmp(pp->removed[i], name) == 0)
            return 0;
    char **n = realloc(pp->removed, (pp->nremoved + 1) * sizeof *n);
    if (!n)
        return oom(e);
    pp->removed = n;
    if (!(n[pp->nremoved] = strdup(name)))
        return oom(e);
    pp->nremoved++;
    return 0;
}

static int add_cut(preproc *pp, char *label, expr *x, mlhep_err *e)
{
    cut *n = realloc(pp->cuts, (pp->ncut + 1) * sizeof *n);
    if (!n) {
        free(label);
        expr_free(x);
        return oom(e);
    }
    pp->cuts = n;
    n[pp->ncut].label = label;
    n[pp->ncut].x = x;
    pp->ncut++;
    return 0;
}

/* "cut" or "cut_<digits>" */
static int is_cut_key(const char *k)
{
    if (strcmp(k, "cut") == 0)
        return 1;
    if (strncmp(k, "cut_", 4) != 0 || !k[4])
        return 0;
    for (const char *p = k + 4; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

/* remove: "True"/"False" (any case) or a JSON boolean; *out = 0/1. */
static int parse_bool(const json_t *v, int *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcasecmp(s, "true") == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, "false") == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > EXPR_MAX_NAME)
        return 0;
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return 0;
    }
    static const char *const kw[] = {"and", "or", "not", "True", "False"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0)
            return 0;
    return 1;
}

/* Compiles one cut value (string or [expr, "any"|"all"]) under the given schema and
 * appends it; errors are prefixed "preproc: <where>: <key>". */
static int compile_cut(preproc *pp, const expr_schema *sch, const char *where, const char *key,
                       const json_t *v, mlhep_err *e)
{
    expr_opts o = {.want = EXPR_WANT_FLAT};
    const char *text = NULL;
    if (json_is_string(v)) {
        text = json_string_value(v);
    } else if (json_is_array(v)) {
        const json_t *t = json_array_get(v, 0), *m = json_array_get(v, 1);
        const char *ms = json_string_value(m);
        if (json_array_size(v) != 2 || !json_is_string(t) || !ms ||
            (strcmp(ms, "any") != 0 && strcmp(ms, "all") != 0))
            return err_set(e, MLHEP_EINVAL,
                           "preproc: %s: %s: a list cut must be [expression, \"any\"|\"all\"]",
                           where, key);
        text = json_string_value(t);
        o.reduce = ms[1] == 'n' ? EXPR_REDUCE_ANY : EXPR_REDUCE_ALL;
    } else {
        return err_set(e, MLHEP_EINVAL,
                       "preproc: %s: %s: must be a string (flat cut) or [expression, "
                       "\"any\"|\"all\"] (jagged cut)",
                       where, key);
    }
    expr *x = NULL;
    int rc = expr_compile(text, sch, &o, &x, e);
    if (rc)
        return err_prefix(e, "preproc: %s: %s", where, key);
    size_t ll = strlen(where) + strlen(key) + 2;
    char *label = malloc(ll);
    if (!label) {
        expr_free(x);
        return oom(e);
    }
    snprintf(label, ll, "%s %s", where, key);
    return add_cut(pp, label, x, e);
}

/* "remove": true (or "True") drops branch name from the output. rm may be NULL. */
static int do_remove(preproc *pp, const char *where, const char *name, const json_t *rm, mlhep_err *e)
{
    int b;
    if (!rm)
        return 0;
    if (parse_bool(rm, &b))
        return err_set(e, MLHEP_EINVAL, "preproc: %s: remove: must be \"True\", \"False\", true or false", where);
    return b ? add_removed(pp, name, e) : 0;
}

static int do_new_branch(preproc *pp, const char *name, const json_t *ent, mlhep_err *e)
{
    char where[EXPR_MAX_NAME + 32];
    snprintf(where, sizeof where, "new_branch '%s'", name);
    if (!json_is_object(ent))
        return err_set(e, MLHEP_EINVAL, "preproc: %s: must be an object", where);
    if (!valid_name(name))
        return err_set(e, MLHEP_EINVAL,
                       "preproc: %s: not a valid branch name for expressions (letters, digits, "
                       "'_' and '.', not starting with a digit)",
                       where);
    if (expr_schema_find(pp->schema, name, strlen(name)) >= 0)
        return err_set(e, MLHEP_EINVAL, "preproc: %s: a branch with that name already exists", where);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)ent, key, v) {
        if (strcmp(key, "def") && strcmp(key, "type") && strcmp(key, "remove") &&
            strcmp(key, "keys_to_remove") && !is_cut_key(key))
            return err_set(e, MLHEP_EINVAL,
                           "preproc: %s: unknown key '%s' (expected def, type, cut or cut_N, "
                           "remove, keys_to_remove)",
                           where, key);
    }
    const json_t *def = json_object_get(ent, "def");
    if (!json_is_string(def))
        return err_set(e, MLHEP_EINVAL, "preproc: %s: def: %s", where,
                       def ? "must be a string" : "missing");
    int want = -1;
    const json_t *type = json_object_get(ent, "type");
    if (type) {
        const char *ts = json_string_value(type);
        if (ts && strcmp(ts, "flat") == 0)
            want = EXPR_FLAT;
        else if (ts && strcmp(ts, "jagged") == 0)
            want = EXPR_JAGGED;
        else
            return err_set(e, MLHEP_EINVAL, "preproc: %s: type: must be \"flat\" or \"jagged\"", where);
    }
    expr *x = NULL;
    if (expr_compile(json_string_value(def), pp->schema, NULL, &x, e))
        return err_prefix(e, "preproc: %s: def", where);
    if (want >= 0 && (int)expr_result_kind(x) != want) {
        int rc = err_set(e, MLHEP_EINVAL,
                         "preproc: %s: type is \"%s\" but def '%.200s' is %s (%s)", where,
                         want == EXPR_FLAT ? "flat" : "jagged", expr_text(x),
                         want == EXPR_FLAT ? "jagged" : "flat",
                         want == EXPR_FLAT ? "one value per element; reduce it with sum(), "
                                             "any(), count()... or declare it jagged"
                                           : "one value per event");
        expr_free(x);
        return rc;
    }
    nb *n = realloc(pp->nbs, (pp->nnb + 1) * sizeof *n);
    if (!n) {
        expr_free(x);
        return oom(e);
    }
    pp->nbs = n;
    n[pp->nnb].x = x;
    n[pp->nnb].kind = expr_result_kind(x);
    if (!(n[pp->nnb].name = strdup(name))) {
        expr_free(x);
        return oom(e);
    }
    pp->nnb++;
    int rc = expr_schema_add(pp->schema, name, expr_result_kind(x), e);
    if (rc)
        return err_prefix(e, "preproc: %s", where);
    /* cuts (may use the new branch itself) */
    json_object_foreach((json_t *)ent, key, v) {
        if (is_cut_key(key) && (rc = compile_cut(pp, pp->schema, where, key, v, e)))
            return rc;
    }
    if ((rc = do_remove(pp, where, name, json_object_get(ent, "remove"), e)))
        return rc;
    const json_t *ktr = json_object_get(ent, "keys_to_remove");
    if (ktr) {
        size_t nk = json_is_array(ktr) ? json_array_size(ktr) : 1;
        if (!json_is_array(ktr) && !json_is_string(ktr))
            return err_set(e, MLHEP_EINVAL, "preproc: %s: keys_to_remove: must be a list of branch names", where);
        for (size_t i = 0; i < nk; i++) {
            const json_t *k = json_is_array(ktr) ? json_array_get(ktr, i) : ktr;
            const char *ks = json_string_value(k);
            if (!ks)
                return err_set(e, MLHEP_EINVAL, "preproc: %s: keys_to_remove: must be a list of branch names", where);
            if (expr_schema_find(pp->schema, ks, strlen(ks)) < 0) {
                const char *near = expr_schema_closest(pp->schema, ks, strlen(ks));
                return err_set(e, MLHEP_EINVAL, "preproc: %s: keys_to_remove: unknown branch '%.200s'%s%.200s%s", where,
                               ks, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
            }
            if ((rc = add_removed(pp, ks, e)))
                return rc;
        }
    }
    return 0;
}

static int do_cut_entry(preproc *pp, const char *section, expr_kind kind, const char *name,
                        const json_t *ent, mlhep_err *e)
{
    char where[EXPR_MAX_NAME + 32];
    snprintf(where, sizeof where, "%s '%.*s'", section, EXPR_MAX_NAME, name);
    if (!json_is_object(ent))
        return err_set(e, MLHEP_EINVAL, "preproc: %s: must be an object", where);
    int si = expr_schema_find(pp->schema, name, strlen(name));
    if (si < 0) {
        const char *near = expr_schema_closest(pp->schema, name, strlen(name));
        return err_set(e, MLHEP_EINVAL, "preproc: %s: unknown branch%s%.200s%s", where, near ? " (did you mean '" : "",
                       near ? near : "", near ? "'?)" : "");
    }
    if (expr_schema_kind(pp->schema, (size_t)si) != kind)
        return err_set(e, MLHEP_EINVAL, "preproc: %s: the branch is %s; put its cuts under %s", where,
                       kind == EXPR_FLAT ? "jagged" : "flat",
                       kind == EXPR_FLAT ? "jagged_cut" : "flat_cut");
    const char *key;
    const json_t *v;
    int rc, ncuts = 0;
    json_object_foreach((json_t *)ent, key, v) {
        if (strcmp(key, "remove") && !is_cut_key(key))
            return err_set(e, MLHEP_EINVAL,
                           "preproc: %s: unknown key '%s' (expected cut or cut_N, remove)", where, key);
    }
    json_object_foreach((json_t *)ent, key, v) {
        if (!is_cut_key(key))
            continue;
        ncuts++;
        if ((rc = compile_cut(pp, pp->schema, where, key, v, e)))
            return rc;
    }
    const json_t *rm = json_object_get(ent, "remove");
    if (!ncuts && !rm)
        return err_set(e, MLHEP_EINVAL, "preproc: %s: has neither a cut nor remove", where);
    return do_remove(pp, where, name, rm, e);
}

static int collect_needed(preproc *pp, mlhep_err *e)
{
    size_t n = pp->ninput;
    uint8_t *use = calloc(n ? n : 1, 1);
    if (!use)
        return oom(e);
    for (size_t k = 0; k < pp->nnb + pp->ncut; k++) {
        const expr *x = k < pp->nnb ? pp->nbs[k].x : pp->cuts[k - pp->nnb].x;
        for (size_t i = 0; i < expr_ninputs(x); i++) {
            const char *nm = expr_input_name(x, i);
            int si = expr_schema_find(pp->schema, nm, strlen(nm));
            if (si >= 0 && (size_t)si < n)
                use[si] = 1;
        }
    }
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        cnt += use[i];
    pp->needed = calloc(cnt ? cnt : 1, sizeof(char *));
    if (!pp->needed) {
        free(use);
        return oom(e);
    }
    for (size_t i = 0; i < n; i++) {
        if (!use[i])
            continue;
        if (!(pp->needed[pp->nneeded] = strdup(expr_schema_name(pp->schema, i)))) {
            free(use);
            return oom(e);
        }
        pp->nneeded++;
    }
    free(use);
    return 0;
}

/* The event weight: a flat expression compiled as the last new branch, never a feature. */
static int do_weight(preproc *pp, const char *text, mlhep_err *e)
{
    expr *x = NULL;
    if (expr_schema_find(pp->schema, PREPROC_WEIGHT_NAME, strlen(PREPROC_WEIGHT_NAME)) >= 0)
        return err_set(e, MLHEP_EINVAL, "weight: the tree already has a branch named '%s'",
                       PREPROC_WEIGHT_NAME);
    if (expr_compile(text, pp->schema, NULL, &x, e))
        return err_prefix(e, "weight");
    if (expr_result_kind(x) != EXPR_FLAT) {
        int rc = err_set(e, MLHEP_EINVAL,
                         "weight: '%.200s' is jagged (one value per element); an event weight "
                         "is one value per event (reduce it with sum(), prod()...)",
                         expr_text(x));
        expr_free(x);
        return rc;
    }
    nb *n = realloc(pp->nbs, (pp->nnb + 1) * sizeof *n);
    if (!n) {
        expr_free(x);
        return oom(e);
    }
    pp->nbs = n;
    n[pp->nnb].x = x;
    n[pp->nnb].kind = EXPR_FLAT;
    if (!(n[pp->nnb].name = strdup(PREPROC_WEIGHT_NAME))) {
        expr_free(x);
        return oom(e);
    }
    pp->weight = (int)pp->nnb++;
    int rc = expr_schema_add(pp->schema, PREPROC_WEIGHT_NAME, EXPR_FLAT, e);
    return rc ? err_prefix(e, "weight") : add_removed(pp, PREPROC_WEIGHT_NAME, e);
}

int preproc_compile_json(const json_t *doc, const expr_schema *schema, preproc **out, mlhep_err *e)
{
    return preproc_compile_weighted(doc, NULL, schema, out, e);
}

int preproc_compile_weighted(const json_t *doc, const char *weight, const expr_schema *schema,
                             preproc **out, mlhep_err *e)
{
    *out = NULL;
    json_t *empty = NULL;
    if (!doc && weight)
        doc = empty = json_object();
    if (!json_is_object(doc)) {
        json_decref(empty);
        return err_set(e, MLHEP_EINVAL, "preproc: the document must be a JSON object");
    }
    const char *key;
    const json_t *sec;
    json_object_foreach((json_t *)doc, key, sec) {
        if (strcmp(key, "new_branch") && strcmp(key, "flat_cut") && strcmp(key, "jagged_cut"))
            return err_set(e, MLHEP_EINVAL,
                           "preproc: unknown section '%.200s' (expected new_branch, flat_cut, jagged_cut)",
                           key);
        if (!json_is_object(sec))
            return err_set(e, MLHEP_EINVAL, "preproc: %s: must be an object", key);
    }
    preproc *pp = calloc(1, sizeof *pp);
    if (!pp || !(pp->schema = expr_schema_clone(schema))) {
        free(pp);
        json_decref(empty);
        return oom(e);
    }
    pp->ninput = expr_schema_count(schema);
    pp->weight = -1;
    int rc = 0;
    const char *name;
    const json_t *ent;
    json_object_foreach(json_object_get(doc, "new_branch"), name, ent) {
        if ((rc = do_new_branch(pp, name, ent, e)))
            goto fail;
    }
    json_object_foreach(json_object_get(doc, "flat_cut"), name, ent) {
        if ((rc = do_cut_entry(pp, "flat_cut", EXPR_FLAT, name, ent, e)))
            goto fail;
    }
    json_object_foreach(json_object_get(doc, "jagged_cut"), name, ent) {
        if ((rc = do_cut_entry(pp, "jagged_cut", EXPR_JAGGED, name, ent, e)))
            goto fail;
    }
    if (weight && (rc = do_weight(pp, weight, e)))
        goto fail;
    if ((rc = collect_needed(pp, e)))
        goto fail;
    json_decref(empty);
    *out = pp;
    return 0;
fail:
    json_decref(empty);
    preproc_free(pp);
    return rc;
}

int preproc_compile(const char *text, size_t len, const expr_schema *schema, preproc **out,
                    mlhep_err *e)
{
    *out = NULL;
    if (len > PREPROC_MAX_TEXT)
        return err_set(e, MLHEP_ENOMEM, "preproc: document larger than %d bytes", PREPROC_MAX_TEXT);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, MLHEP_EINVAL, "preproc: JSON error at line %d column %d: %s", je.line,
                       je.column, je.text);
    int rc = preproc_compile_json(doc, schema, out, e);
    json_decref(doc);
    return rc;
}

size_t preproc_nnew(const preproc *pp) { return pp->nnb; }
const char *preproc_new_name(const preproc *pp, size_t i) { return i < pp->nnb ? pp->nbs[i].name : NULL; }
expr_kind preproc_new_kind(const preproc *pp, size_t i) { return i < pp->nnb ? pp->nbs[i].kind : EXPR_FLAT; }
const expr *preproc_new_expr(const preproc *pp, size_t i) { return i < pp->nnb ? pp->nbs[i].x : NULL; }
size_t preproc_ncuts(const preproc *pp) { return pp->ncut; }
const char *preproc_cut_label(const preproc *pp, size_t i) { return i < pp->ncut ? pp->cuts[i].label : NULL; }
const expr *preproc_cut_expr(const preproc *pp, size_t i) { return i < pp->ncut ? pp->cuts[i].x : NULL; }
size_t preproc_nremoved(const preproc *pp) { return pp->nremoved; }
const char *preproc_removed(const preproc *pp, size_t i) { return i < pp->nremoved ? pp->removed[i] : NULL; }
size_t preproc_nneeded(const preproc *pp) { return pp->nneeded; }
int preproc_weight_index(const preproc *pp) { return pp ? pp->weight : -1; }
const char *preproc_needed(const preproc *pp, size_t i) { return i < pp->nneeded ? pp->needed[i] : NULL; }
const expr_schema *preproc_schema(const preproc *pp) { return pp->schema; }

int preproc_is_removed(const preproc *pp, const char *name)
{
    for (size_t i = 0; i < pp->nremoved; i++)
        if (strcmp(pp->removed[i], name) == 0)
            return 1;
    return 0;
}

preproc_ws *preproc_ws_new(const preproc *pp)
{
    preproc_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->nws = calloc(pp->nnb ? pp->nnb : 1, sizeof *ws->nws);
    ws->newcols = calloc(pp->nnb ? pp->nnb : 1, sizeof *ws->newcols);
    ws->cws = expr_ws_new();
    ws->nnb = pp->nnb;
    if (!ws->nws || !ws->newcols || !ws->cws) {
        preproc_ws_free(ws);
        return NULL;
    }
    for (size_t i = 0; i < pp->nnb; i++)
        if (!(ws->nws[i] = expr_ws_new())) {
            preproc_ws_free(ws);
            return NULL;
        }
    return ws;
}

void preproc_ws_free(preproc_ws *ws)
{
    if (!ws)
        return;
    if (ws->nws)
        for (size_t i = 0; i < ws->nnb; i++)
            expr_ws_free(ws->nws[i]);
    free(ws->nws);
    expr_ws_free(ws->cws);
    free(ws->cols);
    free(ws->newcols);
    free(ws);
}

int preproc_apply(const preproc *pp, preproc_ws *ws, const expr_column *inputs, size_t ninputs,
                  size_t n, const expr_column **new_cols, uint8_t *mask, mlhep_err *e)
{
    if (ws->nnb != pp->nnb)
        return err_set(e, MLHEP_EINVAL, "preproc: workspace made for another document");
    size_t nn = pp->nnb, need = nn + ninputs;
    if (need > ws->colcap) {
        expr_column *c = realloc(ws->cols, (need ? need : 1) * sizeof *c);
        if (!c)
            return oom(e);
        ws->cols = c;
        ws->colcap = need;
    }
    /* layout: new branch i at index nn-1-i, inputs after the new branches, so that
     * new branch i sees [its predecessors..., inputs...] and names of new branches
     * take precedence over same-named input columns */
    if (ninputs)
        memcpy(ws->cols + nn, inputs, ninputs * sizeof *inputs);
    for (size_t i = 0; i < nn; i++) {
        expr_column r;
        int rc = expr_eval(pp->nbs[i].x, ws->cols + (nn - i), i + ninputs, n, ws->nws[i], &r, e);
        if (rc)
            return err_prefix(e, "preproc: new_branch '%s'", pp->nbs[i].name);
        r.name = pp->nbs[i].name;
        ws->cols[nn - 1 - i] = r;
        ws->newcols[i] = r;
    }
    if (n)
        memset(mask, 1, n);
    for (size_t k = 0; k < pp->ncut; k++) {
        expr_column r;
        int rc = expr_eval(pp->cuts[k].x, ws->cols, need, n, ws->cws, &r, e);
        if (rc)
            return err_prefix(e, "preproc: %s", pp->cuts[k].label);
        const double *v = r.values;
        for (size_t i = 0; i < n; i++)
            mask[i] &= v[i] != 0;
    }
    *new_cols = ws->newcols;
    return 0;
}
