/* featmap.c - see featmap.h. */
#include "data/featmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/suggest.h"

int featmap_from_specs(const specs *sp, dp_norm norm, double nan_value, json_t **out, mlhep_err *e)
{
    *out = NULL;
    if (!sp || sp->nfeat == 0)
        return err_set(e, MLHEP_EINVAL, "features: the specs hold no feature");
    json_t *doc = json_object(), *arr = json_array();
    if (!doc || !arr) {
        json_decref(doc);
        json_decref(arr);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    double pad = dp_pad(nan_value);
    int rc = 0, off = 0;
    rc |= json_object_set_new(doc, "format", json_string(FEATMAP_FORMAT));
    rc |= json_object_set_new(doc, "version", json_integer(FEATMAP_VERSION));
    rc |= json_object_set_new(doc, "normalisation", json_string(dp_norm_name(norm)));
    rc |= json_object_set_new(doc, "pad", json_real(pad));
    for (size_t i = 0; i < sp->nfeat && !rc; i++) {
        const specs_feature *ft = &sp->feat[i];
        double sub, scale;
        /* exactly dataset.c's choice */
        dp_norm_coeffs(norm, ft->min, ft->max, ft->mean, ft->std, &sub, &scale);
        int len = ft->jagged ? ft->len : 1; /* a jagged feature may pad to 0 slots */
        if (len < 0)
            len = 0;
        json_t *f = json_object();
        if (!f) {
            rc = -1;
            break;
        }
        rc |= json_object_set_new(f, "name", json_string(ft->name));
        rc |= json_object_set_new(f, "kind", json_string(ft->jagged ? "jagged" : "flat"));
        rc |= json_object_set_new(f, "len", json_integer(len));
        rc |= json_object_set_new(f, "offset", json_integer(off));
        rc |= json_object_set_new(f, "sub", json_real(isfinite(sub) ? sub : 0.0));
        rc |= json_object_set_new(f, "scale", json_real(isfinite(scale) ? scale : 1.0));
        rc |= json_object_set_new(f, "min", json_real(isfinite(ft->min) ? ft->min : 0.0));
        rc |= json_object_set_new(f, "max", json_real(isfinite(ft->max) ? ft->max : 0.0));
        rc |= json_object_set_new(f, "mean", json_real(isfinite(ft->mean) ? ft->mean : 0.0));
        rc |= json_object_set_new(f, "std", json_real(isfinite(ft->std) ? ft->std : 0.0));
        if (ft->is_new)
            rc |= json_object_set_new(f, "new", json_true());
        if (ft->type[0])
            rc |= json_object_set_new(f, "type", json_string(ft->type));
        rc |= json_array_append_new(arr, f);
        off += len;
    }
    rc |= json_object_set_new(doc, "width", json_integer(off));
    rc |= json_object_set_new(doc, "features", arr);
    if (rc) {
        json_decref(doc);
        return err_set(e, MLHEP_ENOMEM, "out of memory building the features document");
    }
    if (off != sp->width) {
        json_decref(doc);
        return err_set(e, MLHEP_EINVAL, "features: specs row width %d does not match its features (%d)", sp->width,
                       off);
    }
    *out = doc;
    return 0;
}

int featmap_set_outputs(json_t *doc, int noutputs, const char *const *classes, size_t nclasses, mlhep_err *e)
{
    if (!json_is_object(doc) || noutputs < 1)
        return err_set(e, MLHEP_EINVAL, "features: bad outputs (%d)", noutputs);
    int rc = json_object_set_new(doc, "outputs", json_integer(noutputs));
    if (classes) {
        json_t *a = json_array();
        rc |= !a;
        for (size_t i = 0; a && i < nclasses; i++)
            rc |= json_array_append_new(a, json_string(classes[i] ? classes[i] : ""));
        rc |= json_object_set_new(doc, "classes", a);
    }
    return rc ? err_set(e, MLHEP_ENOMEM, "out of memory") : 0;
}

void featmap_free(featmap *fm)
{
    if (!fm)
        return;
    for (size_t i = 0; i < fm->nfeat; i++)
        free(fm->feat[i].name);
    free(fm->feat);
    for (size_t i = 0; i < fm->nclasses; i++)
        free(fm->classes[i]);
    free(fm->classes);
    free(fm->htab);
    free(fm);
}

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

int featmap_find(const featmap *fm, const char *name, size_t n)
{
    size_t i = (size_t)hash_name(name, n) & fm->hmask;
    for (;;) {
        uint32_t v = fm->htab[i];
        if (!v)
            return -1;
        const char *fn = fm->feat[v - 1].name;
        if (!strncmp(fn, name, n) && fn[n] == '\0')
            return (int)(v - 1);
        i = (i + 1) & fm->hmask;
    }
}

void featmap_column_coeffs(const featmap *fm, double *sub, double *scale)
{
    for (size_t i = 0; i < fm->nfeat; i++)
        for (int k = 0; k < fm->feat[i].len; k++) {
            sub[fm->feat[i].offset + k] = fm->feat[i].sub;
            scale[fm->feat[i].offset + k] = fm->feat[i].scale;
        }
}

static int get_num(const json_t *o, const char *k, double *v)
{
    const json_t *j = json_object_get(o, k);
    if (!json_is_number(j))
        return -1;
    *v = json_number_value(j);
    return isfinite(*v) ? 0 : -1;
}

int featmap_load(const json_t *doc, featmap **out, mlhep_err *e)
{
    *out = NULL;
    if (!json_is_object(doc))
        return err_set(e, MLHEP_EFORMAT, "features document: not a JSON object");
    const char *fmt = json_string_value(json_object_get(doc, "format"));
    if (!fmt || strcmp(fmt, FEATMAP_FORMAT))
        return err_set(e, MLHEP_EFORMAT, "features document: \"format\" is not \"%s\"", FEATMAP_FORMAT);
    json_t *ver = json_object_get(doc, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != FEATMAP_VERSION)
        return err_set(e, MLHEP_EFORMAT, "features document: version %s not supported (this build reads %d)",
                       json_is_integer(ver) ? "other" : "missing", FEATMAP_VERSION);
    dp_norm norm;
    if (dp_norm_parse(json_string_value(json_object_get(doc, "normalisation")), &norm))
        return err_set(e, MLHEP_EFORMAT, "features document: \"normalisation\" must be minmax or standard");
    double pad;
    if (get_num(doc, "pad", &pad))
        return err_set(e, MLHEP_EFORMAT, "features document: \"pad\" must be a finite number");
    json_t *w = json_object_get(doc, "width");
    if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > FEATMAP_MAX_WIDTH)
        return err_set(e, MLHEP_EFORMAT, "features document: \"width\" must be an integer in 0..%d",
                       FEATMAP_MAX_WIDTH);
    json_t *arr = json_object_get(doc, "features");
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > FEATMAP_MAX_FEATURES)
        return err_set(e, MLHEP_EFORMAT, "features document: \"features\" must be a list of 1..%d features",
                       FEATMAP_MAX_FEATURES);
    featmap *fm = calloc(1, sizeof *fm);
    if (!fm)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    fm->norm = norm;
    fm->pad = (float)pad;
    fm->width = (int)json_integer_value(w);
    size_t n = json_array_size(arr);
    fm->feat = calloc(n, sizeof *fm->feat);
    size_t hcap = 16;
    while (hcap < 2 * n)
        hcap <<= 1;
    fm->htab = calloc(hcap, sizeof *fm->htab);
    fm->hmask = hcap - 1;
    int rc = (!fm->feat || !fm->htab) ? err_set(e, MLHEP_ENOMEM, "out of memory") : 0;
    int off = 0, seen_jagged = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *f = json_array_get(arr, i);
        featmap_feature *ft = &fm->feat[i];
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *kind = json_string_value(json_object_get(f, "kind"));
        json_t *len = json_object_get(f, "len"), *fo = json_object_get(f, "offset");
        if (!json_is_object(f) || !name || !*name || strlen(name) > 256) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: feature %zu: \"name\" must be 1..256 characters", i);
            break;
        }
        if (!kind || (strcmp(kind, "flat") && strcmp(kind, "jagged"))) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: feature '%s': \"kind\" must be flat or jagged", name);
            break;
        }
        ft->jagged = !strcmp(kind, "jagged");
        if (!json_is_integer(len) || json_integer_value(len) < (ft->jagged ? 0 : 1) ||
            json_integer_value(len) > (ft->jagged ? FEATMAP_MAX_LEN : 1)) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: feature '%s': bad \"len\" (flat: 1, jagged: 0..%d)",
                         name, FEATMAP_MAX_LEN);
            break;
        }
        ft->len = (int)json_integer_value(len);
        if (!json_is_integer(fo) || json_integer_value(fo) != off) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: feature '%s': \"offset\" must be %d (features tile the row)",
                         name, off);
            break;
        }
        ft->offset = off;
        off += ft->len;
        if (ft->jagged)
            seen_jagged = 1;
        else if (seen_jagged) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: flat feature '%s' after a jagged one", name);
            break;
        }
        if (get_num(f, "sub", &ft->sub) || get_num(f, "scale", &ft->scale)) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: feature '%s': \"sub\" and \"scale\" must be finite numbers",
                         name);
            break;
        }
        ft->is_new = json_is_true(json_object_get(f, "new"));
        json_t *ty = json_object_get(f, "type");
        if (ty && (!json_is_string(ty) || json_string_length(ty) == 0 || json_string_length(ty) > 16)) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: feature '%s': \"type\" must be a type name "
                         "(\"float32\", ...)", name);
            break;
        }
        ft->f32 = ty && !strcmp(json_string_value(ty), "float32");
        if (!(ft->name = strdup(name))) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        fm->nfeat = i + 1;
        if (featmap_find(fm, name, strlen(name)) >= 0) { /* not inserted yet: a hit is an earlier one */
            rc = err_set(e, MLHEP_EFORMAT, "features document: feature '%s' appears twice", name);
            break;
        }
        size_t h = (size_t)hash_name(name, strlen(name)) & fm->hmask;
        while (fm->htab[h])
            h = (h + 1) & fm->hmask;
        fm->htab[h] = (uint32_t)(i + 1);
    }
    if (!rc && off != fm->width)
        rc = err_set(e, MLHEP_EFORMAT, "features document: \"width\" %d is not the sum of the lengths (%d)", fm->width,
                     off);
    json_t *no = json_object_get(doc, "outputs");
    if (!rc && no) {
        if (!json_is_integer(no) || json_integer_value(no) < 1 || json_integer_value(no) > 100000)
            rc = err_set(e, MLHEP_EFORMAT, "features document: \"outputs\" must be a positive integer");
        else
            fm->noutputs = (int)json_integer_value(no);
    }
    json_t *cl = json_object_get(doc, "classes");
    if (!rc && cl) {
        if (!json_is_array(cl) || json_array_size(cl) > 100000) {
            rc = err_set(e, MLHEP_EFORMAT, "features document: \"classes\" must be a list of names");
        } else if (json_array_size(cl)) {
            fm->classes = calloc(json_array_size(cl), sizeof *fm->classes);
            if (!fm->classes)
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            for (size_t i = 0; !rc && i < json_array_size(cl); i++) {
                json_t *c = json_array_get(cl, i);
                char buf[32];
                const char *s = json_string_value(c);
                if (!s && json_is_integer(c)) {
                    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(c));
                    s = buf;
                }
                if (!s) {
                    rc = err_set(e, MLHEP_EFORMAT, "features document: class %zu is not a string", i);
                    break;
                }
                if (!(fm->classes[i] = strdup(s)))
                    rc = err_set(e, MLHEP_ENOMEM, "out of memory");
                fm->nclasses = i + 1;
            }
        }
    }
    if (rc) {
        featmap_free(fm);
        return rc;
    }
    *out = fm;
    return 0;
}

