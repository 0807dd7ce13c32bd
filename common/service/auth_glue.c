/* auth_glue.c - see auth_glue.h: JWT (jwt.h) or development tokens, the queue-expiry
 * grace of the worker, and the CLI's token sources (file, environment, oidc-agent). */
#include "service/auth_glue.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

extern char **environ;

/* Verified tokens, so that a busy service (the gateway, mlhep-infer) checks a token's
 * signature once and not at every request: direct-mapped on a hash of token and scope,
 * each entry compared byte for byte and used only before the token's exp (without the
 * leeway). Only a token that verified is stored, so an entry can be hit only by a holder
 * of that very token. */
#define TOKCACHE 1024
typedef struct tokent {
    uint64_t h;
    char *tok;      /* owned copy */
    size_t len;
    char scope[32];
    char user[JOB_USER_MAX + 1];
    int64_t exp;
} tokent;

typedef struct tokcache {
    pthread_mutex_t mu;
    tokent e[TOKCACHE];
    unsigned long long hits, verifies;
} tokcache;

struct auth_ctx {
    int dev;          /* auth_mode=dev */
    jwt_config *jwt;  /* auth_mode=jwt */
    int leeway;
    int grace;
    tokcache *cache;  /* jwt mode */
};

static uint64_t tok_hash(const char *t, size_t n, const char *scope)
{
    return XXH3_64bits_withSeed(t, n, XXH3_64bits(scope, strlen(scope)));
}

