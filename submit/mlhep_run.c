/* mlhep_run.c - embedded mode: run a workflow in-process, no broker, no Redis.
 *
 *   mlhep-run [--out DIR] [--data-root DIR]... [--threads N] [--quiet] workflow.json
 *   mlhep-run [options] --files files.txt --labels labels.txt --model model.py
 *             [--params params.json] [--preproc preproc.json] [--name NAME]
 *
 * The second form takes MLaaS4HEP's inputs with MLaaS4HEP's meaning; the workflow is
 * built from them by service/mlaas4hep.h (model.py read by model/modelpy.h) and then
 * runs exactly like a workflow file (its default data roots: the directory of
 * files.txt and the current directory).
 *
 * The same pipeline as a service worker (pipeline_run: the same schema, the same
 * checks - local paths confined to the data roots with realpath and symlink checks -
 * and train_run for mlp/gbdt/keras models; the `sleep` test job too). Progress goes to
 * the terminal: a bar redrawn in place on a TTY, one line per change otherwise. The
 * artifacts (model, metrics, plots, job.log, MANIFEST.json) go to ./mlhep-out/ID/
 * (ID: a fresh 128-bit job id) or to --out DIR, which must not exist or be empty.
 * Data roots: every --data-root DIR; without any, the workflow file's directory and
 * the current directory. SIGINT/SIGTERM stop the run at its next step (exit 10). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/numarg.h"
#include "service/artifacts.h"
#include "service/job.h"
#include "service/mlaas4hep.h"
#include "train/pipeline.h"

enum {
    EX_OK = 0,
    EX_USAGE = 2,
    EX_CONFIG = 3,      /* schemas not found, bad data root */
    EX_WORKFLOW = 5,    /* workflow unreadable or invalid */
    EX_FAILED = 9,      /* the run failed (message on stderr) */
    EX_STOPPED = 10,    /* interrupted by SIGINT/SIGTERM */
    EX_OUTPUT = 12,     /* output directory unusable */
    EX_PATH = 15,       /* a local input outside the data roots */
};

static volatile sig_atomic_t g_stop;
static void on_signal(int s)
{
    g_stop = s;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: mlhep-run [options] WORKFLOW.json\n"
"       mlhep-run [options] --files FILES --labels LABELS --model MODEL [--params P.json]\n"
"                 [--preproc PRE.json] [--name NAME]\n"
"  Runs the workflow in this process (no broker, no Redis): the same validation and\n"
"  pipeline as a service worker. Artifacts go to ./mlhep-out/ID/ (ID printed).\n"
"\n"
"MLaaS4HEP's inputs, with MLaaS4HEP's meaning (the workflow is built from them):\n"
"  --files FILES    a text file with one input file per line ('#' lines skipped), or a\n"
"                   comma-separated list; /store/... paths get params.redirector\n"
"  --labels LABELS  a text file with one label per line (the files' order), a comma-\n"
"                   separated list, or the name of the branch holding each event's label\n"
"  --model MODEL    model.py: a Keras or PyTorch Sequential model (read, not run), or a\n"
"                   .json model document\n"
"  --params P.json  MLaaS4HEP's params.json (default: ./params.json if it exists)\n"
"  --preproc PRE.json  MLaaS4HEP's pre-processing document\n"
"  --name NAME      the job's name (default: the model file's name)\n"
"\n"
"options:\n"
"  --out DIR        write the artifacts into DIR (created; must be empty if it exists)\n"
"  --data-root DIR  a directory local input files may come from (repeatable; default:\n"
"                   the workflow file's (or FILES') directory and the current directory)\n"
"  --threads N      data-layer and training threads (boosting, MLP batches; default: one per CPU)\n"
"  --quiet          no progress output (errors and the final summary only)\n"
"  --print-workflow check the workflow and print it (as built from MLaaS4HEP's inputs),\n"
"                   then exit without running it\n"
"\n"
"exit codes:\n"
"   0 done: artifacts written         9 the run failed (reason on stderr)\n"
"   2 usage error                    10 interrupted (SIGINT/SIGTERM); nothing kept\n"
"   3 schemas or data roots unusable 12 output directory unusable\n"
"   5 workflow unreadable or invalid 15 a local input is outside the data roots\n");
}

