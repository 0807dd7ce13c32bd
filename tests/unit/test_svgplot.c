/* test_svgplot.c - SVG plots: structure, escaping, NaN/inf/empty data, histogram
 * filling and normalisation, argument checks. With `--write DIR` it instead writes a
 * set of sample plots there; tests/cli/svgplot_xml.sh parses them with Python's XML
 * parser. */
#include "base/svgplot.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rs = 77;
static double urand(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
    return sqrt(-2 * log(urand() + 1e-12)) * cos(6.283185307179586 * urand());
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Every number the writer printed is finite: no "nan"/"inf" anywhere outside text. */
static int no_bad_numbers(const char *svg)
{
    return !strstr(svg, "nan") && !strstr(svg, "inf") && !strstr(svg, "NaN") &&
           !strstr(svg, "-nan");
}

static int well_ended(const char *svg, size_t len)
{
    return strncmp(svg, "<?xml", 5) == 0 && len == strlen(svg) && len > 8 &&
           strcmp(svg + len - 7, "</svg>\n") == 0;
}

TEST(lines_basic_and_nan)
{
    double tr[] = {0.69, 0.52, NAN, 0.41, INFINITY, 0.37}, va[] = {0.70, 0.55, 0.47, 0.45, 0.44, 0.44};
    svgplot_series s[] = {{"train loss", NULL, tr, 6}, {"validation loss", NULL, va, 6}};
    svgplot_opts o = {"Loss per epoch", "Epoch", "Binary cross-entropy", 0, 0, 0, 0, 0};
    char *svg;
    size_t len;
    mlhep_err e;
    CHECK(svgplot_lines(&o, s, 2, &svg, &len, &e) == 0);
    CHECK(well_ended(svg, len));
    CHECK(no_bad_numbers(svg));
    CHECK(count(svg, "class=\"series\"") == 2);
    CHECK(strstr(svg, ">train loss</text>") && strstr(svg, ">validation loss</text>"));
    CHECK(strstr(svg, ">Loss per epoch</text>") && strstr(svg, ">Epoch</text>"));
    /* the NaN and inf break the train line into three pieces: M .. M .. M */
    const char *d = strstr(svg, "class=\"series\"");
    const char *end = strchr(strstr(d, " d=\""), '/');
    int moves = 0;
    for (const char *q = strstr(d, " d=\"") + 4; q < end; q++)
        moves += *q == 'M';
    CHECK_EQ_INT(moves, 3);
    /* integer epochs: no fractional tick labels */
    CHECK(!strstr(svg, ">1.5</text>"));
    free(svg);
}

TEST(escaping_and_empty)
{
    svgplot_opts o = {"<b>&\"quoted\" 'x'</b>", "a < b", NULL, 300, 200, 0, 0, 0};
    double y[] = {NAN, NAN};
    svgplot_series s[] = {{"s&b", NULL, y, 2}, {NULL, NULL, NULL, 0}};
    char *svg;
    size_t len;
    mlhep_err e;
    CHECK(svgplot_lines(&o, s, 2, &svg, &len, &e) == 0);
    CHECK(well_ended(svg, len));
    CHECK(no_bad_numbers(svg));
    CHECK(strstr(svg, "&lt;b&gt;&amp;&quot;quoted&quot; &apos;x&apos;&lt;/b&gt;"));
    CHECK(strstr(svg, ">s&amp;b</text>"));
    CHECK(strstr(svg, "no data"));
    CHECK(!strstr(svg, "<b>"));
    free(svg);
    /* no series at all */
    CHECK(svgplot_lines(NULL, NULL, 0, &svg, &len, &e) == 0);
    CHECK(well_ended(svg, len) && strstr(svg, "no data"));
    free(svg);
    /* points without values */
    svgplot_series bad = {"x", NULL, NULL, 3};
    CHECK(svgplot_lines(NULL, &bad, 1, &svg, &len, &e) == MLHEP_EINVAL);
    CHECK(svg == NULL);
}

TEST(roc_plot)
{
    double fpr[] = {0, 0.1, 0.3, 1}, tpr[] = {0, 0.6, 0.85, 1}, auc[] = {0.87346, NAN};
    svgplot_series c[] = {{"BDT", fpr, tpr, 4}, {"MLP", fpr, tpr, 4}};
    char *svg;
    size_t len;
    mlhep_err e;
    CHECK(svgplot_roc(NULL, c, auc, 2, &svg, &len, &e) == 0);
    CHECK(well_ended(svg, len) && no_bad_numbers(svg));
    CHECK(strstr(svg, ">BDT, AUC = 0.8735</text>"));
    CHECK(strstr(svg, ">MLP</text>"));
    CHECK(strstr(svg, "class=\"diagonal\""));
    CHECK(strstr(svg, "random, AUC = 0.5"));
    CHECK(strstr(svg, "False positive rate"));
    free(svg);
    svgplot_series nox = {"x", NULL, tpr, 4};
    CHECK(svgplot_roc(NULL, &nox, NULL, 1, &svg, &len, &e) == MLHEP_EINVAL);
}

TEST(hist_fill_and_plot)
{
    double edges[6];
    svgplot_edges_uniform(0, 1, 5, edges);
    CHECK_NEAR(edges[5], 1, 1e-12);
    CHECK_NEAR(edges[2], 0.4, 1e-12);
    float v[] = {-1, 0, 0.1f, 0.2f, 0.5f, 0.99f, 1, 7, NAN};
    double cnt[5] = {0};
    CHECK_EQ_INT(svgplot_fill(edges, 5, v, NULL, 9, cnt), 1);
    /* -1 clamps into bin 0; 0.2 is the lower edge of bin 1; 1 and 7 clamp into bin 4 */
    CHECK(cnt[0] == 3 && cnt[1] == 1 && cnt[2] == 1 && cnt[3] == 0 && cnt[4] == 3);
    float w[] = {1, 1, 1, 1, 1, 1, 1, 2.5f, 1};
    double cw[5] = {0};
    svgplot_fill(edges, 5, v, w, 9, cw);
    CHECK_NEAR(cw[4], 4.5, 1e-12);
    double bkg[5] = {10, 8, 6, 4, 2};
    svgplot_hist h[] = {{"signal", cnt}, {"background", bkg}};
    svgplot_opts o = {"BDT score", "score", NULL, 0, 0, 0, 0, 0};
    char *svg;
    size_t len;
    mlhep_err e;
    CHECK(svgplot_hists(&o, edges, 5, h, 2, 1, &svg, &len, &e) == 0);
    CHECK(well_ended(svg, len) && no_bad_numbers(svg));
    CHECK(count(svg, "class=\"hist\"") == 2);
    CHECK(strstr(svg, "Normalised to unit area"));
    free(svg);
    o.logy = 1;
    double zero[5] = {0, 0, 0, 0, 0};
    svgplot_hist hz[] = {{"signal", zero}, {"bkg", bkg}};
    CHECK(svgplot_hists(&o, edges, 5, hz, 2, 0, &svg, &len, &e) == 0);
    CHECK(well_ended(svg, len) && no_bad_numbers(svg));
    CHECK(strstr(svg, ">Entries</text>"));
    free(svg);
    CHECK(svgplot_hists(&o, edges, 5, hz, 1, 0, &svg, &len, &e) == 0); /* all zero, log */
    CHECK(well_ended(svg, len) && no_bad_numbers(svg) && strstr(svg, "no data"));
    free(svg);
    double bad[6] = {0, 1, 1, 2, 3, 4};
    CHECK(svgplot_hists(&o, bad, 5, h, 2, 0, &svg, &len, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "edge 2"));
    bad[2] = NAN;
    CHECK(svgplot_hists(&o, bad, 5, h, 2, 0, &svg, &len, &e) == MLHEP_EINVAL);
    CHECK(svgplot_hists(&o, edges, 0, h, 2, 0, &svg, &len, &e) == MLHEP_EINVAL);
    double nanc[5] = {1, NAN, INFINITY, 2, 3};
    svgplot_hist hn[] = {{"weird", nanc}};
    o.logy = 0;
    CHECK(svgplot_hists(&o, edges, 5, hn, 1, 1, &svg, &len, &e) == 0);
    CHECK(well_ended(svg, len) && no_bad_numbers(svg));
    free(svg);
}

TEST(write_file)
{
    mlhep_err e;
    CHECK(svgplot_write("/nonexistent-dir/x.svg", "x", 1, &e) == MLHEP_EIO);
    CHECK(strstr(e.msg, "/nonexistent-dir/x.svg"));
}

/* ---- sample plots for the XML script test and for looking at ---- */

/* svg and len are pointers: they are read after the plot call in the same argument
 * list has run (argument evaluation order is unspecified). */
static int put(const char *dir, const char *name, int rc, char **svgp, size_t *lenp)
{
    char *svg = *svgp;
    size_t len = *lenp;
    char path[4096];
    mlhep_err e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (rc || svgplot_write(path, svg, len, &e)) {
        fprintf(stderr, "cannot make %s\n", path);
        return 1;
    }
    free(svg);
    return 0;
}

static int write_samples(const char *dir)
{
    int bad = 0;
    char *svg;
    size_t len;
    mlhep_err e;
    enum { EP = 30 };
    double tl[EP], vl[EP], ta[EP], va[EP];
    for (int i = 0; i < EP; i++) {
        tl[i] = 0.38 + 0.3 * exp(-i / 5.0) - 0.002 * i;
        vl[i] = 0.40 + 0.3 * exp(-i / 5.0) + 0.0008 * i + 0.004 * nrand();
        ta[i] = 0.93 - 0.12 * exp(-i / 4.0) + 0.001 * i;
        va[i] = 0.915 - 0.12 * exp(-i / 4.0) - 0.0003 * i + 0.002 * nrand();
    }
    vl[7] = NAN; /* a missing evaluation must not break the plot */
    svgplot_series loss[] = {{"train", NULL, tl, EP}, {"validation", NULL, vl, EP}};
    svgplot_opts o = {"Loss per epoch", "Epoch", "Binary cross-entropy", 0, 0, 0, 0, 0};
    bad |= put(dir, "loss.svg", svgplot_lines(&o, loss, 2, &svg, &len, &e), &svg, &len);
    svgplot_series auc[] = {{"train", NULL, ta, EP}, {"validation", NULL, va, EP}};
    svgplot_opts oa = {"ROC AUC per epoch", "Epoch", "ROC AUC", 0, 0, 0, 0, 0};
    bad |= put(dir, "auc.svg", svgplot_lines(&oa, auc, 2, &svg, &len, &e), &svg, &len);
    enum { NP = 200 };
    double fpr[NP + 1], tpr[NP + 1], fpr2[NP + 1], tpr2[NP + 1];
    for (int i = 0; i <= NP; i++) {
        double x = (double)i / NP;
        fpr[i] = fpr2[i] = x;
        tpr[i] = pow(x, 0.22);
        tpr2[i] = pow(x, 0.3);
    }
    svgplot_series roc[] = {{"BDT (test)", fpr, tpr, NP + 1}, {"MLP (test)", fpr2, tpr2, NP + 1}};
    double aucs[] = {1 / 1.22, 1 / 1.3};
    svgplot_opts orc = {"ROC curve", NULL, NULL, 0, 0, 0, 0, 0};
    bad |= put(dir, "roc.svg", svgplot_roc(&orc, roc, aucs, 2, &svg, &len, &e), &svg, &len);
    enum { NB = 40, NS = 20000 };
    double edges[NB + 1], sig[NB] = {0}, bkg[NB] = {0};
    svgplot_edges_uniform(0, 1, NB, edges);
    float v[NS];
    for (int i = 0; i < NS; i++)
        v[i] = (float)(1 / (1 + exp(-(1.3 + 1.2 * nrand()))));
    svgplot_fill(edges, NB, v, NULL, NS, sig);
    for (int i = 0; i < NS; i++)
        v[i] = (float)(1 / (1 + exp(-(-1.3 + 1.3 * nrand()))));
    svgplot_fill(edges, NB, v, NULL, NS / 2, bkg);
    svgplot_hist hs[] = {{"signal", sig}, {"background", bkg}};
    svgplot_opts os = {"Classifier output (test set)", "Signal probability", NULL, 0, 0, 0, 0, 0};
    bad |= put(dir, "scores.svg", svgplot_hists(&os, edges, NB, hs, 2, 1, &svg, &len, &e), &svg, &len);
    os.logy = 1;
    bad |= put(dir, "scores_log.svg", svgplot_hists(&os, edges, NB, hs, 2, 0, &svg, &len, &e), &svg, &len);
    double fe[26], fs[25] = {0}, fb[25] = {0};
    svgplot_edges_uniform(0, 250000, 25, fe); /* MeV-scale values: large tick numbers */
    for (int i = 0; i < NS; i++)
        v[i] = (float)(-40000 * log(urand() + 1e-12) + 20000);
    svgplot_fill(fe, 25, v, NULL, NS, fs);
    for (int i = 0; i < NS; i++)
        v[i] = (float)(-25000 * log(urand() + 1e-12) + 20000);
    svgplot_fill(fe, 25, v, NULL, NS, fb);
    svgplot_hist hf[] = {{"signal", fs}, {"background", fb}};
    svgplot_opts of = {"Jet_pt[0]", "Jet_pt[0] [MeV]", NULL, 0, 0, 0, 0, 0};
    bad |= put(dir, "feature.svg", svgplot_hists(&of, fe, 25, hf, 2, 1, &svg, &len, &e), &svg, &len);
    double nn[3] = {NAN, INFINITY, -INFINITY};
    svgplot_series ns[] = {{"<&\"'>", nn, nn, 3}};
    svgplot_opts on = {"nasty <title> & \"quotes\"", "x'", "y&", 0, 0, 1, 0, 0};
    bad |= put(dir, "nasty.svg", svgplot_lines(&on, ns, 1, &svg, &len, &e), &svg, &len);
    bad |= put(dir, "empty.svg", svgplot_lines(NULL, NULL, 0, &svg, &len, &e), &svg, &len);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_samples(argv[2]);
    RUN(lines_basic_and_nan);
    RUN(escaping_and_empty);
    RUN(roc_plot);
    RUN(hist_fill_and_plot);
    RUN(write_file);
    return test_summary();
}
