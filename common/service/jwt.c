/* jwt.c - bearer token verification (see jwt.h). OpenSSL 3 EVP for the crypto,
 * jansson for the JSON, our own strict base64url codec. */
#include "service/jwt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

typedef struct jwk_key {
    char kid[JWT_KID_MAX]; /* "" when the JWKS entry has no kid */
    EVP_PKEY *pk;
} jwk_key;

struct jwt_config {
    jwt_alg alg;
    EVP_PKEY *pem_key;     /* RS256 with a PEM file */
    jwk_key *keys;         /* RS256 with a JWKS file */
    size_t nkeys;
    unsigned char *secret; /* HS256 */
    size_t secret_len;
    char *issuer;
    char *audience;
    int leeway;
    size_t max_len;
    EVP_MAC_CTX *hmac;     /* HS256: keyed once, duplicated per verification */
    EVP_MD *sha256;        /* RS256: fetched once */
};

/* ---------------------------------------------------------------- base64url */

static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long jwt_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
    if (n % 4 == 1)
        return -1;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > outcap || need > (size_t)0x7fffffff)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical: leftover bits must be zero */
        return -1;
    return (long)o;
}

long jwt_b64url_encode(const unsigned char *in, size_t n, char *out, size_t outcap)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0) + 1;
    if (need > outcap)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    out[o] = '\0';
    return (long)o;
}

/* ---------------------------------------------------------------- config */

/* Reads a whole (small) file; *out is malloc'd and NUL-terminated. */
static int read_small_file(const char *path, size_t cap, char **out, size_t *len, mlhep_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, MLHEP_EIO, "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return err_set(e, MLHEP_ENOMEM, "out of memory reading %s", path);
    }
    size_t n = fread(buf, 1, cap + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return err_set(e, MLHEP_EIO, "cannot read %s", path);
    }
    if (n > cap) {
        free(buf);
        return err_set(e, MLHEP_EINVAL, "%s is larger than %zu bytes", path, cap);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int check_rsa_key(EVP_PKEY *pk, const char *what, mlhep_err *e)
{
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)
        return err_set(e, MLHEP_EINVAL, "%s is not an RSA public key (RS256 needs RSA)", what);
    if (EVP_PKEY_get_bits(pk) < JWT_MIN_RSA_BITS)
        return err_set(e, MLHEP_EINVAL, "%s: RSA key of %d bits is too short (minimum %d)",
                       what, EVP_PKEY_get_bits(pk), JWT_MIN_RSA_BITS);
    return 0;
}

static int load_pem(jwt_config *c, const char *path, mlhep_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, MLHEP_EIO, "cannot open public key %s: %s", path, strerror(errno));
    c->pem_key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!c->pem_key)
        return err_set(e, MLHEP_EFORMAT,
                       "%s is not a PEM public key (expected -----BEGIN PUBLIC KEY-----)", path);
    return check_rsa_key(c->pem_key, path, e);
}

/* Builds an RSA public key from base64url n and e. */
static int jwk_to_pkey(const char *nb64, const char *eb64, EVP_PKEY **out)
{
    size_t nl = strlen(nb64), el = strlen(eb64);
    unsigned char *nb = malloc(nl + 1), *eb = malloc(el + 1);
    long nn = -1, en = -1;
    int rc = -1;
    BIGNUM *n = NULL, *ex = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!nb || !eb)
        goto done;
    nn = jwt_b64url_decode(nb64, nl, nb, nl + 1);
    en = jwt_b64url_decode(eb64, el, eb, el + 1);
    if (nn <= 0 || en <= 0 || en > 8)
        goto done;
    n = BN_bin2bn(nb, (int)nn, NULL);
    ex = BN_bin2bn(eb, (int)en, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!n || !ex || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex))
        goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto done;
    rc = 0;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(ex);
    free(nb);
    free(eb);
    return rc;
}

