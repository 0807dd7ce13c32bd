/* test.h - the tiny unit-test harness every tests/unit/test_*.c uses.
 *
 * A test binary defines TEST(name) functions and a main() that RUN()s them and
 * returns test_summary(). Each test prints "PASS <file>:<name>" or
 * "FAIL <file>:<name>: <why>"; tests/run.sh counts those lines across all test
 * binaries and scripts and prints the closing "N passed, N failed". */
#ifndef MLHEP_TEST_H
#define MLHEP_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_failed_, test_npass_, test_nfail_;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            printf("  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
            test_failed_ = 1;                                                        \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECKF(cond, ...)                                                            \
    do {                                                                             \
        if (!(cond)) {                                                               \
            printf("  check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            printf(__VA_ARGS__);                                                     \
            printf("\n");                                                            \
            test_failed_ = 1;                                                        \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                           \
    CHECKF((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a), (long long)(b))

#define CHECK_NEAR(a, b, tol)                                                        \
    CHECKF(fabs((double)(a) - (double)(b)) <= (tol), "%.17g vs %.17g", (double)(a), (double)(b))

#define RUN(name)                                                                    \
    do {                                                                             \
        test_failed_ = 0;                                                            \
        name();                                                                      \
        if (test_failed_) {                                                          \
            printf("FAIL %s:%s\n", __FILE__, #name);                                 \
            test_nfail_++;                                                           \
        } else {                                                                     \
            printf("PASS %s:%s\n", __FILE__, #name);                                 \
            test_npass_++;                                                           \
        }                                                                            \
        fflush(stdout);                                                              \
    } while (0)

static inline int test_summary(void)
{
    return test_nfail_ ? 1 : 0;
}

#endif
