/* test_err.c - error message helpers. */
#include "base/err.h"
#include "test.h"

TEST(set_and_prefix)
{
    mlhep_err e;
    err_clear(&e);
    CHECK(err_set(&e, MLHEP_ENOTFOUND, "branch '%s' not found", "Jet_pt") == MLHEP_ENOTFOUND);
    CHECK(err_prefix(&e, "file %s", "x.root") == MLHEP_ENOTFOUND);
    CHECK(strcmp(e.msg, "file x.root: branch 'Jet_pt' not found") == 0);
}

TEST(truncates_long_messages)
{
    mlhep_err e;
    char big[4000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    err_set(&e, MLHEP_EINVAL, "%s", big);
    CHECK(strlen(e.msg) == MLHEP_ERR_MAX - 1);
    err_prefix(&e, "ctx");
    CHECK(strncmp(e.msg, "ctx: aaa", 8) == 0);
}

int main(void)
{
    RUN(set_and_prefix);
    RUN(truncates_long_messages);
    return test_summary();
}