static int load_jwks(jwt_config *c, const char *path, mlhep_err *e)
{
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return err_set(e, MLHEP_EFORMAT, "JWKS %s: line %d: %s", path, je.line, je.text);
    int rc = 0;
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        rc = err_set(e, MLHEP_EFORMAT, "JWKS %s: no \"keys\" array", path);
        goto done;
    }
    c->keys = calloc(json_array_size(keys) + 1, sizeof *c->keys);
    if (!c->keys) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto done;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *use = json_string_value(json_object_get(k, "use"));
        const char *alg = json_string_value(json_object_get(k, "alg"));
        json_t *kidj = json_object_get(k, "kid");
        /* Keys for other algorithms or for encryption are skipped, not errors: real
         * JWKS documents mix them. */
        if (!kty || strcmp(kty, "RSA") != 0 || (use && strcmp(use, "sig") != 0) ||
            (alg && strcmp(alg, "RS256") != 0))
            continue;
        const char *n = json_string_value(json_object_get(k, "n"));
        const char *ex = json_string_value(json_object_get(k, "e"));
        if (!n || !ex) {
            rc = err_set(e, MLHEP_EFORMAT, "JWKS %s: key %zu has no \"n\"/\"e\" strings", path, i);
            goto done;
        }
        if (kidj && (!json_is_string(kidj) || json_string_length(kidj) >= JWT_KID_MAX)) {
            rc = err_set(e, MLHEP_EFORMAT, "JWKS %s: key %zu: kid must be a string shorter than %d",
                         path, i, JWT_KID_MAX);
            goto done;
        }
        const char *kid = kidj ? json_string_value(kidj) : "";
        for (size_t j = 0; j < c->nkeys; j++)
            if (strcmp(c->keys[j].kid, kid) == 0) {
                rc = err_set(e, MLHEP_EFORMAT, "JWKS %s: two RSA keys with kid '%s'", path, kid);
                goto done;
            }
        EVP_PKEY *pk = NULL;
        if (jwk_to_pkey(n, ex, &pk) != 0) {
            rc = err_set(e, MLHEP_EFORMAT, "JWKS %s: key %zu: bad base64url modulus/exponent",
                         path, i);
            goto done;
        }
        c->keys[c->nkeys].pk = pk;
        snprintf(c->keys[c->nkeys].kid, JWT_KID_MAX, "%s", kid);
        c->nkeys++;
        char what[64];
        snprintf(what, sizeof what, "JWKS key %zu", i);
        if ((rc = check_rsa_key(pk, what, e)) != 0) {
            err_prefix(e, "%s", path);
            goto done;
        }
    }
    if (c->nkeys == 0)
        rc = err_set(e, MLHEP_EFORMAT, "JWKS %s holds no RSA signing key usable with RS256", path);
done:
    json_decref(doc);
    return rc;
}

void jwt_config_free(jwt_config *c)
{
    if (!c)
        return;
    EVP_PKEY_free(c->pem_key);
    for (size_t i = 0; i < c->nkeys; i++)
        EVP_PKEY_free(c->keys[i].pk);
    free(c->keys);
    if (c->secret)
        OPENSSL_cleanse(c->secret, c->secret_len);
    free(c->secret);
    free(c->issuer);
    free(c->audience);
    EVP_MAC_CTX_free(c->hmac);
    EVP_MD_free(c->sha256);
    free(c);
}

