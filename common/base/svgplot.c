/* svgplot.c - see svgplot.h. A plot is: document header and title, a frame with
 * grid, ticks and axis labels, the data clipped to the plot area, a legend placed in
 * the corner that hides the fewest data points. Text goes through xml_escape; numbers
 * are always finite (non-finite data is skipped before it reaches the printer). */
#include "base/svgplot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/wbuf.h"

static const char *const palette[] = {"#1f5fbf", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define NPAL (sizeof palette / sizeof palette[0])

/* ---- string builder ---- */

/* The document is text in a base/wbuf (wbuf_printf; sticky error checked at the end). */

static void svg_esc(wbuf *b, const char *s)
{
    if (!s)
        return;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': wbuf_printf(b, "&amp;"); break;
        case '<': wbuf_printf(b, "&lt;"); break;
        case '>': wbuf_printf(b, "&gt;"); break;
        case '"': wbuf_printf(b, "&quot;"); break;
        case '\'': wbuf_printf(b, "&apos;"); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n')
                wbuf_printf(b, "?"); /* control characters are not allowed in XML 1.0 */
            else
                wbuf_printf(b, "%c", c);
        }
    }
}

static int svg_finish(wbuf *b, char **svg, size_t *len, mlhep_err *e)
{
    if (b->err || !b->p) {
        free(b->p);
        return err_set(e, MLHEP_ENOMEM, "svgplot: out of memory");
    }
    *svg = (char *)b->p;
    if (len)
        *len = b->len;
    return 0;
}

/* ---- frame: data -> pixel mapping, axes ---- */

typedef struct frame {
    int W, H;
    double px0, px1, py0, py1; /* plot area: left, right, top, bottom */
    double x0, x1, y0, y1;     /* data range (y in log10 when logy) */
    int logy;
    int xint; /* x values are integers (epochs): no fractional ticks */
    int noyticks; /* no y grid nor y tick labels (bar charts name their bars) */
} frame;

static double fx(const frame *f, double x)
{
    return f->px0 + (x - f->x0) / (f->x1 - f->x0) * (f->px1 - f->px0);
}

/* y pixel; with a log axis values <= 0 land below the frame (clipped away) */
static double fy(const frame *f, double y)
{
    double v;
    if (f->logy)
        v = y > 0 ? log10(y) : f->y0 - 0.2 * (f->y1 - f->y0);
    else
        v = y;
    double p = f->py1 - (v - f->y0) / (f->y1 - f->y0) * (f->py1 - f->py0);
    if (p < -1e6)
        p = -1e6;
    if (p > 1e6)
        p = 1e6;
    return p;
}

static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

static void fmt_num(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < fabs(step) * 1e-6)
        v = 0;
    double av = fabs(v);
    if (av != 0 && (av >= 1e5 || av < 1e-3 || step < 1e-3)) { /* not reached via axes() */
        snprintf(buf, n, "%.3g", v);
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec, v);
}

/* Power of ten (a multiple of 3) factored out of an axis' tick labels so they stay
 * short ("250" with "x10^3" at the axis instead of "2.5e+05"); 0 when not needed. */
static int axis_exponent(double lo, double hi)
{
    double m = fmax(fabs(lo), fabs(hi));
    if (!(m > 0) || (m >= 1e-3 && m < 1e5))
        return 0;
    return 3 * (int)floor(log10(m) / 3);
}

static void axis_multiplier(wbuf *b, double x, double y, const char *anchor, int k)
{
    wbuf_printf(b,
              "<text class=\"multiplier\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
              "font-size=\"12\" fill=\"#333\">\u00d710<tspan dy=\"-6\" "
              "font-size=\"9\">%d</tspan></text>\n",
              x, y, anchor, k);
}

/* Expands [*lo, *hi] from data so it is a non-empty finite interval. */
static void fix_range(double *lo, double *hi, double pad)
{
    if (!(isfinite(*lo) && isfinite(*hi)) || *lo > *hi) {
        *lo = 0;
        *hi = 1;
        return;
    }
    if (*hi - *lo < 1e-12 * (fabs(*lo) + fabs(*hi)) || *hi == *lo) {
        double d = *lo != 0 ? fabs(*lo) * 0.1 : 0.5;
        *lo -= d;
        *hi += d;
        return;
    }
    double d = (*hi - *lo) * pad;
    *lo -= d;
    *hi += d;
}

static void frame_init(frame *f, const svgplot_opts *o, int defw, int defh)
{
    memset(f, 0, sizeof *f);
    f->W = o && o->width > 0 ? o->width : defw;
    f->H = o && o->height > 0 ? o->height : defh;
    if (f->W < 200)
        f->W = 200;
    if (f->H < 150)
        f->H = 150;
    f->px0 = 84;
    f->px1 = f->W - 24;
    f->py0 = o && o->title ? 52 : 24;
    f->py1 = f->H - 64;
    f->logy = o && o->logy;
}