int featmap_load_text(const char *text, size_t len, featmap **out, mlhep_err *e)
{
    *out = NULL;
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, MLHEP_EFORMAT, "features document: invalid JSON at line %d: %s", je.line, je.text);
    int rc = featmap_load(doc, out, e);
    json_decref(doc);
    return rc;
}

/* ---- columns -> rows ---- */

int featmap_rows(const featmap *fm, const featmap_col *cols, size_t nrows, float *x, uint8_t *mask,
                 mlhep_err *e)
{
    size_t w = (size_t)fm->width;
    for (size_t i = 0; i < fm->nfeat; i++) {
        const featmap_feature *ft = &fm->feat[i];
        const featmap_col *c = &cols[i];
        if (ft->jagged != (c->offsets != NULL))
            return err_set(e, MLHEP_EINVAL, "branch '%s' is %s in the model but given %s", ft->name,
                           ft->jagged ? "jagged" : "flat", ft->jagged ? "as one value per row" : "with lists");
        if (nrows && !c->values && (!ft->jagged || c->offsets[nrows] > c->offsets[0]))
            return err_set(e, MLHEP_EINVAL, "branch '%s': no values", ft->name);
        double sub = ft->sub, scale = ft->scale;
        int f32 = ft->f32;
        size_t off = (size_t)ft->offset;
        if (!ft->jagged) {
            const double *v = c->values;
            for (size_t r = 0; r < nrows; r++)
                x[r * w + off] = featmap_norm(v[r], f32, sub, scale);
            if (mask)
                for (size_t r = 0; r < nrows; r++)
                    mask[r * w + off] = 0;
            continue;
        }
        size_t L = (size_t)ft->len;
        float pad = fm->pad;
        for (size_t r = 0; r < nrows; r++) {
            int64_t lo = c->offsets[r], hi = c->offsets[r + 1];
            if (hi < lo)
                return err_set(e, MLHEP_EINVAL, "branch '%s': row %zu: decreasing offsets", ft->name, r);
            size_t n = (size_t)(hi - lo);
            if (n > L)
                n = L;
            const double *v = c->values + lo;
            float *xr = x + r * w + off;
            for (size_t j = 0; j < n; j++)
                xr[j] = featmap_norm(v[j], f32, sub, scale);
            for (size_t j = n; j < L; j++)
                xr[j] = pad;
            if (mask) {
                uint8_t *mr = mask + r * w + off;
                memset(mr, 0, n);
                memset(mr + n, 1, L - n);
            }
        }
    }
    return 0;
}

