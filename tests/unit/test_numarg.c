/* test_numarg.c - numbers typed by users: whole text, range, messages that name them. */
#include "base/numarg.h"
#include "test.h"

#include <limits.h>

TEST(whole_numbers)
{
    mlhep_err e;
    long v = 7;
    CHECK(numarg_long("--n", "42", 0, 100, &v, &e) == 0 && v == 42);
    CHECK(numarg_long("--n", "-3", -5, 5, &v, &e) == 0 && v == -3);
    v = 7;
    CHECK(numarg_long("--max-bytes", "abc", 0, 100, &v, &e) == MLHEP_EINVAL && v == 7);
    CHECK(strcmp(e.msg, "--max-bytes: 'abc' is not a whole number") == 0);
    CHECK(numarg_long("--n", "12x", 0, 100, &v, &e) == MLHEP_EINVAL);
    CHECK(numarg_long("--n", "", 0, 100, &v, &e) == MLHEP_EINVAL);
    CHECK(numarg_long("--n", NULL, 0, 100, &v, &e) == MLHEP_EINVAL);
    CHECK(numarg_long("--n", " 5", 0, 100, &v, &e) == MLHEP_EINVAL);
    CHECK(numarg_long("--n", "1.5", 0, 100, &v, &e) == MLHEP_EINVAL);
    CHECK(numarg_long("--window", "0", 1, 4096, &v, &e) == MLHEP_EINVAL);
    CHECK(strcmp(e.msg, "--window: 0 is out of range (1 to 4096)") == 0);
    CHECK(numarg_long("--n", "99999999999999999999999", LONG_MIN, LONG_MAX, &v, &e) == MLHEP_EINVAL);
    int i = 0;
    CHECK(numarg_int("--t", "3", 1, 4, &i, &e) == 0 && i == 3);
    CHECK(numarg_int("--t", "5", 1, 4, &i, &e) == MLHEP_EINVAL && i == 3);
}

TEST(real_numbers)
{
    mlhep_err e;
    double d = 0;
    CHECK(numarg_double("--timeout", "2.5", 0, 60, &d, &e) == 0 && d == 2.5);
    CHECK(numarg_double("--timeout", "1e-3", 0, 60, &d, &e) == 0 && d == 1e-3);
    CHECK(numarg_double("--timeout", "abc", 0, 60, &d, &e) == MLHEP_EINVAL);
    CHECK(strcmp(e.msg, "--timeout: 'abc' is not a number") == 0);
    CHECK(numarg_double("--timeout", "nan", -1e300, 1e300, &d, &e) == MLHEP_EINVAL);
    CHECK(numarg_double("--timeout", "inf", -1e300, 1e300, &d, &e) == MLHEP_EINVAL);
    CHECK(numarg_double("--timeout", "61", 0, 60, &d, &e) == MLHEP_EINVAL);
    CHECK(strstr(e.msg, "out of range (0 to 60)"));
    CHECK(numarg_double("--timeout", "3s", 0, 60, &d, &e) == MLHEP_EINVAL);
}

int main(void)
{
    RUN(whole_numbers);
    RUN(real_numbers);
    return test_summary();
}
