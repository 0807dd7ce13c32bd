/* feathist - per-feature, per-class histograms of the rows, written as SVG plots and an
 * index page. See feathist.h for what it is for and how it fits.
 *
 * Binning: row values are normalised as x = (raw - sub) * scale (dataset.c: min-max or
 * standard). A bin over the raw range [min, max] of the specs is therefore a bin over
 * [(min - sub) * scale, (max - sub) * scale] in normalised units, so each value is binned
 * with one multiply-add, b = x * a[f] + c[f], and the plot's edges are written in raw
 * units. Values outside [min, max] (possible when the specs come from a subset, or with
 * nevts) go to the first or last bin so no event is lost from the plot. */
#include "data/feathist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/svgplot.h"

struct feathist {
    const specs *sp;
    size_t nfeat;           /* features histogrammed (first FEATHIST_MAX_FEATURES) */
    int nclass;             /* curves per plot */
    int binary_branch;      /* labels from a branch: class = y > 0.5 */
    char names[FEATHIST_MAX_CLASSES][64];
    int order[FEATHIST_MAX_CLASSES]; /* drawing order (signal first) */
    double *a, *c;          /* per feature: bin = x * a + c */
    double *lo, *hi;        /* per feature: raw range of the bins */
    double *sub, *scale;    /* per feature: the rows' normalisation */
    uint8_t *integral;      /* per feature: every value seen is an integer */
    int *off;               /* per feature: first row column */
    double *counts;         /* nfeat x nclass x FEATHIST_BINS: sums of event weights */
    size_t rows, class_rows[FEATHIST_MAX_CLASSES];
    int logy;               /* logarithmic y axes */
};

void feathist_free(feathist *h)
{
    if (!h)
        return;
    free(h->a);
    free(h->c);
    free(h->lo);
    free(h->hi);
    free(h->off);
    free(h->sub);
    free(h->scale);
    free(h->integral);
    free(h->counts);
    free(h);
}

int feathist_new(const dataparams *dp, const specs *sp, feathist **out, mlhep_err *e)
{
    *out = NULL;
    feathist *h = calloc(1, sizeof *h);
    if (!h)
        return err_set(e, MLHEP_ENOMEM, "feathist: out of memory");
    h->sp = sp;
    h->nfeat = sp->nfeat < FEATHIST_MAX_FEATURES ? sp->nfeat : FEATHIST_MAX_FEATURES;
    if (dp->label_branch || dp->nclasses <= 2) {
        /* binary: signal (label 1) drawn first, filled */
        h->nclass = 2;
        h->binary_branch = dp->label_branch != NULL;
        h->order[0] = 1;
        h->order[1] = 0;
        const char *n0 = "background", *n1 = "signal";
        if (dp->class_names && dp->nclasses == 2) {
            n0 = dp->class_names[0];
            n1 = dp->class_names[1];
        }
        snprintf(h->names[0], sizeof h->names[0], "%s", n0);
        snprintf(h->names[1], sizeof h->names[1], "%s", n1);
    } else {
        h->nclass = dp->nclasses < FEATHIST_MAX_CLASSES ? (int)dp->nclasses : FEATHIST_MAX_CLASSES;
        for (int k = 0; k < h->nclass; k++) {
            h->order[k] = k;
            if (dp->class_names)
                snprintf(h->names[k], sizeof h->names[k], "%s", dp->class_names[k]);
            else
                snprintf(h->names[k], sizeof h->names[k], "class %d", k);
        }
    }
    size_t nf = h->nfeat ? h->nfeat : 1;
    h->a = calloc(nf, sizeof *h->a);
    h->c = calloc(nf, sizeof *h->c);
    h->lo = calloc(nf, sizeof *h->lo);
    h->hi = calloc(nf, sizeof *h->hi);
    h->off = calloc(nf, sizeof *h->off);
    h->sub = calloc(nf, sizeof *h->sub);
    h->scale = calloc(nf, sizeof *h->scale);
    h->integral = malloc(nf);
    h->counts = calloc(nf * (size_t)h->nclass * FEATHIST_BINS, sizeof *h->counts);
    if (!h->a || !h->c || !h->lo || !h->hi || !h->off || !h->sub || !h->scale || !h->integral || !h->counts) {
        feathist_free(h);
        return err_set(e, MLHEP_ENOMEM, "feathist: out of memory");
    }
    int off = 0;
    for (size_t f = 0; f < h->nfeat; f++) {
        const specs_feature *ft = &sp->feat[f];
        h->off[f] = off;
        off += ft->len;
        /* the same normalisation as dataset.c */
        double sub, scale;
        dp_norm_coeffs(dp->norm, ft->min, ft->max, ft->mean, ft->std, &sub, &scale);
        double lo = ft->min, hi = ft->max;
        if (!isfinite(lo) || !isfinite(hi) || !(hi > lo)) {
            /* constant (or never seen) feature: one visible bin around the value */
            double v = isfinite(lo) ? lo : 0.0;
            double d = fabs(v) > 0 ? fabs(v) * 0.5 : 0.5;
            lo = v - d;
            hi = v + d;
        }
        h->lo[f] = lo;
        h->hi[f] = hi;
        h->sub[f] = sub;
        h->scale[f] = scale;
        h->integral[f] = 1;
        /* raw = x / scale + sub;  bin = (raw - lo) / (hi - lo) * B */
        double w = (hi - lo) / FEATHIST_BINS;
        h->a[f] = 1.0 / (scale * w);
        h->c[f] = (sub - lo) / w;
    }
    *out = h;
    return 0;
}

