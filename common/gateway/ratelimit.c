/* ratelimit.c - see ratelimit.h. */
#include "gateway/ratelimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "service/job.h"

typedef struct slot {
    char user[JOB_USER_MAX + 1]; /* "" = free */
    double tokens;
    double last;     /* time of the last refill */
    int inflight;
} slot;

struct ratelimit {
    double rate, burst;
    int concurrency;
    int n;
    slot *s;
    pthread_mutex_t mu;
};

int ratelimit_new(double rate, double burst, int concurrency, int slots, ratelimit **out, mlhep_err *e)
{
    if (slots < 16)
        slots = 16;
    ratelimit *rl = calloc(1, sizeof *rl);
    if (rl)
        rl->s = calloc((size_t)slots, sizeof *rl->s);
    if (!rl || !rl->s) {
        free(rl);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    rl->rate = rate;
    rl->burst = burst >= 1 ? burst : 1;
    rl->concurrency = concurrency;
    rl->n = slots;
    pthread_mutex_init(&rl->mu, NULL);
    *out = rl;
    return 0;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl->s);
    free(rl);
}


/* The user's slot, or a reused one (the idle one seen first with the oldest refill
 * among up to 8 probes). Called with the lock held. */
static slot *find(ratelimit *rl, const char *user, double now, int create)
{
    size_t n = strnlen(user, JOB_USER_MAX + 1);
    if (n > JOB_USER_MAX)
        n = JOB_USER_MAX;
    uint64_t h = XXH64(user, n, 0);
    slot *victim = NULL;
    for (int probe = 0; probe < 8; probe++) {
        slot *s = &rl->s[(h + (uint64_t)probe) % (uint64_t)rl->n];
        if (s->user[0] && !strncmp(s->user, user, JOB_USER_MAX) && strlen(s->user) == n)
            return s;
        if (!s->user[0]) {
            if (!victim || victim->user[0])
                victim = s;
        } else if (s->inflight == 0 && (!victim || (victim->user[0] && s->last < victim->last))) {
            victim = s;
        }
    }
    if (!create || !victim)
        return NULL;
    memcpy(victim->user, user, n);
    victim->user[n] = '\0';
    victim->tokens = rl->burst;
    victim->last = now;
    victim->inflight = 0;
    return victim;
}

int ratelimit_enter(ratelimit *rl, const char *user, double now, double *retry_after)
{
    *retry_after = 0;
    if (!rl || !user)
        return RL_OK;
    pthread_mutex_lock(&rl->mu);
    slot *s = find(rl, user, now, 1);
    int rc = RL_OK;
    if (!s) {
        /* every probed slot is busy with requests in flight: refuse briefly rather
         * than drop another user's accounting */
        rc = RL_CONCURRENCY;
        *retry_after = 1;
    } else {
        if (rl->rate > 0) {
            double dt = now - s->last;
            if (dt > 0) {
                s->tokens += dt * rl->rate;
                if (s->tokens > rl->burst)
                    s->tokens = rl->burst;
            }
            s->last = now;
        } else {
            s->last = now;
        }
        if (rl->concurrency > 0 && s->inflight >= rl->concurrency) {
            rc = RL_CONCURRENCY;
            *retry_after = 1;
        } else if (rl->rate > 0 && s->tokens < 1) {
            rc = RL_RATE;
            *retry_after = (1 - s->tokens) / rl->rate;
        } else {
            if (rl->rate > 0)
                s->tokens -= 1;
            s->inflight++;
        }
    }
    pthread_mutex_unlock(&rl->mu);
    return rc;
}

void ratelimit_leave(ratelimit *rl, const char *user)
{
    if (!rl || !user)
        return;
    pthread_mutex_lock(&rl->mu);
    slot *s = find(rl, user, 0, 0);
    if (s && s->inflight > 0)
        s->inflight--;
    pthread_mutex_unlock(&rl->mu);
}