typedef struct term {
    int tty, quiet;
    FILE *log;
    char last[512];
    double t0;
    int drawn;
} term;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void describe(const pipeline_progress *p, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "%-8s", p->phase ? p->phase : "");
    if (o < n && p->events > 0)
        o += (size_t)snprintf(out + o, n - o, " events %lld", (long long)p->events);
    if (o < n && p->epochs > 0)
        o += (size_t)snprintf(out + o, n - o, " epoch %d/%d", p->epoch, p->epochs);
    if (o < n && p->loss == p->loss)
        o += (size_t)snprintf(out + o, n - o, " loss %.4f", p->loss);
    if (o < n && p->val_loss == p->val_loss)
        o += (size_t)snprintf(out + o, n - o, " val_loss %.4f", p->val_loss);
    if (o < n && p->val_auc == p->val_auc)
        o += (size_t)snprintf(out + o, n - o, " AUC %.4f", p->val_auc);
    if (o < n && p->message && *p->message && p->epochs <= 0)
        snprintf(out + o, n - o, "  %s", p->message);
}

static int on_step(void *ctx, const pipeline_progress *p)
{
    term *t = ctx;
    if (g_stop)
        return 1;
    if (t->quiet)
        return 0;
    char line[400];
    describe(p, line, sizeof line);
    double frac = p->fraction < 0 ? 0 : p->fraction > 1 ? 1 : p->fraction;
    if (t->tty) {
        int w = 30, full = (int)lround(frac * w);
        char bar[64];
        for (int i = 0; i < w; i++)
            bar[i] = i < full ? '#' : '.';
        bar[w] = '\0';
        fprintf(stderr, "\r[%s] %3.0f%% %6.1fs  %.90s\033[K", bar, 100 * frac, now_s() - t->t0, line);
        fflush(stderr);
        t->drawn = 1;
    } else if (strcmp(line, t->last) != 0) {
        fprintf(stderr, "%3.0f%% %6.1fs  %s\n", floor(100 * frac), now_s() - t->t0, line);
        snprintf(t->last, sizeof t->last, "%s", line);
    }
    return 0;
}

static void on_log(void *ctx, const char *line)
{
    term *t = ctx;
    if (t->log) {
        fprintf(t->log, "%s\n", line);
        fflush(t->log);
    }
}

