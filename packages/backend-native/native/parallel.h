/*
 * A small persistent thread pool for the element-wise and row-wise kernels: par_for(items, grain, ...) splits
 * [0, items) into chunks of `grain` items (the last one shorter) and runs fn(ctx, chunk, begin, end) on each,
 * on the caller plus up to par_threads() - 1 parked workers. Chunk boundaries depend only on items and grain,
 * never on the thread count, so a kernel whose per-chunk result does not depend on which thread ran it (and
 * that combines per-chunk partials in chunk order) gives the same bits with 1 or N threads.
 *
 * One chunk (items <= grain) runs on the caller without touching the pool: callers pick grain as the work worth
 * a worker's wake-up (~10-20 µs measured, see parallel.c). Workers sleep on a condition variable between jobs
 * (they never spin, so an idle pool takes no core from OpenBLAS). With flush set, subnormals are flushed to zero
 * (MXCSR FTZ/DAZ) on every thread for the job and the caller's MXCSR is restored afterwards.
 */
#ifndef ADAPTERS_PARALLEL_H
#define ADAPTERS_PARALLEL_H

#include <stdint.h>

typedef void (*par_fn)(void *ctx, int64_t chunk, int64_t begin, int64_t end);

/* Number of chunks par_for makes for items and grain (>= 1 grain; 0 items -> 0 chunks). */
int64_t par_chunks(int64_t items, int64_t grain);

void par_for(int64_t items, int64_t grain, int flush, par_fn fn, void *ctx);

/* Threads par_for may use (the caller included): 1..PAR_MAX_THREADS, set with setNumThreads. */
void par_set_threads(int threads);
int par_threads(void);

#define PAR_MAX_THREADS 16

#endif