int jwt_config_new(const jwt_opts *o, jwt_config **out, mlhep_err *e)
{
    if (!o || !out)
        return err_set(e, MLHEP_EINVAL, "jwt_config_new: NULL argument");
    *out = NULL;
    if (!o->issuer || !*o->issuer)
        return err_set(e, MLHEP_EINVAL, "auth config: the expected token issuer is not set");
    if (!o->audience || !*o->audience)
        return err_set(e, MLHEP_EINVAL, "auth config: the expected token audience is not set");
    if (o->leeway_s < 0 || o->leeway_s > 600)
        return err_set(e, MLHEP_EINVAL, "auth config: leeway %d s is outside 0..600", o->leeway_s);
    jwt_config *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    c->alg = o->alg;
    c->leeway = o->leeway_s;
    c->max_len = o->max_token_len ? o->max_token_len : JWT_MAX_TOKEN_LEN;
    c->issuer = strdup(o->issuer);
    c->audience = strdup(o->audience);
    int rc = 0;
    if (!c->issuer || !c->audience) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto fail;
    }
    if (o->alg == JWT_ALG_RS256) {
        if (!!o->pubkey_pem_file + !!o->jwks_file != 1 || o->hs256_secret || o->hs256_secret_file) {
            rc = err_set(e, MLHEP_EINVAL,
                         "auth config: RS256 needs exactly one of a PEM public key or a JWKS file "
                         "(and no HS256 secret)");
            goto fail;
        }
        rc = o->pubkey_pem_file ? load_pem(c, o->pubkey_pem_file, e) : load_jwks(c, o->jwks_file, e);
        if (rc)
            goto fail;
        if (!(c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
            rc = err_set(e, MLHEP_EUNSUPPORTED, "auth config: OpenSSL has no SHA-256");
            goto fail;
        }
    } else if (o->alg == JWT_ALG_HS256) {
        if (!!o->hs256_secret + !!o->hs256_secret_file != 1 || o->pubkey_pem_file || o->jwks_file) {
            rc = err_set(e, MLHEP_EINVAL,
                         "auth config: HS256 needs exactly one secret (inline or file) and no "
                         "public key");
            goto fail;
        }
        if (o->hs256_secret) {
            c->secret = malloc(o->hs256_secret_len ? o->hs256_secret_len : 1);
            if (!c->secret) {
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
                goto fail;
            }
            memcpy(c->secret, o->hs256_secret, o->hs256_secret_len);
            c->secret_len = o->hs256_secret_len;
        } else {
            char *buf = NULL;
            size_t n = 0;
            if ((rc = read_small_file(o->hs256_secret_file, 4096, &buf, &n, e)) != 0)
                goto fail;
            while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
            c->secret = (unsigned char *)buf;
            c->secret_len = n;
        }
        if (c->secret_len < JWT_MIN_HS256_SECRET) {
            rc = err_set(e, MLHEP_EINVAL, "auth config: HS256 secret of %zu bytes is too short "
                         "(minimum %d)", c->secret_len, JWT_MIN_HS256_SECRET);
            goto fail;
        }
        /* Fetching HMAC and SHA-256 per token costs about half the verification time:
         * key one context here and duplicate it per token (read-only, thread-safe). */
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        char dig[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", dig, 0),
                               OSSL_PARAM_construct_end()};
        c->hmac = mac ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        if (!c->hmac || !EVP_MAC_init(c->hmac, c->secret, c->secret_len, params)) {
            rc = err_set(e, MLHEP_EUNSUPPORTED, "auth config: OpenSSL has no HMAC-SHA256");
            goto fail;
        }
    } else {
        rc = err_set(e, MLHEP_EINVAL, "auth config: unknown algorithm %d", (int)o->alg);
        goto fail;
    }
    *out = c;
    return 0;
fail:
    jwt_config_free(c);
    return rc;
}