/* 0 if dir does not exist (created) or is an empty directory. */
static int prepare_out(const char *dir, int *created)
{
    *created = 0;
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return -1;
        /* mkdir -p */
        char buf[PATH_MAX];
        if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
            return -1;
        for (char *p = buf + 1; *p; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
        if (mkdir(buf, 0755) != 0)
            return -1;
        *created = 1;
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    if (n) {
        errno = ENOTEMPTY;
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    const char *roots[64];
    int nroots = 0, threads = 0, quiet = 0, print_wf = 0;
    mlaas4hep_args ma = {0};
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"files", required_argument, 0, 'F'},
                                         {"labels", required_argument, 0, 'L'},
                                         {"model", required_argument, 0, 'M'},
                                         {"params", required_argument, 0, 'P'},
                                         {"preproc", required_argument, 0, 'R'},
                                         {"name", required_argument, 0, 'N'},
                                         {"print-workflow", no_argument, 0, 'W'},
                                         {"data-root", required_argument, 0, 'd'},
                                         {"threads", required_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "o:d:j:qh", opts, NULL)) != -1) {
        switch (o) {
        case 'o': out = optarg; break;
        case 'd':
            if (nroots == 64) {
                fprintf(stderr, "mlhep-run: at most 64 --data-root options\n");
                return EX_USAGE;
            }
            roots[nroots++] = optarg;
            break;
        case 'j': {
            mlhep_err e;
            if (numarg_int("--threads", optarg, 1, 256, &threads, &e)) {
                fprintf(stderr, "mlhep-run: %s\n", e.msg);
                return EX_USAGE;
            }
            break;
        }
        case 'q': quiet = 1; break;
        case 'F': ma.files = optarg; break;
        case 'L': ma.labels = optarg; break;
        case 'M': ma.model = optarg; break;
        case 'P': ma.params = optarg; break;
        case 'R': ma.preproc = optarg; break;
        case 'N': ma.name = optarg; break;
        case 'W': print_wf = 1; break;
        case 'h': usage(stdout); return EX_OK;
        default: usage(stderr); return EX_USAGE;
        }
    }
    int mlaas = ma.files || ma.labels || ma.model || ma.params || ma.preproc || ma.name;
    if (mlaas ? argc != optind || !ma.files || !ma.labels || !ma.model : argc - optind != 1) {
        if (mlaas)
            fprintf(stderr, "mlhep-run: MLaaS4HEP's inputs need --files, --labels and --model (and no "
                            "WORKFLOW.json)\n");
        usage(stderr);
        return EX_USAGE;
    }
    /* path: the workflow file, or the file whose directory is a default data root */
    const char *path = mlaas ? ma.files : argv[optind];
    const char *what = mlaas ? "MLaaS4HEP inputs" : path;
    mlhep_err e;
    err_clear(&e);

    json_t *doc = NULL;
    if (mlaas) {
        if (mlaas4hep_workflow(&ma, &doc, &e)) {
            fprintf(stderr, "mlhep-run: %s\n", e.msg);
            return EX_WORKFLOW;
        }
    } else {
        json_error_t je;
        doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!doc) {
            if (je.line < 1)
                fprintf(stderr, "mlhep-run: %s: %s\n", path, je.text);
            else
                fprintf(stderr, "mlhep-run: %s:%d:%d: invalid JSON: %s\n", path, je.line, je.column,
                        je.text);
            return EX_WORKFLOW;
        }
    }

    pipeline_env *env = NULL;
    /* test hooks on: the test job kinds (sleep) run in the user's own process here and
     * hold nothing shared, unlike on a service worker */
    if (pipeline_env_open(getenv("MLHEP_SCHEMAS"), NULL, 1, 1, &env, &e)) {
        fprintf(stderr, "mlhep-run: %s\n", e.msg);
        json_decref(doc);
        return EX_CONFIG;
    }
    env->nthreads = threads;
    int rc = 0;
    char abs[PATH_MAX];
    if (nroots == 0) {
        /* the workflow's directory, then the current directory */
        char *wdir = realpath(path, NULL);
        if (wdir) {
            char *slash = strrchr(wdir, '/');
            if (slash && slash != wdir)
                *slash = '\0';
            rc = pipeline_env_add_root(env, wdir, &e);
            free(wdir);
        }
        if (!rc && getcwd(abs, sizeof abs) && strcmp(abs, env->n_data_roots ? env->data_roots[0] : ""))
            rc = pipeline_env_add_root(env, abs, &e);
    }
    for (int i = 0; !rc && i < nroots; i++) {
        if (!realpath(roots[i], abs)) {
            rc = err_set(&e, MLHEP_EINVAL, "--data-root %s: %s", roots[i], strerror(errno));
            break;
        }
        rc = pipeline_env_add_root(env, abs, &e);
    }
    if (rc) {
        fprintf(stderr, "mlhep-run: %s\n", e.msg);
        pipeline_env_free(env);
        json_decref(doc);
        return EX_CONFIG;
    }

    /* validate (and load) before creating anything: the only time the workflow is read */
    workflow *wf = NULL;
    rc = pipeline_validate(doc, env, &wf, &e);
    if (rc) {
        fprintf(stderr, "mlhep-run: %s: %s\n", what, e.msg);
        pipeline_env_free(env);
        json_decref(doc);
        return rc == MLHEP_EAUTH ? EX_PATH : rc == MLHEP_EINVAL && strstr(e.msg, "data root") ? EX_CONFIG : EX_WORKFLOW;
    }
    if (print_wf) {
        char *t = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        if (t)
            printf("%s\n", t);
        free(t);
        json_decref(doc);
        workflow_free(wf);
        pipeline_env_free(env);
        return t ? EX_OK : EX_FAILED;
    }
    job j;
    rc = job_init(&j, "local", "", doc, &e);
    json_decref(doc);
    if (rc) {
        fprintf(stderr, "mlhep-run: %s\n", e.msg);
        workflow_free(wf);
        pipeline_env_free(env);
        return EX_WORKFLOW;
    }
    char outdir[PATH_MAX];
    if (out)
        snprintf(outdir, sizeof outdir, "%s", out);
    else
        snprintf(outdir, sizeof outdir, "mlhep-out/%s", j.id);
    int created = 0;
    if (prepare_out(outdir, &created) != 0) {
        fprintf(stderr, "mlhep-run: output directory %s: %s (it must not exist or be empty)\n",
                outdir, strerror(errno));
        job_clear(&j);
        workflow_free(wf);
        pipeline_env_free(env);
        return EX_OUTPUT;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    term t = {.tty = isatty(STDERR_FILENO), .quiet = quiet, .t0 = now_s()};
    char logpath[PATH_MAX + 16];
    snprintf(logpath, sizeof logpath, "%s/job.log", outdir);
    t.log = fopen(logpath, "w");
    const char *name = json_string_value(json_object_get(j.workflow, "name"));
    if (!quiet)
        fprintf(stderr, "mlhep-run: job %s (%s) -> %s\n", j.id, name ? name : "", outdir);
    pipeline_callbacks cb = {on_step, on_log, &t, NULL};
    rc = pipeline_run(&j, wf, env, &cb, outdir, &e);
    if (t.drawn)
        fputc('\n', stderr);
    double elapsed = now_s() - t.t0;
    int ex = EX_OK;
    if (rc == PIPELINE_STOPPED || (rc == 0 && g_stop)) {
        fprintf(stderr, "mlhep-run: interrupted after %.1f s; nothing kept\n", elapsed);
        ex = EX_STOPPED;
    } else if (rc) {
        on_log(&t, e.msg);
        fprintf(stderr, "mlhep-run: %s failed after %.1f s: %s\n", name ? name : "job", elapsed,
                e.msg);
        ex = rc == MLHEP_EAUTH ? EX_PATH : EX_FAILED;
    }
    if (t.log)
        fclose(t.log);
    if (ex == EX_OK) {
        json_t *info = json_pack("{s:s, s:s, s:s, s:f}", "job", j.id, "name", name ? name : "",
                                 "mode", "embedded", "elapsed_seconds", elapsed);
        if (artifacts_manifest(outdir, info, &e) != 0) {
            fprintf(stderr, "mlhep-run: %s\n", e.msg);
            ex = EX_OUTPUT;
        }
        json_decref(info);
    }
    if (ex == EX_OK) {
        printf("job       %s\n", j.id);
        printf("elapsed   %.2f s\n", elapsed);
        printf("artifacts %s\n", outdir);
        char mpath[PATH_MAX + 32];
        snprintf(mpath, sizeof mpath, "%s/MANIFEST.json", outdir);
        json_t *m = json_load_file(mpath, 0, NULL);
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(m, "files"), i, f)
            printf("  %-28s %10lld bytes\n", json_string_value(json_object_get(f, "name")),
                   (long long)json_integer_value(json_object_get(f, "bytes")));
        json_decref(m);
    } else if (ex == EX_STOPPED || ex == EX_FAILED || ex == EX_PATH) {
        /* nothing half-written is kept in a directory this run created (the reason was
         * printed); a directory the user gave keeps its job.log */
        if (created)
            artifacts_remove(outdir, &e);
    }
    job_clear(&j);
    workflow_free(wf);
    pipeline_env_free(env);
    return ex;
}