static void doc_begin(wbuf *b, const frame *f, const svgplot_opts *o)
{
    wbuf_printf(b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
              f->W, f->H, f->W, f->H);
    wbuf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", f->W,
              f->H);
    wbuf_printf(b,
              "<defs><clipPath id=\"plotarea\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
              "height=\"%.1f\"/></clipPath></defs>\n",
              f->px0, f->py0, f->px1 - f->px0, f->py1 - f->py0);
    if (o && o->title) {
        wbuf_printf(b,
                  "<text class=\"title\" x=\"%.1f\" y=\"32\" text-anchor=\"middle\" "
                  "font-size=\"18\" font-weight=\"bold\" fill=\"#222\">",
                  (f->px0 + f->px1) / 2);
        svg_esc(b, o->title);
        wbuf_printf(b, "</text>\n");
    }
}

static void axes(wbuf *b, const frame *f, const svgplot_opts *o)
{
    char num[64];
    wbuf_printf(b, "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
    /* x grid + ticks */
    double xs = nice_step(f->x1 - f->x0, (int)((f->px1 - f->px0) / 90) + 1);
    if (f->xint && xs < 1)
        xs = 1;
    double xt0 = ceil(f->x0 / xs - 1e-9) * xs;
    for (int i = 0; i < 200; i++) {
        double x = xt0 + i * xs;
        if (x > f->x1 + xs * 1e-9)
            break;
        wbuf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", fx(f, x), f->py0,
                  fx(f, x), f->py1);
    }
    /* y grid */
    double ys = 0, yt0 = 0;
    int ndec = 0, mult[3] = {1, 2, 5}, nmult = 1;
    if (f->logy) {
        ndec = (int)(ceil(f->y1) - floor(f->y0));
        nmult = ndec <= 3 ? 3 : 1;
    } else {
        ys = nice_step(f->y1 - f->y0, (int)((f->py1 - f->py0) / 60) + 1);
        yt0 = ceil(f->y0 / ys - 1e-9) * ys;
    }
    /* collect y ticks (value on the axis scale, label value) */
    double ytv[256], ylv[256];
    int nyt = 0;
    if (f->noyticks) {
        /* none */
    } else if (f->logy) {
        int step = ndec > 8 ? (ndec + 7) / 8 : 1;
        for (int d = (int)floor(f->y0); d <= (int)ceil(f->y1) && nyt < 250; d += step)
            for (int m = 0; m < nmult; m++) {
                double v = log10(mult[m]) + d;
                if (v >= f->y0 - 1e-9 && v <= f->y1 + 1e-9) {
                    ytv[nyt] = v;
                    ylv[nyt++] = mult[m] * pow(10, d);
                }
            }
    } else {
        for (int i = 0; i < 200 && nyt < 250; i++) {
            double y = yt0 + i * ys;
            if (y > f->y1 + ys * 1e-9)
                break;
            ytv[nyt] = y;
            ylv[nyt++] = y;
        }
    }
    for (int i = 0; i < nyt; i++) {
        double py = f->py1 - (ytv[i] - f->y0) / (f->y1 - f->y0) * (f->py1 - f->py0);
        wbuf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", f->px0, py,
                  f->px1, py);
    }
    wbuf_printf(b, "</g>\n");
    /* frame */
    wbuf_printf(b,
              "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"none\" stroke=\"#333\" stroke-width=\"1.2\"/>\n",
              f->px0, f->py0, f->px1 - f->px0, f->py1 - f->py0);
    /* tick marks and labels */
    int kx = axis_exponent(f->x0, f->x1), ky = f->logy ? 0 : axis_exponent(f->y0, f->y1);
    double sxk = pow(10, -kx), syk = pow(10, -ky);
    wbuf_printf(b, "<g class=\"ticks\" font-size=\"12\" fill=\"#333\" stroke=\"none\">\n");
    for (int i = 0; i < 200; i++) {
        double x = xt0 + i * xs;
        if (x > f->x1 + xs * 1e-9)
            break;
        fmt_num(num, sizeof num, x * sxk, xs * sxk);
        wbuf_printf(b,
                  "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#333\"/>"
                  "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n",
                  fx(f, x), f->py1, fx(f, x), f->py1 + 5, fx(f, x), f->py1 + 19, num);
    }
    for (int i = 0; i < nyt; i++) {
        double py = f->py1 - (ytv[i] - f->y0) / (f->y1 - f->y0) * (f->py1 - f->py0);
        if (f->logy)
            snprintf(num, sizeof num, "%g", ylv[i]);
        else
            fmt_num(num, sizeof num, ylv[i] * syk, ys * syk);
        wbuf_printf(b,
                  "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#333\"/>"
                  "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n",
                  f->px0 - 5, py, f->px0, py, f->px0 - 8, py + 4, num);
    }
    wbuf_printf(b, "</g>\n");
    if (kx)
        axis_multiplier(b, f->px1, f->py1 + 36, "end", kx);
    if (ky)
        axis_multiplier(b, f->px0, f->py0 - 7, "start", ky);
    if (o && o->xlabel) {
        wbuf_printf(b,
                  "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                  "font-size=\"15\" fill=\"#222\">",
                  (f->px0 + f->px1) / 2, f->py1 + 46);
        svg_esc(b, o->xlabel);
        wbuf_printf(b, "</text>\n");
    }
    if (o && o->ylabel) {
        double cy = (f->py0 + f->py1) / 2;
        wbuf_printf(b,
                  "<text class=\"ylabel\" x=\"22\" y=\"%.1f\" text-anchor=\"middle\" "
                  "font-size=\"15\" fill=\"#222\" transform=\"rotate(-90 22 %.1f)\">",
                  cy, cy);
        svg_esc(b, o->ylabel);
        wbuf_printf(b, "</text>\n");
    }
}

