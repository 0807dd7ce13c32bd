/* team.c - see team.h. Threads sleep on a condition variable between runs; a run is
 * a generation number: each worker runs the function once per generation and the
 * last one to finish wakes the caller. team_barrier is a counter and a generation of
 * its own: spin briefly, then sleep on a second condition variable. */
#include "base/team.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct team {
    int n;                 /* threads including the caller */
    pthread_t th[TEAM_MAX];
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    unsigned long gen;     /* incremented by each run */
    int pending;           /* workers still running the current generation */
    int quit;
    team_fn fn;
    void *arg;
    /* team_barrier: threads arrived, and the barrier's generation (bumped by the last) */
    atomic_int bar_count;
    atomic_uint bar_gen;
    pthread_cond_t bar_cv;
};

typedef struct worker_arg {
    team *t;
    int tid;
} worker_arg;

static void *worker(void *p)
{
    worker_arg wa = *(worker_arg *)p;
    free(p);
    team *t = wa.t;
    unsigned long seen = 0;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->quit && t->gen == seen)
            pthread_cond_wait(&t->go, &t->lock);
        if (t->quit)
            break;
        seen = t->gen;
        team_fn fn = t->fn;
        void *arg = t->arg;
        int n = t->n;
        pthread_mutex_unlock(&t->lock);
        fn(arg, wa.tid, n);
        pthread_mutex_lock(&t->lock);
        if (--t->pending == 0)
            pthread_cond_signal(&t->done);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int team_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > TEAM_MAX ? TEAM_MAX : (int)n;
}

int team_new(int nthreads, team **out, mlhep_err *e)
{
    *out = NULL;
    team *t = calloc(1, sizeof *t);
    if (!t)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > TEAM_MAX)
        nthreads = TEAM_MAX;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->go, NULL);
    pthread_cond_init(&t->done, NULL);
    pthread_cond_init(&t->bar_cv, NULL);
    t->n = 1;
    for (int i = 1; i < nthreads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa)
            break;
        wa->t = t;
        wa->tid = i;
        if (pthread_create(&t->th[i], NULL, worker, wa) != 0) {
            free(wa);
            break;
        }
        t->n++;
    }
    *out = t;
    return 0;
}

void team_free(team *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->quit = 1;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->lock);
    for (int i = 1; i < t->n; i++)
        pthread_join(t->th[i], NULL);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->go);
    pthread_cond_destroy(&t->done);
    pthread_cond_destroy(&t->bar_cv);
    free(t);
}

int team_size(const team *t)
{
    return t ? t->n : 1;
}

void team_run(team *t, team_fn fn, void *arg)
{
    if (!t || t->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->fn = fn;
    t->arg = arg;
    t->pending = t->n - 1;
    t->gen++;
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->lock);
    fn(arg, 0, t->n);
    pthread_mutex_lock(&t->lock);
    while (t->pending > 0)
        pthread_cond_wait(&t->done, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

static double mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

void team_barrier(team *t)
{
    if (!t || t->n == 1)
        return;
    unsigned gen = atomic_load_explicit(&t->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&t->bar_count, 1, memory_order_acq_rel) == t->n - 1) {
        /* the last: reset the count for the next barrier, then release the others (the
         * generation moves under the lock so that a sleeper cannot miss the broadcast) */
        atomic_store_explicit(&t->bar_count, 0, memory_order_relaxed);
        pthread_mutex_lock(&t->lock);
        atomic_fetch_add_explicit(&t->bar_gen, 1, memory_order_release);
        pthread_cond_broadcast(&t->bar_cv);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    double until = 0;
    for (unsigned k = 0;; k++) {
        if (atomic_load_explicit(&t->bar_gen, memory_order_acquire) != gen)
            return;
        if ((k & 63) == 63) { /* read the clock now and then only */
            double now = mono_us();
            if (until == 0)
                until = now + TEAM_BARRIER_SPIN_US;
            else if (now > until)
                break;
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&t->lock);
    while (atomic_load_explicit(&t->bar_gen, memory_order_acquire) == gen)
        pthread_cond_wait(&t->bar_cv, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

typedef struct task_run {
    team_task_fn fn;
    void *arg;
    size_t ntasks;
    atomic_size_t next;
} task_run;

static void task_drain(void *p, int tid, int nthreads)
{
    (void)nthreads;
    task_run *r = p;
    for (;;) {
        size_t k = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
        if (k >= r->ntasks)
            break;
        r->fn(r->arg, k, tid);
    }
}

void team_tasks(team *t, team_task_fn fn, void *arg, size_t ntasks)
{
    if (!t || t->n == 1 || ntasks <= 1) {
        for (size_t k = 0; k < ntasks; k++)
            fn(arg, k, 0);
        return;
    }
    task_run r = {fn, arg, ntasks, 0};
    team_run(t, task_drain, &r);
}
