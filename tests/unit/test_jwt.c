/* test_jwt.c - bearer token verification: tokens minted here with OpenSSL (HMAC for
 * HS256, an RSA key generated with EVP and EVP_DigestSign for RS256), then every
 * refusal the verifier must make, each with its own reason. */
#include "service/jwt.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const char SECRET[] = "0123456789abcdef0123456789abcdef-dev-secret";
static const int64_t NOW = 1700000000;
static EVP_PKEY *rsa1, *rsa2;
static char tmpdir[] = "/tmp/mlhep-test-jwt.XXXXXX";
static char pem1[256], pem2[256], jwks[256], jwks1[256], secretfile[256];

enum { SIG_NONE, SIG_HS, SIG_RS };

/* header.payload.signature from two JSON texts; returns malloc'd token. */
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

static char payload_buf[2048];
/* A standard payload with overrides: extra JSON members appended (later keys would be
 * duplicates, so callers choose which standard members to include). */
static const char *pl_std(const char *extra)
{
    snprintf(payload_buf, sizeof payload_buf,
             "{\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"alice\","
             "\"exp\":%lld,\"iat\":%lld,\"scope\":\"openid mlhep.submit\"%s%s}",
             (long long)(NOW + 3600), (long long)(NOW - 10), extra ? "," : "", extra ? extra : "");
    return payload_buf;
}

static jwt_config *hs_config(int leeway)
{
    jwt_opts o = {.alg = JWT_ALG_HS256, .hs256_secret = (const unsigned char *)SECRET,
                  .hs256_secret_len = strlen(SECRET), .issuer = "https://iam.example",
                  .audience = "mlhep", .leeway_s = leeway};
    jwt_config *c = NULL;
    mlhep_err e;
    if (jwt_config_new(&o, &c, &e) != 0)
        printf("  hs_config: %s\n", e.msg);
    return c;
}

static jwt_config *rs_config(const char *pem, const char *jwksf)
{
    jwt_opts o = {.alg = JWT_ALG_RS256, .pubkey_pem_file = pem, .jwks_file = jwksf,
                  .issuer = "https://iam.example", .audience = "mlhep"};
    jwt_config *c = NULL;
    mlhep_err e;
    if (jwt_config_new(&o, &c, &e) != 0)
        printf("  rs_config: %s\n", e.msg);
    return c;
}

/* Verifies and returns the reason; prints the message on unexpected outcomes. */
static jwt_reason verify(const jwt_config *c, const char *tok, const char *scope, jwt_claims *cl,
                         mlhep_err *e)
{
    jwt_claims tmp;
    if (!cl)
        cl = &tmp;
    err_clear(e);
    int rc = jwt_verify(c, tok, NOW, scope, cl, e);
    if ((rc == 0) != (cl->reason == JWT_OK))
        return (jwt_reason)99;
    if (rc != 0 && rc != MLHEP_EAUTH)
        return (jwt_reason)98;
    return cl->reason;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void write_pem(const char *path, EVP_PKEY *pk)
{
    FILE *f = fopen(path, "w");
    PEM_write_PUBKEY(f, pk);
    fclose(f);
}

static void jwk_member(EVP_PKEY *pk, const char *name, char *out, size_t cap)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(pk, name, &bn);
    unsigned char b[1024];
    int n = BN_bn2bin(bn, b);
    jwt_b64url_encode(b, (size_t)n, out, cap);
    BN_free(bn);
}

static void write_jwks(const char *path, int both)
{
    char n1[1024], e1[16], n2[1024], e2[16], doc[4096];
    jwk_member(rsa1, OSSL_PKEY_PARAM_RSA_N, n1, sizeof n1);
    jwk_member(rsa1, OSSL_PKEY_PARAM_RSA_E, e1, sizeof e1);
    jwk_member(rsa2, OSSL_PKEY_PARAM_RSA_N, n2, sizeof n2);
    jwk_member(rsa2, OSSL_PKEY_PARAM_RSA_E, e2, sizeof e2);
    if (both)
        snprintf(doc, sizeof doc,
                 "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"},"
                 "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"%s\"},"
                 "{\"kty\":\"RSA\",\"kid\":\"k2\",\"n\":\"%s\",\"e\":\"%s\"},"
                 "{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"k3\",\"n\":\"%s\",\"e\":\"%s\"}]}",
                 n1, e1, n2, e2, n2, e2);
    else
        snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}]}", n1, e1);
    write_file(path, doc);
}

