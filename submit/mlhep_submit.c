/* mlhep_submit.c - the user's command line: submit a workflow, follow and manage jobs.
 *
 *   mlhep-submit [opts] workflow.json      check token + workflow, publish, print the id
 *   mlhep-submit [opts] status ID | watch ID | list | cancel ID | logs ID
 *   mlhep-submit [opts] result ID [--fetch DIR]
 *
 * The CLI holds no Redis write rights: it publishes jobs and cancel requests to the
 * broker (exchange `jobs`, persistent, publisher confirms) and reads status with a
 * read-only Redis account confined to the caller's own keys (see jobstore.h). Every
 * command first resolves the caller's user name from the bearer token
 * (auth_check_submit), and only that user's keys are ever read. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/numarg.h"
#include "service/amqp_client.h"
#include "service/artifacts.h"
#include "service/auth_glue.h"
#include "service/config.h"
#include "service/job.h"
#include "service/jobstore.h"
#include "train/pipeline.h"
#include "infer_cmd.h"

enum {
    EX_OK = 0,
    EX_USAGE = 2,
    EX_CONFIG = 3,
    EX_AUTH = 4,
    EX_WORKFLOW = 5,
    EX_BROKER = 6,
    EX_STORE = 7,
    EX_NOTFOUND = 8,
    EX_JOBFAILED = 9,
    EX_JOBCANCELLED = 10,
    EX_NOTREADY = 11,
    EX_ARTIFACTS = 12,
    EX_FINISHED = 13,
    EX_TIMEOUT = 14,
    EX_PATH = 15,
    EX_TOKEN_BASE = 20, /* + jwt_reason (1..12): the token was refused, see usage() */
};

/* Exit code for a refused token: 4 when there is no usable token at all, 20 + the
 * verifier's reason otherwise (stable: jwt_reason values are fixed), 3 for a verifier
 * configuration problem. */
static int auth_exit(int reason)
{
    if (reason == JWT_E_CONFIG)
        return EX_CONFIG;
    if (reason >= JWT_E_MALFORMED && reason < JWT_E_CONFIG)
        return EX_TOKEN_BASE + reason;
    return EX_AUTH;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: mlhep-submit [options] WORKFLOW.json\n"
"       mlhep-submit [options] status ID | watch ID | list | cancel ID | logs ID\n"
"       mlhep-submit [options] result ID [--fetch DIR]\n"
"       mlhep-submit [options] predict --model REF [INPUT.json] | models ...  (predict --help)\n"
"\n"
"  WORKFLOW.json  submit a job: the token and workflow are checked, the job is\n"
"                 published (persistent, confirmed by the broker) and its id printed\n"
"  status ID      the job's state, phase, progress, attempts, worker, heartbeat, error\n"
"  watch ID       follow the job until it ends (progress bar on a terminal, one line\n"
"                 per change otherwise); exit code tells how it ended\n"
"  list           your jobs, newest first\n"
"  cancel ID      cancel: a queued job is skipped, a running one stops at its next step\n"
"  result ID      the artifacts of a succeeded job; --fetch DIR copies them to DIR/ID/\n"
"  logs ID        the job's log lines\n"
"\n"
"options:\n"
"  --config FILE      key=value configuration (default $MLHEP_CONFIG); MLHEP_* variables\n"
"                     override it (amqp_*, redis_*, artifact_dir, auth_mode, ...)\n"
"  --token-file FILE  bearer token from FILE (default: $MLHEP_TOKEN)\n"
"  --oidc ACCOUNT     bearer token from oidc-agent: runs `oidc-token ACCOUNT`\n"
"  --unchecked        submit: skip the local workflow checks (the worker still checks\n"
"                     everything; for testing the worker's own refusals)\n"
"  --json             status/list/result: print JSON\n"
"  --timeout SEC      watch: give up after SEC seconds\n"
"  --no-wait          submit: do not wait for the job's status record to appear\n"
"\n"
"exit codes:\n"
"   0 ok (watch: the job succeeded)        8 no such job for you\n"
"   2 usage error                          9 the job failed (watch/result)\n"
"   3 configuration error                 10 the job was cancelled (watch/result)\n"
"   4 token missing or refused            11 result: job not finished yet\n"
"   5 workflow unreadable or invalid      12 artifacts missing or unreadable\n"
"     (nothing was queued)                13 cancel: the job had already finished\n"
"   6 broker error (submit/cancel)        14 watch: --timeout reached\n"
"   7 status store (Redis) error          15 a local input path is outside the data\n"
"                                            roots (nothing was queued)\n"
"  token refused (nothing was done), 20 + the verifier's reason:\n"
"  21 malformed   22 too large     23 alg none        24 wrong algorithm\n"
"  25 unknown kid 26 bad signature 27 expired         28 not yet valid\n"
"  29 wrong issuer 30 wrong audience 31 missing scope mlhep.submit\n"
"  32 required claim (exp, sub) missing or unusable\n");
}

