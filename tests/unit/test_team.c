/* test_team.c - the data layer's thread team (team.h) and huge-page buffers (bigbuf.h):
 * every thread runs each job exactly once with its own tid, runs follow each other
 * with all effects of the previous run visible, a team of 1 and a NULL team run in
 * the caller; team_tasks runs every numbered task exactly once, on any thread, with a
 * tid below the team's size; team_barrier holds every thread until all reached it;
 * arena pieces are aligned, distinct and writable across
 * regions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigbuf.h"
#include "base/team.h"
#include "test.h"

typedef struct job {
    int calls[TEAM_MAX];
    int nthreads;
    long *data;
    size_t n;
    int round;
} job;

static void work(void *arg, int tid, int n)
{
    job *j = arg;
    __atomic_fetch_add(&j->calls[tid], 1, __ATOMIC_RELAXED);
    j->nthreads = n;
    /* each thread adds the round to its slice; the next round reads all of it */
    for (size_t i = j->n * (size_t)tid / (size_t)n; i < j->n * (size_t)(tid + 1) / (size_t)n; i++)
        j->data[i] += j->round;
}

TEST(team_runs_every_thread_once_per_run)
{
    mlhep_err e;
    for (int size = 1; size <= 4; size++) {
        team *t;
        CHECK(team_new(size, &t, &e) == 0);
        CHECK(team_size(t) == size);
        job j = {.n = 1000};
        j.data = calloc(j.n, sizeof *j.data);
        CHECK(j.data);
        long want = 0;
        for (int r = 1; r <= 50; r++) {
            j.round = r;
            team_run(t, work, &j);
            want += r;
            for (size_t i = 0; i < j.n; i++)
                CHECK(j.data[i] == want);
        }
        CHECK(j.nthreads == size);
        for (int k = 0; k < size; k++)
            CHECK(j.calls[k] == 50);
        free(j.data);
        team_free(t);
    }
    job j = {.n = 10};
    j.data = calloc(j.n, sizeof *j.data);
    CHECK(j.data);
    j.round = 1;
    team_run(NULL, work, &j);
    CHECK(j.calls[0] == 1 && j.nthreads == 1 && j.data[9] == 1);
    free(j.data);
    team_free(NULL);
    CHECK(team_ncpu() >= 1 && team_ncpu() <= TEAM_MAX);
}

typedef struct tasks {
    int runs[1000];
    int by_tid[TEAM_MAX];
    int size;
} tasks;

static void one_task(void *arg, size_t task, int tid)
{
    tasks *t = arg;
    CHECK(tid >= 0 && tid < t->size);
    __atomic_fetch_add(&t->runs[task], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&t->by_tid[tid], 1, __ATOMIC_RELAXED);
}

TEST(team_tasks_runs_each_task_once)
{
    mlhep_err e;
    size_t counts[] = {0, 1, 2, 7, 1000};
    for (int size = 1; size <= 3; size++) {
        team *tm;
        CHECK(team_new(size, &tm, &e) == 0);
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            for (int rep = 0; rep < 20; rep++) {
                tasks t = {.size = size};
                team_tasks(tm, one_task, &t, counts[c]);
                int total = 0;
                for (size_t k = 0; k < 1000; k++)
                    CHECK(t.runs[k] == (k < counts[c]));
                for (int k = 0; k < size; k++)
                    total += t.by_tid[k];
                CHECK(total == (int)counts[c]);
                if (counts[c] <= 1) /* a single task runs in the caller */
                    CHECK(t.by_tid[0] == (int)counts[c]);
            }
        }
        team_free(tm);
    }
    tasks t = {.size = 1};
    team_tasks(NULL, one_task, &t, 5);
    CHECK(t.by_tid[0] == 5 && t.runs[4] == 1);
}

/* team_barrier: phases inside one run; after each barrier every thread sees what all
 * wrote before it (each thread checks the others' slots, then overwrites its own in
 * the next phase, so a thread passing early would be seen). */
typedef struct phased {
    long slot[TEAM_MAX];
    team *t;
    int bad;
} phased;

static void phases(void *arg, int tid, int n)
{
    phased *p = arg;
    for (long ph = 1; ph <= 200; ph++) {
        __atomic_store_n(&p->slot[tid], ph, __ATOMIC_RELAXED);
        team_barrier(p->t);
        for (int k = 0; k < n; k++)
            if (__atomic_load_n(&p->slot[k], __ATOMIC_RELAXED) != ph)
                __atomic_store_n(&p->bad, 1, __ATOMIC_RELAXED);
        team_barrier(p->t);
    }
}

TEST(team_barrier_separates_phases)
{
    mlhep_err e;
    for (int size = 1; size <= 4; size++) {
        team *t;
        CHECK(team_new(size, &t, &e) == 0);
        for (int r = 0; r < 5; r++) {
            phased p = {.t = t};
            team_run(t, phases, &p);
            CHECKF(!p.bad, "team of %d: a thread passed a barrier before the others reached it", size);
        }
        team_free(t);
    }
    team_barrier(NULL); /* no team: returns */
}

TEST(bigbuf_and_arena)
{
    size_t sizes[] = {0, 100, BIGBUF_MIN - 1, BIGBUF_MIN, 3 * BIGBUF_MIN + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *p = bigbuf_alloc(sizes[i]);
        CHECK(p);
        memset(p, 0x5A, sizes[i]);
        if (sizes[i])
            CHECK(p[sizes[i] - 1] == 0x5A);
        bigbuf_free(p, sizes[i]);
    }
    bigbuf_free(NULL, 10);
    bigarena *a = bigarena_new();
    CHECK(a);
    uint8_t *prev[64];
    size_t len[64];
    for (int i = 0; i < 64; i++) {
        len[i] = (size_t)(i % 7) * 100000 + (size_t)i + 1; /* several regions, one piece bigger than a region */
        if (i == 40)
            len[i] = BIGARENA_REGION + 12345;
        prev[i] = bigarena_alloc(a, len[i]);
        CHECK(prev[i] && ((uintptr_t)prev[i] & 63) == 0);
        memset(prev[i], i, len[i]);
    }
    for (int i = 0; i < 64; i++)
        CHECK(prev[i][0] == (uint8_t)i && prev[i][len[i] - 1] == (uint8_t)i);
    CHECK(bigarena_alloc(a, (size_t)1 << 50) == NULL);
    bigarena_free(a);
    bigarena_free(NULL);
}

int main(void)
{
    RUN(team_runs_every_thread_once_per_run);
    RUN(team_tasks_runs_each_task_once);
    RUN(team_barrier_separates_phases);
    RUN(bigbuf_and_arena);
    return test_summary();
}