/* ---- requests -> rows ---- */

int featmap_batch_reserve(featmap_batch *b, const featmap *fm, size_t nrows, mlhep_err *e)
{
    size_t w = (size_t)fm->width ? (size_t)fm->width : 1;
    if (nrows > FEATMAP_MAX_CELLS / w)
        return err_set(e, MLHEP_ENOMEM, "request too large: %zu rows x %d values exceeds %zu values", nrows,
                       fm->width, FEATMAP_MAX_CELLS);
    size_t cells = nrows * w;
    if (cells > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < cells)
            cap *= 2;
        float *x = realloc(b->x, cap * sizeof *x);
        if (x)
            b->x = x;
        uint8_t *m = realloc(b->mask, cap);
        if (m)
            b->mask = m;
        if (!x || !m)
            return err_set(e, MLHEP_ENOMEM, "out of memory for %zu rows", nrows);
        b->cap = cap;
    }
    if (fm->nfeat > b->seen_cap) {
        uint8_t *s = realloc(b->seen, fm->nfeat);
        if (!s)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        b->seen = s;
        b->seen_cap = fm->nfeat;
    }
    b->nrows = nrows;
    return 0;
}

void featmap_batch_free(featmap_batch *b)
{
    if (!b)
        return;
    free(b->x);
    free(b->mask);
    free(b->seen);
    memset(b, 0, sizeof *b);
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "a number";
    }
}

