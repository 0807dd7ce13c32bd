/* progress.c - the terminal progress bar and its plain-line form (see progress.h). */
#include "base/progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_init(progress *p, FILE *out, int tty)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = tty < 0 ? isatty(fileno(out)) : tty != 0;
    p->interval = PROGRESS_INTERVAL;
    p->t0 = progress_now();
    p->eta_t = -1;
    p->last_t = -1e300;
}

double progress_eta(progress *p, double frac)
{
    double t = progress_now();
    if (frac <= 0 || frac > 1)
        return -1;
    if (p->eta_t < 0) {
        p->eta_t = t;
        p->eta_f = frac;
        return -1;
    }
    if (frac >= 1)
        return 0;
    double df = frac - p->eta_f, dt = t - p->eta_t;
    if (df <= 0 || dt <= 0)
        return -1;
    return dt * (1 - frac) / df;
}

void progress_fmt_seconds(double s, char *buf, size_t n)
{
    if (!(s >= 0)) {
        snprintf(buf, n, "?");
        return;
    }
    long v = lround(s);
    if (v < 60)
        snprintf(buf, n, "%lds", v);
    else if (v < 3600)
        snprintf(buf, n, "%ldm%02lds", v / 60, v % 60);
    else
        snprintf(buf, n, "%ldh%02ldm", v / 3600, v % 3600 / 60);
}

static void draw(progress *p)
{
    fprintf(p->out, "\r%s\033[K", p->bar);
    fflush(p->out);
    p->drawn = 1;
}

void progress_update(progress *p, double frac, const char *text, int force)
{
    double t = progress_now();
    double f = frac < 0 ? -1 : frac > 1 ? 1 : frac;
    char eta[32], left[24];
    progress_fmt_seconds(progress_eta(p, f), left, sizeof left);
    snprintf(eta, sizeof eta, "ETA %s", left);
    if (p->tty) {
        char cells[PROGRESS_BAR_CELLS + 1];
        int full = f < 0 ? 0 : (int)lround(f * PROGRESS_BAR_CELLS);
        for (int i = 0; i < PROGRESS_BAR_CELLS; i++)
            cells[i] = i < full ? '#' : '.';
        cells[PROGRESS_BAR_CELLS] = '\0';
        snprintf(p->bar, sizeof p->bar, "[%s] %3.0f%% %6.1fs  %-9s  %.90s", cells, f < 0 ? 0 : 100 * f,
                 t - p->t0, eta, text ? text : "");
        draw(p);
        return;
    }
    if (!text || !strcmp(text, p->last) || (!force && t - p->last_t < p->interval))
        return;
    fprintf(p->out, "%3.0f%% %6.1fs  %-9s  %s\n", f < 0 ? 0 : floor(100 * f), t - p->t0, eta, text);
    fflush(p->out);
    snprintf(p->last, sizeof p->last, "%s", text);
    p->last_t = t;
}

void progress_line(progress *p, const char *fmt, ...)
{
    if (p->tty && p->drawn)
        fputs("\r\033[K", p->out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    if (p->tty && p->drawn)
        draw(p);
    else
        fflush(p->out);
}

void progress_done(progress *p)
{
    if (p->tty && p->drawn) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->drawn = 0;
}

double progress_files_fraction(progress_files *pf, size_t file, size_t nfiles, int64_t done, int64_t total)
{
    if (!nfiles)
        return 1;
    if (!pf->started || file != pf->file) {
        if (pf->started && file > pf->file)
            pf->finished += pf->file_total; /* the files in between (if any) held no entries */
        pf->file = file;
        pf->started = 1;
    }
    pf->file_total = total;
    double known = (double)(pf->finished + total);
    double per_file = known / (double)(file + 1);
    double all = known + per_file * (double)(nfiles - file - 1);
    return all > 0 ? fmin(1.0, (double)(pf->finished + done) / all) : (double)(file + 1) / (double)nfiles;
}
