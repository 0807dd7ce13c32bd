/* rowexport.c - see rowexport.h. The HDF5 side goes through base/h5table; the CSV side
 * formats one line at a time into a reused buffer and writes it with stdio. */
#include "data/rowexport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/h5table.h"

/* HDF5 chunks: about 256 KiB of row data each (the default chunk cache holds 1 MiB per
 * dataset, so partial chunks stay cached between appends) */
#define H5_CHUNK_BYTES (256u * 1024u)
#define H5_CHUNK_1D 16384u

enum { S_ROWS, S_MASK, S_LABELS, S_WEIGHTS, S_IDS, S_FILE, S_ENTRY, S_SPLIT, S_N };

struct rowexport {
    const specs *sp;
    int width;
    h5table *h5;
    int set[S_N];
    FILE *csv;
    char csv_path[1024];
    char *line;      /* one CSV line */
    size_t line_cap;
};

int rowexport_parse_formats(const char *list, unsigned *formats, mlhep_err *e)
{
    *formats = 0;
    const char *p = list;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        if (n == 3 && !strncmp(p, "npy", 3))
            *formats |= ROWEXPORT_NPY;
        else if ((n == 4 && !strncmp(p, "hdf5", 4)) || (n == 2 && !strncmp(p, "h5", 2)))
            *formats |= ROWEXPORT_HDF5;
        else if (n == 3 && !strncmp(p, "csv", 3))
            *formats |= ROWEXPORT_CSV;
        else
            return err_set(e, MLHEP_EINVAL, "--format: unknown format '%.*s' (expected npy, hdf5 or csv, "
                           "comma-separated)", (int)(n < 40 ? n : 40), p);
        p += n;
        if (*p == ',')
            p++;
    }
    if (!*formats)
        return err_set(e, MLHEP_EINVAL, "--format: give at least one of npy, hdf5, csv");
    return 0;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int column_names(const specs *sp, char ***out, mlhep_err *e)
{
    size_t w = (size_t)sp->width;
    char **v = calloc(w + 1, sizeof *v);
    if (!v)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (size_t k = 0; k < w; k++) {
        char nm[512];
        dataset_column_name(sp, (int)k, nm, sizeof nm);
        if (!(v[k] = strdup(nm))) {
            free_names(v, k);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    }
    *out = v;
    return 0;
}

/* ---- HDF5 ---- */

static int h5_attrs(rowexport *x, const dataparams *dp, char **cols, mlhep_err *e)
{
    const specs *sp = x->sp;
    size_t w = (size_t)sp->width, nf = sp->nfeat;
    double *num = calloc(2 * w + 4 * nf + 1, sizeof *num);
    const char **fnames = calloc(nf + 1, sizeof *fnames);
    int rc = (!num || !fnames) ? err_set(e, MLHEP_ENOMEM, "out of memory") : 0;
    double *sub = num, *scale = num + w, *st = num + 2 * w;
    size_t c = 0;
    for (size_t i = 0; i < nf && !rc; i++) {
        const specs_feature *ft = &sp->feat[i];
        double s, k;
        dp_norm_coeffs(dp->norm, ft->min, ft->max, ft->mean, ft->std, &s, &k);
        for (int j = 0; j < ft->len && c < w; j++, c++) {
            sub[c] = s;
            scale[c] = k;
        }
        fnames[i] = ft->name;
        st[i] = ft->min;
        st[nf + i] = ft->max;
        st[2 * nf + i] = ft->mean;
        st[3 * nf + i] = ft->std;
    }
    double pad = dp_pad(dp->nan_value);
    h5table *h = x->h5;
    if (!rc)
        rc = h5table_attr_string(h, NULL, "format", "mlhep-rows", e);
    if (!rc)
        rc = h5table_attr_double(h, NULL, "version", 1, e);
    if (!rc)
        rc = h5table_attr_string(h, NULL, "tree", sp->tree ? sp->tree : "", e);
    if (!rc && sp->nfiles)
        rc = h5table_attr_strings(h, NULL, "files", (const char *const *)sp->files, sp->nfiles, e);
    if (!rc && dp->class_names && dp->nclasses)
        rc = h5table_attr_strings(h, NULL, "classes", dp->class_names, dp->nclasses, e);
    if (!rc && w)
        rc = h5table_attr_strings(h, "rows", "columns", (const char *const *)cols, w, e);
    if (!rc && w)
        rc = h5table_attr_doubles(h, "rows", "sub", sub, w, e);
    if (!rc && w)
        rc = h5table_attr_doubles(h, "rows", "scale", scale, w, e);
    if (!rc)
        rc = h5table_attr_strings(h, "rows", "features", fnames, nf, e);
    const char *stn[4] = {"feature_min", "feature_max", "feature_mean", "feature_std"};
    for (int k = 0; k < 4 && !rc; k++)
        rc = h5table_attr_doubles(h, "rows", stn[k], st + (size_t)k * nf, nf, e);
    if (!rc)
        rc = h5table_attr_string(h, "rows", "normalisation", dp_norm_name(dp->norm), e);
    if (!rc)
        rc = h5table_attr_double(h, "rows", "pad", pad, e);
    if (!rc && sp->nid)
        rc = h5table_attr_strings(h, "ids", "names", (const char *const *)sp->ids, sp->nid, e);
    free(num);
    free(fnames);
    return rc;
}

static int h5_open(rowexport *x, const rowexport_opts *o, const dataparams *dp, char **cols, mlhep_err *e)
{
    size_t w = (size_t)x->width;
    size_t crow = w ? H5_CHUNK_BYTES / (4 * w) : H5_CHUNK_1D;
    if (crow < 1)
        crow = 1;
    if (crow > H5_CHUNK_1D)
        crow = H5_CHUNK_1D;
    int rc = h5table_create(o->hdf5_path, &x->h5, e);
    struct {
        int slot;
        const char *name;
        h5table_type t;
        size_t cols, chunk;
    } sets[] = {
        {S_ROWS, "rows", H5TABLE_F32, w, crow},         {S_MASK, "mask", H5TABLE_U8, w, crow},
        {S_LABELS, "labels", H5TABLE_F32, 0, H5_CHUNK_1D}, {S_WEIGHTS, "weights", H5TABLE_F32, 0, H5_CHUNK_1D},
        {S_IDS, "ids", H5TABLE_I64, x->sp->nid, H5_CHUNK_1D}, {S_FILE, "file", H5TABLE_U32, 0, H5_CHUNK_1D},
        {S_ENTRY, "entry", H5TABLE_I64, 0, H5_CHUNK_1D},  {S_SPLIT, "split", H5TABLE_U8, 0, H5_CHUNK_1D},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0] && !rc; i++) {
        x->set[sets[i].slot] = -1;
        if (sets[i].slot == S_IDS && x->sp->nid == 0)
            continue;
        rc = h5table_add(x->h5, sets[i].name, sets[i].t, sets[i].cols, sets[i].chunk, o->gzip, &x->set[sets[i].slot],
                         e);
    }
    if (!rc)
        rc = h5_attrs(x, dp, cols, e);
    return rc;
}