static void no_data(wbuf *b, const frame *f)
{
    wbuf_printf(b,
              "<text class=\"nodata\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
              "font-size=\"16\" fill=\"#888\">no data</text>\n",
              (f->px0 + f->px1) / 2, (f->py0 + f->py1) / 2);
}

/* ---- legend ---- */

enum { LEG_LINE, LEG_DASH, LEG_FILL, LEG_OUTLINE };

typedef struct legend_item {
    char text[256]; /* already formatted, escaped on output */
    const char *color;
    int style;
} legend_item;

typedef struct pts {
    double *x, *y; /* pixel coordinates of data points, for legend placement */
    size_t n, cap;
} pts;

static void pts_add(pts *p, double x, double y)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        double *nx = realloc(p->x, cap * sizeof *nx);
        if (!nx)
            return;
        p->x = nx;
        double *ny = realloc(p->y, cap * sizeof *ny);
        if (!ny)
            return;
        p->y = ny;
        p->cap = cap;
    }
    p->x[p->n] = x;
    p->y[p->n++] = y;
}

static void legend(wbuf *b, const frame *f, const legend_item *it, size_t n, const pts *p)
{
    if (n == 0)
        return;
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double tw = 7.6 * (double)strlen(it[i].text);
        if (tw > w)
            w = tw;
    }
    w += 56;
    double h = 22.0 * (double)n + 10;
    /* candidate corners: top-right, top-left, bottom-right, bottom-left */
    double cx[4] = {f->px1 - 10 - w, f->px0 + 10, f->px1 - 10 - w, f->px0 + 10};
    double cy[4] = {f->py0 + 10, f->py0 + 10, f->py1 - 10 - h, f->py1 - 10 - h};
    int best = 0;
    size_t bestn = (size_t)-1;
    for (int c = 0; c < 4; c++) {
        size_t cnt = 0;
        for (size_t i = 0; p && i < p->n; i++)
            cnt += p->x[i] >= cx[c] - 4 && p->x[i] <= cx[c] + w + 4 && p->y[i] >= cy[c] - 4 &&
                   p->y[i] <= cy[c] + h + 4;
        if (cnt < bestn) {
            bestn = cnt;
            best = c;
        }
    }
    double x = cx[best], y = cy[best];
    wbuf_printf(b,
              "<g class=\"legend\" font-size=\"13\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
              "height=\"%.1f\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.88\" stroke=\"#bbb\"/>\n",
              x, y, w, h);
    for (size_t i = 0; i < n; i++) {
        double ly = y + 16 + 22.0 * (double)i;
        const char *c = it[i].color;
        switch (it[i].style) {
        case LEG_FILL:
        case LEG_OUTLINE:
            wbuf_printf(b,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"26\" height=\"12\" fill=\"%s\" "
                      "fill-opacity=\"%s\" stroke=\"%s\" stroke-width=\"1.8\"/>\n",
                      x + 10, ly - 6, c, it[i].style == LEG_FILL ? "0.35" : "0.08", c);
            break;
        default:
            wbuf_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"2.2\"%s/>\n",
                      x + 10, ly, x + 36, ly, c,
                      it[i].style == LEG_DASH ? " stroke-dasharray=\"6 4\"" : "");
        }
        wbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\">", x + 44, ly + 4.5);
        svg_esc(b, it[i].text);
        wbuf_printf(b, "</text>\n");
    }
    wbuf_printf(b, "</g>\n");
}