int jwt_config_from_json(const json_t *obj, const char *base_dir, jwt_config **out, mlhep_err *e)
{
    if (!json_is_object(obj))
        return err_set(e, MLHEP_EINVAL, "auth config: expected a JSON object");
    static const char *known[] = {"alg", "public_key", "jwks", "secret_file", "issuer",
                                  "audience", "leeway", "max_token_len", NULL};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok)
            return err_set(e, MLHEP_EINVAL, "auth config: unknown key '%s'", key);
    }
    jwt_opts o = {0};
    const char *alg = json_string_value(json_object_get(obj, "alg"));
    if (!alg)
        return err_set(e, MLHEP_EINVAL, "auth config: \"alg\" (\"RS256\" or \"HS256\") is required");
    if (strcmp(alg, "RS256") == 0)
        o.alg = JWT_ALG_RS256;
    else if (strcmp(alg, "HS256") == 0)
        o.alg = JWT_ALG_HS256;
    else
        return err_set(e, MLHEP_EINVAL, "auth config: alg '%s' is not supported (RS256, HS256)", alg);
    char paths[3][4096];
    const char *names[3] = {"public_key", "jwks", "secret_file"};
    const char **dst[3] = {&o.pubkey_pem_file, &o.jwks_file, &o.hs256_secret_file};
    for (int i = 0; i < 3; i++) {
        json_t *p = json_object_get(obj, names[i]);
        if (!p)
            continue;
        if (!json_is_string(p) || json_string_length(p) == 0)
            return err_set(e, MLHEP_EINVAL, "auth config: \"%s\" must be a file name", names[i]);
        const char *s = json_string_value(p);
        int n = (s[0] == '/' || !base_dir) ? snprintf(paths[i], sizeof paths[i], "%s", s)
                                           : snprintf(paths[i], sizeof paths[i], "%s/%s", base_dir, s);
        if (n < 0 || (size_t)n >= sizeof paths[i])
            return err_set(e, MLHEP_EINVAL, "auth config: \"%s\" path too long", names[i]);
        *dst[i] = paths[i];
    }
    json_t *iss = json_object_get(obj, "issuer"), *aud = json_object_get(obj, "audience");
    if ((iss && !json_is_string(iss)) || (aud && !json_is_string(aud)))
        return err_set(e, MLHEP_EINVAL, "auth config: issuer and audience must be strings");
    o.issuer = json_string_value(iss);
    o.audience = json_string_value(aud);
    json_t *lw = json_object_get(obj, "leeway"), *ml = json_object_get(obj, "max_token_len");
    if (lw) {
        if (!json_is_integer(lw) || json_integer_value(lw) < 0 || json_integer_value(lw) > 600)
            return err_set(e, MLHEP_EINVAL, "auth config: leeway must be an integer 0..600 (s)");
        o.leeway_s = (int)json_integer_value(lw);
    }
    if (ml) {
        if (!json_is_integer(ml) || json_integer_value(ml) < 64 || json_integer_value(ml) > 1 << 20)
            return err_set(e, MLHEP_EINVAL, "auth config: max_token_len must be 64..1048576");
        o.max_token_len = (size_t)json_integer_value(ml);
    }
    return jwt_config_new(&o, out, e);
}

/* ---------------------------------------------------------------- verify */

const char *jwt_reason_name(jwt_reason r)
{
    switch (r) {
    case JWT_OK: return "ok";
    case JWT_E_MALFORMED: return "malformed";
    case JWT_E_TOO_LARGE: return "too-large";
    case JWT_E_ALG_NONE: return "alg-none";
    case JWT_E_ALG_MISMATCH: return "alg-mismatch";
    case JWT_E_UNKNOWN_KID: return "unknown-kid";
    case JWT_E_SIGNATURE: return "bad-signature";
    case JWT_E_EXPIRED: return "expired";
    case JWT_E_NOT_YET_VALID: return "not-yet-valid";
    case JWT_E_ISSUER: return "wrong-issuer";
    case JWT_E_AUDIENCE: return "wrong-audience";
    case JWT_E_SCOPE: return "missing-scope";
    case JWT_E_CLAIMS: return "bad-claims";
    case JWT_E_CONFIG: return "config";
    }
    return "unknown";
}

char *jwt_trim_token(char *s)
{
    if (!s)
        return s;
    char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (strncasecmp(p, "Bearer", 6) == 0 && isspace((unsigned char)p[6])) {
        p += 6;
        while (isspace((unsigned char)*p))
            p++;
    }
    size_t n = strlen(p);
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    memmove(s, p, n);
    s[n] = '\0';
    return s;
}

/* Refuses the token: records the reason, sets the message, returns MLHEP_EAUTH. */
#define REFUSE(why_, ...)                                                             \
    do {                                                                              \
        claims->reason = (why_);                                                      \
        rc = err_set(e, MLHEP_EAUTH, __VA_ARGS__);                                    \
        goto done;                                                                    \
    } while (0)