typedef struct cli {
    mlhep_config cfg;
    char user[JOB_USER_MAX + 1];
    char *token;
    int json;
    double timeout;
    int no_wait;
    const char *fetch;
    int unchecked;
    jobstore *js;
} cli;


static int store(cli *c)
{
    if (c->js)
        return 0;
    mlhep_err e;
    if (jobstore_connect(&c->js, &c->cfg, &e))
        return infer_cmd_fail(e.code == MLHEP_EAUTH ? EX_AUTH : EX_STORE, "status store: %s", e.msg);
    return 0;
}

static int check_id(const char *id)
{
    if (!job_id_valid(id))
        return infer_cmd_fail(EX_USAGE, "'%s' is not a job id (32 lower-case hex digits)", id);
    return 0;
}

/* Reads the user's record of job id (checked first). */
static int get_record(cli *c, const char *id, json_t **rec)
{
    int rc = check_id(id);
    if (!rc)
        rc = store(c);
    if (rc)
        return rc;
    mlhep_err e;
    rc = jobstore_get(c->js, c->user, id, rec, &e);
    if (rc == JS_MISSING)
        return infer_cmd_fail(EX_NOTFOUND, "no job %s for user '%s' (it does not exist, is not registered "
                                 "yet, or belongs to someone else)", id, c->user);
    if (rc < 0)
        return infer_cmd_fail(e.code == MLHEP_EAUTH ? EX_AUTH : EX_STORE, "%s", e.msg);
    return 0;
}

