/* test_job.c - job lifecycle, ids, broker message encode/decode (incl. bad input),
 * and the dev-token auth glue. */
#include <stdlib.h>
#include <string.h>

#include "service/auth_glue.h"
#include "service/credbox.h"
#include "service/job.h"
#include "service/jobpub.h"
#include "service/jobstore.h"
#include "test.h"

TEST(transitions_match_the_lifecycle)
{
    /* exactly the pairs documented at the top of job.h */
    static const int allowed[JOB_NSTATES][JOB_NSTATES] = {
        /* to:      queued running succeeded failed cancelled */
        /* queued */ {0, 1, 0, 1, 1},
        /* running*/ {1, 1, 1, 1, 1},
        /* succ.  */ {0, 0, 0, 0, 0},
        /* failed */ {0, 0, 0, 0, 0},
        /* canc.  */ {0, 0, 0, 0, 0},
    };
    for (int a = 0; a < JOB_NSTATES; a++)
        for (int b = 0; b < JOB_NSTATES; b++)
            CHECKF(job_transition_ok((job_state)a, (job_state)b) == allowed[a][b], "%s -> %s",
                   job_state_name((job_state)a), job_state_name((job_state)b));
    CHECK(!job_transition_ok((job_state)-1, JOB_RUNNING));
    CHECK(!job_transition_ok(JOB_QUEUED, JOB_NSTATES));
    CHECK(job_state_terminal(JOB_SUCCEEDED) && job_state_terminal(JOB_FAILED) &&
          job_state_terminal(JOB_CANCELLED) && !job_state_terminal(JOB_RUNNING));
}

TEST(lua_table_generated_from_c)
{
    char t[JOBSTORE_LUA_PREFIX_MAX];
    jobstore_lua_transitions(t, sizeof t);
    CHECK(strlen(t) < sizeof t - 1); /* not cut short */
    CHECK(strstr(t, "local function moved(a, b)") && t[strlen(t) - 1] == '\n');
    CHECK(strstr(t, "queued = {running = true, failed = true, cancelled = true, }"));
    CHECK(strstr(t, "succeeded = {}"));
    CHECK(strstr(t, "running = {queued = true, running = true, succeeded = true, failed = true, cancelled = true, }"));
}

TEST(state_names_roundtrip)
{
    for (int i = 0; i < JOB_NSTATES; i++) {
        job_state s;
        CHECK(job_state_parse(job_state_name((job_state)i), &s) == 0 && (int)s == i);
    }
    job_state s;
    CHECK(job_state_parse("done", &s) == MLHEP_EINVAL);
    CHECK(job_state_parse(NULL, &s) == MLHEP_EINVAL);
}

TEST(ids_are_random_hex)
{
    char a[JOB_ID_HEX + 1], b[JOB_ID_HEX + 1];
    CHECK(job_new_id(a, NULL) == 0 && job_new_id(b, NULL) == 0);
    CHECK(job_id_valid(a) && job_id_valid(b));
    CHECK(strcmp(a, b) != 0);
    CHECK(!job_id_valid("0123"));
    CHECK(!job_id_valid("0123456789ABCDEF0123456789abcdef"));
    CHECK(!job_id_valid("0123456789abcdef0123456789abcdef0"));
    CHECK(!job_id_valid(NULL));
}

TEST(user_names)
{
    CHECK(job_user_valid("alice") && job_user_valid("a.b_c-9"));
    CHECK(!job_user_valid("") && !job_user_valid(".hidden") && !job_user_valid("-x"));
    CHECK(!job_user_valid("a/b") && !job_user_valid("a:b") && !job_user_valid("a b"));
    CHECK(!job_user_valid("a*") && !job_user_valid(NULL));
    char longname[70];
    memset(longname, 'x', 65);
    longname[65] = '\0';
    CHECK(!job_user_valid(longname));
    longname[64] = '\0';
    CHECK(job_user_valid(longname));
}

