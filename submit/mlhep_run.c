/* mlhep_run.c - embedded mode: run a workflow in-process, no broker, no Redis.
 *
 *   mlhep-run [--out DIR] [--data-root DIR]... [--threads N] [--quiet] workflow.json
 *   mlhep-run [options] --files files.txt --labels labels.txt --model model.py
 *             [--params params.json] [--preproc preproc.json] [--name NAME]
 *   mlhep-run --resume DIR [options] [workflow.json]
 *
 * The second form takes MLaaS4HEP's inputs with MLaaS4HEP's meaning; the workflow is
 * built from them by service/mlaas4hep.h (model.py read by model/modelpy.h) and then
 * runs exactly like a workflow file (its default data roots: the directory of
 * files.txt and the current directory).
 *
 * The same pipeline as a service worker (pipeline_run: the same schema, the same
 * checks - local paths confined to the data roots with realpath and symlink checks -
 * and train_run for mlp/gbdt/keras models; the `sleep` test job too). Progress goes to
 * the terminal (base/progress.h): a bar with an ETA on a TTY, each epoch's line kept
 * above it; plain periodic lines otherwise. The
 * artifacts (model, metrics, plots, job.log, MANIFEST.json) go to ./mlhep-out/ID/
 * (ID: a fresh 128-bit job id) or to --out DIR, which must not exist or be empty.
 * Data roots: every --data-root DIR; without any, the workflow file's directory and
 * the current directory. SIGINT/SIGTERM stop the run at its next step (exit 10); an MLP
 * training that finished an epoch keeps DIR/checkpoint.mlhep (the model with its optimiser
 * state, train/checkpoint.h) and the directory, and says how to resume: `--resume DIR`
 * continues to the same final weights as a run never stopped (the workflow, the job id
 * and the data roots come from the checkpoint; a workflow given with it must be the
 * same). The bar (base/progress.h) keeps each epoch's line above it. */
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
#include "base/progress.h"
#include "data/specs.h"
#include "service/artifacts.h"
#include "service/job.h"
#include "service/mlaas4hep.h"
#include "train/checkpoint.h"
#include "train/pipeline.h"
#include "train/train.h"

enum {
    EX_OK = 0,
    EX_USAGE = 2,
    EX_CONFIG = 3,      /* schemas not found, bad data root */
    EX_WORKFLOW = 5,    /* workflow unreadable or invalid */
    EX_FAILED = 9,      /* the run failed (message on stderr) */
    EX_STOPPED = 10,    /* interrupted by SIGINT/SIGTERM */
    EX_OUTPUT = 12,     /* output directory unusable */
    EX_PATH = 15,       /* a local input outside the data roots */
    EX_RESUME = 16,     /* --resume refused: no checkpoint, a corrupt one, another
                           workflow's, or inputs changed since */
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
"       mlhep-run --resume DIR [options] [WORKFLOW.json]\n"
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
"  --resume DIR     continue the stopped run whose artifacts are in DIR from its\n"
"                   checkpoint (DIR/checkpoint.mlhep: the last finished epoch with the\n"
"                   optimiser state) to the same result as a run never stopped. The\n"
"                   workflow, job id and data roots come from the checkpoint; a\n"
"                   WORKFLOW.json given too must be the same workflow (else exit 16)\n"
"  --stop-after-epoch N  stop an MLP training as if interrupted once epoch N is done (its\n"
"                   checkpoint kept; continue later with --resume)\n"
"  -h, --help       this text\n"
"\n"
"Ctrl-C (SIGINT) or SIGTERM stops the run at its next step. An MLP training that\n"
"finished an epoch keeps DIR and its checkpoint and prints the command that resumes it:\n"
"  mlhep-run --out run1 hzz.json     (Ctrl-C during epoch 7: epochs 1-6 kept)\n"
"  mlhep-run --resume run1\n"
"\n"
"examples:\n"
"  mlhep-run --out run --data-root data workflow.json\n"
"  mlhep-run --files files.txt --labels labels.txt --model model.py --params params.json\n"
"  mlhep-run --print-workflow --files files.txt --labels label --model model.py > workflow.json\n"
"(docs/programs/mlhep-run.md has the output of a run and every workflow key.)\n"
"\n"
"exit codes:\n"
"   0 done: artifacts written         9 the run failed (reason on stderr)\n"
"   2 usage error                    10 interrupted (SIGINT/SIGTERM): the checkpoint kept\n"
"   3 schemas or data roots unusable    (resume with --resume DIR), else nothing kept\n"
"   5 workflow unreadable or invalid 12 output directory unusable\n"
"                                    15 a local input is outside the data roots\n"
"                                    16 --resume refused: no checkpoint in DIR, a corrupt\n"
"                                       one, another workflow's, or the inputs changed\n");
}

