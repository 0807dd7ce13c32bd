/* mlaas4hep.c - MLaaS4HEP's inputs -> a workflow document; see mlaas4hep.h. */
#include "service/mlaas4hep.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/numarg.h"
#include "model/modelpy.h"
#include "service/workflow.h"

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The whole of a regular file of at most max bytes; *buf is NUL-terminated (free it). */
static int read_text(const char *flag, const char *path, size_t max, char **buf, size_t *len, mlhep_err *e)
{
    *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return err_set(e, errno == ENOENT ? MLHEP_ENOTFOUND : MLHEP_EIO, "%s %s: %s", flag, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, MLHEP_EIO, "%s %s: not a regular file", flag, path);
    }
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        return err_set(e, MLHEP_EINVAL, "%s %s: %lld bytes is larger than the %zu-byte limit", flag, path,
                       (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *b = malloc(n + 1);
    if (!b) {
        close(fd);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (got != n) {
        free(b);
        return err_set(e, MLHEP_EIO, "%s %s: short read", flag, path);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* Entries of a list file (one per line, '#' lines and blank lines skipped) or of a
 * comma-separated list, surrounding blanks removed; appended to out as strings. */
static int entries(const char *flag, const char *text, int lines, json_t *out, mlhep_err *e)
{
    const char *p = text;
    int line = 1;
    while (*p) {
        const char *end = p + strcspn(p, lines ? "\n" : ",");
        const char *s = p, *t = end;
        while (s < t && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r'))
            t--;
        if (t > s && !(lines && *s == '#')) {
            for (const char *q = s; q < t; q++)
                if ((unsigned char)*q < 0x20 || *q == 0x7f)
                    return err_set(e, MLHEP_EINVAL, "%s: %s %d: control character in the entry", flag,
                                   lines ? "line" : "entry", line);
            json_t *v = json_stringn(s, (size_t)(t - s));
            if (!v)
                return err_set(e, MLHEP_EINVAL, "%s: %s %d: not UTF-8 text", flag, lines ? "line" : "entry", line);
            if (json_array_append_new(out, v))
                return err_set(e, MLHEP_ENOMEM, "out of memory");
        } else if (!lines && t == s) {
            return err_set(e, MLHEP_EINVAL, "%s: entry %d of the comma-separated list is empty", flag, line);
        }
        line++;
        p = *end ? end + 1 : end;
    }
    if (!json_array_size(out))
        return err_set(e, MLHEP_EINVAL, "%s: no entries", flag);
    return 0;
}

/* A file holding a list, or the text itself as a comma-separated list. */
static int list_arg(const char *flag, const char *arg, int file_if_exists, json_t *out, int *from_file, mlhep_err *e)
{
    *from_file = 0;
    if (file_if_exists && is_regular(arg)) {
        char *text;
        size_t n;
        int rc = read_text(flag, arg, WF_MAX_DOC_BYTES, &text, &n, e);
        if (rc)
            return rc;
        if (strlen(text) != n) {
            free(text);
            return err_set(e, MLHEP_EINVAL, "%s %s: contains a NUL byte: not a text file", flag, arg);
        }
        char where[600];
        snprintf(where, sizeof where, "%s %s", flag, arg);
        rc = entries(where, text, 1, out, e);
        free(text);
        *from_file = 1;
        return rc;
    }
    return entries(flag, arg, 0, out, e);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int json_file(const char *flag, const char *path, json_t **out, mlhep_err *e)
{
    char *text;
    size_t n;
    int rc = read_text(flag, path, WF_MAX_DOC_BYTES, &text, &n, e);
    if (rc)
        return rc;
    json_error_t je;
    json_t *d = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!d)
        return err_set(e, MLHEP_EINVAL, "%s %s:%d:%d: invalid JSON: %s", flag, path, je.line, je.column, je.text);
    if (!json_is_object(d)) {
        json_decref(d);
        return err_set(e, MLHEP_EINVAL, "%s %s: expected a JSON object", flag, path);
    }
    *out = d;
    return 0;
}

static int read_model(const char *path, json_t **out, mlhep_err *e)
{
    if (ends_with(path, ".json"))
        return json_file("--model", path, out, e);
    char *text;
    size_t n;
    int rc = read_text("--model", path, MODELPY_MAX_BYTES, &text, &n, e);
    if (rc)
        return rc;
    const char *base = strrchr(path, '/');
    rc = modelpy_read(text, n, base ? base + 1 : path, out, e);
    free(text);
    return rc;
}

/* The model file's name without directory and extension, as a workflow name. */
static json_t *name_from(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char buf[129];
    size_t n = strcspn(b, ".");
    if (n == 0)
        n = strlen(b);
    if (n > 120)
        n = 120;
    size_t o = 0;
    if (n == 0 || !((b[0] >= 'A' && b[0] <= 'Z') || (b[0] >= 'a' && b[0] <= 'z') || (b[0] >= '0' && b[0] <= '9')))
        buf[o++] = 'm';
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                 ch == '.' || ch == '-';
        buf[o++] = ok ? ch : '_';
    }
    buf[o] = '\0';
    return json_string(buf);
}

int mlaas4hep_workflow(const mlaas4hep_args *a, json_t **doc, mlhep_err *e)
{
    *doc = NULL;
    if (!a || !a->files || !a->labels || !a->model)
        return err_set(e, MLHEP_EINVAL, "MLaaS4HEP inputs need --files, --labels and --model");
    json_t *d = json_object(), *files = json_array(), *labels = json_array(), *x = NULL;
    if (!d || !files || !labels) {
        json_decref(d);
        json_decref(files);
        json_decref(labels);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    int from_file, rc;
    /* a single ROOT file given directly is an entry, not a list file */
    rc = list_arg("--files", a->files, !ends_with(a->files, ".root"), files, &from_file, e);
    json_object_set_new(d, "name", a->name ? json_string(a->name) : name_from(a->model));
    if (!json_is_string(json_object_get(d, "name")) && !rc)
        rc = err_set(e, MLHEP_EINVAL, "the workflow name must be UTF-8 text");
    char desc[1024];
    snprintf(desc, sizeof desc, "MLaaS4HEP inputs: --files %.200s --labels %.200s --model %.200s%s%.200s%s%.200s",
             a->files, a->labels, a->model, a->params ? " --params " : "", a->params ? a->params : "",
             a->preproc ? " --preproc " : "", a->preproc ? a->preproc : "");
    json_t *ds = json_string(desc); /* left out when a path is not UTF-8 */
    if (ds)
        json_object_set_new(d, "description", ds);
    json_object_set(d, "files", files);
    /* labels: a file, a comma list, one whole number, or the name of a branch */
    if (!rc) {
        rc = list_arg("--labels", a->labels, 1, labels, &from_file, e);
        if (!rc && !from_file && json_array_size(labels) == 1 && !strchr(a->labels, ',')) {
            long v;
            mlhep_err ignore;
            if (numarg_long("--labels", a->labels, 0, 1000000, &v, &ignore) != 0) {
                json_object_set_new(d, "labels", json_string(a->labels)); /* a branch */
                json_decref(labels);
                labels = NULL;
            }
        }
        for (size_t i = 0; !rc && labels && i < json_array_size(labels); i++) {
            const char *s = json_string_value(json_array_get(labels, i));
            long v;
            mlhep_err ignore;
            if (numarg_long("label", s, 0, 1000000, &v, &ignore) == 0)
                json_array_set_new(labels, i, json_integer(v));
        }
        if (!rc && labels)
            json_object_set(d, "labels", labels);
    }
    const char *params = a->params;
    if (!params && is_regular("params.json"))
        params = "params.json";
    if (!rc && params && !(rc = json_file("--params", params, &x, e))) {
        json_object_set_new(d, "params", x);
        x = NULL;
    }
    if (!rc && a->preproc && !(rc = json_file("--preproc", a->preproc, &x, e))) {
        json_object_set_new(d, "preproc", x);
        x = NULL;
    }
    if (!rc && !(rc = read_model(a->model, &x, e)))
        json_object_set_new(d, "model", x);
    json_decref(files);
    json_decref(labels);
    if (rc) {
        json_decref(d);
        return rc;
    }
    *doc = d;
    return 0;
}