/* ---- line charts ---- */

static double sx(const svgplot_series *s, size_t i)
{
    return s->x ? s->x[i] : (double)(i + 1);
}

static int ok_y(const frame *f, double y)
{
    return isfinite(y) && (!f->logy || y > 0);
}

/* Draws one series as a path broken at non-finite points; markers if short. */
static void draw_series(wbuf *b, const frame *f, const svgplot_series *s, const char *color,
                        const char *dash, pts *p, int markers)
{
    wbuf_printf(b, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" "
                 "stroke-linejoin=\"round\"%s%s%s d=\"",
              color, dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
    int pen = 0;
    size_t drawn = 0;
    for (size_t i = 0; i < s->n; i++) {
        double x = sx(s, i), y = s->y[i];
        if (!isfinite(x) || !ok_y(f, y)) {
            pen = 0;
            continue;
        }
        wbuf_printf(b, "%s%.2f %.2f", pen ? " L" : (drawn ? " M" : "M"), fx(f, x), fy(f, y));
        pen = 1;
        drawn++;
        pts_add(p, fx(f, x), fy(f, y));
    }
    if (!drawn)
        wbuf_printf(b, "M0 0");
    wbuf_printf(b, "\"/>\n");
    if (markers && drawn <= 60) {
        for (size_t i = 0; i < s->n; i++) {
            double x = sx(s, i), y = s->y[i];
            if (isfinite(x) && ok_y(f, y))
                wbuf_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", fx(f, x),
                          fy(f, y), color);
        }
    }
}

/* A scatter series: one small translucent dot per point, no line. */
static void draw_points(wbuf *b, const frame *f, const svgplot_series *s, const char *color, pts *p)
{
    wbuf_printf(b, "<g class=\"points\" fill=\"%s\" fill-opacity=\"0.35\" stroke=\"none\">\n", color);
    for (size_t i = 0; i < s->n; i++) {
        double x = sx(s, i), y = s->y[i];
        if (!isfinite(x) || !ok_y(f, y))
            continue;
        wbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\"/>\n", fx(f, x), fy(f, y));
        if (i % 8 == 0)
            pts_add(p, fx(f, x), fy(f, y));
    }
    wbuf_printf(b, "</g>\n");
}

static void data_range(const svgplot_series *s, size_t ns, int logy, double *x0, double *x1,
                       double *y0, double *y1, size_t *nfinite)
{
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    *nfinite = 0;
    for (size_t k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            double x = sx(&s[k], i), y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y) || (logy && y <= 0))
                continue;
            if (logy)
                y = log10(y);
            *x0 = fmin(*x0, x);
            *x1 = fmax(*x1, x);
            *y0 = fmin(*y0, y);
            *y1 = fmax(*y1, y);
            (*nfinite)++;
        }
}

int svgplot_lines(const svgplot_opts *o, const svgplot_series *s, size_t ns, char **svg,
                  size_t *len, mlhep_err *e)
{
    *svg = NULL;
    for (size_t k = 0; k < ns; k++)
        if (s[k].n && !s[k].y)
            return err_set(e, MLHEP_EINVAL, "svgplot: series %zu has %zu points but no values", k,
                           s[k].n);
    frame f;
    frame_init(&f, o, 720, 500);
    size_t nf;
    data_range(s, ns, f.logy, &f.x0, &f.x1, &f.y0, &f.y1, &nf);
    fix_range(&f.x0, &f.x1, 0.02);
    fix_range(&f.y0, &f.y1, 0.06);
    f.xint = 1;
    for (size_t k = 0; k < ns; k++)
        f.xint &= s[k].x == NULL;
    wbuf b = {0};
    pts p = {0};
    doc_begin(&b, &f, o);
    axes(&b, &f, o);
    wbuf_printf(&b, "<g clip-path=\"url(#plotarea)\">\n");
    legend_item *it = calloc(ns + 1, sizeof *it);
    for (size_t k = 0; k < ns; k++) {
        const char *c = palette[k % NPAL];
        int scatter = o && k < 32 && (o->scatter >> k & 1), dashed = o && k < 32 && (o->dashed >> k & 1);
        if (scatter)
            draw_points(&b, &f, &s[k], c, &p);
        else
            draw_series(&b, &f, &s[k], c, dashed ? "6 4" : NULL, &p, 1);
        if (it) {
            snprintf(it[k].text, sizeof it[k].text, "%s", s[k].label ? s[k].label : "");
            it[k].color = c;
            it[k].style = dashed ? LEG_DASH : LEG_LINE;
        }
    }
    wbuf_printf(&b, "</g>\n");
    if (!nf)
        no_data(&b, &f);
    if (it)
        legend(&b, &f, it, ns, &p);
    wbuf_printf(&b, "</svg>\n");
    free(it);
    free(p.x);
    free(p.y);
    return svg_finish(&b, svg, len, e);
}

