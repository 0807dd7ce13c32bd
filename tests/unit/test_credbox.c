/* test_credbox.c - a storage credential sealed for one job (service/credbox.h): it
 * opens for that job and owner only; another job id, another owner, another kind,
 * another service key, or any changed character refuse it; sizes and bad input. */
#include <stdlib.h>
#include <string.h>

#include "service/credbox.h"
#include "test.h"

static const char *KEY = "a-service-key-of-at-least-32-characters!";
static const char *TOK = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

TEST(round_trip_and_binding)
{
    char *box = NULL;
    mlhep_err e;
    char buf[256];
    size_t len;
    CHECK(credbox_seal(KEY, "job1", "alice", "token", TOK, strlen(TOK), &box, &e) == 0 && box);
    CHECK(strncmp(box, "cb1.", 4) == 0 && !strstr(box, "eyJ"));
    CHECK(credbox_open(KEY, "job1", "alice", "token", box, buf, sizeof buf, &len, &e) == 0);
    CHECK(len == strlen(TOK) && strcmp(buf, TOK) == 0);
    /* another job of the same user, the same job id claimed by another user, another
     * kind, another service key: refused, and nothing of the credential comes out */
    CHECK(credbox_open(KEY, "job2", "alice", "token", box, buf, sizeof buf, &len, &e) == MLHEP_EAUTH && buf[0] == 0);
    CHECKF(strstr(e.msg, "does not belong to this job") != NULL, "%s", e.msg);
    CHECK(credbox_open(KEY, "job1", "bob", "token", box, buf, sizeof buf, &len, &e) == MLHEP_EAUTH && buf[0] == 0);
    CHECK(credbox_open(KEY, "job1", "alice", "x509", box, buf, sizeof buf, &len, &e) == MLHEP_EAUTH);
    CHECK(credbox_open("another-service-key-of-32-characters-xx", "job1", "alice", "token", box, buf, sizeof buf, &len,
                       &e) == MLHEP_EAUTH);
    /* fields cannot be shifted across the separator: ("job1a", "lice") is not ("job1", "alice") */
    CHECK(credbox_open(KEY, "job1a", "lice", "token", box, buf, sizeof buf, &len, &e) == MLHEP_EAUTH);
    /* every single changed character of the box is refused */
    size_t bl = strlen(box);
    int refused = 0;
    for (size_t i = 4; i < bl; i++) {
        char *t = strdup(box);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        int rc = credbox_open(KEY, "job1", "alice", "token", t, buf, sizeof buf, &len, &e);
        refused += rc == MLHEP_EAUTH || rc == MLHEP_EFORMAT;
        free(t);
    }
    CHECKF(refused == (int)(bl - 4), "%d of %zu altered boxes refused", refused, bl - 4);
    /* two seals of the same credential differ (fresh nonce) */
    char *box2 = NULL;
    CHECK(credbox_seal(KEY, "job1", "alice", "token", TOK, strlen(TOK), &box2, &e) == 0 && strcmp(box, box2) != 0);
    free(box2);
    /* buffer too small */
    CHECK(credbox_open(KEY, "job1", "alice", "token", box, buf, 8, &len, &e) == MLHEP_EINVAL);
    free(box);
}

TEST(bad_input)
{
    char *box = NULL;
    mlhep_err e;
    char buf[64];
    size_t len;
    CHECK(credbox_seal(KEY, "j", "a", "token", "", 0, &box, &e) == MLHEP_EINVAL && !box);
    CHECK(credbox_seal("", "j", "a", "token", "x", 1, &box, &e) == MLHEP_EINVAL && !box);
    static char big[CREDBOX_MAX + 2];
    memset(big, 'x', sizeof big);
    CHECK(credbox_seal(KEY, "j", "a", "token", big, CREDBOX_MAX + 1, &box, &e) == MLHEP_EINVAL);
    CHECK(credbox_seal(KEY, "j", "a", "x509", big, CREDBOX_MAX, &box, &e) == 0);
    free(box);
    const char *bad[] = {"", "cb1.", "cb2.AAAA", "cb1.A", "cb1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "cb1.AA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "plain-token"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(credbox_open(KEY, "j", "a", "token", bad[i], buf, sizeof buf, &len, &e) == MLHEP_EFORMAT, "%s", bad[i]);
}

int main(void)
{
    RUN(round_trip_and_binding);
    RUN(bad_input);
    return test_summary();
}
