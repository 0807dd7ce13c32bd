/* srcaccess.c - see srcaccess.h. */
#include "root/srcaccess.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void srcaccess_from_env(srcaccess *a)
{
    memset(a, 0, sizeof *a);
    netretry_from_env(&a->retry);
    a->ca_file = getenv("MLHEP_REMOTE_CA_BUNDLE");
    a->ca_dir = getenv("MLHEP_REMOTE_CA_DIR");
    a->proxy = getenv("MLHEP_REMOTE_X509_PROXY");
    a->token_file = getenv("MLHEP_REMOTE_TOKEN_PATH");
}

static int set(const char *s)
{
    return s && *s;
}

void srcaccess_utc(long long t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, n, "%lld", t);
}

/* reads the file at path into buf (at most n-1 bytes, NUL-terminated) */
static int read_small(const char *path, char *buf, size_t n, const char *what, mlhep_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, MLHEP_EIO, "%s %s: %s", what, path, strerror(errno));
    size_t got = fread(buf, 1, n - 1, f);
    int big = !feof(f) && fgetc(f) != EOF;
    fclose(f);
    if (big)
        return err_set(e, MLHEP_EINVAL, "%s %s: token is too long", what, path);
    buf[got] = 0;
    return 0;
}

int srcaccess_token(const srcaccess *a, char *buf, size_t n, const char **origin, mlhep_err *e)
{
    char tmp[SRCACCESS_TOKEN_MAX + 1];
    const char *v = NULL, *from = NULL, *path = NULL;
    buf[0] = 0;
    *origin = NULL;
    if (a && set(a->token)) {
        v = a->token;
        from = set(a->token_origin) ? a->token_origin : "the job's token";
    } else if (a && set(a->token_file)) {
        path = a->token_file;
        from = "remote_token_path";
    } else if (set(getenv("MLHEP_HTTP_TOKEN"))) {
        v = getenv("MLHEP_HTTP_TOKEN");
        from = "MLHEP_HTTP_TOKEN";
    } else if (set(getenv("BEARER_TOKEN"))) {
        v = getenv("BEARER_TOKEN");
        from = "BEARER_TOKEN";
    } else if (set(getenv("BEARER_TOKEN_FILE"))) {
        path = getenv("BEARER_TOKEN_FILE");
        from = "BEARER_TOKEN_FILE";
    } else {
        return 0;
    }
    if (path) {
        int rc = read_small(path, tmp, sizeof tmp, from, e);
        if (rc)
            return rc;
        v = tmp;
    }
    while (isspace((unsigned char)*v))
        v++;
    size_t l = strlen(v);
    while (l && isspace((unsigned char)v[l - 1]))
        l--;
    if (l + 1 > n) {
        memset(tmp, 0, sizeof tmp);
        return err_set(e, MLHEP_EINVAL, "bearer token is too long (%zu bytes)", l);
    }
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e) {
            memset(tmp, 0, sizeof tmp);
            return err_set(e, MLHEP_EINVAL, "bearer token (%s) contains a character not allowed in a header", from);
        }
    memcpy(buf, v, l);
    buf[l] = 0;
    memset(tmp, 0, sizeof tmp);
    *origin = from;
    long long exp = srcaccess_jwt_exp(buf);
    if (exp >= 0 && exp < (long long)time(NULL)) {
        char when[64];
        srcaccess_utc(exp, when, sizeof when);
        memset(buf, 0, l);
        return err_set(e, MLHEP_EAUTH, "bearer token (%s) expired at %s: renew it (it was not sent)", *origin, when);
    }
    return 0;
}

void srcaccess_ztn_token(char *buf, size_t n, const char **origin)
{
    buf[0] = 0;
    *origin = NULL;
    char path[4200];
    mlhep_err e;
    const char *v;
    if (set(v = getenv("BEARER_TOKEN"))) {
        snprintf(buf, n, "%s", v);
        *origin = "BEARER_TOKEN";
        return;
    }
    if (set(v = getenv("BEARER_TOKEN_FILE")) && read_small(v, buf, n, "", &e) == 0) {
        *origin = "BEARER_TOKEN_FILE";
        return;
    }
    if (set(v = getenv("XDG_RUNTIME_DIR"))) {
        snprintf(path, sizeof path, "%s/bt_u%u", v, (unsigned)geteuid());
        if (read_small(path, buf, n, "", &e) == 0) {
            *origin = "$XDG_RUNTIME_DIR/bt_u<uid>";
            return;
        }
    }
    snprintf(path, sizeof path, "/tmp/bt_u%u", (unsigned)geteuid());
    if (read_small(path, buf, n, "", &e) == 0)
        *origin = "/tmp/bt_u<uid>";
    else
        buf[0] = 0;
}