int svgplot_roc(const svgplot_opts *o, const svgplot_series *curves, const double *auc,
                size_t nc, char **svg, size_t *len, mlhep_err *e)
{
    *svg = NULL;
    for (size_t k = 0; k < nc; k++)
        if (curves[k].n && (!curves[k].y || !curves[k].x))
            return err_set(e, MLHEP_EINVAL, "svgplot: ROC curve %zu needs x (fpr) and y (tpr)", k);
    svgplot_opts oo = o ? *o : (svgplot_opts){0};
    oo.logy = 0;
    if (!oo.xlabel)
        oo.xlabel = "False positive rate (background efficiency)";
    if (!oo.ylabel)
        oo.ylabel = "True positive rate (signal efficiency)";
    frame f;
    frame_init(&f, &oo, 600, 580);
    f.x0 = f.y0 = 0;
    f.x1 = f.y1 = 1;
    size_t nf;
    double a, bb, c, d;
    data_range(curves, nc, 0, &a, &bb, &c, &d, &nf);
    wbuf b = {0};
    pts p = {0};
    doc_begin(&b, &f, &oo);
    axes(&b, &f, &oo);
    wbuf_printf(&b, "<g clip-path=\"url(#plotarea)\">\n");
    wbuf_printf(&b,
              "<line class=\"diagonal\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
              "stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
              fx(&f, 0), fy(&f, 0), fx(&f, 1), fy(&f, 1));
    for (int i = 0; i <= 20; i++) /* the diagonal occupies these pixels too */
        pts_add(&p, fx(&f, i / 20.0), fy(&f, i / 20.0));
    legend_item *it = calloc(nc + 1, sizeof *it);
    for (size_t k = 0; k < nc; k++) {
        const char *col = palette[k % NPAL];
        draw_series(&b, &f, &curves[k], col, NULL, &p, 0);
        if (it) {
            const char *lab = curves[k].label ? curves[k].label : "";
            if (auc && isfinite(auc[k]))
                snprintf(it[k].text, sizeof it[k].text, "%s%sAUC = %.4f", lab, *lab ? ", " : "",
                         auc[k]);
            else
                snprintf(it[k].text, sizeof it[k].text, "%s", lab);
            it[k].color = col;
            it[k].style = LEG_LINE;
        }
    }
    wbuf_printf(&b, "</g>\n");
    if (!nf)
        no_data(&b, &f);
    if (it) {
        snprintf(it[nc].text, sizeof it[nc].text, "random, AUC = 0.5");
        it[nc].color = "#888";
        it[nc].style = LEG_DASH;
        legend(&b, &f, it, nc + 1, &p);
    }
    wbuf_printf(&b, "</svg>\n");
    free(it);
    free(p.x);
    free(p.y);
    return svg_finish(&b, svg, len, e);
}

/* ---- histograms ---- */

void svgplot_edges_uniform(double lo, double hi, size_t nbins, double *edges)
{
    for (size_t i = 0; i <= nbins; i++)
        edges[i] = lo + (hi - lo) * (double)i / (double)nbins;
}

size_t svgplot_fill(const double *edges, size_t nbins, const float *v, const float *w, size_t n,
                    double *counts)
{
    size_t nan = 0;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (isnan(x)) {
            nan++;
            continue;
        }
        size_t lo = 0, hi = nbins; /* first bin whose upper edge is > x */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (edges[mid + 1] <= x)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= nbins)
            lo = nbins - 1;
        counts[lo] += w ? w[i] : 1.0;
    }
    return nan;
}

