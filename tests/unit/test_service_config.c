/* test_service_config.c - config file + environment overrides, secret files, refusal
 * of bad keys/values, masking of secrets; the trivial pipeline; the artifact store's
 * publish-once rename. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/artifacts.h"
#include "service/config.h"
#include "service/job.h"
#include "train/pipeline.h"
#include "test.h"

static char tmpdir[64];

static void write_file(const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void clear_env(void)
{
    unsetenv("MLHEP_CONFIG");
    unsetenv("MLHEP_AMQP_PORT");
    unsetenv("MLHEP_AMQP_HEARTBEAT");
    unsetenv("MLHEP_AMQP_PASSWORD");
    unsetenv("MLHEP_REDIS_PASSWORD_FILE");
    unsetenv("MLHEP_AUTH_MODE");
}

TEST(defaults)
{
    clear_env();
    mlhep_config c;
    mlhep_err e;
    CHECK(config_load(&c, NULL, &e) == 0);
    CHECK(c.amqp_port == 5672 && c.redis_port == 6379 && !strcmp(c.amqp_vhost, "mlhep"));
    CHECK(!strcmp(c.auth_mode, "jwt") && c.test_hooks == 0 && c.max_deliveries == 5);
    CHECK(c.amqp_heartbeat == 30);
    CHECK_NEAR(c.lease_ttl, 3 * c.heartbeat_interval, 1e-9);
    CHECK_NEAR(c.worker_stop_grace, 20, 1e-9);
    CHECK_NEAR(c.record_ttl_days, 30, 1e-9);
    CHECK_NEAR(c.log_ttl_days, 7, 1e-9);
    CHECK(!strcmp(c.worker_health_path, "") && !strcmp(c.test_hold_dir, ""));
    config_free(&c);
}

/* remote reads: retry policy, CA, service credential, token forwarding (issue 18) */
TEST(remote_keys)
{
    clear_env();
    unsetenv("MLHEP_REMOTE_ATTEMPTS");
    unsetenv("MLHEP_REMOTE_TIMEOUT");
    unsetenv("MLHEP_REMOTE_BACKOFF_MS");
    mlhep_config c;
    mlhep_err e;
    srcaccess a;
    hostpolicy *fwd;
    CHECK(config_load(&c, NULL, &e) == 0);
    CHECK(c.remote_attempts == NETRETRY_ATTEMPTS && c.remote_timeout == NETRETRY_TIMEOUT_S &&
          c.remote_backoff_ms == NETRETRY_BACKOFF_MS);
    CHECK(config_srcaccess(&c, NULL, &a, &fwd, &e) == 0 && fwd == NULL && a.token_hosts == NULL);
    CHECK(a.retry.attempts == 3 && a.retry.timeout_s == 30 && a.retry.backoff_ms == 200);
    config_free(&c);
    char cfgp[256];
    write_file("r.conf", "remote_attempts = 1\nremote_timeout = 7\nremote_backoff_ms = 50\n"
               "remote_ca_bundle = /etc/grid/igtf.pem\nremote_ca_dir = /etc/grid-security/certificates\n"
               "remote_x509_proxy = /run/mlhep/x509up\nremote_token_path = /run/mlhep/token\n"
               "remote_token_forward = .example.org, dn1.site.org:1094\n", cfgp, sizeof cfgp);
    setenv("MLHEP_REMOTE_TIMEOUT", "9", 1);
    CHECKF(config_load(&c, cfgp, &e) == 0, "%s", e.msg);
    CHECKF(config_srcaccess(&c, NULL, &a, &fwd, &e) == 0, "%s", e.msg);
    CHECK(a.retry.attempts == 1 && a.retry.timeout_s == 9 && a.retry.backoff_ms == 50); /* the environment wins */
    CHECK(!strcmp(a.ca_file, "/etc/grid/igtf.pem") && !strcmp(a.ca_dir, "/etc/grid-security/certificates"));
    CHECK(!strcmp(a.proxy, "/run/mlhep/x509up") && !strcmp(a.token_file, "/run/mlhep/token"));
    CHECK(fwd && a.token_hosts == fwd);
    CHECK(hostpolicy_check_url(fwd, "https://dn7.example.org/f.root", &e) == 0);
    CHECK(hostpolicy_check_url(fwd, "https://dn1.site.org:1094/f.root", &e) == 0);
    CHECK(hostpolicy_check_url(fwd, "https://dn1.site.org/f.root", &e) != 0);
    CHECK(hostpolicy_check_url(fwd, "https://evil.org/f.root", &e) != 0);
    hostpolicy_free(fwd);
    config_free(&c);
    unsetenv("MLHEP_REMOTE_TIMEOUT");
    write_file("s.conf", "remote_attempts = 0\n", cfgp, sizeof cfgp);
    CHECK(config_load(&c, cfgp, &e) == MLHEP_EINVAL);
    write_file("t.conf", "remote_token_forward = 10.0.0.0/99\n", cfgp, sizeof cfgp);
    CHECK(config_load(&c, cfgp, &e) == 0);
    CHECK(config_srcaccess(&c, NULL, &a, &fwd, &e) == MLHEP_EINVAL && strstr(e.msg, "remote_token_forward"));
    config_free(&c);
}

