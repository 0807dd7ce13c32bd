/* mlhep_submit.c - the user's command line: submit a workflow, follow and manage jobs.
 *
 *   mlhep-submit [opts] workflow.json      check token + workflow, queue, print the id
 *   mlhep-submit [opts] --files F --labels L --model M [--params P] [--preproc Q] [--name N]
 *                                          the same with MLaaS4HEP's inputs: the workflow
 *                                          is built by service/mlaas4hep.h
 *   mlhep-submit [opts] status ID | watch ID | list | cancel ID | logs ID
 *   mlhep-submit [opts] result ID [--fetch DIR]
 *   mlhep-submit [opts] predict ... | models ...       (submit/infer_cmd.c)
 *
 * Users reach the service through mlhep-gateway over HTTPS (configuration key
 * gateway_url): the gateway checks the token and the workflow, queues jobs and answers
 * for the token's user only. Without gateway_url the commands go to the broker and
 * Redis directly, for operators inside the cluster. jobsvc.h is that choice; this file
 * holds the commands, their options and what they print, the same either way. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/logline.h"
#include "base/numarg.h"
#include "base/progress.h"
#include "root/srcaccess.h"
#include "service/auth_glue.h"
#include "service/config.h"
#include "service/job.h"
#include "service/jobpub.h"
#include "service/mlaas4hep.h"
#include "infer_cmd.h"
#include "infer_svc.h"
#include "jobsvc.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: mlhep-submit [options] WORKFLOW.json\n"
"       mlhep-submit [options] --files FILES --labels LABELS --model MODEL [--params P.json]\n"
"                    [--preproc PRE.json] [--name NAME]\n"
"       mlhep-submit [options] status ID | watch ID | list | cancel ID | logs ID\n"
"       mlhep-submit [options] result ID [--fetch DIR]\n"
"       mlhep-submit [options] predict --model REF [INPUT.json] | models ...  (predict --help)\n"
"\n"
"  WORKFLOW.json  submit a job: the token and workflow are checked, the job is\n"
"                 queued (persistent, confirmed by the broker) and its id printed\n"
"  status ID      the job's state, phase, progress, attempts, worker, heartbeat, error\n"
"  watch ID       follow the job until it ends (progress bar on a terminal, one line\n"
"                 per change otherwise); exit code tells how it ended\n"
"  list           your jobs, newest first\n"
"  cancel ID      cancel: a queued job is skipped, a running one stops at its next step\n"
"  result ID      the artifacts of a succeeded job; --fetch DIR copies them to DIR/ID/\n"
"  logs ID        the job's log lines\n"
"  --files ...    submit MLaaS4HEP's inputs with MLaaS4HEP's meaning: FILES and LABELS\n"
"                 text files (one entry per line) or comma lists (LABELS may name the\n"
"                 label branch), MODEL a model.py (Keras or PyTorch Sequential, read, not\n"
"                 run) or a .json model; the workflow is built from them (see mlhep-run)\n"
"\n"
"Where the commands go (the configuration decides):\n"
"  gateway_url set (users): HTTPS to mlhep-gateway with your bearer token; the gateway\n"
"      checks the token and the workflow before anything is queued. gateway_ca\n"
"      names the CA of its certificate (default: the system's). Nothing else is needed.\n"
"  gateway_url unset (operators inside the cluster): the broker and Redis directly,\n"
"      with the amqp_* and redis_* accounts of the configuration; the token and the\n"
"      workflow are checked here (paths lexically against data_roots).\n"
"\n"
"options:\n"
"  --config FILE      key=value configuration (default $MLHEP_CONFIG); MLHEP_* variables\n"
"                     override it (gateway_url, gateway_ca; operators: amqp_*,\n"
"                     redis_*, artifact_dir, auth_mode, ...)\n"
"  --token-file FILE  bearer token from FILE (default: $MLHEP_TOKEN)\n"
"  --oidc ACCOUNT     bearer token from oidc-agent: runs `oidc-token ACCOUNT`\n"
"  --storage-token-file FILE\n"
"                     submit: hand the job this storage bearer token (WLCG token, first\n"
"                     line of FILE) for its https:// reads; it is sealed for this job\n"
"                     only and deleted with it (docs/grid.md, \"Delegation\")\n"
"  --storage-proxy-file FILE\n"
"                     submit: hand the job this X.509 proxy (the x509up file: proxy\n"
"                     certificate, key, chain) for its root:// and https:// reads;\n"
"                     checked (refused when expired), sealed like the token; one of\n"
"                     the two per job\n"
"  --unchecked        submit, operators only: skip the local workflow checks (the worker\n"
"                     still checks everything; for testing the worker's own refusals)\n"
"  --json             status/list/result: print JSON (the record's fields as text)\n"
"  --timeout SEC      watch: give up after SEC seconds\n"
"  --no-wait          submit: do not wait for the job's status record to appear\n"
"  --fetch DIR        result: copy the artifacts to DIR/ID/\n"
"  -h, --help         this text; COMMAND --help: that command's (predict, models,\n"
"                     status, watch, list, cancel, result, logs)\n"
"\n"
"examples:\n"
"  export MLHEP_CONFIG=state/users/alice.conf MLHEP_TOKEN=$(cat state/users/alice.token)\n"
"  id=$(mlhep-submit workflow.json)\n"
"  mlhep-submit watch $id --timeout 3600\n"
"  mlhep-submit result $id --fetch out\n"
"  mlhep-submit --files files.txt --labels labels.txt --model model.py --params params.json\n"
"\n"
"exit codes:\n"
"   0 ok (watch: the job succeeded)        8 no such job for you\n"
"   2 usage error                          9 the job failed (watch/result)\n"
"   3 configuration error                 10 the job was cancelled (watch/result)\n"
"   4 token missing or refused            11 result: job not finished yet\n"
"   5 workflow unreadable or invalid      12 artifacts missing or unreadable\n"
"     (nothing was queued)                13 cancel: the job had already finished\n"
"   6 submit/cancel not queued (gateway    14 watch: --timeout reached\n"
"     or broker unreachable or refusing)  15 a local input path is outside the data\n"
"   7 records unreadable (gateway or         roots (nothing was queued)\n"
"     status store unreachable)           16 predict/models: no reply from the\n"
"                                            inference service in time\n"
"  token refused (nothing was done), 20 + the verifier's reason:\n"
"  21 malformed   22 too large     23 alg none        24 wrong algorithm\n"
"  25 unknown kid 26 bad signature 27 expired         28 not yet valid\n"
"  29 wrong issuer 30 wrong audience 31 missing scope mlhep.submit\n"
"  32 required claim (exp, sub) missing or unusable\n");
}

/* `mlhep-submit COMMAND --help` for the job commands (predict and models: infer_cmd.c). */
static int command_usage(const char *cmd, FILE *f)
{
    static const struct {
        const char *cmd, *synopsis, *what, *options, *example, *exits;
    } h[] = {
        {"status", "status ID [--json]",
         "The job's state, phase and progress, training figures (events, epoch, loss, AUC),\n"
         "attempts, worker, times, heartbeat (running jobs), error and artifacts.\n",
         "  --json             the record's fields as JSON\n",
         "  mlhep-submit status 0123456789abcdef0123456789abcdef\n",
         "0 ok, 2 usage (not a job id), 7 records unreadable, 8 no such job for you"},
        {"watch", "watch ID [--timeout SEC]",
         "Follows the job until it ends: a progress bar on a terminal, one line per change\n"
         "otherwise; the exit code tells how it ended.\n",
         "  --timeout SEC      give up after SEC seconds (exit 14)\n",
         "  mlhep-submit watch $(mlhep-submit workflow.json) --timeout 3600\n",
         "0 the job succeeded, 7 records unreadable, 8 no such job, 9 failed, 10 cancelled,\n"
         "14 --timeout reached (the job goes on)"},
        {"list", "list [--json]", "Your jobs, newest first: id, state, progress, submitted, name.\n",
         "  --json             the records as a JSON array\n", "  mlhep-submit list\n",
         "0 ok, 7 records unreadable"},
        {"cancel", "cancel ID",
         "Cancels the job: a queued job is skipped, a running one stops at its next step.\n", "",
         "  mlhep-submit cancel 0123456789abcdef0123456789abcdef\n",
         "0 cancelled or requested, 6 not queued (gateway or broker), 8 no such job,\n"
         "13 the job had already finished"},
        {"result", "result ID [--fetch DIR] [--json]",
         "The artifacts of a succeeded job (name, bytes, sha256) and its final metrics.\n",
         "  --fetch DIR        copy the artifacts to DIR/ID/\n"
         "  --json             the manifest as JSON\n",
         "  mlhep-submit result 0123456789abcdef0123456789abcdef --fetch out\n",
         "0 ok, 8 no such job, 9 the job failed, 10 cancelled, 11 not finished yet,\n"
         "12 artifacts missing or unreadable"},
        {"logs", "logs ID", "The job's log lines (worker and training), oldest first.\n", "",
         "  mlhep-submit logs 0123456789abcdef0123456789abcdef\n",
         "0 ok, 7 records unreadable, 8 no such job for you"},
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        if (strcmp(cmd, h[i].cmd))
            continue;
        fprintf(f,
                "usage: mlhep-submit [options] %s\n\n%s\noptions:\n%s"
                "  --config FILE      key=value configuration (default $MLHEP_CONFIG)\n"
                "  --token-file FILE  bearer token from FILE (default: $MLHEP_TOKEN)\n"
                "  --oidc ACCOUNT     bearer token from oidc-agent (`oidc-token ACCOUNT`)\n"
                "  -h, --help         this text (mlhep-submit --help: every command)\n"
                "\nexample:\n%s\nexit codes: %s;\na refused token 4 or 21..32 (mlhep-submit --help)\n",
                h[i].synopsis, h[i].what, h[i].options, h[i].example, h[i].exits);
        return 1;
    }
    return 0;
}