void feathist_fill(feathist *h, const ds_chunk *c)
{
    size_t w = (size_t)c->width;
    for (size_t i = 0; i < c->nrows; i++) {
        int k;
        if (h->binary_branch || h->nclass == 2) {
            k = c->y[i] > 0.5f ? 1 : 0;
        } else {
            float y = c->y[i];
            if (!(y >= 0) || y >= (float)h->nclass)
                continue; /* a class beyond the plotted ones */
            k = (int)y;
        }
        h->rows++;
        h->class_rows[k]++;
        double wt = c->w ? (double)c->w[i] : 1.0;
        const float *x = c->x + i * w;
        const uint8_t *m = c->mask + i * w;
        for (size_t f = 0; f < h->nfeat; f++) {
            double *cnt = h->counts + (f * (size_t)h->nclass + (size_t)k) * FEATHIST_BINS;
            int len = h->sp->feat[f].len, o = h->off[f];
            double a = h->a[f], b0 = h->c[f];
            for (int j = 0; j < len; j++) {
                if (o + j >= (int)w || m[o + j])
                    continue;
                /* + 1e-4 bin: a value on a bin edge (integer branches often are) stays
                 * in the bin it starts despite the float rounding of the normalisation */
                double b = (double)x[o + j] * a + b0 + 1e-4;
                if (b != b)
                    continue; /* NaN */
                int bi = b < 0 ? 0 : b >= FEATHIST_BINS ? FEATHIST_BINS - 1 : (int)b;
                cnt[bi] += wt;
                if (h->integral[f]) {
                    double raw = (double)x[o + j] / h->scale[f] + h->sub[f];
                    if (fabs(raw - nearbyint(raw)) > 1e-3 * (fabs(raw) > 1 ? fabs(raw) : 1))
                        h->integral[f] = 0;
                }
            }
        }
    }
}

size_t feathist_rows(const feathist *h)
{
    return h->rows;
}

const double *feathist_counts(const feathist *h, size_t f, int k, double *lo, double *hi)
{
    if (f >= h->nfeat || k < 0 || k >= h->nclass)
        return NULL;
    if (lo)
        *lo = h->lo[f];
    if (hi)
        *hi = h->hi[f];
    return h->counts + (f * (size_t)h->nclass + (size_t)k) * FEATHIST_BINS;
}

void feathist_set_logy(feathist *h, int logy)
{
    h->logy = logy;
}

/* A feature name as a file name: '/' and anything outside [A-Za-z0-9_.-] become '_',
 * and a leading '.' too, so no name can leave the directory or hide. */