/* the keys of the worker's stop, health and retention */
TEST(worker_keys)
{
    clear_env();
    char cfgp[256];
    write_file("f.conf", "worker_health_path = /run/w.health\n"
               "record_ttl_days = 0.5\nlog_ttl_days = 0\nworker_stop_grace = 0\n", cfgp, sizeof cfgp);
    setenv("MLHEP_WORKER_HEALTH_PATH", "/run/other.health", 1);
    mlhep_config c;
    mlhep_err e;
    CHECKF(config_load(&c, cfgp, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(c.worker_health_path, "/run/other.health")); /* the environment wins */
    CHECK_NEAR(c.record_ttl_days, 0.5, 1e-12);
    CHECK(c.log_ttl_days == 0 && c.worker_stop_grace == 0);
    config_free(&c);
    unsetenv("MLHEP_WORKER_HEALTH_PATH");
    write_file("g.conf", "record_ttl_days = -1\n", cfgp, sizeof cfgp);
    CHECK(config_load(&c, cfgp, &e) == MLHEP_EINVAL);
}

TEST(file_env_and_secret_file)
{
    clear_env();
    char cfgp[256], pwp[256], buf[4096];
    write_file("pw", "s3cret-redis\n", pwp, sizeof pwp);
    snprintf(buf, sizeof buf,
             "# comment\n\namqp_url = amqp://sub:p%%40ss@broker.example:5673/vh\n"
             "redis_password_file = %s\nheartbeat_interval = 0.5\n  auth_mode = dev  \n",
             pwp);
    write_file("c.conf", buf, cfgp, sizeof cfgp);
    setenv("MLHEP_AMQP_PORT", "6000", 1);
    setenv("MLHEP_AMQP_HEARTBEAT", "2", 1);
    mlhep_config c;
    mlhep_err e;
    CHECKF(config_load(&c, cfgp, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(c.amqp_host, "broker.example") && !strcmp(c.amqp_user, "sub"));
    CHECK(!strcmp(c.amqp_password, "p%40ss") && !strcmp(c.amqp_vhost, "vh"));
    CHECK(c.amqp_port == 6000); /* environment wins over the file */
    CHECK(c.amqp_heartbeat == 2);
    CHECK(!strcmp(c.redis_password, "s3cret-redis"));
    CHECK(!strcmp(c.auth_mode, "dev"));
    CHECK_NEAR(c.lease_ttl, 1.5, 1e-9);
    /* secrets masked */
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    config_print(&c, f);
    fclose(f);
    CHECK(strstr(out, "redis_password = ***") && strstr(out, "amqp_password = ***"));
    CHECK(!strstr(out, "s3cret") && !strstr(out, "p%40ss"));
    CHECK(strstr(out, "amqp_port = 6000"));
    free(out);
    config_free(&c);
    clear_env();
}

TEST(bad_configs_refused)
{
    clear_env();
    static const char *bad[] = {
        "amqp_prot = 1\n",                 /* typo: unknown key */
        "amqp_port = 0\n",                 /* out of range */
        "amqp_port = 12ab\n",              /* not a number */
        "amqp_heartbeat = -1\n",
        "amqp_heartbeat = 3601\n",
        "heartbeat_interval = -1\n",
        "just a line\n",
        "auth_mode = none\n",
        "amqp_url = http://x\n",
        "amqp_url = amqp://h:99999/\n",
        "heartbeat_interval = 2\nlease_ttl = 2\n", /* lease shorter than 1.5 x heartbeat */
        "redis_password_file = /nonexistent/pw\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[256];
        write_file("bad.conf", bad[i], p, sizeof p);
        mlhep_config c;
        mlhep_err e;
        err_clear(&e);
        CHECKF(config_load(&c, p, &e) != 0, "accepted: %s", bad[i]);
        CHECK(e.msg[0]);
    }
    /* numbers go through base/numarg: the message names the key and what was given */
    static const struct {
        const char *text, *want;
    } said[] = {
        {"amqp_port = 12ab\n", "amqp_port: '12ab' is not a whole number"},
        {"amqp_port = 0\n", "amqp_port: 0 is out of range (1 to 65535)"},
        {"lease_ttl = soon\n", "lease_ttl: 'soon' is not a number"},
        {"amqp_url = amqp://h:99999/\n", "port: 99999 is out of range (1 to 65535)"},
    };
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++) {
        char p[256];
        write_file("bad.conf", said[i].text, p, sizeof p);
        mlhep_config c;
        mlhep_err e;
        err_clear(&e);
        CHECK(config_load(&c, p, &e) == MLHEP_EINVAL);
        CHECKF(strstr(e.msg, said[i].want) && strstr(e.msg, "bad.conf"), "%s", e.msg);
    }
    mlhep_config c;
    mlhep_err e;
    CHECK(config_load(&c, "/nonexistent/x.conf", &e) == MLHEP_EIO);
    setenv("MLHEP_AUTH_MODE", "maybe", 1);
    CHECK(config_load(&c, NULL, &e) == MLHEP_EINVAL && strstr(e.msg, "auth_mode"));
    clear_env();
}

static int steps_seen;
static int stop_at;
static int on_step(void *ctx, const pipeline_progress *p)
{
    (void)ctx;
    if (!p->phase || !p->message || p->fraction < 0 || p->fraction > 1 || p->epochs != 0)
        return 1;
    return ++steps_seen == stop_at;
}

static job make_job(const char *wf_text)
{
    job j;
    json_t *wf = json_loads(wf_text, 0, NULL);
    job_init(&j, "alice", "dev:alice", wf, NULL);
    json_decref(wf);
    return j;
}

TEST(pipeline_sleep_job)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/art1", tmpdir);
    mkdir(dir, 0755);
    job j = make_job("{\"name\":\"t\",\"model\":{\"type\":\"sleep\",\"seconds\":0.05}}");
    pipeline_callbacks cb = {.step = on_step};
    steps_seen = 0;
    stop_at = -1;
    mlhep_err e;
    pipeline_env *env = NULL;
    CHECKF(pipeline_env_open(NULL, NULL, 1, 0, &env, &e) == 0, "%s", e.msg);
    CHECKF(pipeline_run(&j, NULL, env, &cb, dir, &e) == 0, "%s", e.msg);
    CHECK(steps_seen >= 2);
    char p[256];
    snprintf(p, sizeof p, "%s/model.json", dir);
    CHECK(access(p, R_OK) == 0);
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    CHECK(access(p, R_OK) == 0);
    /* stop requested by the callback */
    steps_seen = 0;
    stop_at = 2;
    CHECK(pipeline_run(&j, NULL, env, &cb, dir, &e) == PIPELINE_STOPPED);
    job_clear(&j);
    /* fail on request */
    j = make_job("{\"name\":\"t\",\"model\":{\"type\":\"sleep\",\"seconds\":0.05,\"fail\":true}}");
    stop_at = -1;
    CHECK(pipeline_run(&j, NULL, env, &cb, dir, &e) < 0 && strstr(e.msg, "model.fail"));
    job_clear(&j);
    /* a training job runs only from the workflow pipeline_validate loaded (never parsed
     * again inside pipeline_run) */
    j = make_job("{\"name\":\"t\",\"files\":[{\"path\":\"root://h//x.root\",\"label\":1}],"
                 "\"model\":{\"type\":\"gbdt\"}}");
    CHECK(pipeline_run(&j, NULL, env, &cb, dir, &e) == MLHEP_EINVAL &&
          strstr(e.msg, "needs the workflow pipeline_validate loaded"));
    job_clear(&j);
    pipeline_env_free(env);
}

