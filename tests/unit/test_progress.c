/* test_progress.c - base/progress: the bar and its lines on a "TTY" (written to a
 * memory stream), plain lines without one (no carriage return, no escape, at most one
 * progress line per interval, repeated text never), the ETA and its format, and the
 * fraction of entries over files of different sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"
#include "test.h"

TEST(eta_format)
{
    char b[32];
    progress_fmt_seconds(-1, b, sizeof b);
    CHECK(!strcmp(b, "?"));
    progress_fmt_seconds(44.6, b, sizeof b);
    CHECK(!strcmp(b, "45s"));
    progress_fmt_seconds(185, b, sizeof b);
    CHECK(!strcmp(b, "3m05s"));
    progress_fmt_seconds(7620, b, sizeof b);
    CHECK(!strcmp(b, "2h07m"));
}

TEST(eta_from_the_rate)
{
    progress p;
    progress_init(&p, stderr, 0);
    CHECK(progress_eta(&p, 0) < 0);      /* nothing yet */
    CHECK(progress_eta(&p, 0.2) < 0);    /* the first reading: the base */
    p.eta_t -= 10;                       /* 10 s ago: 0.2 -> 0.6 in 10 s, 0.4 left */
    double left = progress_eta(&p, 0.6);
    CHECKF(left > 9.9 && left < 10.2, "%g", left);
    CHECK(progress_eta(&p, 1.0) == 0);
}

TEST(tty_keeps_lines_above_the_bar)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    progress p;
    progress_init(&p, f, 1);
    progress_update(&p, 0.25, "training epoch 1/4", 0);
    progress_line(&p, "epoch %d/%d: loss %.2f", 1, 4, 0.5);
    progress_update(&p, 0.5, "training epoch 2/4", 0);
    progress_done(&p);
    fclose(f);
    /* the bar, then the line after clearing the bar's line, the bar again, then the new bar */
    CHECKF(strstr(buf, "\r[########......................]  25%") != NULL, "%s", buf);
    char *line = strstr(buf, "\r\033[Kepoch 1/4: loss 0.50\n\r[########");
    CHECKF(line != NULL, "%s", buf);
    CHECK(strstr(line, "ETA") != NULL);
    CHECK(strstr(buf, "\r[###############...............]  50%") != NULL);
    CHECK(buf[n - 1] == '\n');
    free(buf);
}

TEST(plain_lines_without_a_tty)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    progress p;
    progress_init(&p, f, 0);
    p.interval = 1000; /* no second line within the test unless forced */
    progress_update(&p, 0.1, "specs", 0);
    progress_update(&p, 0.2, "specs file 2", 0);   /* within the interval: not printed */
    progress_update(&p, 0.3, "training", 1);       /* forced (a new phase) */
    progress_update(&p, 0.3, "training", 1);       /* the same text: never twice */
    progress_line(&p, "epoch 1/2: loss 0.7");
    progress_done(&p);
    fclose(f);
    CHECKF(!strchr(buf, '\r') && !strchr(buf, '\033'), "%s", buf);
    CHECKF(strstr(buf, " 10%") && strstr(buf, "ETA ?") && strstr(buf, "  specs\n"), "%s", buf);
    CHECKF(!strstr(buf, "specs file 2"), "%s", buf);
    CHECKF(strstr(buf, " 30%") && strstr(buf, "  training\n"), "%s", buf);
    int times = 0;
    for (const char *q = buf; (q = strstr(q, "training")); q++)
        times++;
    CHECK_EQ_INT(times, 1); /* once */
    CHECK(strstr(buf, "\nepoch 1/2: loss 0.7\n") != NULL);
    free(buf);
}

TEST(fraction_follows_entries_not_files)
{
    progress_files pf = {0};
    /* a small file (100 entries) then a big one (900): half of the small one is 5% once
     * the sizes are known, not 25% */
    double f = progress_files_fraction(&pf, 0, 2, 50, 100);
    CHECKF(f > 0.24 && f < 0.26, "%g", f); /* the unseen file counted at the mean size */
    f = progress_files_fraction(&pf, 0, 2, 100, 100);
    CHECKF(f > 0.49 && f < 0.51, "%g", f);
    f = progress_files_fraction(&pf, 1, 2, 450, 900);
    CHECKF(f > 0.549 && f < 0.551, "%g", f); /* (100 + 450) / 1000 */
    f = progress_files_fraction(&pf, 1, 2, 900, 900);
    CHECK(f == 1.0);
}

int main(void)
{
    RUN(eta_format);
    RUN(eta_from_the_rate);
    RUN(tty_keeps_lines_above_the_bar);
    RUN(plain_lines_without_a_tty);
    RUN(fraction_follows_entries_not_files);
    return test_summary();
}
