/* rng.c - see rng.h. Seeding and the normal draw; the step functions are inline in
 * the header. */
#include "base/rng.h"

#include <math.h>

void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix(&x);
}

void rng_split(rng *parent, rng *child)
{
    rng_seed(child, rng_next(parent));
}

float rng_normalf(rng *r)
{
    double u1 = ((double)(rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0); /* (0,1] */
    double u2 = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
