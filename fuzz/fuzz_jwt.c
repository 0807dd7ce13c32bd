/* fuzz_jwt.c - fuzzes the bearer token verifier (common/service/jwt.c).
 *
 * Input: one mode byte, then data.
 *   mode 0: data is a whole token, verified as is (size, shape, base64url, header JSON,
 *           alg/kid/crit handling, signature check; a forged HMAC never gets further);
 *   mode 1: data is a payload JSON text: the target signs it with the HS256 test secret,
 *           so the claims checks (exp, nbf, iss, aud, sub, scope/scp) see arbitrary JSON;
 *   mode 2: data is a header JSON text, signed likewise, to fuzz the header checks.
 * Corpus: fuzz/corpus/jwt (first byte '0', '1' or '2'). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "service/jwt.h"

static const char SECRET[] = "fuzz-secret-0123456789abcdef-0123456789";

static jwt_config *config(void)
{
    static jwt_config *cfg;
    if (!cfg) {
        jwt_opts o = {.alg = JWT_ALG_HS256, .hs256_secret = (const unsigned char *)SECRET,
                      .hs256_secret_len = sizeof SECRET - 1, .issuer = "https://iam.example",
                      .audience = "mlhep", .leeway_s = 30};
        mlhep_err e;
        if (jwt_config_new(&o, &cfg, &e) != 0)
            abort();
    }
    return cfg;
}

static char *sign(const char *hdr, size_t hl, const char *pl, size_t pll)
{
    size_t cap = (hl + pll) * 2 + 128;
    char *t = malloc(cap);
    if (!t)
        return NULL;
    long n = jwt_b64url_encode((const unsigned char *)hdr, hl, t, cap);
    t[n++] = '.';
    n += jwt_b64url_encode((const unsigned char *)pl, pll, t + n, cap - (size_t)n);
    unsigned char mac[64];
    size_t ml = 0;
    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, SECRET, sizeof SECRET - 1, (unsigned char *)t,
              (size_t)n, mac, sizeof mac, &ml);
    t[n++] = '.';
    jwt_b64url_encode(mac, ml, t + n, cap - (size_t)n);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 20000)
        return 0;
    int mode = data[0] % 3;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    char *tok;
    if (mode == 0) {
        tok = malloc(n + 1);
        if (!tok)
            return 0;
        memcpy(tok, d, n);
        tok[n] = '\0';
    } else if (mode == 1) {
        static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        tok = sign(hdr, sizeof hdr - 1, d, n);
    } else {
        static const char pl[] = "{\"iss\":\"https://iam.example\",\"aud\":\"mlhep\",\"sub\":\"f\","
                                 "\"exp\":4000000000,\"scope\":\"mlhep.submit\"}";
        tok = sign(d, n, pl, sizeof pl - 1);
    }
    if (!tok)
        return 0;
    jwt_claims cl;
    mlhep_err e;
    int rc = jwt_verify(config(), tok, 1700000000, "mlhep.submit", &cl, &e);
    /* invariants: success <=> reason OK; a success has a subject and the scope */
    if ((rc == 0) != (cl.reason == JWT_OK))
        abort();
    if (rc == 0 && (!cl.sub[0] || !jwt_claims_has_scope(&cl, "mlhep.submit")))
        abort();
    if (rc != 0 && (cl.sub[0] || cl.scopes[0]))
        abort();
    /* the codec on raw input: decode, re-encode, must round-trip */
    unsigned char *buf = malloc(n + 1);
    char *re = malloc(n + 8);
    if (buf && re) {
        long m = jwt_b64url_decode(d, n, buf, n + 1);
        if (m >= 0) {
            long k = jwt_b64url_encode(buf, (size_t)m, re, n + 8);
            if (k != (long)n || memcmp(re, d, n) != 0)
                abort();
        }
    }
    free(buf);
    free(re);
    free(tok);
    return 0;
}