TEST(b64url_strict)
{
    unsigned char out[64];
    char enc[64];
    const unsigned char in[] = {0xfb, 0xff, 0x00, 0x41, 0x42};
    for (size_t n = 0; n <= sizeof in; n++) {
        long m = jwt_b64url_encode(in, n, enc, sizeof enc);
        CHECK(m >= 0);
        CHECK(strchr(enc, '=') == NULL && strchr(enc, '+') == NULL && strchr(enc, '/') == NULL);
        CHECK_EQ_INT(jwt_b64url_decode(enc, (size_t)m, out, sizeof out), n);
        CHECK(memcmp(out, in, n) == 0);
    }
    CHECK_EQ_INT(jwt_b64url_decode("-_8", 3, out, sizeof out), 2); /* 0xfb 0xff */
    CHECK(out[0] == 0xfb && out[1] == 0xff);
    CHECK(jwt_b64url_decode("QQ==", 4, out, sizeof out) < 0); /* padding refused */
    CHECK(jwt_b64url_decode("+/8", 3, out, sizeof out) < 0);  /* standard alphabet refused */
    CHECK(jwt_b64url_decode("QUJDR", 5, out, sizeof out) < 0); /* impossible length */
    CHECK(jwt_b64url_decode("QR", 2, out, sizeof out) < 0);   /* non-zero trailing bits */
    CHECK(jwt_b64url_decode("QUJD", 4, out, 2) < 0);          /* buffer too small */
}

TEST(hs256_good_token)
{
    jwt_config *c = hs_config(0);
    CHECK(c);
    char *t = mint("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                   pl_std("\"scp\":[\"mlhep.predict\",\"openid\"]"), SIG_HS, SECRET, strlen(SECRET));
    jwt_claims cl;
    mlhep_err e;
    jwt_reason r = verify(c, t, "mlhep.submit", &cl, &e);
    CHECKF(r == JWT_OK, "%s", e.msg);
    CHECK(strcmp(cl.sub, "alice") == 0);
    CHECK(strcmp(cl.scopes, "openid mlhep.submit mlhep.predict") == 0);
    CHECK(cl.exp == NOW + 3600 && cl.iat == NOW - 10 && cl.nbf == 0);
    CHECK(jwt_claims_has_scope(&cl, "mlhep.predict") && !jwt_claims_has_scope(&cl, "mlhep"));
    CHECK(verify(c, t, "mlhep.predict", NULL, &e) == JWT_OK);
    CHECK(verify(c, t, NULL, NULL, &e) == JWT_OK);
    free(t);
    jwt_config_free(c);
}