typedef struct term {
    int quiet;
    FILE *log;
    progress bar;
    char phase[32];
    int stop_after;     /* --stop-after-epoch: 0 = never */
} term;

static double now_s(void)
{
    return progress_now();
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
    if (t->stop_after > 0 && p->epoch > t->stop_after && !g_stop)
        raise(SIGINT); /* --stop-after-epoch: the same path as a Ctrl-C */
    if (g_stop)
        return 1;
    if (t->quiet)
        return 0;
    char line[400];
    describe(p, line, sizeof line);
    const char *phase = p->phase ? p->phase : "";
    int newphase = strcmp(phase, t->phase) != 0;
    snprintf(t->phase, sizeof t->phase, "%s", phase);
    /* an epoch's figures (or a warning) stay on screen above the bar */
    if (p->epoch_end && p->message && *p->message)
        progress_line(&t->bar, "%s", p->message);
    progress_update(&t->bar, p->fraction, line, newphase || p->epoch_end);
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

/* The checkpoint's note (train/checkpoint.h): what --resume needs besides the workflow. */
static char *make_note(const char *id, char **roots, size_t nroots)
{
    json_t *o = json_object(), *a = json_array();
    for (size_t i = 0; i < nroots; i++)
        json_array_append_new(a, json_string(roots[i]));
    json_object_set_new(o, "job", json_string(id));
    json_object_set_new(o, "data_roots", a);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* DIR quoted for a shell when it needs it. */
static void shell_word(const char *s, char *out, size_t n)
{
    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:@") == strlen(s)) {
        snprintf(out, n, "%s", s);
        return;
    }
    size_t o = 0;
    if (o + 1 < n)
        out[o++] = '\'';
    for (; *s && o + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else {
            out[o++] = *s;
        }
    }
    if (o + 1 < n)
        out[o++] = '\'';
    out[o] = '\0';
}

int main(int argc, char **argv)
{
    const char *out = NULL, *resume = NULL;
    const char *roots[64];
    int nroots = 0, threads = 0, quiet = 0, print_wf = 0, stop_after = 0;
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
                                         {"resume", required_argument, 0, 'r'},
                                         {"stop-after-epoch", required_argument, 0, 'S'},
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
        case 'r': resume = optarg; break;
        case 'S': {
            mlhep_err e;
            if (numarg_int("--stop-after-epoch", optarg, 1, 1000000, &stop_after, &e)) {
                fprintf(stderr, "mlhep-run: %s\n", e.msg);
                return EX_USAGE;
            }
            break;
        }
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
    if (mlaas ? argc != optind || !ma.files || !ma.labels || !ma.model
              : argc - optind != 1 && !(resume && argc == optind)) {
        if (mlaas)
            fprintf(stderr, "mlhep-run: MLaaS4HEP's inputs need --files, --labels and --model (and no "
                            "WORKFLOW.json)\n");
        usage(stderr);
        return EX_USAGE;
    }
    if (resume && (out || print_wf)) {
        fprintf(stderr, "mlhep-run: --resume DIR continues in DIR: no --out%s with it\n",
                print_wf ? " or --print-workflow" : "");
        return EX_USAGE;
    }
    mlhep_err e;
    err_clear(&e);
    /* --resume: the checkpoint says which workflow, job and data roots */
    ckpt_info ck = {0};
    char ckpt_path[PATH_MAX + 32], resume_job[JOB_ID_HEX + 1] = "", rootstore[16384];
    json_t *doc = NULL;
    if (resume) {
        snprintf(ckpt_path, sizeof ckpt_path, "%s/" CKPT_FILE, resume);
        if (ckpt_info_read(ckpt_path, &ck, &e)) {
            fprintf(stderr, "mlhep-run: cannot resume %s: %s\n", resume, e.msg);
            return EX_RESUME;
        }
        json_t *note = ck.note ? json_loads(ck.note, 0, NULL) : NULL;
        const char *jid = json_string_value(json_object_get(note, "job"));
        if (jid && strlen(jid) == JOB_ID_HEX)
            snprintf(resume_job, sizeof resume_job, "%s", jid);
        /* the run's data roots, unless --data-root gives others */
        json_t *nr = json_object_get(note, "data_roots");
        size_t used = 0;
        for (size_t i = 0; !nroots && i < json_array_size(nr); i++) {
            const char *r = json_string_value(json_array_get(nr, i));
            size_t n = r ? strlen(r) + 1 : 0;
            if (!r || used + n > sizeof rootstore || nroots == 64)
                continue;
            memcpy(rootstore + used, r, n);
            roots[nroots++] = rootstore + used;
            used += n;
        }
        json_decref(note);
        if (optind == argc) {
            json_error_t je;
            doc = json_loads(ck.workflow, JSON_REJECT_DUPLICATES, &je);
            if (!doc) {
                fprintf(stderr, "mlhep-run: cannot resume %s: the checkpoint's workflow is not JSON: %s\n",
                        resume, je.text);
                ckpt_info_clear(&ck);
                return EX_RESUME;
            }
        }
        ckpt_info_clear(&ck); /* keeps the epochs, the hash and the fingerprint */
    }
    /* path: the workflow file, or the file whose directory is a default data root */
    const char *path = mlaas ? ma.files : optind < argc ? argv[optind] : NULL;
    const char *what = mlaas ? "MLaaS4HEP inputs" : path ? path : ckpt_path;

    if (!path) {
        /* the checkpoint's workflow (read above) */
    } else if (mlaas) {
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
        char *wdir = path ? realpath(path, NULL) : NULL;
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
    if (resume) {
        /* the checkpoint must be this workflow's, on the same inputs (train.c checks
         * again when it loads it) */
        char key[CKPT_KEY_LEN + 1], fp[65];
        rc = ckpt_key(wf, key, &e);
        if (!rc)
            rc = specs_fingerprint(&wf->data, fp, &e);
        if (!rc && strcmp(key, ck.key))
            rc = err_set(&e, MLHEP_EINVAL, "%s was written for another workflow (hash %s; %s has %s)", ckpt_path,
                         ck.key, what, key);
        else if (!rc && strcmp(fp, ck.fingerprint))
            rc = err_set(&e, MLHEP_EINVAL, "the inputs changed since %s was written (a file's size or "
                         "modification time): resuming would not give the same result", ckpt_path);
        if (rc) {
            fprintf(stderr, "mlhep-run: cannot resume %s: %s\n", resume, e.msg);
            json_decref(doc);
            workflow_free(wf);
            pipeline_env_free(env);
            return EX_RESUME;
        }
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
    if (*resume_job)
        snprintf(j.id, sizeof j.id, "%s", resume_job); /* the same job, continued */
    char outdir[PATH_MAX];
    if (resume)
        snprintf(outdir, sizeof outdir, "%s", resume);
    else if (out)
        snprintf(outdir, sizeof outdir, "%s", out);
    else
        snprintf(outdir, sizeof outdir, "mlhep-out/%s", j.id);
    int created = 0;
    if (!resume && prepare_out(outdir, &created) != 0) {
        char kp[PATH_MAX + 32], word[2 * PATH_MAX];
        struct stat kst;
        snprintf(kp, sizeof kp, "%s/" CKPT_FILE, outdir);
        int has_ckpt = stat(kp, &kst) == 0;
        shell_word(outdir, word, sizeof word);
        fprintf(stderr, "mlhep-run: output directory %s: %s (it must not exist or be empty)%s%s\n", outdir,
                strerror(errno), has_ckpt ? "; it holds a stopped run's checkpoint: continue it with mlhep-run "
                "--resume " : "", has_ckpt ? word : "");
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

    term t = {.quiet = quiet, .stop_after = stop_after};
    progress_init(&t.bar, stderr, -1);
    char logpath[PATH_MAX + 16];
    snprintf(logpath, sizeof logpath, "%s/job.log", outdir);
    t.log = fopen(logpath, resume ? "a" : "w");
    const char *name = json_string_value(json_object_get(j.workflow, "name"));
    if (!quiet && resume)
        fprintf(stderr, "mlhep-run: job %s (%s) resumed in %s after epoch %d/%d\n", j.id, name ? name : "",
                outdir, ck.epoch, ck.epochs);
    else if (!quiet)
        fprintf(stderr, "mlhep-run: job %s (%s) -> %s\n", j.id, name ? name : "", outdir);
    if (resume)
        on_log(&t, "resumed from " CKPT_FILE " (mlhep-run --resume)");
    char *note = make_note(j.id, env->data_roots, env->n_data_roots);
    pipeline_callbacks cb = {on_step, on_log, &t, NULL, resume ? TRAIN_RESUME_MUST : TRAIN_RESUME_NO, note};
    rc = pipeline_run(&j, wf, env, &cb, outdir, &e);
    free(note);
    progress_done(&t.bar);
    double elapsed = now_s() - t.bar.t0;
    int ex = EX_OK, kept = 0;
    if (rc == PIPELINE_STOPPED || (rc == 0 && g_stop)) {
        ex = EX_STOPPED;
        ckpt_info ki;
        char kp[PATH_MAX + 32], word[2 * PATH_MAX];
        snprintf(kp, sizeof kp, "%s/" CKPT_FILE, outdir);
        if (ckpt_info_read(kp, &ki, &e) == 0) {
            kept = 1;
            shell_word(outdir, word, sizeof word);
            fprintf(stderr, "mlhep-run: interrupted after %.1f s; kept %s (epoch %d/%d done, with the optimiser "
                    "state); resume with: mlhep-run --resume %s\n", elapsed, kp, ki.epoch, ki.epochs, word);
            ckpt_info_clear(&ki);
        } else {
            fprintf(stderr, "mlhep-run: interrupted after %.1f s; nothing kept (no checkpoint: an MLP writes one "
                    "when an epoch ends, boosted trees none)\n", elapsed);
        }
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
        /* a sub-directory (params.hist's histograms) is one line: NAME/, its files, bytes;
         * the manifest lists names sorted, so a directory's files are consecutive */
        const json_t *files = json_object_get(m, "files");
        for (i = 0; i < json_array_size(files);) {
            f = json_array_get(files, i);
            const char *n = json_string_value(json_object_get(f, "name"));
            const char *slash = n ? strchr(n, '/') : NULL;
            long long bytes = (long long)json_integer_value(json_object_get(f, "bytes"));
            if (!slash) {
                printf("  %-28s %10lld bytes\n", n ? n : "?", bytes);
                i++;
                continue;
            }
            size_t dl = (size_t)(slash - n) + 1, k = 0;
            for (bytes = 0; i < json_array_size(files); i++, k++) {
                const char *n2 = json_string_value(json_object_get(json_array_get(files, i), "name"));
                if (!n2 || strncmp(n2, n, dl))
                    break;
                bytes += (long long)json_integer_value(json_object_get(json_array_get(files, i), "bytes"));
            }
            char dir[64];
            snprintf(dir, sizeof dir, "%.*s", (int)(dl < sizeof dir ? dl : sizeof dir - 1), n);
            printf("  %-28s %10lld bytes in %zu files\n", dir, bytes, k);
        }
        json_decref(m);
    } else if (ex == EX_STOPPED || ex == EX_FAILED || ex == EX_PATH) {
        /* nothing half-written is kept in a directory this run created (the reason was
         * printed); a directory the user gave keeps its job.log */
        if (created && !kept)
            artifacts_remove(outdir, &e);
    }
    job_clear(&j);
    workflow_free(wf);
    pipeline_env_free(env);
    return ex;
}