int svgplot_hists(const svgplot_opts *o, const double *edges, size_t nbins,
                  const svgplot_hist *h, size_t nh, int normalise, char **svg, size_t *len,
                  mlhep_err *e)
{
    *svg = NULL;
    if (nbins == 0 || !edges)
        return err_set(e, MLHEP_EINVAL, "svgplot: histogram needs at least one bin");
    for (size_t i = 0; i <= nbins; i++)
        if (!isfinite(edges[i]) || (i > 0 && !(edges[i] > edges[i - 1])))
            return err_set(e, MLHEP_EINVAL,
                           "svgplot: bin edge %zu (%g) is not finite and increasing", i, edges[i]);
    for (size_t k = 0; k < nh; k++)
        if (!h[k].counts)
            return err_set(e, MLHEP_EINVAL, "svgplot: histogram %zu has no counts", k);
    svgplot_opts oo = o ? *o : (svgplot_opts){0};
    if (!oo.ylabel)
        oo.ylabel = normalise ? "Normalised to unit area" : "Entries";
    double *val = malloc((nh ? nh : 1) * nbins * sizeof *val);
    if (!val)
        return err_set(e, MLHEP_ENOMEM, "svgplot: out of memory");
    frame f;
    frame_init(&f, &oo, 720, 500);
    double ymax = -INFINITY, ymin = INFINITY;
    size_t nonzero = 0;
    for (size_t k = 0; k < nh; k++) {
        double area = 0;
        for (size_t i = 0; i < nbins; i++) {
            double c = isfinite(h[k].counts[i]) ? h[k].counts[i] : 0;
            val[k * nbins + i] = c;
            area += c * (edges[i + 1] - edges[i]);
        }
        for (size_t i = 0; i < nbins; i++) {
            double *v = &val[k * nbins + i];
            if (normalise)
                *v = area > 0 ? *v / area : 0;
            if (*v > ymax)
                ymax = *v;
            if (*v > 0 && *v < ymin)
                ymin = *v;
            nonzero += *v != 0;
        }
    }
    f.x0 = edges[0];
    f.x1 = edges[nbins];
    /* bins of width 1 centred on integers (counts, flags, booleans as two bins): ticks
     * on the integers only */
    f.xint = 1;
    for (size_t i = 0; i <= nbins && f.xint; i++)
        f.xint = edges[i] - floor(edges[i]) == 0.5 && (i == 0 || edges[i] - edges[i - 1] == 1.0);
    if (f.logy) {
        if (!(ymax > 0)) {
            f.y0 = -1;
            f.y1 = 0;
        } else {
            f.y0 = floor(log10(ymin) - 0.3);
            f.y1 = log10(ymax) + 0.25 * (log10(ymax) - f.y0) + 0.3; /* room for the legend */
        }
    } else {
        f.y0 = 0;
        f.y1 = ymax > 0 ? ymax * 1.25 : 1;
    }
    wbuf b = {0};
    pts p = {0};
    doc_begin(&b, &f, &oo);
    axes(&b, &f, &oo);
    wbuf_printf(&b, "<g clip-path=\"url(#plotarea)\">\n");
    legend_item *it = calloc(nh + 1, sizeof *it);
    double base = f.logy ? f.py1 + 2 : fy(&f, 0);
    for (size_t k = 0; k < nh; k++) {
        const char *c = palette[k % NPAL];
        const double *v = val + k * nbins;
        /* closed step outline: along the bottom, up and across each bin */
        wbuf_printf(&b,
                  "<path class=\"hist\" fill=\"%s\" fill-opacity=\"%s\" stroke=\"%s\" "
                  "stroke-width=\"1.8\" stroke-linejoin=\"miter\" d=\"M%.2f %.2f",
                  c, k == 0 ? "0.30" : "0.06", c, fx(&f, edges[0]), base);
        for (size_t i = 0; i < nbins; i++) {
            double y = f.logy && !(v[i] > 0) ? base : fy(&f, v[i]);
            wbuf_printf(&b, " L%.2f %.2f L%.2f %.2f", fx(&f, edges[i]), y, fx(&f, edges[i + 1]), y);
            for (int s = 1; s < 4; s++)
                pts_add(&p, fx(&f, edges[i] + (edges[i + 1] - edges[i]) * s / 4.0), y);
            /* the area under the step is covered too */
            pts_add(&p, fx(&f, (edges[i] + edges[i + 1]) / 2), (y + base) / 2);
        }
        wbuf_printf(&b, " L%.2f %.2f Z\"/>\n", fx(&f, edges[nbins]), base);
        if (it) {
            snprintf(it[k].text, sizeof it[k].text, "%s", h[k].label ? h[k].label : "");
            it[k].color = c;
            it[k].style = k == 0 ? LEG_FILL : LEG_OUTLINE;
        }
    }
    wbuf_printf(&b, "</g>\n");
    if (!nonzero)
        no_data(&b, &f);
    if (it)
        legend(&b, &f, it, nh, &p);
    wbuf_printf(&b, "</svg>\n");
    free(it);
    free(p.x);
    free(p.y);
    free(val);
    return svg_finish(&b, svg, len, e);
}