TEST(hs256_wrong_secret_and_tampering)
{
    jwt_config *c = hs_config(0);
    CHECK(c);
    const char other[] = "another-secret-of-sufficient-length-xx";
    char *t = mint("{\"alg\":\"HS256\"}", pl_std(NULL), SIG_HS, other, strlen(other));
    mlhep_err e;
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    CHECKF(strstr(e.msg, "signature does not verify") != NULL, "%s", e.msg);
    free(t);
    /* Good token with the payload swapped for bob's: signature must fail. */
    t = mint("{\"alg\":\"HS256\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    char *bob = mint("{\"alg\":\"HS256\"}",
                     "{\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"bob\","
                     "\"exp\":1800000000,\"scope\":\"mlhep.submit\"}",
                     SIG_NONE, NULL, 0);
    char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    char *b1 = strchr(bob, '.'), *b2 = strchr(b1 + 1, '.');
    char forged[4096];
    snprintf(forged, sizeof forged, "%.*s%.*s%s", (int)(d1 - t), t, (int)(b2 - b1), b1, d2);
    CHECK(verify(c, forged, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    /* Truncated signature (by 3 chars: still valid base64url, 30 bytes). */
    t[strlen(t) - 3] = 0;
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    free(t);
    free(bob);
    jwt_config_free(c);
}

TEST(alg_none_refused)
{
    jwt_config *hs = hs_config(0), *rs = rs_config(pem1, NULL);
    CHECK(hs && rs);
    mlhep_err e;
    const char *hdrs[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\",\"typ\":\"JWT\"}",
                          "{\"alg\":\"NONE\"}"};
    for (int i = 0; i < 3; i++) {
        char *t = mint(hdrs[i], pl_std(NULL), SIG_NONE, NULL, 0);
        CHECK(t[strlen(t) - 1] == '.');
        CHECK(verify(hs, t, "mlhep.submit", NULL, &e) == JWT_E_ALG_NONE);
        CHECKF(strstr(e.msg, "alg \"none\"") != NULL, "%s", e.msg);
        CHECK(verify(rs, t, "mlhep.submit", NULL, &e) == JWT_E_ALG_NONE);
        free(t);
    }
    /* alg none with a bogus signature appended is refused the same way. */
    char *t = mint("{\"alg\":\"none\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(hs, t, "mlhep.submit", NULL, &e) == JWT_E_ALG_NONE);
    free(t);
    jwt_config_free(hs);
    jwt_config_free(rs);
}

TEST(rs256_pem_good_and_bad)
{
    jwt_config *c = rs_config(pem1, NULL);
    CHECK(c);
    mlhep_err e;
    jwt_claims cl;
    char *t = mint("{\"alg\":\"RS256\",\"kid\":\"whatever\"}", pl_std(NULL), SIG_RS, rsa1, 0);
    CHECKF(verify(c, t, "mlhep.submit", &cl, &e) == JWT_OK, "%s", e.msg);
    CHECK(strcmp(cl.sub, "alice") == 0 && strcmp(cl.kid, "whatever") == 0);
    free(t);
    t = mint("{\"alg\":\"RS256\"}", pl_std(NULL), SIG_RS, rsa2, 0); /* other key */
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    /* flip one bit of the signature's first char */
    char *s = strrchr(t, '.') + 1;
    s[0] = s[0] == 'A' ? 'B' : 'A';
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    free(t);
    /* RS256 header on an HMAC signature */
    t = mint("{\"alg\":\"RS256\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    free(t);
    jwt_config_free(c);
}

TEST(algorithm_confusion_refused)
{
    /* The classic attack: an HS256 token whose HMAC key is the server's RSA public key
     * PEM text. A verifier that takes alg from the token would accept it. */
    jwt_config *c = rs_config(pem1, NULL);
    CHECK(c);
    FILE *f = fopen(pem1, "r");
    char pemtext[4096];
    size_t n = fread(pemtext, 1, sizeof pemtext, f);
    fclose(f);
    char *t = mint("{\"alg\":\"HS256\"}", pl_std(NULL), SIG_HS, pemtext, n);
    mlhep_err e;
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_ALG_MISMATCH);
    CHECKF(strstr(e.msg, "\"HS256\" is not the configured RS256") != NULL, "%s", e.msg);
    free(t);
    /* and the reverse: an RS256 token against an HS256 verifier */
    jwt_config *hs = hs_config(0);
    t = mint("{\"alg\":\"RS256\"}", pl_std(NULL), SIG_RS, rsa1, 0);
    jwt_reason r = verify(hs, t, "mlhep.submit", NULL, &e);
    CHECKF(r == JWT_E_ALG_MISMATCH, "%s: %s", jwt_reason_name(r), e.msg);
    free(t);
    t = mint("{\"alg\":\"HS512\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(hs, t, "mlhep.submit", NULL, &e) == JWT_E_ALG_MISMATCH);
    free(t);
    t = mint("{\"alg\":\"hs256\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(hs, t, "mlhep.submit", NULL, &e) == JWT_E_ALG_MISMATCH);
    free(t);
    /* an embedded NUL must not truncate "HS256\0x" to "HS256" (jansson refuses it) */
    t = mint("{\"alg\":\"HS256\\u0000x\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(hs, t, "mlhep.submit", NULL, &e) == JWT_E_MALFORMED);
    free(t);
    jwt_config_free(hs);
    jwt_config_free(c);
}

TEST(rs256_jwks_by_kid)
{
    jwt_config *c = rs_config(NULL, jwks), *one = rs_config(NULL, jwks1);
    CHECK(c && one);
    mlhep_err e;
    char *t1 = mint("{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl_std(NULL), SIG_RS, rsa1, 0);
    char *t2 = mint("{\"alg\":\"RS256\",\"kid\":\"k2\"}", pl_std(NULL), SIG_RS, rsa2, 0);
    char *wrong = mint("{\"alg\":\"RS256\",\"kid\":\"k2\"}", pl_std(NULL), SIG_RS, rsa1, 0);
    char *unk = mint("{\"alg\":\"RS256\",\"kid\":\"k9\"}", pl_std(NULL), SIG_RS, rsa1, 0);
    char *enc = mint("{\"alg\":\"RS256\",\"kid\":\"k3\"}", pl_std(NULL), SIG_RS, rsa2, 0);
    char *nokid = mint("{\"alg\":\"RS256\"}", pl_std(NULL), SIG_RS, rsa1, 0);
    CHECKF(verify(c, t1, "mlhep.submit", NULL, &e) == JWT_OK, "%s", e.msg);
    CHECKF(verify(c, t2, "mlhep.submit", NULL, &e) == JWT_OK, "%s", e.msg);
    CHECK(verify(c, wrong, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    CHECK(verify(c, unk, "mlhep.submit", NULL, &e) == JWT_E_UNKNOWN_KID);
    CHECKF(strstr(e.msg, "\"k9\"") != NULL, "%s", e.msg);
    CHECK(verify(c, enc, "mlhep.submit", NULL, &e) == JWT_E_UNKNOWN_KID); /* use=enc skipped */
    CHECK(verify(c, nokid, "mlhep.submit", NULL, &e) == JWT_E_UNKNOWN_KID);
    CHECKF(verify(one, nokid, "mlhep.submit", NULL, &e) == JWT_OK, "%s", e.msg);
    CHECK(verify(one, t1, "mlhep.submit", NULL, &e) == JWT_E_UNKNOWN_KID); /* key has no kid */
    free(t1);
    free(t2);
    free(wrong);
    free(unk);
    free(enc);
    free(nokid);
    jwt_config_free(c);
    jwt_config_free(one);
}

TEST(time_claims)
{
    jwt_config *c = hs_config(0), *lw = hs_config(120);
    CHECK(c && lw);
    mlhep_err e;
    char pl[512];
    const char *base = "\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"a\","
                       "\"scope\":\"mlhep.submit\"";
#define TOK(fmt, ...) (snprintf(pl, sizeof pl, "{%s," fmt "}", base, __VA_ARGS__), \
                       mint("{\"alg\":\"HS256\"}", pl, SIG_HS, SECRET, strlen(SECRET)))
    char *t = TOK("\"exp\":%lld", (long long)(NOW - 100));
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_EXPIRED);
    CHECKF(strstr(e.msg, "token expired at 2023-11-14T22:11:40Z") != NULL, "%s", e.msg);
    CHECK(verify(lw, t, "mlhep.submit", NULL, &e) == JWT_OK); /* within leeway */
    free(t);
    t = TOK("\"exp\":%lld", (long long)NOW); /* exp == now is expired */
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_EXPIRED);
    free(t);
    t = TOK("\"exp\":%lld.5", (long long)NOW + 1); /* fractional NumericDate */
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_OK);
    free(t);
    t = TOK("\"exp\":%lld,\"nbf\":%lld", (long long)NOW + 1000, (long long)NOW + 60);
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_NOT_YET_VALID);
    CHECKF(strstr(e.msg, "not valid before") != NULL, "%s", e.msg);
    CHECK(verify(lw, t, "mlhep.submit", NULL, &e) == JWT_OK);
    free(t);
    t = TOK("\"nbf\":%lld", (long long)NOW - 60); /* no exp */
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_CLAIMS);
    CHECKF(strstr(e.msg, "no expiry") != NULL, "%s", e.msg);
    free(t);
    t = TOK("\"exp\":\"%lld\"", (long long)NOW + 60); /* exp as string */
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_CLAIMS);
    free(t);
    t = TOK("\"exp\":%s", "1e300"); /* far future is fine, clamped */
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_OK);
    free(t);
    t = TOK("\"exp\":%s", "-1e300");
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_EXPIRED);
    free(t);
#undef TOK
    jwt_config_free(c);
    jwt_config_free(lw);
}

TEST(issuer_audience_subject)
{
    jwt_config *c = hs_config(0);
    CHECK(c);
    mlhep_err e;
    char pl[512];
#define TOK(body) (snprintf(pl, sizeof pl, "{\"exp\":%lld,\"scope\":\"mlhep.submit\",%s}", \
                            (long long)NOW + 60, body),                                    \
                   mint("{\"alg\":\"HS256\"}", pl, SIG_HS, SECRET, strlen(SECRET)))
    struct { const char *body; jwt_reason want; const char *msg; } cases[] = {
        {"\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"a\"", JWT_OK, ""},
        {"\"iss\":\"https://iam.example\",\"aud\":[\"x\",\"mlhep\"],\"sub\":\"a\"", JWT_OK, ""},
        {"\"iss\":\"https://evil.example\",\"aud\":\"mlhep\",\"sub\":\"a\"", JWT_E_ISSUER,
         "issuer \"https://evil.example\" is not the expected \"https://iam.example\""},
        {"\"iss\":\"https://iam.example/\",\"aud\":\"mlhep\",\"sub\":\"a\"", JWT_E_ISSUER, "issuer"},
        {"\"aud\":\"mlhep\",\"sub\":\"a\"", JWT_E_ISSUER, "issuer (none)"},
        {"\"iss\":\"https://iam.example\",\"aud\":\"other\",\"sub\":\"a\"", JWT_E_AUDIENCE,
         "audience does not include \"mlhep\""},
        {"\"iss\":\"https://iam.example\",\"aud\":[\"x\",\"y\"],\"sub\":\"a\"", JWT_E_AUDIENCE, "audience"},
        {"\"iss\":\"https://iam.example\",\"aud\":[\"mlhepx\"],\"sub\":\"a\"", JWT_E_AUDIENCE, "audience"},
        {"\"iss\":\"https://iam.example\",\"sub\":\"a\"", JWT_E_AUDIENCE, "audience"},
        {"\"iss\":\"https://iam.example\",\"aud\":\"mlhep\"", JWT_E_CLAIMS, "subject"},
        {"\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"\"", JWT_E_CLAIMS, "subject"},
        {"\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"a\\nb\"", JWT_E_CLAIMS, "subject"},
        {"\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":42", JWT_E_CLAIMS, "subject"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = TOK(cases[i].body);
        jwt_reason r = verify(c, t, "mlhep.submit", NULL, &e);
        free(t);
        CHECKF(r == cases[i].want, "case %zu: got %s (%s)", i, jwt_reason_name(r), e.msg);
        CHECKF(strstr(e.msg, cases[i].msg) != NULL, "case %zu: %s", i, e.msg);
    }
#undef TOK
    jwt_config_free(c);
}

