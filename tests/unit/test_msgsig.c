/* test_msgsig.c - signatures of the service's internal messages (service/msgsig.h): a
 * message verifies only with the key, kind and body it was signed with; unsigned,
 * truncated, altered, re-kinded, other-version and other-key messages are refused; the
 * key rule (present, long enough) is the configuration's. */
#include <stdlib.h>
#include <string.h>

#include "service/msgsig.h"
#include "test.h"

static const char KEY[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char BODY[] = "{\"v\":1,\"id\":\"00112233445566778899aabbccddeeff\",\"user\":\"alice\"}";

TEST(sign_then_verify)
{
    char sig[MSGSIG_MAX], kind[16];
    mlhep_err e;
    CHECK(msgsig_sign(KEY, MSGSIG_JOB, BODY, strlen(BODY), sig, &e) == 0);
    CHECKF(strncmp(sig, "mlhepsig1.job.", 14) == 0 && strlen(sig) == 14 + 64, "%s", sig);
    CHECKF(msgsig_verify(KEY, MSGSIG_JOB, sig, BODY, strlen(BODY), kind, &e) == 0, "%s", e.msg);
    CHECK(strcmp(kind, "job") == 0);
    CHECK(msgsig_verify(KEY, NULL, sig, BODY, strlen(BODY), kind, &e) == 0); /* any kind */
    /* the same body signed twice: the same signature (deterministic, replays verify too:
     * the job lifecycle makes them harmless, msgsig.h) */
    char again[MSGSIG_MAX];
    CHECK(msgsig_sign(KEY, MSGSIG_JOB, BODY, strlen(BODY), again, &e) == 0);
    CHECK(strcmp(sig, again) == 0);
}

TEST(refusals)
{
    char sig[MSGSIG_MAX], bad[MSGSIG_MAX + 8];
    mlhep_err e;
    size_t n = strlen(BODY);
    CHECK(msgsig_sign(KEY, MSGSIG_CANCEL, BODY, n, sig, &e) == 0);
    CHECK(msgsig_verify(KEY, MSGSIG_CANCEL, NULL, BODY, n, NULL, &e) == MLHEP_EAUTH); /* unsigned */
    CHECK(strstr(e.msg, "unsigned"));
    CHECK(msgsig_verify(KEY, MSGSIG_CANCEL, "", BODY, n, NULL, &e) == MLHEP_EAUTH);
    /* another kind: a signed cancel is not a job */
    CHECK(msgsig_verify(KEY, MSGSIG_JOB, sig, BODY, n, NULL, &e) == MLHEP_EAUTH);
    CHECKF(strstr(e.msg, "signed as 'cancel'"), "%s", e.msg);
    /* the kind in the header changed: the MAC no longer matches */
    snprintf(bad, sizeof bad, "mlhepsig1.job.%s", sig + strlen("mlhepsig1.cancel."));
    CHECK(msgsig_verify(KEY, NULL, bad, BODY, n, NULL, &e) == MLHEP_EAUTH);
    CHECKF(strstr(e.msg, "bad signature"), "%s", e.msg);
    /* the body altered by one byte, or cut */
    char *alt = strdup(BODY);
    alt[n - 3] = 'b';
    CHECK(msgsig_verify(KEY, NULL, sig, alt, n, NULL, &e) == MLHEP_EAUTH);
    free(alt);
    CHECK(msgsig_verify(KEY, NULL, sig, BODY, n - 1, NULL, &e) == MLHEP_EAUTH);
    /* another key */
    CHECK(msgsig_verify("ffffffffffffffffffffffffffffffffffffffff", NULL, sig, BODY, n, NULL, &e) == MLHEP_EAUTH);
    /* another version, an unknown kind, a short or long MAC, garbage */
    snprintf(bad, sizeof bad, "mlhepsig2%s", sig + 9);
    CHECK(msgsig_verify(KEY, NULL, bad, BODY, n, NULL, &e) == MLHEP_EAUTH);
    CHECKF(strstr(e.msg, "version"), "%s", e.msg);
    snprintf(bad, sizeof bad, "mlhepsig1.sleep.%s", sig + strlen("mlhepsig1.cancel."));
    CHECK(msgsig_verify(KEY, NULL, bad, BODY, n, NULL, &e) == MLHEP_EAUTH);
    snprintf(bad, sizeof bad, "%.*s", (int)strlen(sig) - 1, sig);
    CHECK(msgsig_verify(KEY, NULL, bad, BODY, n, NULL, &e) == MLHEP_EAUTH);
    snprintf(bad, sizeof bad, "%s0", sig);
    CHECK(msgsig_verify(KEY, NULL, bad, BODY, n, NULL, &e) == MLHEP_EAUTH);
    CHECK(msgsig_verify(KEY, NULL, "mlhepsig1.job.", BODY, n, NULL, &e) == MLHEP_EAUTH);
    CHECK(msgsig_verify(KEY, NULL, "garbage", BODY, n, NULL, &e) == MLHEP_EAUTH);
    /* no key to verify with: refused, never accepted */
    CHECK(msgsig_verify("", NULL, sig, BODY, n, NULL, &e) == MLHEP_EAUTH);
    CHECK(msgsig_sign(KEY, "sleep", BODY, n, bad, &e) == MLHEP_EINVAL);
}

TEST(key_rule)
{
    mlhep_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *k = NULL;
    mlhep_err e;
    CHECK(msgsig_key(&cfg, "mlhep-worker", &k, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "mlhep-worker needs the service key") && strstr(e.msg, "service_key_file"), "%s", e.msg);
    cfg.service_key = "short";
    CHECK(msgsig_key(&cfg, "x", &k, &e) == MLHEP_EINVAL);
    CHECKF(strstr(e.msg, "at least 32"), "%s", e.msg);
    cfg.service_key = (char *)KEY;
    CHECK(msgsig_key(&cfg, "x", &k, &e) == 0 && k == KEY);
}

int main(void)
{
    RUN(sign_then_verify);
    RUN(refusals);
    RUN(key_rule);
    return test_summary();
}