int svgplot_write(const char *path, const char *svg, size_t len, mlhep_err *e)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return err_set(e, MLHEP_EIO, "svgplot: cannot create %s: %s", path, strerror(errno));
    size_t n = fwrite(svg, 1, len, f);
    int rc = fclose(f);
    if (n != len || rc != 0)
        return err_set(e, MLHEP_EIO, "svgplot: cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- bars and matrices ---- */

int svgplot_bars(const svgplot_opts *o, const char *const *labels, const double *values, size_t n,
                 char **svg, size_t *len, mlhep_err *e)
{
    *svg = NULL;
    svgplot_opts oo = o ? *o : (svgplot_opts){0};
    size_t lw = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = labels && labels[i] ? strlen(labels[i]) : 0;
        if (l > lw)
            lw = l;
    }
    if (lw > 32)
        lw = 32;
    int W = oo.width > 0 ? oo.width : 720;
    int H = oo.height > 0 ? oo.height : (int)(90 + 20 * (n ? n : 1));
    frame f;
    oo.width = W;
    oo.height = H;
    oo.logy = 0;
    frame_init(&f, &oo, W, H);
    f.px0 = 24 + 7.0 * (double)lw;
    double vmin = 0, vmax = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i])) {
            vmin = fmin(vmin, values[i]);
            vmax = fmax(vmax, values[i]);
        }
    f.x0 = vmin;
    f.x1 = vmax > vmin ? vmax * (vmax > 0 ? 1.05 : 1) : vmin + 1;
    if (vmin < 0)
        f.x0 = vmin * 1.05;
    f.y0 = 0;
    f.y1 = (double)(n ? n : 1);
    wbuf b = {0};
    doc_begin(&b, &f, &oo);
    svgplot_opts ax = oo;
    ax.ylabel = NULL;
    /* x axis and grid from the common code, no y ticks: the labels name the bars */
    frame g = f;
    g.y0 = 0;
    g.y1 = 1;
    g.py0 = f.py0;
    g.noyticks = 1;
    axes(&b, &g, &ax);
    double bh = (f.py1 - f.py0) / f.y1;
    wbuf_printf(&b, "<g class=\"bars\" font-size=\"12\">\n");
    for (size_t i = 0; i < n; i++) {
        double v = isfinite(values[i]) ? values[i] : 0;
        double x0 = fx(&f, fmin(0, v)), x1 = fx(&f, fmax(0, v));
        double y = f.py0 + bh * (double)i;
        wbuf_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x0,
                    y + bh * 0.15, x1 - x0, bh * 0.7, v >= 0 ? palette[0] : palette[1]);
        wbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#222\">", f.px0 - 6,
                    y + bh * 0.5 + 4);
        char lab[40];
        snprintf(lab, sizeof lab, "%.32s", labels && labels[i] ? labels[i] : "");
        svg_esc(&b, lab);
        wbuf_printf(&b, "</text>\n");
    }
    wbuf_printf(&b, "</g>\n");
    if (!n)
        no_data(&b, &f);
    wbuf_printf(&b, "</svg>\n");
    return svg_finish(&b, svg, len, e);
}

/* Colour of a matrix cell: diverging blue (-1) - white (0) - red (+1), or white - blue
 * for t in [0, 1]. */
static void cell_colour(double t, int diverging, char *buf, size_t n)
{
    if (!isfinite(t)) {
        snprintf(buf, n, "#dddddd");
        return;
    }
    int r, g, bl;
    if (diverging) {
        t = t < -1 ? -1 : t > 1 ? 1 : t;
        if (t >= 0) {
            r = 255;
            g = bl = (int)lround(255 - 200 * t);
        } else {
            bl = 255;
            r = g = (int)lround(255 + 200 * t);
        }
    } else {
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        r = (int)lround(255 - 224 * t);
        g = (int)lround(255 - 160 * t);
        bl = (int)lround(255 - 64 * t);
    }
    snprintf(buf, n, "#%02x%02x%02x", r, g, bl);
}