TEST(scopes)
{
    jwt_config *c = hs_config(0);
    CHECK(c);
    mlhep_err e;
    char pl[512];
#define TOK(body) (snprintf(pl, sizeof pl, "{\"exp\":%lld,\"iss\":\"https://iam.example\"," \
                            "\"aud\":\"mlhep\",\"sub\":\"a\"%s}", (long long)NOW + 60, body), \
                   mint("{\"alg\":\"HS256\"}", pl, SIG_HS, SECRET, strlen(SECRET)))
    struct { const char *body; jwt_reason want; } cases[] = {
        {",\"scope\":\"openid  mlhep.submit \"", JWT_OK},
        {",\"scp\":[\"mlhep.submit\"]", JWT_OK},
        {",\"scp\":\"profile mlhep.submit\"", JWT_OK},
        {",\"scope\":\"mlhep.predict\"", JWT_E_SCOPE},
        {",\"scope\":\"mlhep.submitx mlhep\"", JWT_E_SCOPE},
        {"", JWT_E_SCOPE},
        {",\"scope\":[\"mlhep.submit\"]", JWT_E_CLAIMS},
        {",\"scp\":[\"mlhep.submit other\"]", JWT_E_CLAIMS},
        {",\"scp\":[1]", JWT_E_CLAIMS},
        {",\"scp\":{}", JWT_E_CLAIMS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = TOK(cases[i].body);
        jwt_reason r = verify(c, t, "mlhep.submit", NULL, &e);
        free(t);
        CHECKF(r == cases[i].want, "case %zu: got %s (%s)", i, jwt_reason_name(r), e.msg);
    }
    char *t = TOK(",\"scope\":\"openid\"");
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_SCOPE);
    CHECKF(strcmp(e.msg, "token lacks scope \"mlhep.submit\" (granted: openid)") == 0, "%s", e.msg);
    free(t);
    /* a huge scope string overflows the claims buffer: refused, not truncated */
    char big[3000];
    snprintf(pl, sizeof pl, "x");
    size_t o = 0;
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "%ss%d", i ? " " : "", i);
    char pl2[4000];
    snprintf(pl2, sizeof pl2, "{\"exp\":%lld,\"iss\":\"https://iam.example\",\"aud\":\"mlhep\","
             "\"sub\":\"a\",\"scope\":\"%s mlhep.submit\"}", (long long)NOW + 60, big);
    t = mint("{\"alg\":\"HS256\"}", pl2, SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_CLAIMS);
    free(t);