static json_t *decode_json_part(const char *p, size_t n, unsigned char *buf, size_t cap)
{
    long len = jwt_b64url_decode(p, n, buf, cap);
    if (len <= 0)
        return NULL;
    json_t *j = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* A NumericDate claim: JSON number, finite; clamped into int64. 1 if present+valid,
 * 0 absent, -1 wrong type. */
static int numeric_date(const json_t *obj, const char *name, int64_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (!isfinite(d))
        return -1;
    if (d >= 9.2e18)
        *out = INT64_MAX;
    else if (d <= -9.2e18)
        *out = INT64_MIN;
    else
        *out = (int64_t)floor(d);
    return 1;
}

static void fmt_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((int64_t)tt != t || !gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, n, "%lld", (long long)t);
}

static int has_ctrl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Appends the space-separated scopes in `s` to out (deduplicated); -1 on overflow or
 * control characters. */
static int add_scopes(char *out, size_t cap, const char *s)
{
    while (*s) {
        while (*s == ' ')
            s++;
        const char *b = s;
        while (*s && *s != ' ')
            s++;
        size_t n = (size_t)(s - b);
        if (!n)
            continue;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)b[i] < 0x21 || b[i] == 0x7f || b[i] == '"' || b[i] == '\\')
                return -1;
        /* already present? */
        const char *p = out;
        int dup = 0;
        while (*p && !dup) {
            const char *q = strchr(p, ' ');
            size_t m = q ? (size_t)(q - p) : strlen(p);
            dup = m == n && memcmp(p, b, n) == 0;
            p = q ? q + 1 : p + m;
        }
        if (dup)
            continue;
        size_t len = strlen(out);
        if (len + (len ? 1 : 0) + n + 1 > cap)
            return -1;
        if (len)
            out[len++] = ' ';
        memcpy(out + len, b, n);
        out[len + n] = '\0';
    }
    return 0;
}

int jwt_claims_has_scope(const jwt_claims *c, const char *scope)
{
    if (!c || !scope || !*scope)
        return 0;
    size_t n = strlen(scope);
    const char *p = c->scopes;
    while (*p) {
        const char *q = strchr(p, ' ');
        size_t m = q ? (size_t)(q - p) : strlen(p);
        if (m == n && memcmp(p, scope, n) == 0)
            return 1;
        if (!q)
            break;
        p = q + 1;
    }
    return 0;
}