TEST(message_roundtrip)
{
    json_t *wf = json_loads("{\"name\":\"n\",\"model\":{\"type\":\"sleep\",\"seconds\":1}}", 0, NULL);
    job j, k;
    mlhep_err e;
    CHECK(job_init(&j, "alice", "dev:alice", wf, &e) == 0);
    json_decref(wf);
    char *msg;
    size_t len;
    CHECK(job_message_encode(&j, &msg, &len, &e) == 0);
    CHECK(job_message_decode(msg, len, &k, &e) == 0);
    CHECK(strcmp(j.id, k.id) == 0 && strcmp(k.user, "alice") == 0 && strcmp(k.token, "dev:alice") == 0);
    CHECK(json_equal(j.workflow, k.workflow));
    CHECK_NEAR(j.submitted, k.submitted, 1e-3);
    free(msg);
    job_clear(&j);
    job_clear(&k);
}

TEST(message_bad_input)
{
    static const char *bad[] = {
        "",
        "null",
        "[]",
        "{\"v\":2,\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"a\",\"token\":\"t\",\"submitted\":1,\"workflow\":{}}",
        "{\"v\":1,\"id\":\"0123\",\"user\":\"a\",\"token\":\"t\",\"submitted\":1,\"workflow\":{}}",
        "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"../x\",\"token\":\"t\",\"submitted\":1,\"workflow\":{}}",
        "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"a\",\"submitted\":1,\"workflow\":{}}",
        "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"a\",\"token\":\"t\",\"submitted\":1,\"workflow\":[]}",
        "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"a\",\"token\":\"t\",\"workflow\":{}}",
        "{\"v\":1,\"v\":1}",
        "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        job j;
        mlhep_err e;
        err_clear(&e);
        CHECKF(job_message_decode(bad[i], strlen(bad[i]), &j, &e) != 0, "accepted: %s", bad[i]);
        CHECK(e.msg[0] != '\0');
    }
    char big[100];
    job j;
    CHECK(job_message_decode(big, JOB_MESSAGE_MAX + 1, &j, NULL) != 0); /* size check first */
}

/* A delegated storage token travels sealed (storage_cred, credbox.h): it survives the
 * message both ways, opens only for its job and owner, and a malformed field is refused. */
/* The service key the storage-credential tests seal with. */
static const char *const CRED_KEY = "0123456789abcdef0123456789abcdef-service";

/* alice's job with secret (n bytes) sealed in its box as kind: 0, or the error in e */
static int sealed_job(job *j, const char *kind, const char *secret, size_t n, mlhep_err *e)
{
    json_t *wf = json_loads("{\"name\":\"n\",\"model\":{\"type\":\"sleep\",\"seconds\":1}}", 0, NULL);
    int rc = job_init(j, "alice", "dev:alice", wf, e);
    json_decref(wf);
    return rc ? rc : credbox_seal(CRED_KEY, j->id, j->user, kind, secret, n, &j->storage_cred, e);
}

TEST(message_storage_cred)
{
    job j, k;
    mlhep_err e;
    const char *key = CRED_KEY;
    CHECKF(sealed_job(&j, "token", "storage-tok", 11, &e) == 0, "%s", e.msg);
    char *msg;
    size_t len;
    CHECK(job_message_encode(&j, &msg, &len, &e) == 0);
    CHECK(!memmem(msg, len, "storage-tok", 11)); /* never in clear */
    CHECK(job_message_decode(msg, len, &k, &e) == 0);
    CHECK(k.storage_cred && strcmp(k.storage_cred, j.storage_cred) == 0);
    CHECK(!strcmp(k.storage_kind, "token") && !memmem(msg, len, "storage_cred_kind", 17)); /* the default */
    char buf[64];
    size_t n;
    CHECK(credbox_open(key, k.id, k.user, "token", k.storage_cred, buf, sizeof buf, &n, &e) == 0 && !strcmp(buf, "storage-tok"));
    CHECK(credbox_open(key, k.id, "bob", "token", k.storage_cred, buf, sizeof buf, &n, &e) == MLHEP_EAUTH);
    free(msg);
    job_clear(&k);
    /* without one: no field, NULL after decoding */
    free(j.storage_cred);
    j.storage_cred = NULL;
    CHECK(job_message_encode(&j, &msg, &len, &e) == 0);
    CHECK(!memmem(msg, len, "storage_cred", 12));
    CHECK(job_message_decode(msg, len, &k, &e) == 0 && k.storage_cred == NULL);
    free(msg);
    job_clear(&k);
    job_clear(&j);
    const char *bad = "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"a\",\"token\":\"t\",\"submitted\":1,"
                      "\"workflow\":{},\"storage_cred\":7}";
    err_clear(&e);
    CHECK(job_message_decode(bad, strlen(bad), &k, &e) == MLHEP_EFORMAT && strstr(e.msg, "storage_cred"));
}