static const char *field(json_t *rec, const char *k)
{
    const char *s = json_string_value(json_object_get(rec, k));
    return s ? s : "";
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

static int publish(cli *c, const char *rkey, const char *body, size_t len, const char *msgid)
{
    amqpc_params p = {c->cfg.amqp_host, c->cfg.amqp_port, c->cfg.amqp_user, c->cfg.amqp_password,
                      c->cfg.amqp_vhost, 0, 10000};
    amqpc *mq = NULL;
    mlhep_err e;
    int rc = amqpc_connect(&mq, &p, &e);
    if (!rc)
        rc = amqpc_channel_open(mq, 1, &e);
    if (!rc)
        rc = amqpc_confirm_select(mq, 1, &e);
    if (!rc)
        rc = amqpc_publish(mq, 1, "jobs", rkey, body, len, msgid, &e);
    amqpc_close(mq);
    if (rc)
        return infer_cmd_fail(EX_BROKER, "%s", e.msg);
    return 0;
}

/* ---- submit ---------------------------------------------------------------------- */

static int cmd_submit(cli *c, const char *path)
{
    json_error_t je;
    json_t *wf = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!wf) {
        if (je.line < 1)
            return infer_cmd_fail(EX_WORKFLOW, "%s: %s; nothing was queued", path, je.text);
        return infer_cmd_fail(EX_WORKFLOW, "%s:%d:%d: invalid JSON: %s; nothing was queued", path, je.line,
                    je.column, je.text);
    }
    mlhep_err e;
    if (!c->unchecked) {
        /* same schema and rules as the worker; paths checked lexically against the data
         * roots (this machine may not see the worker's disks; when it does, the inputs
         * are checked as the worker would). Test hooks (model.crash)
         * are the worker's decision: let them through here. */
        pipeline_env *env = NULL;
        if (pipeline_env_open(c->cfg.schemas_dir, c->cfg.data_roots, 0, 1, &env, &e)) {
            json_decref(wf);
            return infer_cmd_fail(EX_CONFIG, "%s", e.msg);
        }
        int rc = pipeline_validate(wf, env, NULL, &e);
        if (!rc) /* branch names and expressions, when the inputs are visible here */
            rc = pipeline_check_inputs_if_visible(wf, env, &e);
        pipeline_env_free(env);
        if (rc) {
            json_decref(wf);
            return infer_cmd_fail(rc == MLHEP_EAUTH ? EX_PATH : EX_WORKFLOW, "%s: %s; nothing was queued",
                        path, e.msg);
        }
    }
    job j;
    int rc = job_init(&j, c->user, c->token, wf, &e);
    json_decref(wf);
    if (rc)
        return infer_cmd_fail(EX_WORKFLOW, "%s", e.msg);
    char *msg = NULL;
    size_t len = 0;
    if (job_message_encode(&j, &msg, &len, &e)) {
        job_clear(&j);
        return infer_cmd_fail(EX_WORKFLOW, "%s", e.msg);
    }
    rc = publish(c, "train", msg, len, j.id);
    free(msg);
    if (rc) {
        job_clear(&j);
        return rc;
    }
    printf("%s\n", j.id);
    fflush(stdout);
    if (!c->no_wait && store(c) == 0) {
        /* the record is created by a worker from the broker message: wait a moment */
        json_t *rec = NULL;
        for (int i = 0; i < 100; i++) {
            if (jobstore_get(c->js, c->user, j.id, &rec, &e) == 0)
                break;
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (rec)
            fprintf(stderr, "job %s %s\n", j.id, field(rec, "state"));
        else
            fprintf(stderr, "job %s queued in the broker; its status appears once a worker "
                            "registers it\n", j.id);
        json_decref(rec);
    }
    job_clear(&j);
    return EX_OK;
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
    printf("job        %s\n", field(rec, "id"));
    printf("name       %s\n", field(rec, "name"));
    printf("state      %s\n", state);
    printf("phase      %s (%.0f%%)  %s\n", field(rec, "phase"), 100 * atof(field(rec, "progress")),
           field(rec, "message"));
    char train[160];
    train_fields(rec, train, sizeof train);
    if (*train)
        printf("training   %s\n", train);
    printf("attempts   %s  worker %s\n", *field(rec, "attempts") ? field(rec, "attempts") : "0",
           *field(rec, "worker") ? field(rec, "worker") : "-");
    printf("submitted  %s  started %s  finished %s\n", sub, sta, fin);
    if (!strcmp(state, "running")) {
        double age = job_now() - atof(field(rec, "heartbeat"));
        json_int_t ttl = json_integer_value(json_object_get(rec, "heartbeat_ttl_ms"));
        printf("heartbeat  %.1f s ago (%s)\n", age, ttl > 0 ? "lease alive" : "lease EXPIRED: worker lost?");
    }
    if (*field(rec, "error"))
        printf("error      %s\n", field(rec, "error"));
    if (*field(rec, "artifacts"))
        printf("artifacts  %s\n", field(rec, "artifacts"));
    return 0;
}

static int exit_for_state(const char *state)
{
    if (!strcmp(state, "failed"))
        return EX_JOBFAILED;
    if (!strcmp(state, "cancelled"))
        return EX_JOBCANCELLED;
    return EX_OK;
}

static int cmd_status(cli *c, const char *id)
{
    json_t *rec;
    int rc = get_record(c, id, &rec);
    if (rc)
        return rc;
    print_status(c, rec);
    json_decref(rec);
    return EX_OK;
}

static int cmd_watch(cli *c, const char *id)
{
    int rc = check_id(id);
    if (rc)
        return rc;
    if ((rc = store(c)))
        return rc;
    int tty = isatty(STDOUT_FILENO);
    double t0 = job_now();
    char last[512] = "";
    mlhep_err e;
    for (;;) {
        json_t *rec = NULL;
        int g = jobstore_get(c->js, c->user, id, &rec, &e);
        if (g < 0)
            return infer_cmd_fail(EX_STORE, "%s", e.msg);
        double waited = job_now() - t0;
        if (g == JS_MISSING) {
            if (waited > 5) /* registration is asynchronous: allow a moment */
                return get_record(c, id, &rec);
        } else {
            const char *state = field(rec, "state");
            double prog = atof(field(rec, "progress"));
            char line[512];
            char train[160];
            train_fields(rec, train, sizeof train);
            /* during training the fields say it all; other phases have their message */
            const char *msg = strcmp(field(rec, "phase"), "training") ? field(rec, "message") : "";
            if (tty) {
                int w = 30, full = (int)lround(prog * w);
                char bar[64];
                for (int i = 0; i < w; i++)
                    bar[i] = i < full ? '#' : '.';
                bar[w] = '\0';
                snprintf(line, sizeof line, "\r[%s] %3.0f%%  %-9s %-8s %s%s%-30.30s\033[K", bar,
                         100 * prog, state, field(rec, "phase"), train, *train ? "  " : "", msg);
                fputs(line, stdout);
                fflush(stdout);
            } else {
                snprintf(line, sizeof line, "%s %s %.0f%%%s%s%s%s", state, field(rec, "phase"),
                         floor(prog * 100), *train ? " " : "", train, *msg ? " " : "", msg);
                if (strcmp(line, last)) {
                    printf("%s\n", line);
                    fflush(stdout);
                    snprintf(last, sizeof last, "%s", line);
                }
            }
            job_state st;
            if (job_state_parse(state, &st) == 0 && job_state_terminal(st)) {
                if (tty)
                    printf("\n");
                if (*field(rec, "error"))
                    fprintf(stderr, "error: %s\n", field(rec, "error"));
                rc = exit_for_state(state);
                json_decref(rec);
                return rc;
            }
        }
        json_decref(rec);
        if (c->timeout > 0 && waited > c->timeout) {
            if (tty)
                printf("\n");
            return infer_cmd_fail(EX_TIMEOUT, "watch: job %s not finished after %g s", id, c->timeout);
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int cmd_list(cli *c)
{
    int rc = store(c);
    if (rc)
        return rc;
    json_t *ids;
    mlhep_err e;
    if (jobstore_list(c->js, c->user, 1000, &ids, &e))
        return infer_cmd_fail(e.code == MLHEP_EAUTH ? EX_AUTH : EX_STORE, "%s", e.msg);
    json_t *all = json_array();
    size_t i;
    json_t *v;
    if (!c->json)
        printf("%-32s  %-9s  %4s  %-19s  %s\n", "ID", "STATE", "PROG", "SUBMITTED", "NAME");
    json_array_foreach(ids, i, v) {
        json_t *rec;
        if (jobstore_get(c->js, c->user, json_string_value(v), &rec, &e) != 0)
            continue;
        if (c->json) {
            json_array_append_new(all, rec);
            continue;
        }
        char sub[32];
        fmt_time(field(rec, "submitted"), sub, sizeof sub);
        printf("%-32s  %-9s  %3.0f%%  %-19s  %s\n", field(rec, "id"), field(rec, "state"),
               100 * atof(field(rec, "progress")), sub, field(rec, "name"));
        json_decref(rec);
    }
    if (c->json) {
        json_dumpf(all, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
    }
    json_decref(all);
    json_decref(ids);
    return EX_OK;
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
        return infer_cmd_fail(EX_FINISHED, "job %s already %s: nothing to cancel", id, job_state_name(st));
    char *msg;
    size_t len;
    mlhep_err e;
    if (job_control_encode("cancel", id, c->user, c->token, &msg, &len, &e))
        return infer_cmd_fail(EX_BROKER, "%s", e.msg);
    rc = publish(c, "cancel", msg, len, id);
    free(msg);
    if (rc)
        return rc;
    for (int i = 0; i < 100; i++) {
        if (jobstore_get(c->js, c->user, id, &rec, &e) == 0) {
            const char *s = field(rec, "state");
            int requested = !strcmp(field(rec, "cancel_requested"), "1");
            if (!strcmp(s, "cancelled") || (requested && !strcmp(s, "running"))) {
                printf("%s\n", !strcmp(s, "cancelled") ? "cancelled"
                                                       : "cancel requested: the job stops at its next step");
                json_decref(rec);
                return EX_OK;
            }
            if (strcmp(s, "queued") && strcmp(s, "running")) {
                json_decref(rec);
                return infer_cmd_fail(EX_FINISHED, "job %s ended as %s before the cancel took effect", id, s);
            }
            json_decref(rec);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("cancel request sent (no worker has processed it yet)\n");
    return EX_OK;
}

static int cmd_result(cli *c, const char *id)
{
    json_t *rec;
    int rc = get_record(c, id, &rec);
    if (rc)
        return rc;
    const char *state = field(rec, "state");
    if (strcmp(state, "succeeded")) {
        rc = !strcmp(state, "failed")      ? infer_cmd_fail(EX_JOBFAILED, "job %s failed: %s", id, field(rec, "error"))
             : !strcmp(state, "cancelled") ? infer_cmd_fail(EX_JOBCANCELLED, "job %s was cancelled", id)
                                           : infer_cmd_fail(EX_NOTREADY, "job %s is %s: no result yet", id, state);
        json_decref(rec);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", field(rec, "artifacts"));
    json_decref(rec);
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/MANIFEST.json", dir);
    json_error_t je;
    json_t *m = json_load_file(mpath, 0, &je);
    if (!m)
        return infer_cmd_fail(EX_ARTIFACTS, "cannot read the artifacts of job %s at %s: %s", id, dir, je.text);
    if (c->json) {
        json_object_set_new(m, "path", json_string(dir));
        json_dumpf(m, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
    } else {
        printf("artifacts  %s\n", dir);
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(m, "files"), i, f)
            printf("  %-26s %8lld bytes  sha256 %.16s...\n", json_string_value(json_object_get(f, "name")),
                   (long long)json_integer_value(json_object_get(f, "bytes")),
                   json_string_value(json_object_get(f, "sha256")));
        char metrics[4200];
        snprintf(metrics, sizeof metrics, "%s/metrics.json", dir);
        json_t *mt = json_load_file(metrics, 0, &je);
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
        mlhep_err e;
        if (artifacts_copy(dir, dst, &e))
            return infer_cmd_fail(EX_ARTIFACTS, "fetch: %s", e.msg);
        printf("fetched to %s\n", dst);
    }
    return EX_OK;
}

static int cmd_logs(cli *c, const char *id)
{
    json_t *rec, *lines;
    int rc = get_record(c, id, &rec);
    if (rc)
        return rc;
    json_decref(rec);
    mlhep_err e;
    if (jobstore_logs(c->js, c->user, id, &lines, &e))
        return infer_cmd_fail(EX_STORE, "%s", e.msg);
    size_t i;
    json_t *v;
    json_array_foreach(lines, i, v)
        printf("%s\n", json_string_value(v));
    json_decref(lines);
    return EX_OK;
}

int main(int argc, char **argv)
{
    if (infer_cmd_wants(argc, argv)) /* predict / models: submit/infer_cmd.c */
        return infer_cmd_main(argc, argv);
    cli c;
    memset(&c, 0, sizeof c);
    const char *cfgpath = NULL, *tokfile = NULL, *oidc = NULL;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"token-file", required_argument, 0, 't'},
                                         {"oidc", required_argument, 0, 'o'},
                                         {"unchecked", no_argument, 0, 'u'},
                                         {"json", no_argument, 0, 'j'},
                                         {"timeout", required_argument, 0, 'T'},
                                         {"no-wait", no_argument, 0, 'n'},
                                         {"fetch", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': cfgpath = optarg; break;
        case 't': tokfile = optarg; break;
        case 'o': oidc = optarg; break;
        case 'u': c.unchecked = 1; break;
        case 'j': c.json = 1; break;
        case 'T': {
            mlhep_err e;
            if (numarg_double("--timeout", optarg, 0.001, 1e9, &c.timeout, &e)) {
                fprintf(stderr, "mlhep-submit: %s (seconds)\n", e.msg);
                return EX_USAGE;
            }
            break;
        }
        case 'n': c.no_wait = 1; break;
        case 'f': c.fetch = optarg; break;
        case 'h': usage(stdout); return EX_OK;
        default: usage(stderr); return EX_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1) {
        usage(stderr);
        return EX_USAGE;
    }
    const char *cmd = args[0];
    int needs_id = !strcmp(cmd, "status") || !strcmp(cmd, "watch") || !strcmp(cmd, "cancel") ||
                   !strcmp(cmd, "result") || !strcmp(cmd, "logs");
    int is_list = !strcmp(cmd, "list");
    if ((needs_id && nargs != 2) || (is_list && nargs != 1) || (!needs_id && !is_list && nargs != 1)) {
        usage(stderr);
        return EX_USAGE;
    }
    if (tokfile && oidc) {
        fprintf(stderr, "mlhep-submit: give either --token-file or --oidc, not both\n");
        return EX_USAGE;
    }
    if (c.fetch && strcmp(cmd, "result")) {
        fprintf(stderr, "mlhep-submit: --fetch only goes with result\n");
        return EX_USAGE;
    }
    mlhep_err e;
    err_clear(&e);
    if (config_load(&c.cfg, cfgpath, &e)) {
        fprintf(stderr, "mlhep-submit: configuration: %s\n", e.msg);
        return EX_CONFIG;
    }
    int rc;
    auth_ctx *auth = NULL;
    auth_result ar = {0};
    if (auth_open(&c.cfg, &auth, &e)) {
        rc = infer_cmd_fail(EX_CONFIG, "configuration: %s", e.msg);
    } else if (oidc ? auth_token_oidc(oidc, &c.token, &e) : auth_token_load(tokfile, &c.token, &e)) {
        rc = infer_cmd_fail(EX_AUTH, "%s", e.msg);
    } else if (auth_check(auth, c.token, (int64_t)time(NULL), AUTH_SCOPE_SUBMIT, &ar, &e)) {
        rc = infer_cmd_fail(auth_exit(ar.reason), "%s", e.msg);
    } else if (strcpy(c.user, ar.user), needs_id) {
        rc = !strcmp(cmd, "status")   ? cmd_status(&c, args[1])
             : !strcmp(cmd, "watch")  ? cmd_watch(&c, args[1])
             : !strcmp(cmd, "cancel") ? cmd_cancel(&c, args[1])
             : !strcmp(cmd, "result") ? cmd_result(&c, args[1])
                                      : cmd_logs(&c, args[1]);
    } else if (is_list) {
        rc = cmd_list(&c);
    } else {
        rc = cmd_submit(&c, cmd);
    }
    jobstore_close(c.js);
    auth_close(auth);
    if (c.token) {
        memset(c.token, 0, strlen(c.token));
        free(c.token);
    }
    config_free(&c.cfg);
    return rc;
}