typedef struct cli {
    mlhep_config cfg;
    char *token;
    int json;
    double timeout;
    int no_wait;
    const char *fetch;
    int unchecked;
    char *storage_token; /* --storage-token-file's token, or NULL */
    char *storage_proxy; /* --storage-proxy-file's PEM text, or NULL */
    jobsvc *svc;
} cli;

/* --storage-proxy-file: the PEM text of FILE into *out (malloc'ed), checked
 * (srcaccess_check_proxy_pem); says on stderr until when it is valid. */
static int load_proxy(const char *path, char **out, mlhep_err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, MLHEP_EIO, "%s", strerror(errno));
    char *buf = calloc(1, SRCACCESS_PROXY_MAX + 2);
    size_t n = buf ? fread(buf, 1, SRCACCESS_PROXY_MAX + 1, f) : 0;
    fclose(f);
    if (!buf)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    long long until = -1;
    int rc = memchr(buf, 0, n) ? err_set(e, MLHEP_EINVAL, "not a PEM file")
                               : srcaccess_check_proxy_pem(buf, n, &until, e);
    if (rc) {
        memset(buf, 0, SRCACCESS_PROXY_MAX + 2);
        free(buf);
        return rc;
    }
    char when[64];
    srcaccess_utc(until, when, sizeof when);
    fprintf(stderr, "mlhep-submit: the job gets your X.509 proxy, valid until %s: reads after that fail\n", when);
    *out = buf;
    return 0;
}