int svgplot_matrix(const svgplot_opts *o, const char *const *rows, const char *const *cols,
                   const double *v, size_t nr, size_t nc, double vmin, double vmax, int diverging,
                   int annotate, char **svg, size_t *len, mlhep_err *e)
{
    *svg = NULL;
    if (!(vmax > vmin))
        return err_set(e, MLHEP_EINVAL, "svgplot: matrix colour range [%g, %g] is empty", vmin, vmax);
    svgplot_opts oo = o ? *o : (svgplot_opts){0};
    size_t lw = 0;
    for (size_t i = 0; i < nr; i++)
        lw = rows && rows[i] && strlen(rows[i]) > lw ? strlen(rows[i]) : lw;
    size_t cw = 0;
    for (size_t j = 0; j < nc; j++)
        cw = cols && cols[j] && strlen(cols[j]) > cw ? strlen(cols[j]) : cw;
    lw = lw > 28 ? 28 : lw;
    cw = cw > 28 ? 28 : cw;
    size_t big = nr > nc ? nr : nc;
    double cell = big <= 6 ? 64 : big <= 12 ? 36 : big <= 24 ? 22 : big <= 40 ? 16 : 11;
    double fs = cell >= 36 ? 13 : cell >= 16 ? 10 : 8, chw = 0.62 * (fs + 1); /* label font, char width */
    double left = 20 + chw * (double)lw + (oo.ylabel ? 24 : 0), top = (oo.title ? 48 : 16);
    double bottom = 24 + chw * (double)cw + (oo.xlabel ? 24 : 0);
    double minw = 8.5 * (double)(oo.title ? strlen(oo.title) : 0) + 40; /* room for the title */
    if (minw < 420)
        minw = 420;
    if (left + cell * (double)nc + 30 < minw) /* centre the cells */
        left = (minw - cell * (double)nc) / 2 > left ? (minw - cell * (double)nc) / 2 : left;
    double right = left + cell * (double)nc + 30;
    int W = (int)(right > minw ? right : minw), H = (int)(top + cell * (double)nr + bottom);
    wbuf b = {0};
    wbuf_printf(&b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
                "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
                W, H, W, H, W, H);
    if (oo.title) {
        wbuf_printf(&b, "<text class=\"title\" x=\"%.1f\" y=\"30\" text-anchor=\"middle\" font-size=\"17\" "
                        "font-weight=\"bold\" fill=\"#222\">", W / 2.0);
        svg_esc(&b, oo.title);
        wbuf_printf(&b, "</text>\n");
    }
    char col[16], num[32];
    wbuf_printf(&b, "<g class=\"cells\" stroke=\"#ffffff\" stroke-width=\"0.5\">\n");
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < nc; j++) {
            double x = v[i * nc + j];
            double t = diverging ? x / fmax(fabs(vmin), fabs(vmax)) : (x - vmin) / (vmax - vmin);
            cell_colour(t, diverging, col, sizeof col);
            if (nr * nc <= 400)
                wbuf_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" fill=\"%s\"><title>%.4g</title></rect>\n",
                            left + cell * (double)j, top + cell * (double)i, cell, cell, col, x);
            else
                wbuf_printf(&b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"%s\"/>\n",
                            left + cell * (double)j, top + cell * (double)i, cell, cell, col);
        }
    wbuf_printf(&b, "</g>\n");
    if (annotate && cell >= 36) {
        wbuf_printf(&b, "<g class=\"values\" font-size=\"%.0f\" text-anchor=\"middle\" fill=\"#111\">\n", fs);
        for (size_t i = 0; i < nr; i++)
            for (size_t j = 0; j < nc; j++) {
                double x = v[i * nc + j];
                snprintf(num, sizeof num, isfinite(x) ? (fabs(x) >= 1000 || (fabs(x) < 0.01 && x != 0) ? "%.2g" : "%.3g") : "-", x);
                wbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", left + cell * ((double)j + 0.5),
                            top + cell * ((double)i + 0.5) + fs / 3, num);
            }
        wbuf_printf(&b, "</g>\n");
    }
    wbuf_printf(&b, "<g class=\"labels\" font-size=\"%.0f\" fill=\"#222\">\n", fs + 1);
    for (size_t i = 0; i < nr; i++) {
        char lab[32];
        snprintf(lab, sizeof lab, "%.28s", rows && rows[i] ? rows[i] : "");
        wbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 4, top + cell * ((double)i + 0.5) + fs / 3);
        svg_esc(&b, lab);
        wbuf_printf(&b, "</text>\n");
    }
    for (size_t j = 0; j < nc; j++) {
        char lab[32];
        snprintf(lab, sizeof lab, "%.28s", cols && cols[j] ? cols[j] : "");
        double x = left + cell * ((double)j + 0.5) + fs / 3, y = top + cell * (double)nr + 6;
        wbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" transform=\"rotate(-60 %.1f %.1f)\">", x, y,
                    x, y);
        svg_esc(&b, lab);
        wbuf_printf(&b, "</text>\n");
    }
    wbuf_printf(&b, "</g>\n");
    if (oo.xlabel) {
        wbuf_printf(&b, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222\">",
                    left + cell * (double)nc / 2, H - 8);
        svg_esc(&b, oo.xlabel);
        wbuf_printf(&b, "</text>\n");
    }
    if (oo.ylabel) {
        double cy = top + cell * (double)nr / 2;
        double lx = left - 16 - chw * (double)lw;
        wbuf_printf(&b, "<text class=\"ylabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222\" "
                        "transform=\"rotate(-90 %.1f %.1f)\">", lx, cy, lx, cy);
        svg_esc(&b, oo.ylabel);
        wbuf_printf(&b, "</text>\n");
    }
    wbuf_printf(&b, "</svg>\n");
    return svg_finish(&b, svg, len, e);
}
