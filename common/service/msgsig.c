/* msgsig.c - see msgsig.h (the format is described there). */
#include "service/msgsig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

#define MAGIC "mlhepsig"
#define VERSION "1"

static const char *const kinds[] = {MSGSIG_JOB, MSGSIG_CANCEL, MSGSIG_SPECS};

static int kind_known(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i]) == n && !memcmp(kinds[i], k, n))
            return 1;
    return 0;
}

int msgsig_key(const mlhep_config *cfg, const char *what, const char **key, mlhep_err *e)
{
    const char *k = cfg->service_key ? cfg->service_key : "";
    if (!*k)
        return err_set(e, MLHEP_EINVAL, "%s needs the service key (service_key_file = a file holding "
                       "the key shared by the gateway, workers and operators; see msgsig.h)", what);
    if (strlen(k) < MSGSIG_KEY_MIN)
        return err_set(e, MLHEP_EINVAL, "service_key is %zu characters; at least %d are needed", strlen(k),
                       MSGSIG_KEY_MIN);
    *key = k;
    return 0;
}

/* HMAC-SHA256 over "mlhepsig1" 0 kind 0 body, as 64 hex digits into hex[65] */
static int mac_hex(const char *key, const char *kind, size_t klen, const void *body, size_t len,
                   char hex[65], mlhep_err *e)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int ok = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    if (c) {
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
        static const unsigned char zero = 0;
        size_t outl = 0;
        ok = EVP_MAC_init(c, (const unsigned char *)key, strlen(key), params) &&
             EVP_MAC_update(c, (const unsigned char *)MAGIC VERSION, strlen(MAGIC VERSION)) &&
             EVP_MAC_update(c, &zero, 1) && EVP_MAC_update(c, (const unsigned char *)kind, klen) &&
             EVP_MAC_update(c, &zero, 1) && EVP_MAC_update(c, body, len) &&
             EVP_MAC_final(c, mac, &outl, sizeof mac) && outl == 32;
        maclen = (unsigned int)outl;
    }
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    if (!ok)
        return err_set(e, MLHEP_ENOMEM, "HMAC-SHA256 unavailable (OpenSSL)");
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < maclen; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

/* Writes the header value, version 1, field by field (msgsig.h has the whole story):
 *   "mlhepsig"   magic
 *   "1"          format version
 *   "." kind     job | cancel | specs
 *   "." mac      64 lower-case hex digits of HMAC-SHA256(key, "mlhepsig1" 0 kind 0 body) */
int msgsig_sign(const char *key, const char *kind, const void *body, size_t len, char out[MSGSIG_MAX],
                mlhep_err *e)
{
    if (!key || !kind || !kind_known(kind, strlen(kind)))
        return err_set(e, MLHEP_EINVAL, "msgsig_sign: no key or unknown kind");
    char hex[65];
    int rc = mac_hex(key, kind, strlen(kind), body, len, hex, e);
    if (rc)
        return rc;
    snprintf(out, MSGSIG_MAX, "%s%s.%s.%s", MAGIC, VERSION, kind, hex);
    return 0;
}

int msgsig_verify(const char *key, const char *want, const char *sig, const void *body, size_t len,
                  char kind_out[16], mlhep_err *e)
{
    if (!key || !*key)
        return err_set(e, MLHEP_EAUTH, "no service key to verify the message's signature");
    if (!sig || !*sig)
        return err_set(e, MLHEP_EAUTH, "unsigned message (no %s header)", MSGSIG_HEADER);
    size_t ml = strlen(MAGIC);
    if (strncmp(sig, MAGIC, ml) != 0)
        return err_set(e, MLHEP_EAUTH, "malformed signature header");
    const char *v = sig + ml, *dot = strchr(v, '.');
    if (!dot || (size_t)(dot - v) != strlen(VERSION) || strncmp(v, VERSION, strlen(VERSION)) != 0)
        return err_set(e, MLHEP_EAUTH, "signature format version not supported (expected %s)", VERSION);
    const char *k = dot + 1, *dot2 = strchr(k, '.');
    if (!dot2 || !kind_known(k, (size_t)(dot2 - k)))
        return err_set(e, MLHEP_EAUTH, "signature of an unknown kind");
    size_t klen = (size_t)(dot2 - k);
    if (want && (strlen(want) != klen || strncmp(want, k, klen) != 0))
        return err_set(e, MLHEP_EAUTH, "message signed as '%.*s', expected '%s'", (int)klen, k, want);
    const char *given = dot2 + 1;
    if (strlen(given) != 64)
        return err_set(e, MLHEP_EAUTH, "malformed signature");
    char hex[65];
    int rc = mac_hex(key, k, klen, body, len, hex, e);
    if (rc)
        return rc;
    if (CRYPTO_memcmp(hex, given, 64) != 0)
        return err_set(e, MLHEP_EAUTH, "bad signature (not made with this service's key, or the message was "
                       "altered)");
    if (kind_out)
        snprintf(kind_out, 16, "%.*s", (int)klen, k);
    return 0;
}