/* Writes feature fi of a row from JSON value v; row < 0: a one-row request (messages
 * then name no row). The "row N: " prefix is only formatted on error. */
static int put_value(const featmap *fm, size_t fi, const json_t *v, float *xr, uint8_t *mr, long row, mlhep_err *e)
{
    char where[40] = "";
    const featmap_feature *ft = &fm->feat[fi];
    if (!ft->jagged) {
        if (!json_is_number(v)) {
            if (row >= 0)
                snprintf(where, sizeof where, "row %ld: ", row);
            return err_set(e, MLHEP_EINVAL, "%sbranch '%s' is flat: expected a number, got %s", where, ft->name,
                           jtype(v));
        }
        xr[ft->offset] = featmap_norm(json_number_value(v), ft->f32, ft->sub, ft->scale);
        mr[ft->offset] = 0;
        return 0;
    }
    if (!json_is_array(v)) {
        if (row >= 0)
            snprintf(where, sizeof where, "row %ld: ", row);
        return err_set(e, MLHEP_EINVAL, "%sbranch '%s' is jagged: expected a list of numbers, got %s", where, ft->name,
                       jtype(v));
    }
    size_t n = json_array_size(v), L = (size_t)ft->len;
    for (size_t j = 0; j < n; j++) {
        const json_t *a = json_array_get(v, j);
        if (!json_is_number(a)) {
            if (row >= 0)
                snprintf(where, sizeof where, "row %ld: ", row);
            return err_set(e, MLHEP_EINVAL, "%sbranch '%s'[%zu]: expected a number, got %s", where, ft->name, j,
                           jtype(a));
        }
        if (j < L) {
            xr[ft->offset + j] = featmap_norm(json_number_value(a), ft->f32, ft->sub, ft->scale);
            mr[ft->offset + j] = 0;
        }
    }
    for (size_t j = n; j < L; j++) {
        xr[ft->offset + j] = fm->pad;
        mr[ft->offset + j] = 1;
    }
    return 0;
}

