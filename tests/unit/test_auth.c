/* test_auth.c - the service's token policy (auth_glue): JWT configuration from the
 * service config keys (HS256 secret file, RS256 PEM), each refusal with its reason,
 * dev tokens only in dev mode, the worker's queue-expiry grace with fixed clocks, and
 * the CLI's token sources (file with "Bearer ", oidc-token through a stand-in command). */
#include "service/auth_glue.h"
#include "service/config.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

static const char SECRET[] = "test-secret-0123456789abcdef-0123456789";
static const int64_t NOW = 1700000000;
static char tmpdir[] = "/tmp/mlhep-test-auth.XXXXXX";
static EVP_PKEY *rsa;

enum { SIG_NONE, SIG_HS, SIG_RS };

/* header.payload.signature; malloc'd. */
static char *mint(const char *hdr, const char *pl, int kind, const void *key, size_t keylen)
{
    size_t cap = 4 * (strlen(hdr) + strlen(pl)) + 2048;
    char *t = malloc(cap);
    long n = jwt_b64url_encode((const unsigned char *)hdr, strlen(hdr), t, cap);
    t[n++] = '.';
    n += jwt_b64url_encode((const unsigned char *)pl, strlen(pl), t + n, cap - (size_t)n);
    size_t silen = (size_t)n;
    t[n++] = '.';
    t[n] = 0;
    unsigned char sig[1024];
    size_t siglen = 0;
    if (kind == SIG_HS) {
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, (unsigned char *)t, silen, sig,
                  sizeof sig, &siglen);
    } else if (kind == SIG_RS) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        siglen = sizeof sig;
        if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, (EVP_PKEY *)key, NULL) != 1 ||
            EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)t, silen) != 1)
            siglen = 0;
        EVP_MD_CTX_free(ctx);
    }
    jwt_b64url_encode(sig, siglen, t + n, cap - (size_t)n);
    return t;
}

/* A payload: sub, aud, scope, exp given; iss fixed. */
static char *hs_token(const char *sub, const char *aud, const char *scope, int64_t exp)
{
    char pl[1024];
    snprintf(pl, sizeof pl,
             "{\"iss\":\"https://iam.example\",\"aud\":\"%s\",\"sub\":\"%s\",\"exp\":%lld,"
             "\"iat\":%lld,\"nbf\":%lld,\"scope\":\"%s\"}",
             aud, sub, (long long)exp, (long long)(NOW - 10), (long long)(NOW - 10), scope);
    return mint("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pl, SIG_HS, SECRET, strlen(SECRET));
}

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
    unsetenv("MLHEP_AUTH_MODE");
    unsetenv("MLHEP_JWT_QUEUE_GRACE");
}

/* Loads the service config for HS256 with the given grace. */
static auth_ctx *hs_ctx(int grace)
{
    clear_env();
    char sp[256], cp[256], text[1024];
    write_file("secret", SECRET, sp, sizeof sp);
    snprintf(text, sizeof text,
             "auth_mode = jwt\njwt_alg = HS256\njwt_secret_file = %s\n"
             "jwt_issuer = https://iam.example\njwt_audience = mlhep\njwt_leeway = 0\n"
             "jwt_queue_grace = %d\n",
             sp, grace);
    write_file("hs.conf", text, cp, sizeof cp);
    mlhep_config c;
    mlhep_err e;
    auth_ctx *a = NULL;
    if (config_load(&c, cp, &e) != 0) {
        printf("  config: %s\n", e.msg);
        return NULL;
    }
    if (auth_open(&c, &a, &e) != 0)
        printf("  auth_open: %s\n", e.msg);
    config_free(&c);
    return a;
}