void feathist_file_name(const char *name, char *buf, size_t n)
{
    size_t j = 0;
    for (const char *p = name; *p && j + 5 < n; p++) {
        char ch = *p;
        int okc = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                  ch == '-' || (ch == '.' && j > 0);
        buf[j++] = okc ? ch : '_';
    }
    if (j == 0)
        buf[j++] = '_';
    memcpy(buf + j, ".svg", 5);
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

int feathist_write(const feathist *h, const char *dir, size_t *nwritten, mlhep_err *e)
{
    if (nwritten)
        *nwritten = 0;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return err_set(e, MLHEP_EIO, "hist: cannot create directory %s: %s", dir, strerror(errno));
    char path[4400];
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *idx = fopen(path, "w");
    if (!idx)
        return err_set(e, MLHEP_EIO, "hist: cannot create %s: %s", path, strerror(errno));
    fprintf(idx, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mlhep feature histograms</title>\n"
                 "<style>body{font-family:sans-serif}img{width:420px;margin:4px;border:1px solid #ddd}</style>"
                 "</head>\n<body><h1>Feature histograms</h1>\n<p>%zu rows:",
            h->rows);
    for (int k = 0; k < h->nclass; k++) {
        fprintf(idx, "%s ", k ? "," : "");
        html_escape(idx, h->names[h->order[k]]);
        fprintf(idx, " %zu", h->class_rows[h->order[k]]);
    }
    fprintf(idx, ". Each curve is normalised to unit area (event weights applied); padding slots are not counted.</p>\n");
    int rc = 0;
    size_t done = 0;
    for (size_t f = 0; f < h->nfeat && !rc; f++) {
        const specs_feature *ft = &h->sp->feat[f];
        double edges[FEATHIST_BINS + 1];
        size_t nbins = FEATHIST_BINS;
        svgplot_edges_uniform(h->lo[f], h->hi[f], FEATHIST_BINS, edges);
        /* integer-valued features (multiplicities, flags, charges) over a short range:
         * one bin per integer, centred on it. Every value seen is an integer and the
         * fine bins are at most one unit wide, so each integer's count is exactly the
         * count of the fine bin it fell in. */
        double ibins[FEATHIST_MAX_CLASSES][FEATHIST_BINS];
        double lo = h->lo[f], hi = h->hi[f];
        int as_int = h->integral[f] && lo == nearbyint(lo) && hi == nearbyint(hi) && ft->max > ft->min &&
                     hi - lo < FEATHIST_BINS;
        if (as_int) {
            nbins = (size_t)(hi - lo) + 1;
            for (size_t i = 0; i <= nbins; i++)
                edges[i] = lo - 0.5 + (double)i;
        }
        svgplot_hist hs[FEATHIST_MAX_CLASSES];
        size_t nh = 0;
        for (int k = 0; k < h->nclass; k++) {
            int cls = h->order[k];
            if (!h->class_rows[cls])
                continue;
            const double *cnt = h->counts + (f * (size_t)h->nclass + (size_t)cls) * FEATHIST_BINS;
            if (as_int) {
                double w = (hi - lo) / FEATHIST_BINS;
                for (size_t i = 0; i < nbins; i++) {
                    double b = (double)i / w + 1e-4;
                    int bi = b >= FEATHIST_BINS ? FEATHIST_BINS - 1 : (int)b;
                    ibins[nh][i] = cnt[bi];
                }
                cnt = ibins[nh];
            }
            hs[nh].label = h->names[cls];
            hs[nh].counts = cnt;
            nh++;
        }
        if (nh == 0)
            break; /* no rows at all: the index says so */
        char title[400], fname[300];
        snprintf(title, sizeof title, "%s%s", ft->name, ft->jagged ? " (all entries)" : "");
        feathist_file_name(ft->name, fname, sizeof fname);
        svgplot_opts o = {.title = title, .xlabel = ft->name, .ylabel = "density", .logy = h->logy};
        char *svg = NULL;
        size_t len = 0;
        rc = svgplot_hists(&o, edges, nbins, hs, nh, 1, &svg, &len, e);
        if (!rc) {
            snprintf(path, sizeof path, "%s/%s", dir, fname);
            rc = svgplot_write(path, svg, len, e);
        }
        free(svg);
        if (!rc) {
            fprintf(idx, "<a href=\"%s\"><img src=\"%s\" alt=\"", fname, fname);
            html_escape(idx, ft->name);
            fprintf(idx, "\"></a>\n");
            done++;
        }
    }
    if (h->nfeat < h->sp->nfeat)
        fprintf(idx, "<p>Only the first %zu of %zu features are drawn.</p>\n", h->nfeat, h->sp->nfeat);
    fprintf(idx, "</body></html>\n");
    if (fclose(idx) != 0 && !rc)
        rc = err_set(e, MLHEP_EIO, "hist: cannot write %s/index.html", dir);
    if (nwritten)
        *nwritten = done;
    return rc;
}
