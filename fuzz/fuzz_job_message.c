/* fuzz_job_message.c - broker messages are outside input to the worker: job messages,
 * control messages, the workflow inside (pipeline_validate, lexical path checks) and
 * the token inside (auth_check_job with an HS256 verifier, including the queue-grace
 * path that peeks at the unverified payload). Must never crash, leak or read out of
 * bounds, whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "service/auth_glue.h"
#include "service/job.h"
#include "train/pipeline.h"

/* loaded once (fuzzer processes are single-purpose) and never freed */
static pipeline_env *env;
static auth_ctx *auth;

static void setup(void)
{
    mlhep_err e;
    if (!env && pipeline_env_open(NULL, "/srv/data:/tmp/mlhep-fuzz-root", 0, 0, &env, &e))
        abort();
    if (!auth) {
        mlhep_config c;
        memset(&c, 0, sizeof c);
        c.auth_mode = "jwt";
        c.jwt_alg = "HS256";
        c.jwt_secret = "fuzz-secret-fuzz-secret-fuzz-secret-0123";
        c.jwt_issuer = "https://iam.example";
        c.jwt_audience = "mlhep";
        c.jwt_leeway = 30;
        c.jwt_queue_grace = 86400;
        if (auth_open(&c, &auth, &e))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    job j;
    mlhep_err e;
    if (job_message_decode(data, size, &j, &e) == 0) {
        workflow *w = NULL;
        if (pipeline_validate(j.workflow, env, &w, &e) == 0)
            workflow_free(w);
        auth_result r;
        auth_check_job(auth, j.token, 1700000000, 1699990000.0, &r, &e);
        char *out;
        size_t len;
        if (job_message_encode(&j, &out, &len, &e) == 0)
            free(out);
        job_clear(&j);
    }
    char op[16], id[JOB_ID_HEX + 1], user[JOB_USER_MAX + 1];
    char *tok = NULL;
    if (job_control_decode(data, size, op, id, user, &tok, &e) == 0)
        free(tok);
    return 0;
}
