/* test_rng.c - the project's random numbers (base/rng.h): the sequences are the ones
 * the trained models and generated files were made with (values recorded from the
 * generator before it moved to base/), seeding is deterministic, split streams differ
 * from their parent, and the uniform and normal draws have the right range and
 * moments. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/rng.h"
#include "test.h"

TEST(known_sequences)
{
    rng r;
    rng_seed(&r, 0);
    CHECK(rng_next(&r) == 0x99ec5f36cb75f2b4ull); /* xoshiro256** seeded by splitmix64(0) */
    rng_seed(&r, 42);
    const uint64_t want[] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull, 0xae17533239e499a1ull,
                             0xecb8ad4703b360a1ull};
    for (int i = 0; i < 4; i++)
        CHECK(rng_next(&r) == want[i]);
    CHECK(rng_unitf(&r) == 0x1.fbcdb8p-1f);
    CHECK(rng_normalf(&r) == -0x1.1c69bap-3f);
    uint64_t s = 0;
    CHECK(rng_splitmix(&s) == 0xe220a8397b1dcdafull); /* splitmix64's reference first output */
    CHECK(s == 0x9E3779B97F4A7C15ull);
}

TEST(seeded_and_split_streams)
{
    rng a, b;
    rng_seed(&a, 7);
    rng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        CHECK(rng_next(&a) == rng_next(&b));
    rng p1 = a, p2 = a, c1, c2;
    rng_split(&p1, &c1);
    rng_split(&p2, &c2);
    CHECK(memcmp(&c1, &c2, sizeof c1) == 0); /* the same parent state, the same child */
    rng_next(&a);
    CHECK(memcmp(&a, &p1, sizeof a) == 0); /* the parent moved on by one draw */
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += rng_next(&p1) == rng_next(&c1);
    CHECK(same == 0);
}

TEST(uniform_and_normal_draws)
{
    rng r;
    rng_seed(&r, 123);
    double sum = 0, sum2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = rng_unit(&r);
        float f = rng_unitf(&r);
        CHECK(u >= 0 && u < 1 && f >= 0 && f < 1);
        double g = rng_normalf(&r);
        CHECK(isfinite(g));
        sum += g;
        sum2 += g * g;
    }
    CHECK_NEAR(sum / n, 0.0, 0.01);
    CHECK_NEAR(sum2 / n, 1.0, 0.02);
    CHECK(rng_to_unit(0) == 0.0 && rng_to_unit(UINT64_MAX) < 1.0);
}

int main(void)
{
    RUN(known_sequences);
    RUN(seeded_and_split_streams);
    RUN(uniform_and_normal_draws);
    return test_summary();
}
