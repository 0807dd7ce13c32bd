/* svgplot.h - dependency-free SVG plots of training results: line charts (loss and
 * AUC per epoch, train vs validation; scatter plots), ROC curves with the AUC in the
 * legend, overlaid histograms (score distributions or input features of signal vs
 * background), bar charts (feature rankings) and matrices of coloured cells
 * (correlations, confusion matrices). A browser shows the files directly.
 *
 * How it fits: the training driver (issue 5) and the data layer's `hist` option
 * (issue 4) compute numbers (metrics.h, their own histograms) and call these
 * functions; each returns a complete SVG document in a malloc'd string. Non-finite
 * values (NaN, inf) are skipped, empty data gives empty axes saying "no data": the
 * output is always well-formed XML. Labels are XML-escaped. */
#ifndef MLHEP_SVGPLOT_H
#define MLHEP_SVGPLOT_H

#include <stddef.h>

#include "base/err.h"

typedef struct svgplot_opts {
    const char *title, *xlabel, *ylabel; /* NULL = none */
    int width, height;                   /* pixels; <= 0: 720 x 500 */
    int logy;                            /* logarithmic y axis (values <= 0 skipped) */
    unsigned scatter, dashed;            /* line charts: bit i set = series i drawn as
                                            dots (a scatter plot) / as a dashed line */
} svgplot_opts;

/* One line of a line chart. x == NULL means x = 1, 2, ..., n (epochs: the x axis then
 * has integer ticks only). */
typedef struct svgplot_series {
    const char *label;
    const double *x, *y;
    size_t n;
} svgplot_series;

/* Line chart with a legend. On success *svg is a NUL-terminated malloc'd document
 * of *len bytes (len may be NULL); the caller frees it. */
int svgplot_lines(const svgplot_opts *o, const svgplot_series *s, size_t ns, char **svg,
                  size_t *len, mlhep_err *e);

/* ROC curves: series x = false positive rate, y = true positive rate (e.g. from
 * metrics_roc_curve), auc[i] shown in the legend (NaN: not shown), plus the diagonal
 * of a random classifier. Axes fixed to [0,1]. */
int svgplot_roc(const svgplot_opts *o, const svgplot_series *curves, const double *auc,
                size_t nc, char **svg, size_t *len, mlhep_err *e);

/* One histogram of an overlay: counts[nbins] over the shared edges. */
typedef struct svgplot_hist {
    const char *label;
    const double *counts;
} svgplot_hist;

/* Overlaid step histograms over edges[0..nbins] (finite, strictly increasing). With
 * normalise, each histogram is scaled to unit area (a density), so shapes of samples
 * of different size compare. Bins of width 1 centred on integers (multiplicities,
 * flags; a boolean is two bins) get ticks on the integers only. The first histogram is drawn filled (signal by
 * convention), the others as outlines with a light fill. */
int svgplot_hists(const svgplot_opts *o, const double *edges, size_t nbins,
                  const svgplot_hist *h, size_t nh, int normalise, char **svg, size_t *len,
                  mlhep_err *e);

/* edges[0..nbins] = nbins equal bins from lo to hi. */
void svgplot_edges_uniform(double lo, double hi, size_t nbins, double *edges);

/* Adds n values (weights w, NULL = 1) to counts[nbins] over edges; values below the
 * first edge go to the first bin, at or above the last edge to the last bin (so no
 * event is lost from the plot); NaN values are not counted. Returns the number of
 * NaN values skipped. */
size_t svgplot_fill(const double *edges, size_t nbins, const float *v, const float *w, size_t n,
                    double *counts);

/* Horizontal bar chart (feature rankings): bar i is labels[i] with length values[i],
 * from the top down in the order given. */
int svgplot_bars(const svgplot_opts *o, const char *const *labels, const double *values, size_t n,
                 char **svg, size_t *len, mlhep_err *e);

/* Matrix of coloured cells (correlations, confusion matrices): v is nr x nc row-major,
 * rows/cols label them (rows top-down, columns left-right). diverging: blue for
 * -max(|vmin|,|vmax|), white for 0, red for +max (correlations); else white (vmin) to
 * blue (vmax). annotate: the values are written in the cells when they are big enough
 * (few rows and columns). Every cell carries its value as a tooltip. */
int svgplot_matrix(const svgplot_opts *o, const char *const *rows, const char *const *cols,
                   const double *v, size_t nr, size_t nc, double vmin, double vmax, int diverging,
                   int annotate, char **svg, size_t *len, mlhep_err *e);

/* Writes the document to path (replacing it). */
int svgplot_write(const char *path, const char *svg, size_t len, mlhep_err *e);

#endif