/* A delegated X.509 proxy's box says its kind (storage_cred_kind "x509"); any other
 * kind is refused, and the box does not open under the other kind. */
TEST(message_storage_cred_x509)
{
    job j, k;
    mlhep_err e;
    const char *key = CRED_KEY;
    CHECKF(sealed_job(&j, "x509", "PEM", 3, &e) == 0, "%s", e.msg);
    snprintf(j.storage_kind, sizeof j.storage_kind, "x509");
    char *msg;
    size_t len;
    CHECK(job_message_encode(&j, &msg, &len, &e) == 0);
    CHECK(memmem(msg, len, "storage_cred_kind", 17) != NULL);
    CHECK(job_message_decode(msg, len, &k, &e) == 0 && !strcmp(k.storage_kind, "x509"));
    char buf[16];
    size_t n;
    CHECK(credbox_open(key, k.id, k.user, "x509", k.storage_cred, buf, sizeof buf, &n, &e) == 0 && !strcmp(buf, "PEM"));
    CHECK(credbox_open(key, k.id, k.user, "token", k.storage_cred, buf, sizeof buf, &n, &e) == MLHEP_EAUTH);
    free(msg);
    job_clear(&k);
    job_clear(&j);
    const char *bad = "{\"v\":1,\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"a\",\"token\":\"t\",\"submitted\":1,"
                      "\"workflow\":{},\"storage_cred\":\"cb1.x\",\"storage_cred_kind\":\"pgp\"}";
    err_clear(&e);
    CHECK(job_message_decode(bad, strlen(bad), &k, &e) == MLHEP_EFORMAT && strstr(e.msg, "storage_cred_kind"));
}

/* What a user hands a job is checked before it is sealed; messages never quote it. */
TEST(storage_token_checks)
{
    mlhep_err e;
    char t1[] = "  abc.def-ghi_~+/=  \n";
    CHECK(jobpub_storage_token(t1, &e) == 0 && !strcmp(t1, "abc.def-ghi_~+/="));
    char t2[] = " \n";
    CHECK(jobpub_storage_token(t2, &e) == MLHEP_EINVAL && strstr(e.msg, "empty"));
    char t3[] = "a b";
    CHECK(jobpub_storage_token(t3, &e) == MLHEP_EINVAL && !strstr(e.msg, "a b"));
    /* a JWT whose exp passed ({"alg":"none"}.{"exp":1000}.sig), and one far ahead */
    char t4[] = "eyJhbGciOiJub25lIn0.eyJleHAiOjEwMDB9.c2ln";
    CHECK(jobpub_storage_token(t4, &e) == MLHEP_EAUTH && strstr(e.msg, "expired at 1970-01-01 00:16:40 UTC") &&
          !strstr(e.msg, "eyJ"));
    char t5[] = "eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln";
    CHECK(jobpub_storage_token(t5, &e) == 0);
    char *big = malloc(SRCACCESS_TOKEN_MAX + 1);
    memset(big, 'x', SRCACCESS_TOKEN_MAX);
    big[SRCACCESS_TOKEN_MAX] = 0;
    CHECK(jobpub_storage_token(big, &e) == MLHEP_EINVAL && strstr(e.msg, "too long"));
    free(big);
}

/* The size limit is one rule on both ends: a message a worker would refuse is never
 * encoded (the submitter gets the error and queues nothing); one just under it goes
 * through both ways. */
