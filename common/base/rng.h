/* rng.h - the project's random numbers: xoshiro256** seeded through splitmix64.
 *
 * Everything that draws goes through here: weight initialisation and dropout (model/
 * nncore), row and feature sampling (model/gbdt), the synthetic events (root/evgen),
 * the written files' UUIDs (root/rootwrite), the row shuffle and the validation split
 * (data/dataset). Seeded: the same seed gives the same sequence on every machine, and
 * these sequences are part of the outputs (trained models, generated files), so none of
 * the functions below may change what it returns.
 *
 * Splittable: rng_split() derives an independent child stream from a parent; a stream
 * per item (evgen: one per event) comes from rng_seed() with a key mixed from the item's
 * coordinates. rng_splitmix() is the 64-bit mixing step that seeds xoshiro; where 64
 * bits of state are enough (sampling draws, hashes of an entry number) it serves as a
 * generator of its own.
 *
 * An rng is a plain value (copy it to save and restore a stream); one rng is used by
 * one thread at a time. The step functions are inline: they sit in hot loops. */
#ifndef MLHEP_RNG_H
#define MLHEP_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

/* splitmix64: advances *state by the golden gamma and returns its mixed value. */
static inline uint64_t rng_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The state of xoshiro256** from four splitmix64 outputs of seed (any seed, 0 too). */
void rng_seed(rng *r, uint64_t seed);

/* A child stream seeded from the parent's next output (the parent advances by one). */
void rng_split(rng *parent, rng *child);

static inline uint64_t rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: the next 64 random bits. */
static inline uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return res;
}

/* [0, 1) from the top 53 bits of x (a double with every value equally likely). */
static inline double rng_to_unit(uint64_t x)
{
    return (double)(x >> 11) * 0x1.0p-53;
}

/* Uniform in [0, 1), 53 random bits. */
static inline double rng_unit(rng *r)
{
    return rng_to_unit(rng_next(r));
}

/* Uniform in [0, 1) as a float, 24 random bits. */
static inline float rng_unitf(rng *r)
{
    return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

/* Standard normal as a float (Box-Muller on two draws, double inside). */
float rng_normalf(rng *r);

#endif