TEST(pipeline_check_rules)
{
    static const char *bad[] = {
        "[]",
        "{\"model\":{\"type\":\"sleep\"}}",
        "{\"name\":\"\",\"model\":{\"type\":\"sleep\"}}",
        /* a sleep job's name follows the workflow schema's rule (as the job record does) */
        "{\"name\":\"x bad\",\"model\":{\"type\":\"sleep\"}}",
        "{\"name\":\"x\",\"description\":7,\"model\":{\"type\":\"sleep\"}}",
        "{\"name\":\"x1234567890123456789012345678901234567890123456789012345678901234567890"
        "1234567890123456789012345678901234567890123456789012345678901234567890\",\"model\":{\"type\":\"sleep\"}}",
        "{\"name\":\"x\"}",
        "{\"name\":\"x\",\"model\":{\"type\":7}}",
        "{\"name\":\"x\",\"model\":{\"type\":\"dnn\"}}",
        "{\"name\":\"x\",\"model\":{\"type\":\"sleep\",\"seconds\":-1}}",
        "{\"name\":\"x\",\"model\":{\"type\":\"sleep\",\"seconds\":4000}}",
        "{\"name\":\"x\",\"model\":{\"type\":\"sleep\",\"fail\":1}}",
        "{\"name\":\"x\",\"model\":{\"type\":\"sleep\",\"extra\":1}}",
        "{\"name\":\"x\",\"files\":[\"a.root\"],\"model\":{\"type\":\"sleep\"}}",
        /* training workflows go through the schema */
        "{\"name\":\"x\",\"files\":[{\"path\":\"/etc/shadow\",\"label\":1}],\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}",
        "{\"name\":\"x\",\"files\":[{\"path\":\"../x.root\",\"label\":1}],\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}",
        "{\"name\":\"x bad\",\"files\":[{\"path\":\"a.root\",\"label\":1}],\"model\":{\"type\":\"gbdt\"}}",
    };
    mlhep_err e;
    pipeline_env *env = NULL, *hooks = NULL;
    CHECKF(pipeline_env_open(NULL, "/data/a:/data/b", 0, 0, &env, &e) == 0, "%s", e.msg);
    CHECKF(pipeline_env_open(NULL, "", 0, 1, &hooks, &e) == 0, "%s", e.msg);
    CHECK(env->n_data_roots == 2 && !strcmp(env->data_roots[1], "/data/b"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) { /* with test hooks or without */
        json_t *w = json_loads(bad[i], 0, NULL);
        err_clear(&e);
        CHECKF(pipeline_validate(w, env, NULL, &e) != 0 && e.msg[0], "accepted: %s", bad[i]);
        err_clear(&e);
        CHECKF(pipeline_validate(w, hooks, NULL, &e) != 0 && e.msg[0], "accepted with hooks: %s", bad[i]);
        json_decref(w);
    }
    /* the sleep kind is a test hook: refused unless the service runs with test_hooks */
    static const char *sleeps[] = {"{\"name\":\"x\",\"model\":{\"type\":\"sleep\",\"crash\":true}}",
                                   "{\"name\":\"x\",\"model\":{\"type\":\"sleep\",\"seconds\":3600}}"};
    for (size_t i = 0; i < 2; i++) {
        json_t *w = json_loads(sleeps[i], 0, NULL);
        CHECK(pipeline_validate(w, hooks, NULL, NULL) == 0);
        CHECK(pipeline_validate(w, env, NULL, &e) == MLHEP_EINVAL);
        CHECKF(strstr(e.msg, "test hook") && strstr(e.msg, "test_hooks=0"), "%s", e.msg);
        json_decref(w);
    }
    /* the name a record may show: the schema's rule, else nothing */
    json_t *w = json_loads("{\"name\":\"x\\n\\u001b[31mevil\",\"model\":{\"type\":\"sleep\"}}", 0, NULL);
    CHECK(w && !strcmp(pipeline_job_name(w, hooks, &e), "") && strstr(e.msg, "/name"));
    CHECK(pipeline_validate(w, hooks, NULL, &e) == MLHEP_EINVAL);
    json_decref(w);
    w = json_loads("{\"name\":\"ok-1.2\",\"model\":{\"type\":\"sleep\"}}", 0, NULL);
    CHECK(!strcmp(pipeline_job_name(w, hooks, NULL), "ok-1.2"));
    json_decref(w);
    /* data_hosts: remote inputs only from listed hosts, checked by name here */
    static const char *hosts_wf = "{\"name\":\"x\",\"files\":[{\"path\":\"%s\",\"label\":1},"
                                  "{\"path\":\"%s\",\"label\":0}],\"model\":{\"type\":\"mlp\","
                                  "\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}";
    static const struct { const char *list, *url; int ok; } hc[] = {
        {"*", "root://eospublic.cern.ch//eos/x.root", 1},
        {"*", "http://127.0.0.1:6379/x.root", 0},
        {"*", "http://localhost:6379/x.root", 0},
        {".cern.ch", "root://evil.example.org//x.root", 0},
        {".cern.ch", "/store/mc/x.root", 1}, /* the redirector's host (cms-xrd-global.cern.ch) */
        {"eospublic.cern.ch", "/store/mc/x.root", 0},
        {"127.0.0.1:8080", "http://127.0.0.1:8080/x.root", 1},
        {"", "https://eospublic.cern.ch/x.root", 0},
    };
    for (size_t i = 0; i < sizeof hc / sizeof hc[0]; i++) {
        char text[512];
        char url2[256]; /* a second file (two classes), distinct from the first */
        snprintf(url2, sizeof url2, "%s", hc[i].url);
        char *xr = strstr(url2, "x.root");
        if (xr)
            *xr = 'y';
        snprintf(text, sizeof text, hosts_wf, hc[i].url, url2);
        w = json_loads(text, 0, NULL);
        CHECKF(pipeline_env_hosts(hooks, hc[i].list, &e) == 0, "%s", e.msg);
        int rc = pipeline_validate(w, hooks, NULL, &e);
        CHECKF(hc[i].ok ? rc == 0 : rc == MLHEP_EAUTH && strstr(e.msg, "data_hosts"), "%s with '%s': rc %d %s",
               hc[i].url, hc[i].list, rc, e.msg);
        json_decref(w);
    }
    /* /etc/shadow: refused lexically, with MLHEP_EAUTH, before the file system is touched */
    w = json_loads("{\"name\":\"x\",\"files\":[{\"path\":\"/etc/shadow\",\"label\":1}],"
                   "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}", 0, NULL);
    CHECK(pipeline_validate(w, env, NULL, &e) == MLHEP_EAUTH && strstr(e.msg, "outside the data roots"));
    json_decref(w);
    /* a lexically fine path is accepted by the submitter's check and returned resolved */
    workflow *wf = NULL;
    w = json_loads("{\"name\":\"x\",\"files\":[{\"path\":\"s.root\",\"label\":1},"
                   "{\"path\":\"/data/b/b.root\",\"label\":0}],"
                   "\"model\":{\"type\":\"mlp\",\"layers\":[{\"dense\":1,\"activation\":\"sigmoid\"}]}}", 0, NULL);
    CHECKF(pipeline_validate(w, env, &wf, &e) == 0, "%s", e.msg);
    CHECK(wf && wf->nfiles == 2 && !strcmp(wf->files[0].path, "/data/a/s.root"));
    workflow_free(wf);
    json_decref(w);
    pipeline_env_free(env);
    pipeline_env_free(hooks);
}

TEST(artifacts_publish_once)
{
    char root[128], t1[4096], t2[4096], fin[4096];
    snprintf(root, sizeof root, "%s/store", tmpdir);
    const char *id = "0123456789abcdef0123456789abcdef";
    mlhep_err e;
    CHECK(artifacts_tmpdir(root, "alice", id, 1, t1, sizeof t1, &e) == 0);
    CHECK(artifacts_tmpdir(root, "alice", id, 2, t2, sizeof t2, &e) == 0);
    CHECK(strcmp(t1, t2) != 0);
    char p[4200];
    snprintf(p, sizeof p, "%s/a.txt", t1);
    FILE *f = fopen(p, "w");
    fputs("first", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/a.txt", t2);
    f = fopen(p, "w");
    fputs("second", f);
    fclose(f);
    json_t *info = json_pack("{s:i}", "lease", 1);
    CHECK(artifacts_manifest(t1, info, &e) == 0);
    json_decref(info);
    CHECK(artifacts_final_path(root, "alice", id, fin, sizeof fin, &e) == 0);
    CHECK(artifacts_commit(t1, fin, &e) == 0);
    CHECK(artifacts_commit(t2, fin, &e) == ARTIFACTS_EXISTS); /* the second set never lands */
    snprintf(p, sizeof p, "%s/a.txt", fin);
    f = fopen(p, "r");
    char buf[16] = "";
    CHECK(f && fgets(buf, sizeof buf, f));
    fclose(f);
    CHECK(!strcmp(buf, "first"));
    snprintf(p, sizeof p, "%s/MANIFEST.json", fin);
    json_t *m = json_load_file(p, 0, NULL);
    CHECK(m && json_array_size(json_object_get(m, "files")) == 1);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(json_object_get(m, "files"), 0), "sha256")),
                  "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"));
    json_decref(m);
    CHECK(artifacts_remove(t2, &e) == 0 && access(t2, F_OK) != 0);
    /* temp dir names parse back into job id and lease (the worker's sweep of leftovers) */
    char pid[JOB_ID_HEX + 1];
    long long pl = 0;
    const char *base = strrchr(t2, '/') + 1;
    CHECK(artifacts_tmpdir_parse(base, pid, &pl) == 1 && !strcmp(pid, id) && pl == 2);
    CHECK(artifacts_tmpdir_parse(".tmp-0123456789abcdef0123456789abcdef-L17-abcdef", pid, &pl) == 1 && pl == 17);
    CHECK(artifacts_tmpdir_parse(id, pid, &pl) == 0);                                   /* a final set */
    CHECK(artifacts_tmpdir_parse(".tmp-0123456789ABCDEF0123456789abcdef-L1-x", pid, &pl) == 0);
    CHECK(artifacts_tmpdir_parse(".tmp-0123456789abcdef0123456789abcdef-Lx-x", pid, &pl) == 0);
    CHECK(artifacts_tmpdir_parse(".tmp-0123456789abcdef0123456789abcdef-L99999999999999999999-x", pid, &pl) == 0);
    CHECK(artifacts_tmpdir_parse(".tmp-0123", pid, &pl) == 0);
    CHECK(artifacts_final_path(root, "../x", id, fin, sizeof fin, &e) == MLHEP_EINVAL);
    CHECK(artifacts_tmpdir(root, "alice", "nothex", 1, t1, sizeof t1, &e) == MLHEP_EINVAL);
    char dst[256];
    snprintf(dst, sizeof dst, "%s/fetched", tmpdir);
    CHECK(artifacts_copy(fin, dst, &e) == 0);
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(artifacts_subdirectories)
{
    CHECK(artifacts_name_valid("model.json") && artifacts_name_valid("hists/index.html") &&
          artifacts_name_valid("a/b/c.svg") && artifacts_name_valid(".x") && artifacts_name_valid("x@1"));
    static const char *const bad[] = {"", "/x", "x/", "a//b", "../x", "a/../b", "./x", "a/.", "..", "a/b/c/d",
                                      "a b", "a\\b", "a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(!artifacts_name_valid(bad[i]), "'%s' accepted", bad[i]);
    char longname[ARTIFACTS_NAME_MAX + 1];
    memset(longname, 'a', ARTIFACTS_NAME_MAX);
    longname[ARTIFACTS_NAME_MAX] = '\0';
    CHECK(!artifacts_name_valid(longname));
    longname[ARTIFACTS_NAME_MAX - 1] = '\0';
    CHECK(artifacts_name_valid(longname));

    /* a set with the histograms in a sub-directory, a link and a bad name beside them */
    char root[128], t[4096], fin[4096], p[4400];
    snprintf(root, sizeof root, "%s/store2", tmpdir);
    const char *id = "00112233445566778899aabbccddeeff";
    mlhep_err e;
    CHECK(artifacts_tmpdir(root, "alice", id, 1, t, sizeof t, &e) == 0);
    put_file(t, "model.json", "{}");
    snprintf(p, sizeof p, "%s/hists", t);
    CHECK(mkdir(p, 0755) == 0);
    put_file(t, "hists/index.html", "<p>");
    put_file(t, "hists/Jet_pt.svg", "<svg/>");
    put_file(t, "hists/bad name.svg", "x");
    snprintf(p, sizeof p, "%s/hists/passwd", t);
    CHECK(symlink("/etc/passwd", p) == 0);
    CHECK(artifacts_manifest(t, NULL, &e) == 0);
    snprintf(p, sizeof p, "%s/MANIFEST.json", t);
    json_t *m = json_load_file(p, 0, NULL);
    json_t *files = json_object_get(m, "files");
    CHECKF(json_array_size(files) == 3, "%zu files", json_array_size(files));
    const char *want[] = {"hists/Jet_pt.svg", "hists/index.html", "model.json"};
    for (size_t i = 0; i < 3; i++)
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(files, i), "name")), want[i]));
    json_decref(m);
    CHECK(artifacts_final_path(root, "alice", id, fin, sizeof fin, &e) == 0);
    CHECK(artifacts_commit(t, fin, &e) == 0);
    char dst[256];
    snprintf(dst, sizeof dst, "%s/fetched2", tmpdir);
    CHECK(artifacts_copy(fin, dst, &e) == 0);
    struct stat st;
    snprintf(p, sizeof p, "%s/hists/Jet_pt.svg", dst);
    CHECK(stat(p, &st) == 0 && st.st_size == 6);
    snprintf(p, sizeof p, "%s/hists/passwd", dst);
    CHECK(lstat(p, &st) != 0); /* links are not artifacts */
    /* removal takes everything, sub-directory, odd name and link (not what it points to) */
    CHECKF(artifacts_remove(fin, &e) == 0, "%s", e.msg);
    CHECK(access(fin, F_OK) != 0 && access("/etc/passwd", F_OK) == 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mlhep-cfgtest.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(defaults);
    RUN(file_env_and_secret_file);
    RUN(worker_keys);
    RUN(remote_keys);
    RUN(bad_configs_refused);
    RUN(pipeline_sleep_job);
    RUN(pipeline_check_rules);
    RUN(artifacts_publish_once);
    RUN(artifacts_subdirectories);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return test_summary();
}