/* 1 with r filled when token (for scope) is cached and not expired at now. */
static int cache_get(tokcache *c, const char *t, size_t n, const char *scope, int64_t now, auth_result *r)
{
    if (!c || strlen(scope) >= sizeof c->e[0].scope)
        return 0;
    uint64_t h = tok_hash(t, n, scope);
    int hit = 0;
    pthread_mutex_lock(&c->mu);
    tokent *x = &c->e[h % TOKCACHE];
    if (x->tok && x->h == h && x->len == n && !memcmp(x->tok, t, n) && !strcmp(x->scope, scope) && now < x->exp) {
        strcpy(r->user, x->user);
        r->exp = x->exp;
        c->hits++;
        hit = 1;
    } else {
        c->verifies++;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void cache_put(tokcache *c, const char *t, size_t n, const char *scope, const auth_result *r)
{
    if (!c || strlen(scope) >= sizeof c->e[0].scope)
        return;
    char *copy = malloc(n + 1);
    if (!copy)
        return;
    memcpy(copy, t, n);
    copy[n] = '\0';
    uint64_t h = tok_hash(t, n, scope);
    pthread_mutex_lock(&c->mu);
    tokent *x = &c->e[h % TOKCACHE];
    free(x->tok);
    x->tok = copy;
    x->len = n;
    x->h = h;
    strcpy(x->scope, scope);
    strcpy(x->user, r->user);
    x->exp = r->exp;
    pthread_mutex_unlock(&c->mu);
}

int auth_jwt_config(const mlhep_config *cfg, jwt_config **out, mlhep_err *e)
{
    *out = NULL;
    jwt_opts o = {0};
    o.alg = cfg->jwt_alg && strcmp(cfg->jwt_alg, "HS256") == 0 ? JWT_ALG_HS256 : JWT_ALG_RS256;
    const char *pub = cfg->jwt_public_key && *cfg->jwt_public_key ? cfg->jwt_public_key : NULL;
    const char *jwks = cfg->jwt_jwks && *cfg->jwt_jwks ? cfg->jwt_jwks : NULL;
    int have_secret = cfg->jwt_secret && *cfg->jwt_secret;
    int rc = 0;
    if (o.alg == JWT_ALG_RS256 && !pub && !jwks)
        rc = err_set(e, MLHEP_EINVAL, "auth_mode=jwt with jwt_alg=RS256 needs jwt_public_key (PEM) "
                                      "or jwt_jwks (JWKS file) in the configuration");
    else if (o.alg == JWT_ALG_HS256 && !have_secret)
        rc = err_set(e, MLHEP_EINVAL, "auth_mode=jwt with jwt_alg=HS256 needs jwt_secret_file "
                                      "(or jwt_secret) in the configuration");
    else if (o.alg == JWT_ALG_RS256 && have_secret)
        rc = err_set(e, MLHEP_EINVAL, "jwt_secret is set but jwt_alg is RS256; remove one");
    else if (o.alg == JWT_ALG_HS256 && (pub || jwks))
        rc = err_set(e, MLHEP_EINVAL, "jwt_public_key/jwt_jwks are set but jwt_alg is HS256; "
                                      "remove one");
    else if (!cfg->jwt_issuer || !*cfg->jwt_issuer)
        rc = err_set(e, MLHEP_EINVAL, "auth_mode=jwt needs jwt_issuer (the expected `iss`) in "
                                      "the configuration");
    if (!rc) {
        o.pubkey_pem_file = pub;
        o.jwks_file = pub ? NULL : jwks;
        if (o.alg == JWT_ALG_HS256) {
            o.hs256_secret = (const unsigned char *)cfg->jwt_secret;
            o.hs256_secret_len = strlen(cfg->jwt_secret);
        }
        o.issuer = cfg->jwt_issuer;
        o.audience = cfg->jwt_audience;
        o.leeway_s = cfg->jwt_leeway;
        if (pub && jwks)
            rc = err_set(e, MLHEP_EINVAL, "set only one of jwt_public_key and jwt_jwks");
        else if ((rc = jwt_config_new(&o, out, e)) != 0)
            err_prefix(e, "token verifier");
    }
    return rc;
}

int auth_open(const mlhep_config *cfg, auth_ctx **out, mlhep_err *e)
{
    *out = NULL;
    if (!cfg || !cfg->auth_mode)
        return err_set(e, MLHEP_EINVAL, "auth: no configuration");
    auth_ctx *a = calloc(1, sizeof *a);
    if (!a)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    a->leeway = cfg->jwt_leeway;
    a->grace = cfg->jwt_queue_grace;
    if (strcmp(cfg->auth_mode, "dev") == 0) {
        a->dev = 1;
        *out = a;
        return 0;
    }
    int rc = auth_jwt_config(cfg, &a->jwt, e);
    if (!rc) {
        a->cache = calloc(1, sizeof *a->cache);
        if (!a->cache)
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        else
            pthread_mutex_init(&a->cache->mu, NULL);
    }
    if (rc) {
        jwt_config_free(a->jwt);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void auth_close(auth_ctx *a)
{
    if (!a)
        return;
    jwt_config_free(a->jwt);
    if (a->cache) {
        for (int i = 0; i < TOKCACHE; i++)
            free(a->cache->e[i].tok);
        pthread_mutex_destroy(&a->cache->mu);
        free(a->cache);
    }
    free(a);
}

void auth_cache_stats(const auth_ctx *a, unsigned long long *hits, unsigned long long *verifies)
{
    *hits = *verifies = 0;
    if (!a || !a->cache)
        return;
    pthread_mutex_lock(&a->cache->mu);
    *hits = a->cache->hits;
    *verifies = a->cache->verifies;
    pthread_mutex_unlock(&a->cache->mu);
}

static int refuse(auth_result *r, int reason, mlhep_err *e, const char *msg)
{
    r->reason = reason;
    return err_set(e, MLHEP_EAUTH, "%s", msg);
}

int auth_check(const auth_ctx *a, const char *token, int64_t now, const char *scope,
               auth_result *r, mlhep_err *e)
{
    memset(r, 0, sizeof *r);
    if (!token || !*token)
        return refuse(r, AUTH_R_NO_TOKEN, e,
                      "no bearer token (set MLHEP_TOKEN, use --token-file FILE or --oidc ACCOUNT)");
    if (!a)
        return refuse(r, JWT_E_CONFIG, e, "token refused: no verifier configured");
    int is_dev = strncmp(token, "dev:", 4) == 0;
    if (a->dev) {
        if (!is_dev)
            return refuse(r, AUTH_R_DEV, e,
                          "token refused: auth_mode=dev accepts only 'dev:<user>' tokens");
        if (!job_user_valid(token + 4))
            return refuse(r, AUTH_R_DEV, e,
                          "token refused: user name must be 1-64 of [A-Za-z0-9._-], not starting "
                          "with '.' or '-'");
        strcpy(r->user, token + 4);
        return 0;
    }
    if (is_dev)
        return refuse(r, AUTH_R_DEV, e,
                      "token refused: development tokens 'dev:<user>' are accepted only with "
                      "auth_mode=dev; this service verifies JWTs");
    size_t tl = strlen(token);
    if (cache_get(a->cache, token, tl, scope ? scope : "", now, r))
        return 0;
    jwt_claims c;
    if (jwt_verify(a->jwt, token, now, scope, &c, e) != 0) {
        r->reason = c.reason ? (int)c.reason : JWT_E_CONFIG;
        return err_prefix(e, "token refused (%s)", jwt_reason_name(c.reason));
    }
    if (!job_user_valid(c.sub))
        return refuse(r, AUTH_R_USER, e,
                      "token refused: its subject is not usable as an mlhep user name (1-64 of "
                      "[A-Za-z0-9._-], not starting with '.' or '-')");
    strcpy(r->user, c.sub);
    r->exp = c.exp;
    cache_put(a->cache, token, tl, scope ? scope : "", r);
    return 0;
}

/* exp of a token's payload WITHOUT verifying anything: used only to pick the time at
 * which the token is then verified in full (the signature covers exp). 0 if absent. */
static int64_t peek_exp(const char *token)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || (size_t)(d2 - d1 - 1) > JWT_MAX_TOKEN_LEN)
        return 0;
    unsigned char buf[JWT_MAX_TOKEN_LEN];
    long n = jwt_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof buf);
    if (n <= 0)
        return 0;
    json_t *pl = json_loadb((const char *)buf, (size_t)n, 0, NULL);
    json_t *exp = json_object_get(pl, "exp");
    double v = json_is_number(exp) ? json_number_value(exp) : 0;
    json_decref(pl);
    if (!(v > 1 && v < 9e15))
        return 0;
    return (int64_t)v;
}

int auth_check_job(const auth_ctx *a, const char *token, int64_t now, double registered,
                   auth_result *r, mlhep_err *e)
{
    int rc = auth_check(a, token, now, AUTH_SCOPE_SUBMIT, r, e);
    if (rc == 0 || r->reason != JWT_E_EXPIRED || !a || a->dev)
        return rc;
    mlhep_err first = *e;
    if (a->grace <= 0)
        return err_set(e, MLHEP_EAUTH, "%s; expired tokens are not accepted for queued jobs "
                       "(jwt_queue_grace=0)", first.msg);
    int64_t exp = peek_exp(token);
    if (exp <= 0) {
        *e = first;
        return rc;
    }
    /* full verification as of one second before its expiry: signature, iss, aud, scope,
     * nbf; after this, exp is authentic */
    if (auth_check(a, token, exp - 1, AUTH_SCOPE_SUBMIT, r, e) != 0)
        return MLHEP_EAUTH;
    int64_t ago = now - exp;
    if (ago > a->grace) {
        r->reason = JWT_E_EXPIRED;
        return err_set(e, MLHEP_EAUTH,
                       "token refused (expired): it expired %lld s ago, longer than the queue "
                       "grace (jwt_queue_grace=%d s); submit the job again with a fresh token",
                       (long long)ago, a->grace);
    }
    if (!(registered > 0) || registered >= (double)exp + a->leeway) {
        r->reason = JWT_E_EXPIRED;
        if (!(registered > 0))
            return err_set(e, MLHEP_EAUTH,
                           "token refused (expired): it expired %lld s ago and the job has no "
                           "registration time, so it cannot be shown to have been valid when "
                           "the job was queued", (long long)ago);
        return err_set(e, MLHEP_EAUTH,
                       "token refused (expired): it had already expired when the job was "
                       "registered (%.0f s after its expiry)", registered - (double)exp);
    }
    r->in_grace = 1;
    return 0;
}

int auth_check_submit(const mlhep_config *cfg, const char *token, char user[JOB_USER_MAX + 1],
                      mlhep_err *e)
{
    auth_ctx *a = NULL;
    if (!token || !*token)
        return err_set(e, MLHEP_EAUTH,
                       "no bearer token (set MLHEP_TOKEN, use --token-file FILE or --oidc ACCOUNT)");
    if (auth_open(cfg, &a, e) != 0)
        return MLHEP_EAUTH;
    auth_result r;
    int rc = auth_check(a, token, (int64_t)time(NULL), AUTH_SCOPE_SUBMIT, &r, e);
    auth_close(a);
    if (rc == 0)
        strcpy(user, r.user);
    return rc;
}

/* First line of buf, trimmed, "Bearer " removed; *out malloc'd; buf wiped. */
static int take_token(char *buf, const char *what, char **out, mlhep_err *e)
{
    char *s = buf;
    s[strcspn(s, "\r\n")] = '\0';
    s = jwt_trim_token(s);
    int rc = 0;
    if (!*s)
        rc = err_set(e, MLHEP_EAUTH, "%s: the bearer token is empty", what);
    else if (!(*out = strdup(s)))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    return rc;
}

int auth_token_load(const char *path, char **out, mlhep_err *e)
{
    *out = NULL;
    char buf[16384];
    int rc;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f)
            return err_set(e, MLHEP_EAUTH, "cannot read token file %s: %s", path, strerror(errno));
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        rc = take_token(buf, path, out, e);
    } else {
        const char *t = getenv("MLHEP_TOKEN");
        if (!t || !*t)
            return err_set(e, MLHEP_EAUTH,
                           "no bearer token (set MLHEP_TOKEN, use --token-file FILE or --oidc "
                           "ACCOUNT)");
        if (strlen(t) >= sizeof buf)
            return err_set(e, MLHEP_EAUTH, "MLHEP_TOKEN is too long");
        strcpy(buf, t);
        rc = take_token(buf, "MLHEP_TOKEN", out, e);
    }
    memset(buf, 0, sizeof buf);
    return rc;
}