#undef TOK
    jwt_config_free(c);
}

TEST(malformed_tokens)
{
    jwt_config *c = hs_config(0);
    CHECK(c);
    mlhep_err e;
    char *good = mint("{\"alg\":\"HS256\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(c, good, "mlhep.submit", NULL, &e) == JWT_OK);
    char buf[4096];
    const char *bad[] = {"", "abc", "a.b", "a.b.c.d", "....", ".x.y", "e30.e30.", "!!!.e30.e30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jwt_reason r = verify(c, bad[i], "mlhep.submit", NULL, &e);
        CHECKF(r == JWT_E_MALFORMED, "%zu: %s", i, jwt_reason_name(r));
    }
    /* header is JSON but not an object; header is not JSON */
    char *t = mint("[\"HS256\"]", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_MALFORMED);
    free(t);
    t = mint("{\"alg\":\"HS256\"", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_MALFORMED);
    free(t);
    t = mint("{\"typ\":\"JWT\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_MALFORMED);
    free(t);
    t = mint("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(verify(c, t, "mlhep.submit", NULL, &e) == JWT_E_MALFORMED);
    CHECKF(strstr(e.msg, "crit") != NULL, "%s", e.msg);
    free(t);
    /* validly signed but the payload is not JSON / is an array / has duplicate keys */
    const char *pls[] = {"not json", "[1,2]",
                         "{\"sub\":\"alice\",\"sub\":\"root\",\"exp\":1800000000,"
                         "\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"scope\":\"mlhep.submit\"}"};
    for (int i = 0; i < 3; i++) {
        t = mint("{\"alg\":\"HS256\"}", pls[i], SIG_HS, SECRET, strlen(SECRET));
        jwt_reason r = verify(c, t, "mlhep.submit", NULL, &e);
        CHECKF(r == JWT_E_MALFORMED, "%d: %s", i, jwt_reason_name(r));
        free(t);
    }
    /* base64 with padding or standard alphabet in the signature */
    snprintf(buf, sizeof buf, "%s=", good);
    CHECK(verify(c, buf, "mlhep.submit", NULL, &e) == JWT_E_MALFORMED);
    snprintf(buf, sizeof buf, "%s", good);
    char *d = strrchr(buf, '.');
    d[1] = '+';
    CHECK(verify(c, buf, "mlhep.submit", NULL, &e) == JWT_E_MALFORMED);
    /* the same in the payload changes the signing input: signature fails first */
    snprintf(buf, sizeof buf, "%s", good);
    d = strchr(buf, '.');
    d[1] = '+';
    CHECK(verify(c, buf, "mlhep.submit", NULL, &e) == JWT_E_SIGNATURE);
    /* oversized */
    size_t n = JWT_MAX_TOKEN_LEN + 10;
    char *huge = malloc(n + 1);
    memset(huge, 'A', n);
    huge[n] = 0;
    huge[10] = '.';
    huge[20] = '.';
    CHECK(verify(c, huge, "mlhep.submit", NULL, &e) == JWT_E_TOO_LARGE);
    free(huge);
    free(good);
    /* NULL arguments */
    jwt_claims cl;
    CHECK(jwt_verify(NULL, "a.b.c", NOW, NULL, &cl, &e) == MLHEP_EINVAL && cl.reason == JWT_E_CONFIG);
    CHECK(jwt_verify(c, NULL, NOW, NULL, &cl, &e) == MLHEP_EINVAL);
    jwt_config_free(c);
}

TEST(refused_claims_are_cleared)
{
    jwt_config *c = hs_config(0);
    CHECK(c);
    mlhep_err e;
    jwt_claims cl;
    char *t = mint("{\"alg\":\"HS256\",\"kid\":\"x\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECK(jwt_verify(c, t, NOW, "mlhep.admin", &cl, &e) == MLHEP_EAUTH);
    CHECK(cl.reason == JWT_E_SCOPE && cl.sub[0] == 0 && cl.scopes[0] == 0 && cl.exp == 0);
    free(t);
    jwt_config_free(c);
}

TEST(config_errors)
{
    mlhep_err e;
    jwt_config *c = NULL;
    jwt_opts o = {.alg = JWT_ALG_HS256, .hs256_secret = (const unsigned char *)"short",
                  .hs256_secret_len = 5, .issuer = "i", .audience = "a"};
    CHECK(jwt_config_new(&o, &c, &e) == MLHEP_EINVAL && !c);
    CHECKF(strstr(e.msg, "too short") != NULL, "%s", e.msg);
    o.hs256_secret = (const unsigned char *)SECRET;
    o.hs256_secret_len = strlen(SECRET);
    o.issuer = NULL;
    CHECK(jwt_config_new(&o, &c, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "issuer") != NULL, "%s", e.msg);
    o.issuer = "i";
    o.audience = "";
    CHECK(jwt_config_new(&o, &c, &e) == MLHEP_EINVAL);
    o.audience = "a";
    o.pubkey_pem_file = pem1; /* HS256 with a public key too: ambiguous */
    CHECK(jwt_config_new(&o, &c, &e) == MLHEP_EINVAL);
    jwt_opts r = {.alg = JWT_ALG_RS256, .issuer = "i", .audience = "a"};
    CHECK(jwt_config_new(&r, &c, &e) == MLHEP_EINVAL); /* no key */
    r.pubkey_pem_file = "/nonexistent/pub.pem";
    CHECK(jwt_config_new(&r, &c, &e) == MLHEP_EIO);
    char p[300];
    snprintf(p, sizeof p, "%s/garbage.pem", tmpdir);
    write_file(p, "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n");
    r.pubkey_pem_file = p;
    CHECK(jwt_config_new(&r, &c, &e) == MLHEP_EFORMAT);
    /* an EC key and a 1024-bit RSA key are refused for RS256 */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    CHECK(ec && small);
    write_pem(p, ec);
    CHECK(jwt_config_new(&r, &c, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "not an RSA public key") != NULL, "%s", e.msg);
    write_pem(p, small);
    CHECK(jwt_config_new(&r, &c, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "1024 bits is too short") != NULL, "%s", e.msg);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(small);
    r.pubkey_pem_file = NULL;
    r.jwks_file = p;
    const char *bad_jwks[] = {"{", "{\"keys\":{}}", "{\"keys\":[]}",
                              "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}]}",
                              "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
                              "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}"};
    for (size_t i = 0; i < sizeof bad_jwks / sizeof bad_jwks[0]; i++) {
        write_file(p, bad_jwks[i]);
        int rc = jwt_config_new(&r, &c, &e);
        CHECKF(rc != 0 && !c, "jwks %zu accepted", i);
    }
}

TEST(config_from_json)
{
    mlhep_err e;
    jwt_config *c = NULL;
    char js[1024];
    snprintf(js, sizeof js, "{\"alg\":\"HS256\",\"secret_file\":\"secret\",\"issuer\":"
             "\"https://iam.example\",\"audience\":\"mlhep\",\"leeway\":30}");
    json_t *j = json_loads(js, 0, NULL);
    CHECKF(jwt_config_from_json(j, tmpdir, &c, &e) == 0, "%s", e.msg);
    json_decref(j);
    char *t = mint("{\"alg\":\"HS256\"}", pl_std(NULL), SIG_HS, SECRET, strlen(SECRET));
    CHECKF(verify(c, t, "mlhep.submit", NULL, &e) == JWT_OK, "%s", e.msg); /* newline stripped */
    free(t);
    jwt_config_free(c);
    snprintf(js, sizeof js, "{\"alg\":\"RS256\",\"public_key\":\"%s\",\"issuer\":"
             "\"https://iam.example\",\"audience\":\"mlhep\"}", pem1);
    j = json_loads(js, 0, NULL);
    CHECKF(jwt_config_from_json(j, "/nonexistent", &c, &e) == 0, "%s", e.msg); /* absolute path */
    json_decref(j);
    jwt_config_free(c);
    const char *bad[] = {"{\"alg\":\"none\",\"issuer\":\"i\",\"audience\":\"a\"}",
                         "{\"alg\":\"HS256\",\"secret\":\"x\",\"issuer\":\"i\",\"audience\":\"a\"}",
                         "{\"alg\":\"HS256\",\"secret_file\":\"secret\",\"issuer\":\"i\","
                         "\"audience\":\"a\",\"leeway\":-1}",
                         "{\"issuer\":\"i\"}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = json_loads(bad[i], 0, NULL);
        c = NULL;
        CHECKF(jwt_config_from_json(j, tmpdir, &c, &e) == MLHEP_EINVAL && !c, "%zu", i);
        json_decref(j);
    }
}

TEST(trim_and_names)
{
    char s[] = "  Bearer   abc.def.ghi \n";
    CHECK(strcmp(jwt_trim_token(s), "abc.def.ghi") == 0);
    char s2[] = "abc.def.ghi\n";
    CHECK(strcmp(jwt_trim_token(s2), "abc.def.ghi") == 0);
    for (int i = 0; i < JWT_REASON_COUNT; i++)
        for (int j = i + 1; j < JWT_REASON_COUNT; j++)
            CHECK(strcmp(jwt_reason_name((jwt_reason)i), jwt_reason_name((jwt_reason)j)) != 0);
    CHECK(strcmp(jwt_reason_name(JWT_E_EXPIRED), "expired") == 0);
}

TEST(rfc7515_test_vector)
{
    /* RFC 7515 appendix A.1: an HS256 JWS produced by someone else's implementation.
     * Its claims have no aud, so a verified signature shows up as JWT_E_AUDIENCE. */
    static const char k64[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    unsigned char key[64];
    CHECK_EQ_INT(jwt_b64url_decode(k64, strlen(k64), key, sizeof key), 64);
    jwt_opts o = {.alg = JWT_ALG_HS256, .hs256_secret = key, .hs256_secret_len = 64,
                  .issuer = "joe", .audience = "mlhep"};
    jwt_config *c = NULL;
    mlhep_err e;
    CHECK(jwt_config_new(&o, &c, &e) == 0);
    jwt_claims cl;
    CHECK(jwt_verify(c, tok, 1300819000, NULL, &cl, &e) == MLHEP_EAUTH);
    CHECKF(cl.reason == JWT_E_AUDIENCE, "%s", e.msg);
    CHECK(jwt_verify(c, tok, 1300819380, NULL, &cl, &e) == MLHEP_EAUTH);
    CHECK(cl.reason == JWT_E_EXPIRED);
    key[0] ^= 1;
    jwt_config_free(c);
    CHECK(jwt_config_new(&o, &c, &e) == 0);
    CHECK(jwt_verify(c, tok, 1300819000, NULL, &cl, &e) == MLHEP_EAUTH);
    CHECK(cl.reason == JWT_E_SIGNATURE);
    jwt_config_free(c);
}

/* Tokens minted by an independent implementation: Python's stdlib (base64, json,
 * hmac) for HS256 and the openssl command line (dgst -sha256 -sign) for RS256. */
static char *py_mint(const char *alg, const char *key, const char *payload)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import base64, hashlib, hmac, json, subprocess, sys\n"
             "b = lambda x: base64.urlsafe_b64encode(x).rstrip(b\"=\").decode()\n"
             "alg, key, pl = sys.argv[1], sys.argv[2], sys.argv[3]\n"
             "si = b(json.dumps({\"alg\": alg, \"typ\": \"JWT\", \"kid\": \"k1\"}).encode()) + \".\" + "
             "b(pl.encode())\n"
             "if alg == \"HS256\":\n"
             "    sig = hmac.new(key.encode(), si.encode(), hashlib.sha256).digest()\n"
             "else:\n"
             "    sig = subprocess.run([\"openssl\", \"dgst\", \"-sha256\", \"-sign\", key], "
             "input=si.encode(), capture_output=True, check=True).stdout\n"
             "print(si + \".\" + b(sig))\n' '%s' '%s' '%s'",
             alg, key, payload);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *tok = malloc(8192);
    size_t n = fread(tok, 1, 8191, p);
    tok[n] = 0;
    if (pclose(p) != 0 || n == 0) {
        free(tok);
        return NULL;
    }
    return jwt_trim_token(tok);
}

TEST(independently_minted_tokens)
{
    char priv[300];
    snprintf(priv, sizeof priv, "%s/priv1.pem", tmpdir);
    FILE *f = fopen(priv, "w");
    PEM_write_PrivateKey(f, rsa1, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    char pl[512];
    snprintf(pl, sizeof pl, "{\"iss\": \"https://iam.example\", \"aud\": [\"mlhep\"], "
             "\"sub\": \"carol\", \"exp\": %lld, \"scope\": \"mlhep.submit\"}", (long long)NOW + 60);
    char *rs = py_mint("RS256", priv, pl), *hs = py_mint("HS256", SECRET, pl);
    CHECK(rs && hs);
    jwt_config *rc = rs_config(NULL, jwks), *hc = hs_config(0);
    CHECK(rc && hc);
    mlhep_err e;
    jwt_claims cl;
    CHECKF(verify(rc, rs, "mlhep.submit", &cl, &e) == JWT_OK, "%s", e.msg);
    CHECK(strcmp(cl.sub, "carol") == 0);
    CHECKF(verify(hc, hs, "mlhep.submit", &cl, &e) == JWT_OK, "%s", e.msg);
    CHECK(verify(rc, hs, "mlhep.submit", &cl, &e) == JWT_E_ALG_MISMATCH);
    CHECK(verify(hc, rs, "mlhep.submit", &cl, &e) == JWT_E_ALG_MISMATCH);
    free(rs);
    free(hs);
    jwt_config_free(rc);
    jwt_config_free(hc);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    rsa1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!rsa1 || !rsa2)
        return 1;
    snprintf(pem1, sizeof pem1, "%s/pub1.pem", tmpdir);
    snprintf(pem2, sizeof pem2, "%s/pub2.pem", tmpdir);
    snprintf(jwks, sizeof jwks, "%s/jwks.json", tmpdir);
    snprintf(jwks1, sizeof jwks1, "%s/jwks1.json", tmpdir);
    snprintf(secretfile, sizeof secretfile, "%s/secret", tmpdir);
    write_pem(pem1, rsa1);
    write_pem(pem2, rsa2);
    write_jwks(jwks, 1);
    write_jwks(jwks1, 0);
    char sec[128];
    snprintf(sec, sizeof sec, "%s\n", SECRET);
    write_file(secretfile, sec);

    RUN(b64url_strict);
    RUN(hs256_good_token);
    RUN(hs256_wrong_secret_and_tampering);
    RUN(alg_none_refused);
    RUN(rs256_pem_good_and_bad);
    RUN(algorithm_confusion_refused);
    RUN(rs256_jwks_by_kid);
    RUN(time_claims);
    RUN(issuer_audience_subject);
    RUN(scopes);
    RUN(malformed_tokens);
    RUN(refused_claims_are_cleared);
    RUN(config_errors);
    RUN(config_from_json);
    RUN(trim_and_names);
    RUN(rfc7515_test_vector);
    RUN(independently_minted_tokens);

    EVP_PKEY_free(rsa1);
    EVP_PKEY_free(rsa2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("  could not remove %s\n", tmpdir);
    return test_summary();
}
