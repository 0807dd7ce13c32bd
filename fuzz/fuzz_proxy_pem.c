/* fuzz_proxy_pem.c - fuzzes the check of an X.509 proxy a user hands a job
 * (srcaccess_check_proxy_pem, common/root/srcaccess.c: PEM certificate, private key,
 * their match, validity), the parser behind mlhep-submit --storage-proxy-file and the
 * gateway's X-Storage-Proxy header.
 *
 * Input: the bytes of a would-be x509up file. Invariants: an accepted proxy has an
 * expiry in the future; a refusal is EINVAL or EAUTH with a message that never quotes
 * the input's key. Corpus: fuzz/corpus/proxy_pem (an EC certificate + key valid until
 * 2126, the same expired, the certificate alone). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "root/srcaccess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long long until = 0;
    mlhep_err e;
    err_clear(&e);
    int rc = srcaccess_check_proxy_pem((const char *)data, size, &until, &e);
    if (rc == 0 && until <= (long long)time(NULL))
        abort();
    if (rc != 0 && rc != MLHEP_EINVAL && rc != MLHEP_EAUTH && rc != MLHEP_ENOMEM)
        abort();
    if (rc != 0 && strstr(e.msg, "PRIVATE KEY"))
        abort();
    return 0;
}