TEST(message_size_rule_on_both_ends)
{
    json_t *wf = json_object();
    size_t pad = JOB_MESSAGE_MAX; /* the workflow alone already over the limit */
    char *text = malloc(pad + 1);
    CHECK(wf && text);
    memset(text, 'x', pad);
    text[pad] = '\0';
    json_object_set_new(wf, "description", json_string(text));
    job j;
    mlhep_err e;
    CHECK(job_init(&j, "alice", "dev:alice", wf, &e) == 0);
    char *msg = NULL;
    size_t len = 0;
    int rc = job_message_encode(&j, &msg, &len, &e);
    CHECKF(rc == MLHEP_ENOMEM && !msg && strstr(e.msg, "too large") && strstr(e.msg, "JOB_MESSAGE_MAX"), "rc %d: %s",
           rc, e.msg);
    /* shrink it to fit: encoded, and the decoder takes what the encoder made */
    text[pad - 400] = '\0';
    json_object_set_new(wf, "description", json_string(text));
    free(text);
    CHECKF(job_message_encode(&j, &msg, &len, &e) == 0, "%s", e.msg);
    CHECK(len <= JOB_MESSAGE_MAX);
    job back;
    CHECKF(job_message_decode(msg, len, &back, &e) == 0, "%s", e.msg);
    job_clear(&back);
    free(msg);
    job_clear(&j);
    json_decref(wf);
}

TEST(control_roundtrip_and_bad)
{
    char *msg, *tok;
    size_t len;
    char op[16], id[JOB_ID_HEX + 1], user[JOB_USER_MAX + 1];
    CHECK(job_control_encode("cancel", "0123456789abcdef0123456789abcdef", "bob", "dev:bob", &msg, &len, NULL) == 0);
    CHECK(job_control_decode(msg, len, op, id, user, &tok, NULL) == 0);
    CHECK(!strcmp(op, "cancel") && !strcmp(user, "bob") && !strcmp(tok, "dev:bob"));
    free(msg);
    free(tok);
    const char *b = "{\"v\":1,\"op\":\"delete\",\"id\":\"0123456789abcdef0123456789abcdef\",\"user\":\"a\",\"token\":\"t\"}";
    CHECK(job_control_decode(b, strlen(b), op, id, user, &tok, NULL) != 0 && tok == NULL);
}

TEST(auth_glue_dev_tokens_only_in_dev_mode)
{
    mlhep_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char user[JOB_USER_MAX + 1];
    mlhep_err e;
    cfg.auth_mode = "jwt"; /* and no key configured: nothing is accepted */
    CHECK(auth_check_submit(&cfg, "dev:alice", user, &e) == MLHEP_EAUTH);
    CHECK(strstr(e.msg, "jwt_public_key"));
    cfg.auth_mode = "dev";
    CHECK(auth_check_submit(&cfg, "dev:alice", user, &e) == 0 && !strcmp(user, "alice"));
    CHECK(auth_check_submit(&cfg, "alice", user, &e) == MLHEP_EAUTH);
    CHECK(auth_check_submit(&cfg, "dev:", user, &e) == MLHEP_EAUTH);
    CHECK(auth_check_submit(&cfg, "dev:a/../b", user, &e) == MLHEP_EAUTH);
    CHECK(auth_check_submit(&cfg, "", user, &e) == MLHEP_EAUTH);
    CHECK(auth_check_submit(&cfg, NULL, user, &e) == MLHEP_EAUTH);
    CHECK(auth_check_submit(NULL, "dev:alice", user, &e) == MLHEP_EAUTH);
}

int main(void)
{
    RUN(transitions_match_the_lifecycle);
    RUN(lua_table_generated_from_c);
    RUN(state_names_roundtrip);
    RUN(ids_are_random_hex);
    RUN(user_names);
    RUN(message_roundtrip);
    RUN(message_bad_input);
    RUN(message_storage_cred);
    RUN(message_storage_cred_x509);
    RUN(storage_token_checks);
    RUN(message_size_rule_on_both_ends);
    RUN(control_roundtrip_and_bad);
    RUN(auth_glue_dev_tokens_only_in_dev_mode);
    return test_summary();
}