static int verify_signature(const jwt_config *cfg, EVP_PKEY *pk, const char *si, size_t silen,
                            const unsigned char *sig, size_t siglen)
{
    if (cfg->alg == JWT_ALG_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t maclen = 0;
        if (siglen != 32)
            return 0;
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(cfg->hmac);
        int ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)si, silen) &&
                 EVP_MAC_final(ctx, mac, &maclen, sizeof mac) && maclen == 32;
        EVP_MAC_CTX_free(ctx);
        return ok && CRYPTO_memcmp(mac, sig, 32) == 0;
    }
    if (siglen != (size_t)EVP_PKEY_get_size(pk))
        return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, cfg->sha256, NULL, pk) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)si, silen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int jwt_verify(const jwt_config *cfg, const char *token, int64_t now, const char *required_scope,
               jwt_claims *claims, mlhep_err *e)
{
    jwt_claims dummy;
    if (!claims)
        claims = &dummy;
    memset(claims, 0, sizeof *claims);
    if (!cfg || !token) {
        claims->reason = JWT_E_CONFIG;
        return err_set(e, MLHEP_EINVAL, "jwt_verify: NULL verifier or token");
    }
    int rc = 0;
    unsigned char *buf = NULL;
    json_t *hdr = NULL, *pl = NULL;

    size_t len = strnlen(token, cfg->max_len + 1);
    if (len > cfg->max_len)
        REFUSE(JWT_E_TOO_LARGE, "token is longer than %zu bytes", cfg->max_len);
    if (len == 0)
        REFUSE(JWT_E_MALFORMED, "token is empty");
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        REFUSE(JWT_E_MALFORMED, "token is not a JWT (expected header.payload.signature)");
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);
    buf = malloc(len + 1);
    if (!buf) {
        claims->reason = JWT_E_CONFIG;
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto done;
    }

    /* Header: only alg/kid/crit matter, and only to select the key. */
    hdr = decode_json_part(token, hlen, buf, len);
    if (!hdr)
        REFUSE(JWT_E_MALFORMED, "token header is not base64url-encoded JSON object");
    json_t *algj = json_object_get(hdr, "alg");
    if (!json_is_string(algj))
        REFUSE(JWT_E_MALFORMED, "token header has no \"alg\"");
    const char *alg = json_string_value(algj);
    const char *want = cfg->alg == JWT_ALG_RS256 ? "RS256" : "HS256";
    if (strcasecmp(alg, "none") == 0)
        REFUSE(JWT_E_ALG_NONE, "unsigned token (alg \"none\") refused");
    if (strcmp(alg, want) != 0 || strlen(alg) != json_string_length(algj))
        REFUSE(JWT_E_ALG_MISMATCH, "token algorithm \"%.16s\" is not the configured %s", alg, want);
    if (json_object_get(hdr, "crit"))
        REFUSE(JWT_E_MALFORMED, "token header lists critical extensions (\"crit\") we do not "
                                "implement");
    json_t *kidj = json_object_get(hdr, "kid");
    if (kidj) {
        if (!json_is_string(kidj) || json_string_length(kidj) >= JWT_KID_MAX ||
            strlen(json_string_value(kidj)) != json_string_length(kidj))
            REFUSE(JWT_E_MALFORMED, "token header \"kid\" must be a string shorter than %d",
                   JWT_KID_MAX);
        snprintf(claims->kid, sizeof claims->kid, "%s", json_string_value(kidj));
    }

    EVP_PKEY *pk = cfg->pem_key;
    if (cfg->alg == JWT_ALG_RS256 && !pk) {
        if (kidj) {
            for (size_t i = 0; i < cfg->nkeys && !pk; i++)
                if (strcmp(cfg->keys[i].kid, claims->kid) == 0)
                    pk = cfg->keys[i].pk;
            if (!pk)
                REFUSE(JWT_E_UNKNOWN_KID, "no key with kid \"%s\" in the configured JWKS",
                       claims->kid);
        } else if (cfg->nkeys == 1) {
            pk = cfg->keys[0].pk;
        } else {
            REFUSE(JWT_E_UNKNOWN_KID, "token has no \"kid\" and the JWKS holds %zu keys",
                   cfg->nkeys);
        }
    }

    long siglen = jwt_b64url_decode(d2 + 1, slen, buf, len);
    if (siglen < 0)
        REFUSE(JWT_E_MALFORMED, "token signature is not base64url");
    if (!verify_signature(cfg, pk, token, (size_t)(d2 - token), buf, (size_t)siglen))
        REFUSE(JWT_E_SIGNATURE, "token signature does not verify with the configured %s key",
               want);

    /* Signature verified: now the claims can be believed. */
    pl = decode_json_part(d1 + 1, plen, buf, len);
    if (!pl)
        REFUSE(JWT_E_MALFORMED, "token payload is not base64url-encoded JSON object");
    int r = numeric_date(pl, "exp", &claims->exp);
    if (r <= 0)
        REFUSE(JWT_E_CLAIMS, r == 0 ? "token has no expiry (\"exp\")" : "token \"exp\" is not a number");
    if (numeric_date(pl, "nbf", &claims->nbf) < 0 || numeric_date(pl, "iat", &claims->iat) < 0)
        REFUSE(JWT_E_CLAIMS, "token \"nbf\"/\"iat\" is not a number");
    char t1[40], t2[40];
    if (claims->exp <= INT64_MAX - cfg->leeway && now >= claims->exp + cfg->leeway) {
        fmt_time(claims->exp, t1, sizeof t1);
        fmt_time(now, t2, sizeof t2);
        REFUSE(JWT_E_EXPIRED, "token expired at %s (now %s)", t1, t2);
    }
    if (claims->nbf && now <= INT64_MAX - cfg->leeway && now + cfg->leeway < claims->nbf) {
        fmt_time(claims->nbf, t1, sizeof t1);
        fmt_time(now, t2, sizeof t2);
        REFUSE(JWT_E_NOT_YET_VALID, "token not valid before %s (now %s)", t1, t2);
    }
    json_t *iss = json_object_get(pl, "iss");
    if (!json_is_string(iss) || strcmp(json_string_value(iss), cfg->issuer) != 0 ||
        json_string_length(iss) != strlen(cfg->issuer))
        REFUSE(JWT_E_ISSUER, "token issuer %s%.200s%s is not the expected \"%s\"",
               json_is_string(iss) ? "\"" : "", json_is_string(iss) ? json_string_value(iss) : "(none)",
               json_is_string(iss) ? "\"" : "", cfg->issuer);
    json_t *aud = json_object_get(pl, "aud");
    int aud_ok = 0;
    if (json_is_string(aud)) {
        aud_ok = strcmp(json_string_value(aud), cfg->audience) == 0 &&
                 json_string_length(aud) == strlen(cfg->audience);
    } else if (json_is_array(aud)) {
        size_t i;
        json_t *a;
        json_array_foreach(aud, i, a) aud_ok |= json_is_string(a) &&
                                                strcmp(json_string_value(a), cfg->audience) == 0 &&
                                                json_string_length(a) == strlen(cfg->audience);
    }
    if (!aud_ok)
        REFUSE(JWT_E_AUDIENCE, "token audience does not include \"%s\"", cfg->audience);
    json_t *sub = json_object_get(pl, "sub");
    if (!json_is_string(sub) || json_string_length(sub) == 0 ||
        json_string_length(sub) >= JWT_SUB_MAX || has_ctrl(json_string_value(sub)) ||
        strlen(json_string_value(sub)) != json_string_length(sub))
        REFUSE(JWT_E_CLAIMS, "token subject (\"sub\") is missing, empty, longer than %d bytes "
                             "or has control characters", JWT_SUB_MAX - 1);
    snprintf(claims->sub, sizeof claims->sub, "%s", json_string_value(sub));

    json_t *scope = json_object_get(pl, "scope"), *scp = json_object_get(pl, "scp");
    int bad_scope = 0;
    if (scope)
        bad_scope |= !json_is_string(scope) ||
                     add_scopes(claims->scopes, sizeof claims->scopes, json_string_value(scope));
    if (json_is_string(scp)) {
        bad_scope |= add_scopes(claims->scopes, sizeof claims->scopes, json_string_value(scp));
    } else if (json_is_array(scp)) {
        size_t i;
        json_t *s;
        json_array_foreach(scp, i, s) {
            if (!json_is_string(s) || strchr(json_string_value(s), ' ') ||
                json_string_length(s) == 0) {
                bad_scope = 1;
                break;
            }
            bad_scope |= add_scopes(claims->scopes, sizeof claims->scopes, json_string_value(s));
        }
    } else if (scp) {
        bad_scope = 1;
    }
    if (bad_scope)
        REFUSE(JWT_E_CLAIMS, "token scopes are malformed (\"scope\" must be a space-separated "
                             "string, \"scp\" an array of strings) or too long");
    if (required_scope && *required_scope && !jwt_claims_has_scope(claims, required_scope))
        REFUSE(JWT_E_SCOPE, "token lacks scope \"%s\" (granted: %s)", required_scope,
               claims->scopes[0] ? claims->scopes : "none");
    claims->reason = JWT_OK;
done:
    json_decref(hdr);
    json_decref(pl);
    free(buf);
    if (rc) {
        /* Nothing of a refused token is reported as if it were true. */
        jwt_reason r = claims->reason;
        memset(claims, 0, sizeof *claims);
        claims->reason = r;
    }
    return rc;
}
