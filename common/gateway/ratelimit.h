/* ratelimit.h - per-user request rate and concurrency limits for the gateway.
 *
 * Each user has a token bucket (`rate` requests per second on average, bursts of up to
 * `burst`) and a count of requests in flight (at most `concurrency`). A request that
 * would exceed either is refused with 429 and a Retry-After the caller computes from
 * what this module returns. Users are kept in a fixed table of `slots` entries (open
 * addressing on a hash of the name); when it is full the entry idle the longest is
 * reused, so memory is bounded whatever the number of users. One mutex guards the
 * table: the critical section is a few arithmetic operations.
 *
 * Ownership: ratelimit_new allocates, ratelimit_free frees. Thread-safe. */
#ifndef MLHEP_GW_RATELIMIT_H
#define MLHEP_GW_RATELIMIT_H

#include "base/err.h"

typedef struct ratelimit ratelimit;

enum {
    RL_OK = 0,
    RL_RATE = 1,        /* over the request rate: retry after *retry_after seconds */
    RL_CONCURRENCY = 2, /* too many requests of this user in flight */
};

/* rate <= 0 disables the rate check, concurrency <= 0 the concurrency check. */
int ratelimit_new(double rate, double burst, int concurrency, int slots, ratelimit **out, mlhep_err *e);
void ratelimit_free(ratelimit *rl);

/* Admits one request of user at time now (seconds, any monotonic origin). RL_OK means
 * admitted: call ratelimit_leave when it is answered. */
int ratelimit_enter(ratelimit *rl, const char *user, double now, double *retry_after);
void ratelimit_leave(ratelimit *rl, const char *user);

#endif