TEST(hs256_each_refusal_has_its_reason)
{
    auth_ctx *a = hs_ctx(3600);
    CHECK(a != NULL);
    if (!a)
        return;
    auth_result r;
    mlhep_err e;
    char *t = hs_token("alice", "mlhep", "openid mlhep.submit", NOW + 600);
    CHECKF(auth_check(a, t, NOW, AUTH_SCOPE_SUBMIT, &r, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(r.user, "alice") && r.exp == NOW + 600 && r.reason == 0);
    free(t);

    struct {
        char *tok;
        int reason;
        const char *words;
    } cases[] = {
        {hs_token("alice", "mlhep", "mlhep.submit", NOW - 1), JWT_E_EXPIRED, "expired"},
        {hs_token("alice", "other", "mlhep.submit", NOW + 600), JWT_E_AUDIENCE, "audience"},
        {hs_token("alice", "mlhep", "openid", NOW + 600), JWT_E_SCOPE, "mlhep.submit"},
        {hs_token("a/../b", "mlhep", "mlhep.submit", NOW + 600), AUTH_R_USER, "user name"},
        {mint("{\"alg\":\"none\"}", "{\"sub\":\"alice\",\"exp\":1800000000}", SIG_NONE, NULL, 0),
         JWT_E_ALG_NONE, "alg \"none\""},
        {mint("{\"alg\":\"HS256\"}",
              "{\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"alice\","
              "\"exp\":1800000000,\"scope\":\"mlhep.submit\"}",
              SIG_HS, "another-secret-another-secret-0123456", 37),
         JWT_E_SIGNATURE, "signature"},
        {strdup("dev:alice"), AUTH_R_DEV, "auth_mode=dev"},
        {strdup("not.a-token"), JWT_E_MALFORMED, "not a JWT"},
        {strdup(""), AUTH_R_NO_TOKEN, "no bearer token"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_clear(&e);
        int rc = auth_check(a, cases[i].tok, NOW, AUTH_SCOPE_SUBMIT, &r, &e);
        CHECKF(rc == MLHEP_EAUTH && r.reason == cases[i].reason && strstr(e.msg, cases[i].words),
               "case %zu: rc %d reason %d: %s", i, rc, r.reason, e.msg);
        CHECKF(!cases[i].tok[0] || !strstr(e.msg, cases[i].tok), "case %zu echoes the token", i);
        free(cases[i].tok);
    }
    auth_close(a);
}

TEST(dev_mode_accepts_only_dev_tokens)
{
    mlhep_config c;
    mlhep_err e;
    clear_env();
    setenv("MLHEP_AUTH_MODE", "dev", 1);
    CHECK(config_load(&c, NULL, &e) == 0);
    auth_ctx *a = NULL;
    CHECK(auth_open(&c, &a, &e) == 0);
    auth_result r;
    CHECK(auth_check(a, "dev:bob", NOW, AUTH_SCOPE_SUBMIT, &r, &e) == 0 && !strcmp(r.user, "bob"));
    char *t = hs_token("alice", "mlhep", "mlhep.submit", NOW + 600);
    CHECK(auth_check(a, t, NOW, AUTH_SCOPE_SUBMIT, &r, &e) == MLHEP_EAUTH && r.reason == AUTH_R_DEV);
    CHECK(auth_check(a, "dev:-x", NOW, AUTH_SCOPE_SUBMIT, &r, &e) == MLHEP_EAUTH);
    free(t);
    auth_close(a);
    config_free(&c);
    clear_env();
}

TEST(verifier_configuration_errors)
{
    mlhep_config c;
    mlhep_err e;
    auth_ctx *a = NULL;
    clear_env();
    CHECK(config_load(&c, NULL, &e) == 0); /* jwt, RS256, no key, no issuer */
    CHECK(auth_open(&c, &a, &e) != 0 && strstr(e.msg, "jwt_public_key"));
    config_free(&c);
    char sp[256], cp[256], text[512];
    write_file("short", "too-short", sp, sizeof sp);
    snprintf(text, sizeof text, "jwt_alg = HS256\njwt_secret_file = %s\njwt_issuer = i\n", sp);
    write_file("short.conf", text, cp, sizeof cp);
    CHECK(config_load(&c, cp, &e) == 0);
    CHECK(auth_open(&c, &a, &e) != 0 && strstr(e.msg, "too short"));
    config_free(&c);
    snprintf(text, sizeof text, "jwt_alg = HS256\njwt_secret = %s\n", SECRET);
    write_file("noiss.conf", text, cp, sizeof cp);
    CHECK(config_load(&c, cp, &e) == 0);
    CHECK(auth_open(&c, &a, &e) != 0 && strstr(e.msg, "jwt_issuer"));
    /* the secret never shows in the printed configuration */
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    config_print(&c, f);
    fclose(f);
    CHECK(strstr(out, "jwt_secret = ***") && !strstr(out, SECRET));
    free(out);
    config_free(&c);
    write_file("badalg.conf", "jwt_alg = none\n", cp, sizeof cp);
    CHECK(config_load(&c, cp, &e) != 0 && strstr(e.msg, "jwt_alg"));
}

TEST(rs256_public_key_and_alg_confusion)
{
    clear_env();
    rsa = EVP_RSA_gen(2048);
    CHECK(rsa != NULL);
    if (!rsa)
        return;
    char pem[256], cp[256], text[1024];
    snprintf(pem, sizeof pem, "%s/pub.pem", tmpdir);
    FILE *f = fopen(pem, "w");
    PEM_write_PUBKEY(f, rsa);
    fclose(f);
    snprintf(text, sizeof text,
             "jwt_public_key = %s\njwt_issuer = https://iam.example\njwt_audience = mlhep\n", pem);
    write_file("rs.conf", text, cp, sizeof cp);
    mlhep_config c;
    mlhep_err e;
    auth_ctx *a = NULL;
    CHECK(config_load(&c, cp, &e) == 0);
    CHECKF(auth_open(&c, &a, &e) == 0, "%s", e.msg);
    config_free(&c);
    const char *pl = "{\"iss\":\"https://iam.example\",\"aud\":[\"x\",\"mlhep\"],\"sub\":\"carol\","
                     "\"exp\":1800000000,\"scp\":[\"mlhep.submit\"]}";
    char *t = mint("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", pl, SIG_RS, rsa, 0);
    auth_result r;
    CHECKF(auth_check(a, t, NOW, AUTH_SCOPE_SUBMIT, &r, &e) == 0, "%s", e.msg);
    CHECK(!strcmp(r.user, "carol"));
    free(t);
    /* the bare verifier from the same keys, for other scopes (mlhep-infer: mlhep.predict) */
    jwt_config *jc = NULL;
    CHECK(config_load(&c, cp, &e) == 0);
    CHECKF(auth_jwt_config(&c, &jc, &e) == 0, "%s", e.msg);
    config_free(&c);
    jwt_claims cl;
    t = mint("{\"alg\":\"RS256\"}", pl, SIG_RS, rsa, 0);
    CHECK(jwt_verify(jc, t, NOW, "mlhep.submit", &cl, &e) == 0 && !strcmp(cl.sub, "carol"));
    CHECK(jwt_verify(jc, t, NOW, "mlhep.predict", &cl, &e) == MLHEP_EAUTH && cl.reason == JWT_E_SCOPE);
    jwt_config_free(jc);
    free(t);
    /* HS256 "signed" with the public key file as the secret: refused before any MAC */
    FILE *pf = fopen(pem, "r");
    char pembuf[4096];
    size_t pn = fread(pembuf, 1, sizeof pembuf, pf);
    fclose(pf);
    t = mint("{\"alg\":\"HS256\"}", pl, SIG_HS, pembuf, pn);
    CHECK(auth_check(a, t, NOW, AUTH_SCOPE_SUBMIT, &r, &e) == MLHEP_EAUTH &&
          r.reason == JWT_E_ALG_MISMATCH);
    free(t);
    auth_close(a);
}

TEST(queue_grace_policy)
{
    auth_ctx *a = hs_ctx(3600);
    if (!a) {
        CHECK(0);
        return;
    }
    auth_result r;
    mlhep_err e;
    int64_t exp = NOW + 100;
    char *t = hs_token("alice", "mlhep", "mlhep.submit", exp);
    /* still valid: no grace needed */
    CHECK(auth_check_job(a, t, NOW + 50, NOW + 1, &r, &e) == 0 && r.in_grace == 0);
    /* expired while queued, registered before expiry, within the grace: accepted */
    CHECKF(auth_check_job(a, t, exp + 200, NOW + 1, &r, &e) == 0, "%s", e.msg);
    CHECK(r.in_grace == 1 && !strcmp(r.user, "alice") && r.exp == exp);
    /* registered only after the token had expired: refused */
    CHECK(auth_check_job(a, t, exp + 200, exp + 50, &r, &e) == MLHEP_EAUTH &&
          r.reason == JWT_E_EXPIRED && strstr(e.msg, "already expired when the job was registered"));
    /* no registration time known: refused */
    CHECK(auth_check_job(a, t, exp + 200, 0, &r, &e) == MLHEP_EAUTH &&
          strstr(e.msg, "no registration time"));
    /* beyond the grace: refused */
    CHECK(auth_check_job(a, t, exp + 3601, NOW + 1, &r, &e) == MLHEP_EAUTH &&
          strstr(e.msg, "longer than the queue grace"));
    free(t);
    /* the grace never excuses anything else: wrong audience, missing scope, bad signature */
    char *bad[3] = {hs_token("alice", "other", "mlhep.submit", exp),
                    hs_token("alice", "mlhep", "openid", exp),
                    mint("{\"alg\":\"HS256\"}",
                         "{\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"alice\","
                         "\"exp\":1700000100,\"scope\":\"mlhep.submit\"}",
                         SIG_HS, "another-secret-another-secret-0123456", 37)};
    int want[3] = {JWT_E_AUDIENCE, JWT_E_SCOPE, JWT_E_SIGNATURE};
    for (int i = 0; i < 3; i++) {
        CHECKF(auth_check_job(a, bad[i], exp + 200, NOW + 1, &r, &e) == MLHEP_EAUTH &&
                   r.reason == want[i],
               "case %d: reason %d %s", i, r.reason, e.msg);
        free(bad[i]);
    }
    auth_close(a);
    /* grace 0: expired is expired */
    a = hs_ctx(0);
    t = hs_token("alice", "mlhep", "mlhep.submit", exp);
    CHECK(auth_check_job(a, t, exp + 5, NOW + 1, &r, &e) == MLHEP_EAUTH &&
          strstr(e.msg, "jwt_queue_grace=0"));
    free(t);
    auth_close(a);
}

TEST(token_sources)
{
    char p[256], *tok = NULL;
    mlhep_err e;
    write_file("tok", "  Bearer abc.def.ghi  \nsecond line\n", p, sizeof p);
    CHECK(auth_token_load(p, &tok, &e) == 0 && !strcmp(tok, "abc.def.ghi"));
    free(tok);
    write_file("empty", "\n", p, sizeof p);
    CHECK(auth_token_load(p, &tok, &e) == MLHEP_EAUTH && strstr(e.msg, "empty"));
    CHECK(auth_token_load("/nonexistent/tok", &tok, &e) == MLHEP_EAUTH);
    unsetenv("MLHEP_TOKEN");
    CHECK(auth_token_load(NULL, &tok, &e) == MLHEP_EAUTH && strstr(e.msg, "MLHEP_TOKEN"));
    setenv("MLHEP_TOKEN", "xyz.abc.def", 1);
    CHECK(auth_token_load(NULL, &tok, &e) == 0 && !strcmp(tok, "xyz.abc.def"));
    free(tok);
    unsetenv("MLHEP_TOKEN");

    /* oidc-token stand-ins: prints the token for account "good", fails otherwise */
    write_file("oidc-token", "#!/bin/sh\n[ \"$1\" = good ] || { echo \"no account $1\" >&2; exit 1; }\n"
               "echo tok.from.agent\n", p, sizeof p);
    chmod(p, 0755);
    setenv("MLHEP_OIDC_TOKEN_CMD", p, 1);
    CHECKF(auth_token_oidc("good", &tok, &e) == 0 && !strcmp(tok, "tok.from.agent"), "%s", e.msg);
    free(tok);
    tok = NULL;
    CHECK(auth_token_oidc("bad", &tok, &e) == MLHEP_EAUTH && strstr(e.msg, "oidc-add bad") && !tok);
    CHECK(auth_token_oidc("-o", &tok, &e) == MLHEP_EAUTH);
    setenv("MLHEP_OIDC_TOKEN_CMD", "/nonexistent/oidc-token", 1);
    CHECK(auth_token_oidc("good", &tok, &e) == MLHEP_EAUTH && strstr(e.msg, "oidc-agent is not installed"));
    unsetenv("MLHEP_OIDC_TOKEN_CMD");
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(hs256_each_refusal_has_its_reason);
    RUN(dev_mode_accepts_only_dev_tokens);
    RUN(verifier_configuration_errors);
    RUN(rs256_public_key_and_alg_confusion);
    RUN(queue_grace_policy);
    RUN(token_sources);
    EVP_PKEY_free(rsa);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return test_summary();
}
