/* netretry.c - see netretry.h. */
#include "root/netretry.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "base/numarg.h"

/* $name as a number in [lo, hi]; def when unset or not such a number */
static long env_long(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    long v;
    return s && *s && numarg_long(name, s, lo, hi, &v, NULL) == 0 ? v : def;
}

void netretry_from_env(netretry *r)
{
    r->attempts = (int)env_long("MLHEP_REMOTE_ATTEMPTS", NETRETRY_ATTEMPTS, 1, NETRETRY_ATTEMPTS_MAX);
    r->timeout_s = (unsigned)env_long("MLHEP_REMOTE_TIMEOUT", NETRETRY_TIMEOUT_S, 1, NETRETRY_TIMEOUT_MAX);
    r->backoff_ms = (unsigned)env_long("MLHEP_REMOTE_BACKOFF_MS", NETRETRY_BACKOFF_MS, 0, NETRETRY_BACKOFF_MAX);
}

unsigned netretry_delay_ms(const netretry *r, int k)
{
    unsigned long ms = r->backoff_ms;
    for (int i = 1; i < k && ms < 5000; i++)
        ms *= 2;
    return (unsigned)(ms > 5000 ? 5000 : ms);
}

void netretry_backoff(const netretry *r, int k)
{
    unsigned ms = netretry_delay_ms(r, k);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