const char *srcaccess_proxy(const srcaccess *a)
{
    if (a && set(a->proxy))
        return a->proxy;
    const char *p = getenv("X509_USER_PROXY");
    return set(p) ? p : NULL;
}

const char *srcaccess_ca_dir(const srcaccess *a)
{
    if (a && set(a->ca_dir))
        return a->ca_dir;
    const char *p = getenv("X509_CERT_DIR");
    return set(p) ? p : NULL;
}

void srcaccess_gsi_proxy(const srcaccess *a, char *buf, size_t n)
{
    const char *p = srcaccess_proxy(a);
    if (!p && set(getenv("XrdSecGSIUSERPROXY")))
        p = getenv("XrdSecGSIUSERPROXY");
    if (p)
        snprintf(buf, n, "%s", p);
    else
        snprintf(buf, n, "/tmp/x509up_u%u", (unsigned)getuid());
}

/* MLHEP_EAUTH when x is not valid now, naming it as `what` */
static int check_validity(X509 *x, const char *what, long long *not_after, mlhep_err *e)
{
    struct tm tm;
    char when[64];
    if (not_after)
        *not_after = ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 ? (long long)timegm(&tm) : -1;
    if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
        if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1 ||
            !strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm))
            snprintf(when, sizeof when, "an unreadable time");
        return err_set(e, MLHEP_EAUTH, "%s expired at %s: renew it (voms-proxy-init / the renewer)", what, when);
    }
    if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
        return err_set(e, MLHEP_EAUTH, "%s is not valid yet (clock skew?)", what);
    return 0;
}

int srcaccess_check_proxy(const char *path, const char *origin, mlhep_err *e)
{
    char what[600];
    if (set(origin))
        snprintf(what, sizeof what, "%s", origin);
    else
        snprintf(what, sizeof what, "X.509 proxy %s", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(e, MLHEP_EIO, "%s: %s", what, strerror(errno));
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x)
        return err_set(e, MLHEP_EIO, "%s: no PEM certificate in it", what);
    int rc = check_validity(x, what, NULL, e);
    X509_free(x);
    return rc;
}

int srcaccess_check_proxy_pem(const char *pem, size_t len, long long *not_after, mlhep_err *e)
{
    if (not_after)
        *not_after = -1;
    if (len == 0)
        return err_set(e, MLHEP_EINVAL, "the X.509 proxy is empty");
    if (len > SRCACCESS_PROXY_MAX)
        return err_set(e, MLHEP_EINVAL, "the X.509 proxy is too long (%zu bytes, at most %d)", len,
                       SRCACCESS_PROXY_MAX);
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    int rc = 0;
    if (!x) {
        rc = err_set(e, MLHEP_EINVAL, "the X.509 proxy holds no PEM certificate (give the x509up file: "
                                      "certificate, key, chain)");
    } else {
        /* the key follows the certificate in x509up; look from the start in any case */
        EVP_PKEY *k = NULL;
        (void)BIO_reset(b);
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
        if (!k)
            rc = err_set(e, MLHEP_EINVAL, "the X.509 proxy holds no private key (or an encrypted one): give the "
                                          "x509up file made by voms-proxy-init / grid-proxy-init");
        else if (X509_check_private_key(x, k) != 1)
            rc = err_set(e, MLHEP_EINVAL, "the X.509 proxy's private key does not match its certificate");
        else
            rc = check_validity(x, "the X.509 proxy", not_after, e);
        EVP_PKEY_free(k);
        X509_free(x);
    }
    BIO_free(b);
    ERR_clear_error();
    return rc;
}

long long srcaccess_jwt_exp(const char *t)
{
    const char *d1 = strchr(t, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return -1;
    size_t l = (size_t)(d2 - d1 - 1);
    if (l == 0 || l > SRCACCESS_TOKEN_MAX)
        return -1;
    char b64[SRCACCESS_TOKEN_MAX + 4];
    unsigned char raw[SRCACCESS_TOKEN_MAX];
    for (size_t i = 0; i < l; i++) {
        char c = d1[1 + i];
        b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t pad = (4 - l % 4) % 4;
    if (pad == 3)
        return -1;
    memset(b64 + l, '=', pad);
    b64[l + pad] = 0;
    int got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)(l + pad));
    if (got < 0)
        return -1;
    got -= (int)pad;
    json_t *j = json_loadb((const char *)raw, (size_t)got, 0, NULL);
    long long exp = -1;
    if (j && json_is_integer(json_object_get(j, "exp")))
        exp = json_integer_value(json_object_get(j, "exp"));
    else if (j && json_is_real(json_object_get(j, "exp")))
        exp = (long long)json_real_value(json_object_get(j, "exp"));
    json_decref(j);
    return exp;
}
