/* progress.h - progress on a terminal: the one bar every program draws.
 *
 * On a TTY a bar is redrawn in place on its own line:
 *     [#########.....................]  31%   12.4s  ETA 27s  training epoch 3/10 ...
 * Lines that must stay on screen (an epoch's figures, a warning) go through
 * progress_line: the bar's line is cleared, the line printed, the bar redrawn below it,
 * so the bar never overwrites them. Off a TTY nothing is redrawn (no carriage returns,
 * no escape sequences): a plain line
 *     31%   12.4s  ETA 27s  training epoch 3/10 ...
 * when the text changed, at most one per `interval` seconds (a forced one - a new phase -
 * at once; progress_line's lines always), so a log file gets periodic lines.
 *
 * ETA: the time left at the rate the fraction has grown since its first reading above
 * zero (elapsed x (1 - f) / (f - f0)); "ETA ?" until it can be estimated.
 *
 * Fractions that follow events, not files: progress_files turns a per-file callback
 * (file i of n, done of total entries in it) into the fraction of all entries, the
 * files not opened yet counted at the mean size of those seen.
 *
 * A progress is a plain value owned by its caller; one thread draws it. */
#ifndef MLHEP_PROGRESS_H
#define MLHEP_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_BAR_CELLS 30
#define PROGRESS_INTERVAL 1.0 /* seconds between plain lines off a TTY */

typedef struct progress {
    FILE *out;
    int tty;               /* 1: a bar redrawn in place */
    double interval;       /* off a TTY: seconds between progress lines */
    double t0;             /* start, for the elapsed time */
    double eta_t, eta_f;   /* first reading with a fraction above zero */
    double last_t;         /* off a TTY: when the last progress line was printed */
    int drawn;             /* the bar is on screen (its line not ended) */
    char bar[600];         /* the bar as last drawn */
    char last[512];        /* off a TTY: the text of the last progress line */
} progress;

/* tty: 1, 0, or -1 to ask isatty() of out. Starts the clock. */
void progress_init(progress *p, FILE *out, int tty);

/* Monotonic seconds. */
double progress_now(void);

/* Seconds left at fraction frac (0..1), or a negative number when not known yet. */
double progress_eta(progress *p, double frac);

/* "45s", "3m05s", "2h07m" into buf. */
void progress_fmt_seconds(double s, char *buf, size_t n);

/* Shows fraction frac (clamped to 0..1; negative: no bar fraction known) with text.
 * force: off a TTY, print even within the interval (a phase change). */
void progress_update(progress *p, double frac, const char *text, int force);

/* A line that stays on screen (printf format, no newline needed): printed above the bar. */
void progress_line(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the bar's line (a TTY); the next output starts on a fresh line. */
void progress_done(progress *p);

/* The fraction of all entries of nfiles files, from per-file readings made in file order. */
typedef struct progress_files {
    size_t file;           /* the file of the last reading */
    int64_t file_total;    /* its entries */
    int64_t finished;      /* entries of the files before it */
    int started;
} progress_files;
double progress_files_fraction(progress_files *pf, size_t file, size_t nfiles, int64_t done, int64_t total);

#endif