static int check_id(const char *id)
{
    if (!job_id_valid(id))
        return infer_svc_fail(JX_USAGE, "'%s' is not a job id (32 lower-case hex digits)", id);
    return 0;
}

/* Reads the user's record of job id (checked first). */
static int get_record(cli *c, const char *id, json_t **rec)
{
    *rec = NULL;
    int rc = check_id(id);
    return rc ? rc : jobsvc_get(c->svc, id, rec);
}

static const char *field(json_t *rec, const char *k)
{
    const char *s = json_string_value(json_object_get(rec, k));
    return s ? s : "";
}

/* Prints one line to f built from record fields with its control characters escaped
 * (logline_escape): what a record holds never reaches the terminal raw (a name or a log
 * line with a newline or an escape sequence cannot forge lines or move the cursor). */
static void out_line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_line(FILE *f, const char *fmt, ...)
{
    char raw[4096], clean[4 * sizeof raw];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    logline_escape(raw, clean, sizeof clean);
    fprintf(f, "%s\n", clean);
}

static void fmt_time(const char *unix_s, char *out, size_t n)
{
    if (!*unix_s) {
        snprintf(out, n, "-");
        return;
    }
    double t = atof(unix_s);
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* ---- submit ---------------------------------------------------------------------- */

/* path: the workflow file; built: the workflow built from MLaaS4HEP's inputs (taken),
 * path then only names it in messages. */
static int cmd_submit(cli *c, const char *path, json_t *built)
{
    json_error_t je;
    json_t *wf = built ? built : json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!wf) {
        if (je.line < 1)
            return infer_svc_fail(JX_WORKFLOW, "%s: %s; nothing was queued", path, je.text);
        return infer_svc_fail(JX_WORKFLOW, "%s:%d:%d: invalid JSON: %s; nothing was queued", path, je.line,
                              je.column, je.text);
    }
    char id[JOB_ID_HEX + 1];
    int rc = jobsvc_submit(c->svc, wf, path, c->unchecked, c->storage_proxy ? "x509" : "token",
                           c->storage_proxy ? c->storage_proxy : c->storage_token, id);
    json_decref(wf);
    if (rc)
        return rc;
    printf("%s\n", id);
    fflush(stdout);
    if (!c->no_wait) {
        /* the record is created by a worker from the broker message: wait a moment */
        json_t *rec = NULL;
        for (int i = 0; i < 100; i++) {
            int x = jobsvc_peek(c->svc, id, &rec);
            if (x != 1)
                break;
            sleep_ms(20);
        }
        if (rec)
            out_line(stderr, "job %s %s", id, field(rec, "state"));
        else
            fprintf(stderr, "job %s queued in the broker; its status appears once a worker "
                            "registers it\n", id);
        json_decref(rec);
    }
    return JX_OK;
}