int auth_token_oidc(const char *account, char **out, mlhep_err *e)
{
    *out = NULL;
    if (!account || !*account || account[0] == '-' || strlen(account) > 256)
        return err_set(e, MLHEP_EAUTH, "--oidc needs an oidc-agent account name (not starting "
                                       "with '-')");
    const char *cmd = getenv("MLHEP_OIDC_TOKEN_CMD");
    if (!cmd || !*cmd)
        cmd = "oidc-token";
    int pfd[2];
    if (pipe(pfd) != 0)
        return err_set(e, MLHEP_EIO, "oidc-token: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addclose(&fa, pfd[1]);
    char *argv[] = {(char *)cmd, (char *)account, NULL};
    pid_t pid;
    int sp = posix_spawnp(&pid, cmd, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (sp != 0) {
        close(pfd[0]);
        if (sp == ENOENT)
            return err_set(e, MLHEP_EAUTH,
                           "--oidc: '%s' not found: oidc-agent is not installed or not on PATH "
                           "(install oidc-agent, start it with `eval $(oidc-agent)` and add the "
                           "account with `oidc-add %s`), or pass the token with MLHEP_TOKEN or "
                           "--token-file", cmd, account);
        return err_set(e, MLHEP_EAUTH, "--oidc: cannot run %s: %s", cmd, strerror(sp));
    }
    char buf[16384];
    size_t n = 0;
    for (;;) {
        ssize_t k = read(pfd[0], buf + n, sizeof buf - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == sizeof buf - 1)
            break;
    }
    buf[n] = '\0';
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        rc = err_set(e, MLHEP_EAUTH,
                     "--oidc: `%s %s` failed (%s %d): is oidc-agent running (`eval "
                     "$(oidc-agent)`) and the account loaded (`oidc-add %s`)?",
                     cmd, account, WIFEXITED(st) ? "exit code" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), account);
    else
        rc = take_token(buf, "oidc-token", out, e);
    memset(buf, 0, sizeof buf);
    return rc;
}
