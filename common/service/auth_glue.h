/* auth_glue.h - the one place where the service decides who a bearer token belongs to.
 *
 * Two modes, chosen by the configuration (config.h):
 *   auth_mode=jwt (default)  the token is a JWT verified by jwt.h with the configured
 *                            algorithm and key (jwt_alg RS256 + jwt_public_key or jwt_jwks;
 *                            HS256 + jwt_secret for development), checking exp, nbf, iss,
 *                            aud and scope `mlhep.submit`. The user is the token's `sub`,
 *                            which must be a valid user name (job_user_valid).
 *   auth_mode=dev            development only: tokens `dev:<user>`, no signature at all.
 * A JWT is refused in dev mode and a dev token in jwt mode, each with its own message.
 *
 * Both the submitter (before publishing) and the worker (again, on every delivery,
 * registration and control message: user machines are not trusted) call these.
 *
 * Expiry of a job's token while the job waits in the queue (auth_check_job, the
 * worker's rule): a token that is valid when the worker takes the job is accepted. A
 * token that has expired since is still accepted when BOTH
 *   - it expired at most jwt_queue_grace seconds ago (default 1 day; 0 disables), and
 *   - it was still valid (exp + leeway) when the job was registered, where the
 *     registration time is the `registered` field a worker wrote into the job's Redis
 *     record with its own clock when the broker handed it the job's registry copy (the
 *     `submitted` time in the message comes from the user's machine and is not used).
 * Everything else - signature, iss, aud, scope, nbf - is checked in full either way: the
 * grace path verifies the token as of one second before its (then authenticated) exp.
 * So a job queued with a fresh token runs even if the queue was long, while an expired
 * token cannot be used to queue new jobs, and a stolen old token is useless after the
 * grace. Registration itself requires a currently valid token.
 *
 * Ownership: auth_open allocates, auth_close frees. A loaded auth_ctx is read-only. */
#ifndef MLHEP_AUTH_GLUE_H
#define MLHEP_AUTH_GLUE_H

#include <stdint.h>

#include "service/config.h"
#include "base/err.h"
#include "service/job.h"
#include "service/jwt.h"

#define AUTH_SCOPE_SUBMIT "mlhep.submit"

/* Why a token was refused, beyond jwt_reason (values 1..13 are jwt_reason's). */
enum {
    AUTH_R_NO_TOKEN = 100,  /* no token given, or an empty one */
    AUTH_R_DEV = 101,       /* a dev token without auth_mode=dev, or a JWT in dev mode,
                               or a malformed dev token */
    AUTH_R_USER = 102,      /* the token's subject is not a valid user name */
};

typedef struct auth_result {
    int reason;                   /* 0 ok, a jwt_reason, or AUTH_R_* */
    char user[JOB_USER_MAX + 1];  /* the token's user (on success) */
    int64_t exp;                  /* token expiry, 0 for dev tokens */
    int in_grace;                 /* auth_check_job: accepted under the queue grace */
} auth_result;

typedef struct auth_ctx auth_ctx;

/* The JWT verifier described by cfg's jwt_* keys (auth_mode is not looked at): for
 * programs that verify other scopes themselves (mlhep-infer: mlhep.predict). *out is
 * freed with jwt_config_free. Configuration errors name the key. */
int auth_jwt_config(const mlhep_config *cfg, jwt_config **out, mlhep_err *e);

/* Loads the verifier for cfg (keys read once). Errors are configuration errors
 * (MLHEP_EINVAL/EIO with a message naming the key). */
int auth_open(const mlhep_config *cfg, auth_ctx **out, mlhep_err *e);
void auth_close(auth_ctx *a);

/* Checks token at time now (unix seconds) for `scope` (NULL: no scope check). Returns
 * 0 with r filled, or MLHEP_EAUTH with r->reason and a message saying why (the token is
 * never echoed). A JWT that verified is remembered until its exp (per scope), so a
 * busy service checks each token's signature once; safe from many threads. */
int auth_check(const auth_ctx *a, const char *token, int64_t now, const char *scope,
               auth_result *r, mlhep_err *e);

/* Tokens answered from the cache and tokens verified in full, since auth_open. */
void auth_cache_stats(const auth_ctx *a, unsigned long long *hits, unsigned long long *verifies);

/* The worker's check of a queued job's token (scope mlhep.submit), with the queue
 * grace described above. registered: when the job was registered (unix seconds,
 * from the worker-written Redis field; <= 0 when unknown: no grace). */
int auth_check_job(const auth_ctx *a, const char *token, int64_t now, double registered,
                   auth_result *r, mlhep_err *e);

/* Convenience for one-off checks: auth_open + auth_check(now, mlhep.submit) +
 * auth_close. Copies the user into user. */
int auth_check_submit(const mlhep_config *cfg, const char *token, char user[JOB_USER_MAX + 1],
                      mlhep_err *e);

/* Reads the token as the CLI does: from the file if path is given (first line,
 * whitespace and an optional "Bearer " trimmed), else from $MLHEP_TOKEN. *out is
 * malloc'ed. */
int auth_token_load(const char *path, char **out, mlhep_err *e);

/* Gets a token from oidc-agent: runs `oidc-token ACCOUNT` (found on $PATH, or the
 * program named by $MLHEP_OIDC_TOKEN_CMD) and reads its first output line. A missing
 * oidc-agent, a failing command or empty output each give a clear MLHEP_EAUTH. */
int auth_token_oidc(const char *account, char **out, mlhep_err *e);

#endif