/* ---- status / watch ---------------------------------------------------------------- */

/* "events 12000 epoch 2/5 loss 0.4123 val_auc 0.8731" from a record's training
 * fields (empty when the job has none). */
static void train_fields(json_t *rec, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    if (*field(rec, "events") && strcmp(field(rec, "events"), "0"))
        o += (size_t)snprintf(out + o, n - o, "events %s", field(rec, "events"));
    if (o < n && *field(rec, "epochs") && strcmp(field(rec, "epochs"), "0"))
        o += (size_t)snprintf(out + o, n - o, "%sepoch %s/%s", o ? " " : "", field(rec, "epoch"),
                              field(rec, "epochs"));
    if (o < n && *field(rec, "loss"))
        o += (size_t)snprintf(out + o, n - o, "%sloss %.4f", o ? " " : "", atof(field(rec, "loss")));
    if (o < n && *field(rec, "val_auc"))
        o += (size_t)snprintf(out + o, n - o, "%sAUC %.4f", o ? " " : "", atof(field(rec, "val_auc")));
}

static int print_status(cli *c, json_t *rec)
{
    if (c->json) {
        json_dumpf(rec, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
        return 0;
    }
    char sub[32], sta[32], fin[32];
    fmt_time(field(rec, "submitted"), sub, sizeof sub);
    fmt_time(field(rec, "started"), sta, sizeof sta);
    fmt_time(field(rec, "finished"), fin, sizeof fin);
    const char *state = field(rec, "state");
    out_line(stdout, "job        %s", field(rec, "id"));
    out_line(stdout, "name       %s", field(rec, "name"));
    out_line(stdout, "state      %s", state);
    out_line(stdout, "phase      %s (%.0f%%)  %s", field(rec, "phase"), 100 * atof(field(rec, "progress")),
             field(rec, "message"));
    char train[160];
    train_fields(rec, train, sizeof train);
    if (*train)
        out_line(stdout, "training   %s", train);
    out_line(stdout, "attempts   %s  worker %s", *field(rec, "attempts") ? field(rec, "attempts") : "0",
             *field(rec, "worker") ? field(rec, "worker") : "-");
    out_line(stdout, "submitted  %s  started %s  finished %s", sub, sta, fin);
    if (!strcmp(state, "running")) {
        double age = job_now() - atof(field(rec, "heartbeat"));
        json_int_t ttl = json_integer_value(json_object_get(rec, "heartbeat_ttl_ms"));
        out_line(stdout, "heartbeat  %.1f s ago (%s)", age, ttl > 0 ? "lease alive" : "lease EXPIRED: worker lost?");
    }
    if (*field(rec, "error"))
        out_line(stdout, "error      %s", field(rec, "error"));
    if (*field(rec, "artifacts"))
        out_line(stdout, "artifacts  %s", field(rec, "artifacts"));
    return 0;
}

static int exit_for_state(const char *state)
{
    if (!strcmp(state, "failed"))
        return JX_JOBFAILED;
    if (!strcmp(state, "cancelled"))
        return JX_JOBCANCELLED;
    return JX_OK;
}

static int cmd_status(cli *c, const char *id)
{
    json_t *rec;
    int rc = get_record(c, id, &rec);
    if (rc)
        return rc;
    print_status(c, rec);
    json_decref(rec);
    return JX_OK;
}

typedef struct watcher {
    int tty;
    char last[512];
    progress bar;       /* on a TTY: the bar (base/progress.h), with its ETA */
} watcher;

/* One record of a watched job: its line (or bar); the exit code once it has ended. */
static int watch_show(void *cls, json_t *rec)
{
    watcher *w = cls;
    const char *state = field(rec, "state");
    double prog = atof(field(rec, "progress"));
    char line[512];
    char train[160];
    train_fields(rec, train, sizeof train);
    /* during training the fields say it all; other phases have their message */
    char msg[256];
    logline_escape(strcmp(field(rec, "phase"), "training") ? field(rec, "message") : "", msg, sizeof msg);
    if (w->tty) {
        snprintf(line, sizeof line, "%-9s %-8s %s%s%-30.30s", state, field(rec, "phase"), train, *train ? "  " : "",
                 msg);
        progress_update(&w->bar, prog, line, 0);
    } else {
        snprintf(line, sizeof line, "%s %s %.0f%%%s%s%s%s", state, field(rec, "phase"), floor(prog * 100),
                 *train ? " " : "", train, *msg ? " " : "", msg);
        if (strcmp(line, w->last)) {
            printf("%s\n", line);
            fflush(stdout);
            snprintf(w->last, sizeof w->last, "%s", line);
        }
    }
    job_state st;
    if (job_state_parse(state, &st) == 0 && job_state_terminal(st)) {
        if (w->tty)
            progress_done(&w->bar);
        if (*field(rec, "error"))
            out_line(stderr, "error: %s", field(rec, "error"));
        return exit_for_state(state);
    }
    return -1;
}

static int cmd_watch(cli *c, const char *id)
{
    int rc = check_id(id);
    if (rc)
        return rc;
    watcher w = {isatty(STDOUT_FILENO), "", {0}};
    progress_init(&w.bar, stdout, w.tty);
    rc = jobsvc_watch(c->svc, id, c->timeout, watch_show, &w);
    if (rc == JX_TIMEOUT) {
        if (w.tty)
            progress_done(&w.bar);
        return infer_svc_fail(JX_TIMEOUT, "watch: job %s not finished after %g s", id, c->timeout);
    }
    return rc;
}

static int cmd_list(cli *c)
{
    json_t *recs;
    int rc = jobsvc_list(c->svc, 1000, &recs);
    if (rc)
        return rc;
    if (c->json) {
        json_dumpf(recs, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
        json_decref(recs);
        return JX_OK;
    }
    printf("%-32s  %-9s  %4s  %-19s  %s\n", "ID", "STATE", "PROG", "SUBMITTED", "NAME");
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        char sub[32];
        fmt_time(field(rec, "submitted"), sub, sizeof sub);
        out_line(stdout, "%-32s  %-9s  %3.0f%%  %-19s  %s", field(rec, "id"), field(rec, "state"),
                 100 * atof(field(rec, "progress")), sub, field(rec, "name"));
    }
    json_decref(recs);
    return JX_OK;
}

static int cmd_cancel(cli *c, const char *id)
{
    json_t *rec;
    int rc = get_record(c, id, &rec);
    if (rc)
        return rc;
    job_state st = JOB_QUEUED;
    job_state_parse(field(rec, "state"), &st);
    json_decref(rec);
    if (job_state_terminal(st))
        return infer_svc_fail(JX_FINISHED, "job %s already %s: nothing to cancel", id, job_state_name(st));
    if ((rc = jobsvc_cancel(c->svc, id)))
        return rc;
    for (int i = 0; i < 100; i++) {
        if (jobsvc_peek(c->svc, id, &rec) == 0) {
            const char *s = field(rec, "state");
            int requested = !strcmp(field(rec, "cancel_requested"), "1");
            if (!strcmp(s, "cancelled") || (requested && !strcmp(s, "running"))) {
                printf("%s\n", !strcmp(s, "cancelled") ? "cancelled"
                                                       : "cancel requested: the job stops at its next step");
                json_decref(rec);
                return JX_OK;
            }
            if (strcmp(s, "queued") && strcmp(s, "running")) {
                json_decref(rec);
                return infer_svc_fail(JX_FINISHED, "job %s ended as %s before the cancel took effect", id, s);
            }
            json_decref(rec);
        }
        sleep_ms(50);
    }
    printf("cancel request sent (no worker has processed it yet)\n");
    return JX_OK;
}

static int cmd_result(cli *c, const char *id)
{
    json_t *rec;
    int rc = get_record(c, id, &rec);
    if (rc)
        return rc;
    const char *state = field(rec, "state");
    if (strcmp(state, "succeeded")) {
        rc = !strcmp(state, "failed")      ? infer_svc_fail(JX_JOBFAILED, "job %s failed: %s", id, field(rec, "error"))
             : !strcmp(state, "cancelled") ? infer_svc_fail(JX_JOBCANCELLED, "job %s was cancelled", id)
                                           : infer_svc_fail(JX_NOTREADY, "job %s is %s: no result yet", id, state);
        json_decref(rec);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", field(rec, "artifacts"));
    json_decref(rec);
    json_t *m;
    mlhep_err why;
    err_clear(&why);
    if (jobsvc_artifact_json(c->svc, id, dir, "MANIFEST.json", &m, &why))
        return infer_svc_fail(JX_ARTIFACTS, "cannot read the artifacts of job %s at %s: %s", id, dir, why.msg);
    if (c->json) {
        json_object_set_new(m, "path", json_string(dir));
        json_dumpf(m, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
    } else {
        out_line(stdout, "artifacts  %s", dir);
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(m, "files"), i, f)
            printf("  %-26s %8lld bytes  sha256 %.16s...\n", json_string_value(json_object_get(f, "name")),
                   (long long)json_integer_value(json_object_get(f, "bytes")),
                   json_string_value(json_object_get(f, "sha256")));
        json_t *mt = NULL;
        jobsvc_artifact_json(c->svc, id, dir, "metrics.json", &mt, &why); /* a job may have none */
        json_t *fin = json_object_get(mt, "final");
        if (json_is_object(fin)) {
            /* a training job: the final figures, on the test set (older runs: validation;
             * the file has every epoch and report.html every plot) */
            const json_t *rows = json_object_get(fin, "rows");
            printf("metrics    %s, %zu epochs: %s AUC %.4f, accuracy %.4f, loss %.4f "
                   "(%lld rows)\n",
                   json_string_value(json_object_get(mt, "model")) ? json_string_value(json_object_get(mt, "model")) : "model",
                   json_array_size(json_object_get(mt, "epochs")),
                   json_string_value(json_object_get(fin, "set")) ? json_string_value(json_object_get(fin, "set")) : "validation",
                   json_number_value(json_object_get(fin, "auc")),
                   json_number_value(json_object_get(fin, "accuracy")),
                   json_number_value(json_object_get(fin, "loss")),
                   (long long)json_number_value(rows ? rows : json_object_get(fin, "validation_rows")));
        } else if (mt) {
            char *s = json_dumps(mt, JSON_COMPACT | JSON_SORT_KEYS);
            printf("metrics    %.300s%s\n", s ? s : "", s && strlen(s) > 300 ? "..." : "");
            free(s);
        }
        json_decref(mt);
    }
    json_decref(m);
    if (c->fetch) {
        char dst[4200];
        snprintf(dst, sizeof dst, "%s/%s", c->fetch, id);
        if ((rc = jobsvc_fetch(c->svc, id, dir, dst)))
            return rc;
        printf("fetched to %s\n", dst);
    }
    return JX_OK;
}

static int cmd_logs(cli *c, const char *id)
{
    json_t *lines;
    int rc = check_id(id);
    if (!rc)
        rc = jobsvc_logs(c->svc, id, &lines);
    if (rc)
        return rc;
    size_t i;
    json_t *v;
    json_array_foreach(lines, i, v)
        out_line(stdout, "%s", json_string_value(v) ? json_string_value(v) : "");
    json_decref(lines);
    return JX_OK;
}

int main(int argc, char **argv)
{
    if (infer_cmd_wants(argc, argv)) /* predict / models: submit/infer_cmd.c */
        return infer_cmd_main(argc, argv);
    cli c;
    memset(&c, 0, sizeof c);
    const char *cfgpath = NULL, *tokfile = NULL, *oidc = NULL, *stokfile = NULL, *sproxyfile = NULL;
    mlaas4hep_args ma = {0};
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"files", required_argument, 0, 'F'},
                                         {"labels", required_argument, 0, 'L'},
                                         {"model", required_argument, 0, 'M'},
                                         {"params", required_argument, 0, 'P'},
                                         {"preproc", required_argument, 0, 'R'},
                                         {"name", required_argument, 0, 'N'},
                                         {"token-file", required_argument, 0, 't'},
                                         {"oidc", required_argument, 0, 'o'},
                                         {"unchecked", no_argument, 0, 'u'},
                                         {"storage-token-file", required_argument, 0, 'S'},
                                         {"storage-proxy-file", required_argument, 0, 'X'},
                                         {"json", no_argument, 0, 'j'},
                                         {"timeout", required_argument, 0, 'T'},
                                         {"no-wait", no_argument, 0, 'n'},
                                         {"fetch", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o, help = 0;
    while ((o = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': cfgpath = optarg; break;
        case 't': tokfile = optarg; break;
        case 'o': oidc = optarg; break;
        case 'u': c.unchecked = 1; break;
        case 'S': stokfile = optarg; break;
        case 'X': sproxyfile = optarg; break;
        case 'j': c.json = 1; break;
        case 'T': {
            mlhep_err e;
            if (numarg_double("--timeout", optarg, 0.001, 1e9, &c.timeout, &e)) {
                fprintf(stderr, "mlhep-submit: %s (seconds)\n", e.msg);
                return JX_USAGE;
            }
            break;
        }
        case 'n': c.no_wait = 1; break;
        case 'f': c.fetch = optarg; break;
        case 'F': ma.files = optarg; break;
        case 'L': ma.labels = optarg; break;
        case 'M': ma.model = optarg; break;
        case 'P': ma.params = optarg; break;
        case 'R': ma.preproc = optarg; break;
        case 'N': ma.name = optarg; break;
        case 'h': help = 1; break;
        default: usage(stderr); return JX_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (help) {
        if (nargs < 1 || !command_usage(args[0], stdout))
            usage(stdout);
        return JX_OK;
    }
    int mlaas = ma.files || ma.labels || ma.model || ma.params || ma.preproc || ma.name;
    if (mlaas && (nargs || !ma.files || !ma.labels || !ma.model)) {
        fprintf(stderr, "mlhep-submit: MLaaS4HEP's inputs need --files, --labels and --model (and no other "
                        "command)\n");
        return JX_USAGE;
    }
    char mlaas_what[] = "MLaaS4HEP inputs"; /* names the built workflow in messages */
    char *mlaas_args[] = {mlaas_what, NULL};
    if (mlaas) {
        args = mlaas_args;
        nargs = 1;
    }
    if (nargs < 1) {
        usage(stderr);
        return JX_USAGE;
    }
    const char *cmd = args[0];
    int needs_id = !strcmp(cmd, "status") || !strcmp(cmd, "watch") || !strcmp(cmd, "cancel") ||
                   !strcmp(cmd, "result") || !strcmp(cmd, "logs");
    int is_list = !strcmp(cmd, "list");
    if ((needs_id && nargs != 2) || (is_list && nargs != 1) || (!needs_id && !is_list && nargs != 1)) {
        usage(stderr);
        return JX_USAGE;
    }
    if (tokfile && oidc) {
        fprintf(stderr, "mlhep-submit: give either --token-file or --oidc, not both\n");
        return JX_USAGE;
    }
    if (c.fetch && strcmp(cmd, "result")) {
        fprintf(stderr, "mlhep-submit: --fetch only goes with result\n");
        return JX_USAGE;
    }
    mlhep_err e;
    err_clear(&e);
    if (config_load(&c.cfg, cfgpath, &e)) {
        fprintf(stderr, "mlhep-submit: configuration: %s\n", e.msg);
        return JX_CONFIG;
    }
    int rc;
    if (c.unchecked && c.cfg.gateway_url && *c.cfg.gateway_url) {
        rc = infer_svc_fail(JX_USAGE, "--unchecked: the gateway checks every workflow; only an operator's "
                                      "configuration (no gateway_url: the broker directly) can skip the checks");
    } else if (stokfile && (needs_id || is_list)) {
        rc = infer_svc_fail(JX_USAGE, "--storage-token-file: only `submit` hands a job a storage token");
    } else if (sproxyfile && (needs_id || is_list)) {
        rc = infer_svc_fail(JX_USAGE, "--storage-proxy-file: only `submit` hands a job a storage credential");
    } else if (sproxyfile && stokfile) {
        rc = infer_svc_fail(JX_USAGE, "--storage-token-file and --storage-proxy-file: give a job one of the two");
    } else if (sproxyfile && load_proxy(sproxyfile, &c.storage_proxy, &e)) {
        rc = infer_svc_fail(JX_USAGE, "--storage-proxy-file %s: %s; nothing was queued", sproxyfile, e.msg);
    } else if (stokfile && (auth_token_load(stokfile, &c.storage_token, &e) ||
                            jobpub_storage_token(c.storage_token, &e))) {
        rc = infer_svc_fail(JX_USAGE, "--storage-token-file %s: %s; nothing was queued", stokfile, e.msg);
    } else if (oidc ? auth_token_oidc(oidc, &c.token, &e) : auth_token_load(tokfile, &c.token, &e)) {
        rc = infer_svc_fail(JX_AUTH, "%s", e.msg);
    } else if ((rc = jobsvc_open(&c.cfg, c.token, &c.svc))) {
        /* printed */
    } else if (needs_id) {
        rc = !strcmp(cmd, "status")   ? cmd_status(&c, args[1])
             : !strcmp(cmd, "watch")  ? cmd_watch(&c, args[1])
             : !strcmp(cmd, "cancel") ? cmd_cancel(&c, args[1])
             : !strcmp(cmd, "result") ? cmd_result(&c, args[1])
                                      : cmd_logs(&c, args[1]);
    } else if (is_list) {
        rc = cmd_list(&c);
    } else {
        json_t *built = NULL;
        if (mlaas && mlaas4hep_workflow(&ma, &built, &e))
            rc = infer_svc_fail(JX_WORKFLOW, "%s; nothing was queued", e.msg);
        else
            rc = cmd_submit(&c, cmd, built);
    }
    jobsvc_close(c.svc);
    if (c.token) {
        memset(c.token, 0, strlen(c.token));
        free(c.token);
    }
    if (c.storage_token) {
        memset(c.storage_token, 0, strlen(c.storage_token));
        free(c.storage_token);
    }
    if (c.storage_proxy) {
        memset(c.storage_proxy, 0, strlen(c.storage_proxy));
        free(c.storage_proxy);
    }
    config_free(&c.cfg);
    return rc;
}
