/* team.h - a small persistent team of threads that run one function together.
 *
 * The data layer (evsource, dataset, specs) splits each block of work over the
 * machine's cores: branches to decode, rows to flatten, features to summarise. A
 * team keeps its threads between blocks (no thread creation per block, and each
 * thread keeps its own warm buffers): team_run(t, fn, arg) calls fn(arg, tid, n) on
 * every thread of the team, the caller being tid 0, and returns when all calls have
 * returned. fn must split the work by tid itself and must not call team_run on the
 * same team. A team of 1 runs fn in the caller only. team_tasks() runs numbered tasks
 * on the team instead (the boosted trees' histograms and splits, one branch each when
 * reading baskets), whoever is free taking the next.
 *
 * Ownership: team_new() returns a team freed (threads joined) by team_free(). One
 * team is driven by one thread at a time. */
#ifndef MLHEP_TEAM_H
#define MLHEP_TEAM_H

#include <stddef.h>

#include "base/err.h"

typedef struct team team;
typedef void (*team_fn)(void *arg, int tid, int nthreads);

#define TEAM_MAX 16

/* nthreads in [1, TEAM_MAX] (clamped), counting the caller. If a thread cannot be
 * started the team is simply smaller (team_size says how many). */
int team_new(int nthreads, team **out, mlhep_err *e);
void team_free(team *t);
int team_size(const team *t);

/* Runs fn(arg, tid, team_size(t)) on every thread; t NULL runs fn(arg, 0, 1). */
void team_run(team *t, team_fn fn, void *arg);

/* Inside a team_run: every thread of the team calls it, and each returns once all
 * have (everything written before by any of them is then visible to all): one run can
 * hold phases that each need the whole previous one, where two runs would wake the team
 * twice (the MLP's data-parallel step: gradients, then the optimiser). A thread that
 * arrives first spins about TEAM_BARRIER_SPIN_US (phases split evenly end close
 * together), then sleeps. A team of 1 or NULL returns at once. */
#define TEAM_BARRIER_SPIN_US 20
void team_barrier(team *t);

/* Work split into ntasks numbered pieces: fn(arg, task, tid) runs once for each task in
 * [0, ntasks), tasks handed out one at a time to whichever thread of the team is free
 * (an atomic counter), so uneven tasks balance themselves. tid (< team_size(t)) lets
 * fn use per-thread scratch. With t NULL, a team of 1 or ntasks <= 1 the caller runs
 * the tasks in order. Returns when every task has run. */
typedef void (*team_task_fn)(void *arg, size_t task, int tid);
void team_tasks(team *t, team_task_fn fn, void *arg, size_t ntasks);

/* Number of online CPUs, at least 1 and at most TEAM_MAX. */
int team_ncpu(void);

#endif
