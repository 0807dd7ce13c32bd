/* workflow.c - workflow.json loading, validation and normalisation; see workflow.h. */
#include "service/workflow.h"

#include "root/hostpolicy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/gbdt.h"
#include "model/mlp.h"

/* ------------------------------------------------------------ helpers */

__attribute__((format(printf, 3, 4)))
static int wf_err(mlhep_err *e, int code, const char *fmt, ...)
{
    char msg[MLHEP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(e, code, "workflow: %s", msg);
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

/* The refusals of local paths by the data-root confinement (MLHEP_EAUTH): each one's
 * message holds one of these phrases, which workflow_path_refused recognises. */
#define WF_DOTDOT "'..' is not allowed in file paths"
#define WF_NOROOTS "local files are not allowed here (no data roots configured)"
#define WF_OUTSIDE "is outside the data roots"
#define WF_SYMLINK "leads outside the data roots through a symbolic link"

int workflow_path_refused(const char *msg)
{
    return msg && (strstr(msg, WF_DOTDOT) || strstr(msg, WF_NOROOTS) || strstr(msg, WF_OUTSIDE) ||
                   strstr(msg, WF_SYMLINK) || strstr(msg, HOSTPOLICY_REFUSED));
}

const char *wf_kind_name(wf_kind k)
{
    switch (k) {
    case WF_LOCAL: return "local";
    case WF_XROOTD: return "xrootd";
    case WF_HTTP: return "http";
    }
    return "?";
}

void workflow_free(workflow *w)
{
    if (!w)
        return;
    free(w->name);
    free(w->description);
    free(w->tree);
    for (size_t i = 0; i < w->nfiles; i++) {
        free(w->files[i].path);
        free(w->files[i].given);
    }
    free(w->files);
    free(w->label_branch);
    free_list(w->class_names, w->nclasses * (w->class_names != NULL));
    wf_params *p = &w->params;
    free_list(p->identifier, p->n_identifier);
    free_list(p->selected_branches, p->n_selected);
    free_list(p->exclude_branches, p->n_exclude);
    free(p->hist);
    free(p->redirector);
    free(p->weight);
    for (size_t i = 0; i < p->n_branch_max_length; i++)
        free(p->branch_max_length[i].branch);
    free(p->branch_max_length);
    free(w->data_files);
    free(w->data_caps);
    json_decref(w->preproc);
    json_decref(w->model);
    json_decref(w->doc);
    free(w);
}

/* ------------------------------------------------------------ params
 *
 * One place per rule: the ranges of the params and their defaults are written in the
 * workflow schema only. The schema has validated the document before anything here runs
 * (types, ranges, enums, patterns), so this code only converts values; a key the document
 * leaves out takes the schema's "default" for it (param()). A schema without a default
 * the loader needs is an error, never a silent value chosen here. */

#define PARAMS_REF "#/$defs/params/properties/"

/* *out = the schema's node at ref; an error if the schema lacks it (a rule the loader
 * takes from the schema). */
static int schema_rule(const jschema *s, const char *ref, const json_t **out, mlhep_err *e)
{
    if ((*out = jschema_node(s, ref)))
        return 0;
    return err_set(e, MLHEP_EINVAL, "workflow schema: %s is missing (the loader takes it from "
                   "the schema)", ref + 1);
}

/* *out = params member k: the document's value, else the schema's default. */
static int param(const json_t *P, const jschema *s, const char *k, const json_t **out,
                 mlhep_err *e)
{
    if ((*out = json_object_get(P, k)))
        return 0;
    char ref[128];
    snprintf(ref, sizeof ref, PARAMS_REF "%s/default", k);
    return schema_rule(s, ref, out, e);
}

/* An integer (integral reals accepted: the schema's "integer") that fits [lo, hi], the
 * range of the C type it goes into (the schema's range has been checked already). */
static int int_value(const json_t *v, const char *k, long long lo, long long hi, long long *out,
                     mlhep_err *e)
{
    long long x;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else {
        double d = json_is_real(v) ? json_real_value(v) : NAN;
        if (!(isfinite(d) && floor(d) == d && fabs(d) < 9e18))
            return wf_err(e, MLHEP_EINVAL, "/params/%s: expected an integer", k);
        x = (long long)d;
    }
    if (x < lo || x > hi)
        return wf_err(e, MLHEP_EINVAL, "/params/%s: %lld does not fit this program (%lld..%lld)",
                      k, x, lo, hi);
    *out = x;
    return 0;
}

/* A list of names: JSON array of strings, or a comma-separated string. */
static int get_list(const json_t *v, const char *k, char ***out, size_t *n, mlhep_err *e)
{
    *out = NULL;
    *n = 0;
    if (!v)
        return 0;
    size_t cap = json_is_array(v) ? json_array_size(v) : 1;
    if (json_is_string(v))
        for (const char *p = json_string_value(v); *p; p++)
            cap += *p == ',';
    else if (!json_is_array(v))
        return wf_err(e, MLHEP_EINVAL, "/params/%s: expected a list of branch names", k);
    char **l = calloc(cap + 1, sizeof *l);
    if (!l)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    size_t m = 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *s;
        json_array_foreach(v, i, s) {
            if (!json_is_string(s)) {
                free_list(l, m);
                return wf_err(e, MLHEP_EINVAL, "/params/%s/%zu: expected a branch name", k, i);
            }
            if (!(l[m++] = strdup(json_string_value(s)))) {
                free_list(l, m);
                return err_set(e, MLHEP_ENOMEM, "out of memory");
            }
        }
    } else {
        const char *p = json_string_value(v);
        while (*p) {
            while (*p == ' ' || *p == ',')
                p++;
            const char *b = p;
            while (*p && *p != ',')
                p++;
            const char *end = p;
            while (end > b && end[-1] == ' ')
                end--;
            if (end > b) {
                if (!(l[m++] = strndup(b, (size_t)(end - b)))) {
                    free_list(l, m);
                    return err_set(e, MLHEP_ENOMEM, "out of memory");
                }
            }
        }
    }
    *out = l;
    *n = m;
    return 0;
}

static const char *const training_names[] = {"standard", "chunk"}; /* by wf_training */

const char *wf_training_name(wf_training t)
{
    return (unsigned)t < sizeof training_names / sizeof *training_names ? training_names[t] : "?";
}

static int load_params(const json_t *pj, const jschema *s, wf_params *p, mlhep_err *e)
{
    if (pj && !json_is_object(pj))
        return wf_err(e, MLHEP_EINVAL, "/params: expected object");
    const json_t *P = pj; /* NULL when absent: every member takes its default */
    const json_t *x;
    long long v;
    int rc;
#define INT_PARAM(key, dst, lo, hi)                                                        \
    do {                                                                                   \
        if ((rc = param(P, s, key, &x, e)) || (rc = int_value(x, key, lo, hi, &v, e)))      \
            return rc;                                                                     \
        dst = v;                                                                           \
    } while (0)
    INT_PARAM("nevts", p->nevts, LLONG_MIN, LLONG_MAX);
    INT_PARAM("chunk_size", p->chunk_size, LLONG_MIN, LLONG_MAX);
    INT_PARAM("epochs", p->epochs, INT_MIN, INT_MAX);
    INT_PARAM("batch_size", p->batch_size, LLONG_MIN, LLONG_MAX);
    INT_PARAM("seed", p->seed, 0, LLONG_MAX);
#undef INT_PARAM
    if ((x = json_object_get(P, "max_jagged_length"))) { /* absent: automatic (0) */
        if ((rc = int_value(x, "max_jagged_length", INT_MIN, INT_MAX, &v, e)))
            return rc;
        p->max_jagged_length = (int)v;
    }
    if ((rc = param(P, s, "shuffle", &x, e)))
        return rc;
    p->shuffle = json_is_true(x) || (json_is_integer(x) && json_integer_value(x) != 0);
    if ((rc = param(P, s, "verbose", &x, e)))
        return rc;
    if (json_is_boolean(x))
        p->verbose = json_is_true(x);
    else if ((rc = int_value(x, "verbose", INT_MIN, INT_MAX, &v, e)))
        return rc;
    else
        p->verbose = (int)v;
    if ((rc = param(P, s, "nan", &x, e)))
        return rc;
    p->nan_value = json_is_number(x) ? json_number_value(x) : NAN; /* null = NaN */
    if ((rc = param(P, s, "metrics", &x, e)))
        return rc;
    p->metrics = json_is_true(x) || json_is_object(x);
    if (!(x = json_object_get(x, "threshold")) &&
        (rc = schema_rule(s, "#/$defs/metricsOptions/properties/threshold/default", &x, e)))
        return rc;
    p->metrics_threshold = json_number_value(x);
    if ((rc = param(P, s, "training", &x, e)))
        return rc;
    for (p->training = 0; p->training < WF_TRAIN_COUNT; p->training++)
        if (json_is_string(x) && !strcmp(json_string_value(x), training_names[p->training]))
            break;
    if (p->training == WF_TRAIN_COUNT)
        return wf_err(e, MLHEP_EINVAL, "/params/training: unknown procedure");
    if ((rc = param(P, s, "normalisation", &x, e)))
        return rc;
    if (dp_norm_parse(json_string_value(x), &p->normalisation))
        return wf_err(e, MLHEP_EINVAL, "/params/normalisation: unknown normalisation");
    if ((rc = param(P, s, "validation_fraction", &x, e)))
        return rc;
    p->validation_fraction = json_number_value(x);
    if ((rc = param(P, s, "test_fraction", &x, e)))
        return rc;
    p->test_fraction = json_number_value(x);
    if (p->validation_fraction + p->test_fraction > WF_MAX_HELD_OUT + 1e-12)
        return wf_err(e, MLHEP_EINVAL, "/params/test_fraction: validation_fraction %g + test_fraction %g "
                      "leave less than %g of the rows for training", p->validation_fraction,
                      p->test_fraction, 1 - WF_MAX_HELD_OUT);
    if ((x = json_object_get(P, "weight")) && !(p->weight = strdup(json_string_value(x))))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    if ((rc = param(P, s, "negative_weights", &x, e)))
        return rc;
    if (dp_negw_parse(json_string_value(x), &p->negative_weights))
        return wf_err(e, MLHEP_EINVAL, "/params/negative_weights: unknown policy");
    if ((rc = param(P, s, "balance_classes", &x, e)))
        return rc;
    p->balance_classes = json_is_true(x);
    if ((rc = param(P, s, "log_scale", &x, e)))
        return rc;
    p->log_scale = json_is_true(x);
    if ((x = json_object_get(P, "hist")) && !json_is_false(x)) { /* the schema refuses . and .. */
        const char *h = json_is_string(x) ? json_string_value(x) : "hists";
        if (*h && !(p->hist = strdup(h)))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    if ((rc = param(P, s, "redirector", &x, e)))
        return rc;
    const char *r = json_string_value(x);
    size_t n = r ? strlen(r) : 0;
    while (n > 0 && r[n - 1] == '/')
        n--;
    if (!r || !(p->redirector = strndup(r, n)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    if ((rc = get_list(json_object_get(P, "identifier"), "identifier", &p->identifier, &p->n_identifier, e)) ||
        (rc = get_list(json_object_get(P, "selected_branches"), "selected_branches", &p->selected_branches,
                       &p->n_selected, e)) ||
        (rc = get_list(json_object_get(P, "exclude_branches"), "exclude_branches", &p->exclude_branches,
                       &p->n_exclude, e)))
        return rc;
    if (p->n_identifier == 0) { /* absent, or MLaaS4HEP's []: the default list */
        free(p->identifier);
        p->identifier = NULL;
        if ((rc = schema_rule(s, PARAMS_REF "identifier/default", &x, e)) ||
            (rc = get_list(x, "identifier", &p->identifier, &p->n_identifier, e)))
            return rc;
        p->identifier_is_default = 1;
    }
    if ((x = json_object_get(P, "branch_max_length"))) {
        if (!json_is_object(x))
            return wf_err(e, MLHEP_EINVAL, "/params/branch_max_length: expected object");
        p->branch_max_length = calloc(json_object_size(x) + 1, sizeof *p->branch_max_length);
        if (!p->branch_max_length)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)x, k, m) {
            char key[300];
            snprintf(key, sizeof key, "branch_max_length/%s", k);
            if ((rc = int_value(m, key, INT_MIN, INT_MAX, &v, e)))
                return rc;
            wf_maxlen *ml = &p->branch_max_length[p->n_branch_max_length++];
            ml->max_length = (int)v;
            if (!(ml->branch = strdup(k)))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* ------------------------------------------------------------ paths */

typedef struct roots {
    size_t n;
    char **lex;      /* configured roots, lexically normalised */
    char **real;     /* realpath of each (NULL in lexical-only mode) */
} roots;

static void roots_free(roots *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->lex[i]);
        if (r->real)
            free(r->real[i]);
    }
    free(r->lex);
    free(r->real);
}

/* Lexical normalisation: collapses "//" and "." components. Returns 1 if a ".."
 * component is present, -1 if out is too small, else 0. */
static int norm_lexical(const char *p, char *out, size_t cap)
{
    size_t o = 0;
    int abs = p[0] == '/';
    if (cap < 2)
        return -1;
    if (abs)
        out[o++] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        const char *b = p;
        while (*p && *p != '/')
            p++;
        size_t n = (size_t)(p - b);
        if (n == 0 || (n == 1 && b[0] == '.'))
            continue;
        if (n == 2 && b[0] == '.' && b[1] == '.')
            return 1;
        if (o + n + 2 > cap)
            return -1;
        if (o > 0 && out[o - 1] != '/')
            out[o++] = '/';
        memcpy(out + o, b, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

static int under(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return path[0] == '/';
    return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int under_any(const char *path, const roots *r, int use_real)
{
    for (size_t i = 0; i < r->n; i++) {
        if (under(path, r->lex[i]))
            return 1;
        if (use_real && r->real && r->real[i] && under(path, r->real[i]))
            return 1;
    }
    return 0;
}

/* System directories never usable as data roots, so that /etc/shadow and friends can
 * never lie under one whatever the configuration says. */
static int forbidden_root(const char *p)
{
    static const char *const sys[] = {"/etc", "/proc", "/sys", "/dev", "/boot", "/run", NULL};
    if (strcmp(p, "/") == 0)
        return 1;
    /* root's home holds keys and shell files: it and its hidden entries are refused; a
     * directory made inside it for data is the operator's choice (a checkout in /root,
     * mode 0700, is a usual place on Debian) */
    if (strcmp(p, "/root") == 0 || strncmp(p, "/root/.", 7) == 0)
        return 1;
    for (int i = 0; sys[i]; i++)
        if (under(p, sys[i]))
            return 1;
    return 0;
}

static int roots_init(roots *r, const wf_opts *o, mlhep_err *e)
{
    memset(r, 0, sizeof *r);
    if (o->n_data_roots == 0)
        return 0;
    r->lex = calloc(o->n_data_roots, sizeof *r->lex);
    r->real = o->check_local ? calloc(o->n_data_roots, sizeof *r->real) : NULL;
    if (!r->lex || (o->check_local && !r->real))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < o->n_data_roots; i++) {
        const char *d = o->data_roots[i];
        char buf[PATH_MAX];
        if (!d || d[0] != '/' || norm_lexical(d, buf, sizeof buf) != 0)
            return err_set(e, MLHEP_EINVAL, "data root '%s' must be an absolute path without '..'",
                           d ? d : "(null)");
        if (forbidden_root(buf))
            return err_set(e, MLHEP_EINVAL, "data root '%s' is a system directory; refused", d);
        if (!(r->lex[i] = strdup(buf)))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        r->n = i + 1;
        if (o->check_local) {
            char *rp = realpath(d, NULL);
            struct stat st;
            if (!rp || stat(rp, &st) != 0 || !S_ISDIR(st.st_mode)) {
                int en = errno;
                free(rp);
                return err_set(e, MLHEP_EIO, "data root %s: %s", d,
                               rp ? "not a directory" : strerror(en));
            }
            r->real[i] = rp;
            if (forbidden_root(rp))
                return err_set(e, MLHEP_EINVAL, "data root '%s' resolves to the system directory "
                               "'%s'; refused", d, rp);
        }
    }
    return 0;
}

/* Resolves one local path (checks described in workflow.h). *out is malloc'd. */
static int resolve_local(const char *given, const char *where, const roots *r, const wf_opts *o,
                         char **out, mlhep_err *e)
{
    char norm[PATH_MAX];
    int nr = norm_lexical(given, norm, sizeof norm);
    if (nr > 0)
        return wf_err(e, MLHEP_EAUTH, "%s: '%s': " WF_DOTDOT, where, given);
    if (nr < 0 || !norm[0] || strcmp(norm, "/") == 0)
        return wf_err(e, MLHEP_EINVAL, "%s: '%s' is not a usable file path", where, given);
    if (r->n == 0)
        return wf_err(e, MLHEP_EAUTH, "%s: '%s': " WF_NOROOTS "; use root:// or https:// URLs", where, given);
    int absolute = norm[0] == '/';
    if (absolute && !under_any(norm, r, 1)) {
        char list[512] = "";
        size_t lo = 0;
        for (size_t i = 0; i < r->n && lo < sizeof list; i++)
            lo += (size_t)snprintf(list + lo, sizeof list - lo, "%s%s", i ? ", " : "", r->lex[i]);
        return wf_err(e, MLHEP_EAUTH, "%s: '%s' " WF_OUTSIDE " (%s)", where, given, list);
    }
    char cand[2 * PATH_MAX + 2];
    if (!o->check_local) {
        if (absolute)
            snprintf(cand, sizeof cand, "%s", norm);
        else
            snprintf(cand, sizeof cand, "%s/%s", r->lex[0], norm);
        if (!(*out = strdup(cand)))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        return 0;
    }
    char *rp = NULL;
    int en = ENOENT;
    for (size_t i = 0; i < (absolute ? 1 : r->n) && !rp; i++) {
        if (absolute)
            snprintf(cand, sizeof cand, "%s", norm);
        else
            snprintf(cand, sizeof cand, "%s/%s", r->real[i], norm);
        errno = 0;
        rp = realpath(cand, NULL);
        if (!rp && errno != ENOENT && errno != ENOTDIR)
            en = errno;
    }
    if (!rp) {
        if (en == ENOENT)
            return wf_err(e, MLHEP_ENOTFOUND, "%s: '%s': no such file%s", where, given,
                          absolute ? "" : " under the data roots");
        return wf_err(e, MLHEP_EIO, "%s: '%s': %s", where, given, strerror(en));
    }
    int rc = 0;
    struct stat st;
    if (!under_any(rp, r, 1) || !r->real) {
        rc = wf_err(e, MLHEP_EAUTH, "%s: '%s' " WF_SYMLINK, where, given);
    } else if (stat(rp, &st) != 0) {
        rc = wf_err(e, MLHEP_EIO, "%s: '%s': %s", where, given, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = wf_err(e, MLHEP_EINVAL, "%s: '%s' is not a regular file", where, given);
    } else if (access(rp, R_OK) != 0) {
        rc = wf_err(e, MLHEP_EIO, "%s: '%s' is not readable: %s", where, given, strerror(errno));
    }
    if (rc) {
        free(rp);
        return rc;
    }
    *out = rp;
    return 0;
}

/* URL checks beyond the schema: known scheme, non-empty host, no credentials. */
static int check_url(const char *u, const char *where, const wf_opts *o, wf_kind *kind, mlhep_err *e)
{
    const char *h;
    if (strncmp(u, "root://", 7) == 0) {
        *kind = WF_XROOTD;
        h = u + 7;
    } else if (strncmp(u, "https://", 8) == 0) {
        *kind = WF_HTTP;
        h = u + 8;
    } else if (strncmp(u, "http://", 7) == 0) {
        *kind = WF_HTTP;
        h = u + 7;
    } else {
        const char *s = strstr(u, "://");
        return wf_err(e, MLHEP_EINVAL, "%s: '%s': unsupported URL scheme '%.*s' (use root://, "
                      "https:// or a local path)", where, u, (int)(s ? s - u : 0), u);
    }
    const char *slash = strchr(h, '/');
    if (!slash || slash == h)
        return wf_err(e, MLHEP_EINVAL, "%s: '%s': URL has no host or no path", where, u);
    for (const char *p = h; p < slash; p++)
        if (*p == '@')
            return wf_err(e, MLHEP_EINVAL, "%s: '%s': credentials in URLs are not allowed", where, u);
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return wf_err(e, MLHEP_EINVAL, "%s: '%s': URL contains spaces or control characters",
                          where, u);
    mlhep_err he;
    if (o->hosts && hostpolicy_check_url(o->hosts, u, &he))
        return wf_err(e, he.code, "%s: '%s': %s", where, u, he.msg);
    return 0;
}

static int has_scheme(const char *s)
{
    const char *p = s;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '.' || *p == '-')
        p++;
    return strncmp(p, "://", 3) == 0;
}

static int classify_path(workflow *w, wf_file *f, const char *where, const roots *r,
                         const wf_opts *o, mlhep_err *e)
{
    const char *g = f->given;
    for (const char *p = g; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return wf_err(e, MLHEP_EINVAL, "%s: path contains control characters", where);
    if (has_scheme(g)) {
        int rc = check_url(g, where, o, &f->kind, e);
        if (rc)
            return rc;
        return (f->path = strdup(g)) ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    /* MLaaS4HEP: an LFN gets the redirector in front, unless it is one of our local
     * files (lexically under a data root; decided without touching the file system).
     * An empty redirector ("redirector": "" in MLaaS4HEP's example params.json) puts
     * nothing in front: the LFN is then a local path, as upstream ("" + "/" + path). */
    if (strncmp(g, "/store/", 7) == 0 && w->params.redirector[0]) {
        char norm[PATH_MAX];
        int nr = norm_lexical(g, norm, sizeof norm);
        if (nr > 0)
            return wf_err(e, MLHEP_EAUTH, "%s: '%s': " WF_DOTDOT, where, g);
        if (nr == 0 && !under_any(norm, r, 1)) {
            size_t n = strlen(w->params.redirector) + 1 + strlen(norm) + 1;
            if (!(f->path = malloc(n)))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
            snprintf(f->path, n, "%s/%s", w->params.redirector, norm);
            return check_url(f->path, where, o, &f->kind, e);
        }
    }
    f->kind = WF_LOCAL;
    return resolve_local(g, where, r, o, &f->path, e);
}

/* ------------------------------------------------------------ files and labels */

/* Label of entry i from JSON; assigns class indices for names. At most max_classes
 * classes: the schema's largest integer label + 1, the same limit for class names. */
static int take_label(workflow *w, const json_t *lab, const char *where, int *kind_seen,
                      long long max_classes, int *out, mlhep_err *e)
{
    int kind = json_is_integer(lab) ? 1 : json_is_string(lab) ? 2 : 0;
    if (!kind)
        return wf_err(e, MLHEP_EINVAL, "%s: expected integer or string", where);
    if (*kind_seen && *kind_seen != kind)
        return wf_err(e, MLHEP_EINVAL, "%s: labels mix integers and class names; use one kind",
                      where);
    *kind_seen = kind;
    if (kind == 1) {
        json_int_t v = json_integer_value(lab);
        if (v < 0 || v >= max_classes)
            return wf_err(e, MLHEP_EINVAL, "%s: label %lld is outside 0..%lld", where, (long long)v,
                          max_classes - 1);
        *out = (int)v;
        if ((size_t)v + 1 > w->nclasses)
            w->nclasses = (size_t)v + 1;
        return 0;
    }
    const char *s = json_string_value(lab);
    if (!*s)
        return wf_err(e, MLHEP_EINVAL, "%s: empty class name", where);
    for (size_t i = 0; i < w->nclasses; i++)
        if (strcmp(w->class_names[i], s) == 0) {
            *out = (int)i;
            return 0;
        }
    if ((long long)w->nclasses >= max_classes)
        return wf_err(e, MLHEP_EINVAL, "%s: more than %lld classes", where, max_classes);
    char **nc = realloc(w->class_names, (w->nclasses + 1) * sizeof *nc);
    if (!nc)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    w->class_names = nc;
    if (!(nc[w->nclasses] = strdup(s)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    *out = (int)w->nclasses++;
    return 0;
}

static int cmp_path_idx(const void *a, const void *b, void *arg)
{
    const wf_file *f = arg;
    int r = strcmp(f[*(const size_t *)a].path, f[*(const size_t *)b].path);
    if (r)
        return r;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int load_files(workflow *w, const json_t *doc, const roots *r, const wf_opts *o,
                      mlhep_err *e)
{
    json_t *files = json_object_get(doc, "files"), *labels = json_object_get(doc, "labels");
    if (!json_is_array(files) || json_array_size(files) == 0)
        return wf_err(e, MLHEP_EINVAL, "/files: expected a non-empty array");
    size_t n = json_array_size(files);
    int parallel = json_is_string(json_array_get(files, 0));
    if (parallel) {
        if (json_is_string(labels)) {
            if (!(w->label_branch = strdup(json_string_value(labels))))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
        } else if (!json_is_array(labels)) {
            return wf_err(e, MLHEP_EINVAL, "/labels: required with \"files\" as a list of paths "
                          "(one label per file, or the name of a label branch)");
        } else if (json_array_size(labels) != n) {
            return wf_err(e, MLHEP_EINVAL, "/labels: has %zu entries but /files has %zu; give one "
                          "label per file", json_array_size(labels), n);
        }
    } else if (labels) {
        return wf_err(e, MLHEP_EINVAL, "/labels: only allowed with \"files\" as a list of paths");
    }
    json_t *scales = json_object_get(doc, "scales");
    if (scales && (!parallel || json_array_size(scales) != n))
        return wf_err(e, MLHEP_EINVAL, "/scales: %s", parallel ? "give one scale per file" :
                      "only with \"files\" as a list of paths (else \"scale\" in each file entry)");
    const json_t *lmax;
    int rc = schema_rule(o->schema, "#/$defs/label/maximum", &lmax, e);
    if (rc)
        return rc;
    if (!json_is_integer(lmax) || json_integer_value(lmax) < 0 || json_integer_value(lmax) >= INT_MAX)
        return err_set(e, MLHEP_EINVAL, "workflow schema: /$defs/label/maximum must be an integer "
                       "label");
    long long max_classes = json_integer_value(lmax) + 1;
    w->files = calloc(n, sizeof *w->files);
    if (!w->files)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int kind_seen = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *fe = json_array_get(files, i), *pj, *lj;
        char where[64], lwhere[64];
        if (parallel) {
            pj = fe;
            lj = w->label_branch ? NULL : json_array_get(labels, i);
            snprintf(where, sizeof where, "/files/%zu", i);
            snprintf(lwhere, sizeof lwhere, "/labels/%zu", i);
        } else {
            if (!json_is_object(fe))
                return wf_err(e, MLHEP_EINVAL, "/files/%zu: expected object {\"path\",\"label\"}", i);
            pj = json_object_get(fe, "path");
            lj = json_object_get(fe, "label");
            snprintf(where, sizeof where, "/files/%zu/path", i);
            snprintf(lwhere, sizeof lwhere, "/files/%zu/label", i);
            if (!lj)
                return wf_err(e, MLHEP_EINVAL, "/files/%zu: missing \"label\"", i);
        }
        if (!json_is_string(pj) || json_string_length(pj) == 0 ||
            strlen(json_string_value(pj)) != json_string_length(pj))
            return wf_err(e, MLHEP_EINVAL, "%s: expected a non-empty path string", where);
        wf_file *f = &w->files[i];
        w->nfiles = i + 1;
        f->label = -1;
        const json_t *sc = parallel ? json_array_get(scales, i) : json_object_get(fe, "scale");
        f->scale = sc ? json_number_value(sc) : 1.0; /* the schema: a number > 0 */
        if (!(f->given = strdup(json_string_value(pj))))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        if (lj && (rc = take_label(w, lj, lwhere, &kind_seen, max_classes, &f->label, e)))
            return rc;
        if ((rc = classify_path(w, f, where, r, o, e)))
            return rc;
    }
    /* The same input twice would be read twice and skew the mixing. */
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, cmp_path_idx, w->files);
    for (size_t i = 1; i < n && !rc; i++)
        if (strcmp(w->files[idx[i - 1]].path, w->files[idx[i]].path) == 0)
            rc = wf_err(e, MLHEP_EINVAL, "/files/%zu: '%s' is the same file as /files/%zu",
                        idx[i], w->files[idx[i]].given, idx[i - 1]);
    free(idx);
    return rc;
}

/* ------------------------------------------------------------ classes and the model */

static const char *const task_names[] = {"binary", "multiclass", "regression"}; /* by wf_task */

const char *wf_task_name(wf_task t)
{
    return (unsigned)t < sizeof task_names / sizeof *task_names ? task_names[t] : "?";
}

/* Per-file labels of a workflow that trains: at least two classes, each with a file. */
static int check_classes(const workflow *w, mlhep_err *e)
{
    if (w->label_branch || !w->model)
        return 0;
    size_t seen = 0;
    for (size_t k = 0; k < w->nclasses; k++) {
        size_t i = 0;
        while (i < w->nfiles && w->files[i].label != (int)k)
            i++;
        if (i == w->nfiles)
            return wf_err(e, MLHEP_EINVAL, "/files: no file has label %zu (labels are classes "
                          "0..%zu; each needs events)", k, w->nclasses - 1);
        seen++;
    }
    if (seen < 2)
        return wf_err(e, MLHEP_EINVAL, "/files: every file has the label %s: a classifier needs two "
                      "classes or more (for a regression give the target branch as \"labels\")",
                      w->class_names ? w->class_names[0] : "0");
    return 0;
}

/* The model checked without data, and against the labels; sets w->task, w->noutputs. */
static int check_model(workflow *w, int part, mlhep_err *e)
{
    const json_t *m = w->model;
    if (!m)
        return 0;
    const char *type = json_string_value(json_object_get(m, "type"));
    /* 0: not known before the data (labels from a branch), or not from this part alone */
    size_t ncls = w->label_branch || part ? 0 : w->nclasses;
    int rc;
    if (type && !strcmp(type, "gbdt")) {
        gbdt_params p;
        if ((rc = gbdt_params_from_json(m, &p, e)))
            return err_prefix(e, "workflow: /model");
        int given = json_object_get(m, "objective") != NULL;
        const json_t *nc = json_object_get(m, "num_class");
        if (!given)
            p.objective = ncls > 2 || nc ? GBDT_OBJ_MULTICLASS : GBDT_OBJ_BINARY;
        if (p.objective == GBDT_OBJ_MULTICLASS) {
            if (nc && ncls && json_integer_value(nc) != (json_int_t)ncls)
                return wf_err(e, MLHEP_EINVAL, "/model/num_class: %lld, but the files have %zu classes",
                              (long long)json_integer_value(nc), ncls);
            p.n_classes = nc ? (int)json_integer_value(nc) : (int)ncls;
            if (!p.n_classes)
                return wf_err(e, MLHEP_EINVAL, "/model: a multiclass model with labels from a branch "
                              "needs \"num_class\" (the number of classes)");
        }
        if ((rc = gbdt_params_check(&p, e)))
            return err_prefix(e, "workflow: /model");
        w->task = p.objective == GBDT_OBJ_MULTICLASS ? WF_TASK_MULTICLASS
                  : p.objective == GBDT_OBJ_REGRESSION ? WF_TASK_REGRESSION
                                                       : WF_TASK_BINARY;
        w->noutputs = p.objective == GBDT_OBJ_MULTICLASS ? p.n_classes : 1;
    } else {
        mlp_spec_info info;
        if ((rc = mlp_spec_check(m, 0, &info, e)))
            return err_prefix(e, "workflow: /model");
        w->task = info.loss == MLP_LOSS_BCE ? WF_TASK_BINARY
                  : info.loss == MLP_LOSS_CCE ? WF_TASK_MULTICLASS
                                              : WF_TASK_REGRESSION;
        w->noutputs = (int)info.n_outputs;
    }
    if (w->task == WF_TASK_BINARY && ncls && ncls != 2)
        return wf_err(e, MLHEP_EINVAL, "/model: a binary classifier (one output) separates two classes, "
                      "the files have %zu: use as many softmax outputs as classes with "
                      "categorical_crossentropy (gbdt: \"objective\": \"multiclass\")", ncls);
    if (w->task == WF_TASK_MULTICLASS && ncls && (size_t)w->noutputs != ncls)
        return wf_err(e, MLHEP_EINVAL, "/model: the model has %d outputs, the files have %zu classes",
                      w->noutputs, ncls);
    if (w->task == WF_TASK_REGRESSION && w->params.balance_classes)
        return wf_err(e, MLHEP_EINVAL, "/params/balance_classes: a regression has no classes to balance");
    return 0;
}

/* ------------------------------------------------------------ the data layer's view */

/* The one place a workflow becomes the data layer's parameters (dataparams.h): w->data
 * points into w (files and caps in w's own arrays). */
static int fill_data(workflow *w, mlhep_err *e)
{
    const wf_params *p = &w->params;
    w->data_files = calloc(w->nfiles + 1, sizeof *w->data_files);
    w->data_caps = calloc(p->n_branch_max_length + 1, sizeof *w->data_caps);
    if (!w->data_files || !w->data_caps)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t i = 0; i < w->nfiles; i++)
        w->data_files[i] = (dp_file){w->files[i].path, w->files[i].label, w->files[i].kind == WF_LOCAL,
                                     w->files[i].scale};
    for (size_t i = 0; i < p->n_branch_max_length; i++)
        w->data_caps[i] = (dp_cap){p->branch_max_length[i].branch, p->branch_max_length[i].max_length};
    w->data = (dataparams){
        .files = w->data_files,
        .nfiles = w->nfiles,
        .tree = w->tree,
        .label_branch = w->label_branch,
        .class_names = (const char *const *)w->class_names,
        .nclasses = w->nclasses,
        .selected = (const char *const *)p->selected_branches,
        .n_selected = p->n_selected,
        .exclude = (const char *const *)p->exclude_branches,
        .n_exclude = p->n_exclude,
        .identifier = (const char *const *)p->identifier,
        .n_identifier = p->n_identifier,
        .identifier_optional = p->identifier_is_default,
        .max_jagged_length = p->max_jagged_length,
        .caps = w->data_caps,
        .ncaps = p->n_branch_max_length,
        .nevts = p->nevts,
        .chunk_size = p->chunk_size,
        .norm = p->normalisation,
        .nan_value = p->nan_value,
        .validation_fraction = p->validation_fraction,
        .test_fraction = p->test_fraction,
        .weight = p->weight,
        .negative_weights = p->negative_weights,
        .shuffle = p->shuffle,
        .seed = p->seed,
        .threads = 0,
        .preproc = w->preproc,
    };
    return 0;
}

/* ------------------------------------------------------------ load */

int workflow_load_json(json_t *doc, const wf_opts *o, workflow **out, mlhep_err *e)
{
    if (!doc || !o || !out)
        return err_set(e, MLHEP_EINVAL, "workflow_load_json: NULL argument");
    *out = NULL;
    if (!o->schema)
        return err_set(e, MLHEP_EINVAL, "workflow: no schema loaded (workflow.schema.json)");
    const char *mfile = json_string_value(json_object_get(doc, "model"));
    if (mfile) /* MLaaS4HEP names a model.py; a workflow holds the model itself */
        return wf_err(e, MLHEP_EINVAL,
                      "/model: \"%.200s\" names a file, but a workflow holds the model itself (an object: "
                      "{\"type\": \"mlp\", \"layers\": [...]}, {\"type\": \"gbdt\", ...} or a Keras "
                      "model.to_json() document). To use a model.py, run mlhep-run or mlhep-submit with "
                      "MLaaS4HEP's flags: --files files.txt --labels labels.txt --model %.200s --params "
                      "params.json, which read it and build the workflow", mfile, mfile);
    int rc = jschema_validate(o->schema, doc, "workflow", e);
    if (rc)
        return rc;
    if (!json_is_object(doc))
        return wf_err(e, MLHEP_EINVAL, "/: expected object");
    workflow *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    w->doc = json_incref(doc);
    roots r;
    memset(&r, 0, sizeof r);

    json_t *name = json_object_get(doc, "name"), *desc = json_object_get(doc, "description");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        rc = wf_err(e, MLHEP_EINVAL, "/name: expected a non-empty string");
        goto fail;
    }
    if (!(w->name = strdup(json_string_value(name))) ||
        (json_is_string(desc) && !(w->description = strdup(json_string_value(desc))))) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto fail;
    }
    json_t *params = json_object_get(doc, "params");
    if ((rc = load_params(params, o->schema, &w->params, e)))
        goto fail;
    const char *tree = json_string_value(json_object_get(doc, "tree"));
    const char *branch = json_string_value(json_object_get(params, "branch"));
    if (tree && branch && strcmp(tree, branch) != 0) {
        rc = wf_err(e, MLHEP_EINVAL, "/tree: '%s' disagrees with /params/branch '%s' (both name "
                    "the tree to read; give one)", tree, branch);
        goto fail;
    }
    const json_t *deftree = NULL;
    if (!tree && !branch && (rc = schema_rule(o->schema, "#/properties/tree/default", &deftree, e)))
        goto fail;
    if (!(w->tree = xstrdup(tree ? tree : branch ? branch : json_string_value(deftree)))) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto fail;
    }
    json_t *pre = json_object_get(doc, "preproc"), *model = json_object_get(doc, "model");
    if ((pre && !json_is_object(pre)) || (model && !json_is_object(model))) {
        rc = wf_err(e, MLHEP_EINVAL, "/%s: expected object", pre && !json_is_object(pre) ? "preproc" : "model");
        goto fail;
    }
    w->preproc = json_incref(pre);
    w->model = json_incref(model);
    if ((rc = roots_init(&r, o, e)))
        goto fail;
    if ((rc = load_files(w, doc, &r, o, e)) || (rc = o->part ? 0 : check_classes(w, e)) || (rc = check_model(w, o->part, e)) ||
        (rc = fill_data(w, e)))
        goto fail;
    roots_free(&r);
    *out = w;
    return 0;
fail:
    roots_free(&r);
    workflow_free(w);
    return rc;
}

int workflow_load_buffer(const char *buf, size_t n, const wf_opts *o, workflow **out, mlhep_err *e)
{
    if (!buf || !out)
        return err_set(e, MLHEP_EINVAL, "workflow_load_buffer: NULL argument");
    *out = NULL;
    if (n > WF_MAX_DOC_BYTES)
        return wf_err(e, MLHEP_EINVAL, "document of %zu bytes is larger than the %u limit", n,
                      WF_MAX_DOC_BYTES);
    json_error_t je;
    json_t *doc = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return wf_err(e, MLHEP_EFORMAT, "not valid JSON: line %d column %d: %s", je.line,
                      je.column, je.text);
    int rc = workflow_load_json(doc, o, out, e);
    json_decref(doc);
    return rc;
}

int workflow_load_file(const char *path, const wf_opts *o, workflow **out, mlhep_err *e)
{
    if (!path || !out)
        return err_set(e, MLHEP_EINVAL, "workflow_load_file: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return err_set(e, errno == ENOENT ? MLHEP_ENOTFOUND : MLHEP_EIO, "workflow %s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, MLHEP_EIO, "workflow %s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > WF_MAX_DOC_BYTES) {
        close(fd);
        return err_set(e, MLHEP_EINVAL, "workflow %s: %lld bytes is larger than the %u limit",
                       path, (long long)st.st_size, WF_MAX_DOC_BYTES);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return err_set(e, MLHEP_EIO, "workflow %s: short read", path);
    }
    int rc = workflow_load_buffer(buf, n, o, out, e);
    free(buf);
    if (rc && e && strncmp(e->msg, "workflow: ", 10) == 0) {
        /* "workflow: /x: ..." -> "workflow PATH: /x: ..." */
        char tmp[MLHEP_ERR_MAX];
        snprintf(tmp, sizeof tmp, "%s", e->msg + 10);
        err_set(e, e->code, "workflow %s: %s", path, tmp);
    }
    return rc;
}

int workflow_open_local(const wf_file *f, mlhep_err *e)
{
    if (!f || f->kind != WF_LOCAL || !f->path)
        return err_set(e, MLHEP_EINVAL, "workflow_open_local: not a local file");
    int fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, errno == ENOENT ? MLHEP_ENOTFOUND : MLHEP_EIO, "%s: %s", f->given,
                       errno == ELOOP ? "became a symbolic link after it was checked" : strerror(errno));
    struct stat st;
    char link[64], real[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof real - 1);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, MLHEP_EAUTH, "%s: is no longer a regular file", f->given);
    }
    if (n <= 0 || (real[n] = '\0', strcmp(real, f->path) != 0)) {
        close(fd);
        return err_set(e, MLHEP_EAUTH, "%s: its path changed (symbolic link?) after it was checked",
                       f->given);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