int featmap_missing(const featmap *fm, const uint8_t *seen, const char *where, mlhep_err *e)
{
    char list[512];
    size_t k = 0, nmiss = 0;
    list[0] = '\0';
    for (size_t i = 0; i < fm->nfeat; i++) {
        if (seen[i])
            continue;
        nmiss++;
        if (k < sizeof list - 80)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s'%s'", nmiss > 1 ? ", " : "", fm->feat[i].name);
        else if (k < sizeof list - 5)
            k += (size_t)snprintf(list + k, sizeof list - k, ", ...");
    }
    if (!nmiss)
        return 0;
    return err_set(e, MLHEP_ENOTFOUND, "%smissing %zu branch%s the model needs: %s", where, nmiss,
                   nmiss > 1 ? "es" : "", list);
}

int featmap_unknown(const featmap *fm, const char *key, size_t n, const char *where, mlhep_err *e)
{
    /* a typo's closest feature (an error path: the names array is made here) */
    char word[257];
    const char *near = NULL;
    const char **names = fm && fm->nfeat ? malloc(fm->nfeat * sizeof *names) : NULL;
    if (names && n < sizeof word) {
        memcpy(word, key, n);
        word[n] = '\0';
        for (size_t i = 0; i < fm->nfeat; i++)
            names[i] = fm->feat[i].name;
        near = suggest_closest(word, names, fm->nfeat);
    }
    int rc = err_set(e, MLHEP_ENOTFOUND, "%sunknown branch '%.*s' (not a feature of this model%s%.200s%s)", where,
                     (int)(n < 256 ? n : 256), key, near ? "; did you mean '" : "", near ? near : "",
                     near ? "'?" : "");
    free(names);
    return rc;
}

int featmap_request_rows(const json_t *req, size_t *nrows, mlhep_err *e)
{
    *nrows = 0;
    const json_t *rows = json_object_get(req, "rows"), *cols = json_object_get(req, "columns"),
                 *vals = json_object_get(req, "values");
    int forms = !!rows + !!cols + !!vals;
    if (forms != 1)
        return err_set(e, MLHEP_EINVAL, "request must hold exactly one of \"values\" (with \"keys\"), \"rows\" or "
                                        "\"columns\"");
    if (vals) {
        *nrows = 1;
        return 0;
    }
    if (rows) {
        if (!json_is_array(rows) || json_array_size(rows) == 0)
            return err_set(e, MLHEP_EINVAL, "\"rows\" must be a non-empty list of objects");
        *nrows = json_array_size(rows);
        return 0;
    }
    if (!json_is_object(cols) || json_object_size(cols) == 0)
        return err_set(e, MLHEP_EINVAL, "\"columns\" must be a non-empty object of lists");
    const char *k;
    const json_t *v;
    size_t n = 0, first = 1;
    json_object_foreach((json_t *)cols, k, v) {
        if (!json_is_array(v))
            return err_set(e, MLHEP_EINVAL, "column '%.256s': expected a list (one value per row), got %s", k,
                           jtype(v));
        if (first) {
            n = json_array_size(v);
            first = 0;
        } else if (json_array_size(v) != n) {
            return err_set(e, MLHEP_EINVAL, "column '%.256s' has %zu values, other columns have %zu (one per row)", k,
                           json_array_size(v), n);
        }
    }
    if (n == 0)
        return err_set(e, MLHEP_EINVAL, "\"columns\" hold no rows");
    *nrows = n;
    return 0;
}