static int h5_chunk(rowexport *x, const ds_chunk *c, mlhep_err *e)
{
    const void *data[S_N] = {c->x, c->mask, c->y, c->w, c->ids, c->file, c->entry, c->split};
    for (int s = 0; s < S_N; s++) {
        if (x->set[s] < 0)
            continue;
        int rc = h5table_append(x->h5, x->set[s], data[s], c->nrows, e);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- CSV ---- */

static int csv_fail(rowexport *x, const char *what, mlhep_err *e)
{
    int en = errno;
    return err_set(e, MLHEP_EIO, "CSV file %s: %s failed: %s%s", x->csv_path, what, en ? strerror(en) : "write error",
                   err_write_advice(en));
}

/* a header field, quoted when it holds a comma, a quote or a line break */
static void csv_name(FILE *f, const char *s, int first)
{
    if (!first)
        fputc(',', f);
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int csv_open(rowexport *x, const rowexport_opts *o, char **cols, mlhep_err *e)
{
    snprintf(x->csv_path, sizeof x->csv_path, "%s", o->csv_path);
    errno = 0;
    if (!(x->csv = fopen(o->csv_path, "w")))
        return csv_fail(x, "creating the file", e);
    setvbuf(x->csv, NULL, _IOFBF, 1 << 20);
    /* a line: W + 2 floats, K + 2 integers and a split, each at most 24 bytes with its comma */
    x->line_cap = ((size_t)x->width + x->sp->nid + 6) * 26 + 2;
    if (!(x->line = malloc(x->line_cap)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    for (int k = 0; k < x->width; k++)
        csv_name(x->csv, cols[k], k == 0);
    csv_name(x->csv, "label", x->width == 0);
    csv_name(x->csv, "weight", 0);
    for (size_t k = 0; k < x->sp->nid; k++)
        csv_name(x->csv, x->sp->ids[k], 0);
    fputs(",file,entry,split\n", x->csv);
    if (ferror(x->csv))
        return csv_fail(x, "writing the header", e);
    return 0;
}

static int csv_chunk(rowexport *x, const ds_chunk *c, mlhep_err *e)
{
    size_t w = (size_t)c->width;
    for (size_t r = 0; r < c->nrows; r++) {
        char *p = x->line, *end = x->line + x->line_cap;
        const float *xr = c->x + r * w;
        for (size_t k = 0; k < w; k++)
            p += snprintf(p, (size_t)(end - p), "%.9g,", (double)xr[k]);
        p += snprintf(p, (size_t)(end - p), "%.9g,%.9g", (double)c->y[r], (double)c->w[r]);
        for (size_t k = 0; k < c->nid; k++)
            p += snprintf(p, (size_t)(end - p), ",%" PRId64, c->ids[r * c->nid + k]);
        p += snprintf(p, (size_t)(end - p), ",%" PRIu32 ",%" PRId64 ",%u\n", c->file[r], c->entry[r],
                      (unsigned)c->split[r]);
        errno = 0;
        if (fwrite(x->line, 1, (size_t)(p - x->line), x->csv) != (size_t)(p - x->line))
            return csv_fail(x, "writing rows", e);
    }
    return 0;
}

/* ---- the exporter ---- */

int rowexport_open(const rowexport_opts *o, const dataparams *dp, const specs *sp, rowexport **out, mlhep_err *e)
{
    *out = NULL;
    if (o->gzip < 0 || o->gzip > 9)
        return err_set(e, MLHEP_EINVAL, "gzip level %d (0..9)", o->gzip);
    rowexport *x = calloc(1, sizeof *x);
    if (!x)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    x->sp = sp;
    x->width = sp->width;
    char **cols = NULL;
    int rc = column_names(sp, &cols, e);
    if (!rc && o->hdf5_path)
        rc = h5_open(x, o, dp, cols, e);
    if (!rc && o->csv_path)
        rc = csv_open(x, o, cols, e);
    free_names(cols, (size_t)sp->width);
    if (rc) {
        rowexport_abort(x);
        return rc;
    }
    *out = x;
    return 0;
}

int rowexport_chunk(rowexport *x, const ds_chunk *c, mlhep_err *e)
{
    if (c->width != x->width || c->nid != x->sp->nid)
        return err_set(e, MLHEP_EINVAL, "export: chunk of width %d with %zu identifiers, expected %d and %zu",
                       c->width, c->nid, x->width, x->sp->nid);
    int rc = 0;
    if (x->h5)
        rc = h5_chunk(x, c, e);
    if (!rc && x->csv)
        rc = csv_chunk(x, c, e);
    return rc;
}

int rowexport_close(rowexport *x, mlhep_err *e)
{
    if (!x)
        return 0;
    int rc = 0;
    if (x->h5) {
        rc = h5table_close(x->h5, e);
        x->h5 = NULL;
    }
    if (x->csv) {
        errno = 0;
        int bad = fflush(x->csv) != 0 || ferror(x->csv);
        if (bad && !rc)
            rc = csv_fail(x, "writing the file out", e);
        errno = 0;
        if (fclose(x->csv) != 0 && !rc)
            rc = csv_fail(x, "closing the file", e);
        x->csv = NULL;
    }
    rowexport_abort(x);
    return rc;
}

void rowexport_abort(rowexport *x)
{
    if (!x)
        return;
    h5table_abort(x->h5);
    if (x->csv)
        fclose(x->csv);
    free(x->line);
    free(x);
}
