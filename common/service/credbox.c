/* credbox.c - see credbox.h. OpenSSL EVP AES-256-GCM; nonces from RAND_bytes. */
#include "service/credbox.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define NONCE 12
#define TAG 16
#define PREFIX "cb1."

static int derive(const char *service_key, unsigned char key[32], mlhep_err *e)
{
    static const char label[] = "mlhep credbox v1";
    size_t kl = 0;
    if (!service_key || !*service_key)
        return err_set(e, MLHEP_EINVAL, "no service key (service_key_file) to seal storage credentials with");
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, service_key, strlen(service_key),
                   (const unsigned char *)label, sizeof label - 1, key, 32, &kl) || kl != 32)
        return err_set(e, MLHEP_EIO, "cannot derive the credential key");
    return 0;
}

/* associated data: "job_id\0owner\0kind" (the NULs keep the fields apart) */
static int add_aad(EVP_CIPHER_CTX *c, const char *job_id, const char *owner, const char *kind)
{
    int l;
    const char *f[3] = {job_id, owner, kind};
    for (int i = 0; i < 3; i++)
        if (EVP_CipherUpdate(c, NULL, &l, (const unsigned char *)f[i], (int)strlen(f[i]) + 1) != 1)
            return -1;
    return 0;
}

static char *b64url(const unsigned char *p, size_t n)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *s = malloc(strlen(PREFIX) + cap);
    if (!s)
        return NULL;
    strcpy(s, PREFIX);
    char *o = s + strlen(PREFIX);
    int w = EVP_EncodeBlock((unsigned char *)o, p, (int)n);
    while (w > 0 && o[w - 1] == '=')
        w--;
    o[w] = 0;
    for (char *q = o; *q; q++)
        *q = *q == '+' ? '-' : *q == '/' ? '_' : *q;
    return s;
}

int credbox_seal(const char *service_key, const char *job_id, const char *owner, const char *kind, const void *cred,
                 size_t len, char **out, mlhep_err *e)
{
    *out = NULL;
    if (len == 0 || len > CREDBOX_MAX)
        return err_set(e, MLHEP_EINVAL, "a storage credential must be 1..%d bytes (got %zu)", CREDBOX_MAX, len);
    unsigned char key[32];
    int rc = derive(service_key, key, e);
    if (rc)
        return rc;
    unsigned char *raw = malloc(NONCE + len + TAG);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, ok = raw && c && RAND_bytes(raw, NONCE) == 1 &&
                    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1 &&
                    EVP_EncryptInit_ex(c, NULL, NULL, key, raw) == 1 && add_aad(c, job_id, owner, kind) == 0 &&
                    EVP_EncryptUpdate(c, raw + NONCE, &l, cred, (int)len) == 1 && (size_t)l == len &&
                    EVP_EncryptFinal_ex(c, raw + NONCE + l, &l) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG, raw + NONCE + len) == 1;
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(key, sizeof key);
    if (ok && !(*out = b64url(raw, NONCE + len + TAG)))
        ok = 0;
    free(raw);
    return ok ? 0 : err_set(e, MLHEP_EIO, "cannot seal the storage credential");
}

int credbox_open(const char *service_key, const char *job_id, const char *owner, const char *kind, const char *box,
                 char *buf, size_t n, size_t *len, mlhep_err *e)
{
    *len = 0;
    if (n)
        buf[0] = 0;
    size_t pl = strlen(PREFIX), bl = strlen(box);
    if (bl < pl || strncmp(box, PREFIX, pl) != 0 || bl - pl > 4 * ((NONCE + CREDBOX_MAX + TAG + 2) / 3))
        return err_set(e, MLHEP_EFORMAT, "not a sealed storage credential");
    size_t l64 = bl - pl, pad = (4 - l64 % 4) % 4;
    if (pad == 3)
        return err_set(e, MLHEP_EFORMAT, "not a sealed storage credential");
    char *b64 = malloc(l64 + pad + 1);
    unsigned char *raw = malloc(l64 + 4);
    if (!b64 || !raw) {
        free(b64), free(raw);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < l64; i++) {
        char ch = box[pl + i];
        if (ch == '+' || ch == '/' || ch == '=') { /* base64url only */
            free(b64), free(raw);
            return err_set(e, MLHEP_EFORMAT, "not a sealed storage credential");
        }
        b64[i] = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    }
    memset(b64 + l64, '=', pad);
    b64[l64 + pad] = 0;
    int got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)(l64 + pad));
    free(b64);
    if (got < 0 || got - (int)pad < NONCE + TAG + 1) {
        free(raw);
        return err_set(e, MLHEP_EFORMAT, "not a sealed storage credential");
    }
    size_t total = (size_t)got - pad, clen = total - NONCE - TAG;
    char *canon = b64url(raw, total); /* one spelling only: unused low bits of the last character must be 0 */
    int same = canon && strcmp(canon, box) == 0;
    free(canon);
    if (!same) {
        free(raw);
        return err_set(e, MLHEP_EFORMAT, "not a sealed storage credential");
    }
    if (clen + 1 > n) {
        free(raw);
        return err_set(e, MLHEP_EINVAL, "the storage credential is larger than %zu bytes", n ? n - 1 : 0);
    }
    unsigned char key[32];
    int rc = derive(service_key, key, e);
    if (rc) {
        free(raw);
        return rc;
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l = 0, fl = 0, ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
                            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1 &&
                            EVP_DecryptInit_ex(c, NULL, NULL, key, raw) == 1 && add_aad(c, job_id, owner, kind) == 0 &&
                            EVP_DecryptUpdate(c, (unsigned char *)buf, &l, raw + NONCE, (int)clen) == 1 &&
                            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG, raw + NONCE + clen) == 1 &&
                            EVP_DecryptFinal_ex(c, (unsigned char *)buf + l, &fl) == 1;
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(raw, total);
    free(raw);
    if (!ok) {
        OPENSSL_cleanse(buf, clen);
        buf[0] = 0;
        return err_set(e, MLHEP_EAUTH, "the storage credential does not belong to this job (or was altered)");
    }
    buf[clen] = 0;
    *len = clen;
    return 0;
}