int featmap_from_request(const featmap *fm, const json_t *req, featmap_batch *b, mlhep_err *e)
{
    if (!json_is_object(req))
        return err_set(e, MLHEP_EINVAL, "request is not a JSON object");
    size_t nrows;
    int rc = featmap_request_rows(req, &nrows, e);
    if (rc)
        return rc;
    if ((rc = featmap_batch_reserve(b, fm, nrows, e)))
        return rc;
    size_t w = (size_t)fm->width;
    const json_t *rows = json_object_get(req, "rows"), *cols = json_object_get(req, "columns"),
                 *vals = json_object_get(req, "values");
    if (vals) {
        const json_t *keys = json_object_get(req, "keys");
        if (!json_is_array(keys) || !json_is_array(vals))
            return err_set(e, MLHEP_EINVAL, "\"keys\" and \"values\" must be lists");
        if (json_array_size(keys) != json_array_size(vals))
            return err_set(e, MLHEP_EINVAL, "\"keys\" has %zu names but \"values\" has %zu entries",
                           json_array_size(keys), json_array_size(vals));
        memset(b->seen, 0, fm->nfeat);
        for (size_t i = 0; i < json_array_size(keys); i++) {
            const json_t *k = json_array_get(keys, i);
            if (!json_is_string(k))
                return err_set(e, MLHEP_EINVAL, "keys[%zu]: expected a branch name, got %s", i, jtype(k));
            int fi = featmap_find(fm, json_string_value(k), json_string_length(k));
            if (fi < 0)
                return featmap_unknown(fm, json_string_value(k), strlen(json_string_value(k)), "", e);
            if (b->seen[fi])
                return err_set(e, MLHEP_EINVAL, "branch '%s' given twice in \"keys\"", fm->feat[fi].name);
            b->seen[fi] = 1;
            if ((rc = put_value(fm, (size_t)fi, json_array_get(vals, i), b->x, b->mask, -1, e)))
                return rc;
        }
        return featmap_missing(fm, b->seen, "", e);
    }
    char where[48];
    if (rows) {
        for (size_t r = 0; r < nrows; r++) {
            const json_t *row = json_array_get(rows, r);
            snprintf(where, sizeof where, "row %zu: ", r); /* once per row, for unknown/missing */
            if (!json_is_object(row))
                return err_set(e, MLHEP_EINVAL, "%sexpected an object {branch: value}, got %s", where, jtype(row));
            memset(b->seen, 0, fm->nfeat);
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)row, k, v) {
                int fi = featmap_find(fm, k, strlen(k));
                if (fi < 0)
                    return featmap_unknown(fm, k, strlen(k), where, e);
                b->seen[fi] = 1;
                if ((rc = put_value(fm, (size_t)fi, v, b->x + r * w, b->mask + r * w, (long)r, e)))
                    return rc;
            }
            if ((rc = featmap_missing(fm, b->seen, where, e)))
                return rc;
        }
        return 0;
    }
    /* columns */
    memset(b->seen, 0, fm->nfeat);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)cols, k, v) {
        int fi = featmap_find(fm, k, strlen(k));
        if (fi < 0)
            return featmap_unknown(fm, k, strlen(k), "", e);
        b->seen[fi] = 1;
        const featmap_feature *ft = &fm->feat[fi];
        if (!ft->jagged) {
            /* the flat column loop, without the per-value dispatch of put_value */
            size_t off = (size_t)ft->offset;
            for (size_t r = 0; r < nrows; r++) {
                const json_t *a = json_array_get(v, r);
                if (!json_is_number(a))
                    return err_set(e, MLHEP_EINVAL, "row %zu: branch '%s' is flat: expected a number, got %s", r,
                                   ft->name, jtype(a));
                b->x[r * w + off] = featmap_norm(json_number_value(a), ft->f32, ft->sub, ft->scale);
                b->mask[r * w + off] = 0;
            }
            continue;
        }
        for (size_t r = 0; r < nrows; r++) {
            if ((rc = put_value(fm, (size_t)fi, json_array_get(v, r), b->x + r * w, b->mask + r * w, (long)r, e)))
                return rc;
        }
    }
    return featmap_missing(fm, b->seen, "", e);
}
