/*
 * The persistent pool of parallel.h. One job at a time: the caller publishes it under the mutex, bumps the
 * generation and wakes the workers; everyone (caller included) claims chunks from an atomic counter until none
 * are left; the caller then waits until every worker that saw the job has left it. A second caller arriving while
 * a job runs (e.g. a Node worker thread) does not wait for the pool: it runs its chunks alone, same results.
 */
#define _GNU_SOURCE
#include "parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

typedef struct {
  par_fn fn;
  void *ctx;
  int64_t items, grain, chunks;
  int64_t next; /* __atomic */
  unsigned int csr;
  int flush;
} job_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, idle = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER; /* held by the caller running a pooled job */
static job_t *current = NULL;
static uint64_t generation = 0;
static int started = 0;   /* workers created so far (they never exit) */
static int wanted = 1;    /* threads a job may use, the caller included */
static int in_job = 0;    /* workers inside the current job */

/*
 * Back-off on an oversubscribed machine: when a worker is descheduled while holding a chunk, the caller finishes
 * everything else and then waits for it (a scheduler slice, milliseconds), and a woken worker may even be queued
 * on the caller's own core. After 3 jobs whose tail wait exceeded half the caller's own working time (and 50 µs),
 * the next 256 jobs run on the caller alone, then the pool is tried again. Only which thread runs a chunk changes,
 * never the chunks, so results stay the same bits.
 */
#define BACKOFF_STRIKES 3
#define BACKOFF_JOBS 256
static int strikes = 0;      /* read and written with busy and lock held */
static int skip_jobs = 0;    /* likewise */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t par_chunks(int64_t items, int64_t grain) {
  if (items <= 0) return 0;
  if (grain < 1) grain = 1;
  return (items + grain - 1) / grain;
}

static void run_chunks(job_t *job) {
  for (;;) {
    const int64_t c = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
    if (c >= job->chunks) break;
    const int64_t b = c * job->grain, e = b + job->grain < job->items ? b + job->grain : job->items;
    job->fn(job->ctx, c, b, e);
  }
}

static void *worker(void *arg) {
  const int index = (int)(intptr_t)arg; /* 1..: worker i joins jobs while i < wanted */
  uint64_t seen = 0;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (generation == seen || current == NULL || index >= wanted) {
      if (generation != seen) seen = generation; /* a job this worker sits out */
      pthread_cond_wait(&wake, &lock);
    }
    seen = generation;
    job_t *job = current;
    in_job++;
    pthread_mutex_unlock(&lock);
#ifdef HAVE_MXCSR
    const unsigned int saved = _mm_getcsr();
    if (job->flush) _mm_setcsr(job->csr);
#endif
    run_chunks(job);
#ifdef HAVE_MXCSR
    if (job->flush) _mm_setcsr(saved);
#endif
    pthread_mutex_lock(&lock);
    if (--in_job == 0) pthread_cond_signal(&idle);
  }
  return NULL;
}

void par_set_threads(int threads) {
  pthread_mutex_lock(&lock);
  wanted = threads < 1 ? 1 : threads > PAR_MAX_THREADS ? PAR_MAX_THREADS : threads;
  pthread_mutex_unlock(&lock);
}

int par_threads(void) {
  pthread_mutex_lock(&lock);
  const int t = wanted;
  pthread_mutex_unlock(&lock);
  return t;
}

/* Starts workers up to wanted - 1 (called with lock held); a failed start just leaves fewer workers. */
static void grow_pool(void) {
  while (started < wanted - 1) {
    pthread_t id;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int ok = pthread_create(&id, &attr, worker, (void *)(intptr_t)(started + 1)) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) break;
    started++;
  }
}

void par_for(int64_t items, int64_t grain, int flush, par_fn fn, void *ctx) {
  job_t job = {fn, ctx, items, grain < 1 ? 1 : grain, par_chunks(items, grain), 0, 0, flush};
  if (job.chunks == 0) return;
#ifdef HAVE_MXCSR
  const unsigned int caller_csr = _mm_getcsr();
  job.csr = caller_csr | 0x8040u; /* FTZ | DAZ */
  if (flush) _mm_setcsr(job.csr);
#endif
  int pooled = 0;
  if (job.chunks > 1 && pthread_mutex_trylock(&busy) == 0) {
    pthread_mutex_lock(&lock);
    if (skip_jobs > 0) {
      skip_jobs--;
    } else if (wanted > 1) {
      grow_pool();
      if (started > 0) {
        current = &job;
        generation++;
        pooled = 1;
        pthread_cond_broadcast(&wake);
      }
    }
    pthread_mutex_unlock(&lock);
    if (!pooled) pthread_mutex_unlock(&busy);
  }
  const int64_t t0 = pooled ? now_ns() : 0;
  run_chunks(&job);
  if (pooled) {
    const int64_t t1 = now_ns();
    pthread_mutex_lock(&lock);
    current = NULL; /* late wakers see no job; the ones inside finish their chunk and leave */
    while (in_job > 0) pthread_cond_wait(&idle, &lock);
    const int64_t tail = now_ns() - t1;
    if (tail > 50000 && 2 * tail > t1 - t0) {
      if (++strikes >= BACKOFF_STRIKES) {
        strikes = 0;
        skip_jobs = BACKOFF_JOBS;
      }
    } else if (strikes > 0) {
      strikes--;
    }
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&busy);
  }
#ifdef HAVE_MXCSR
  if (flush) _mm_setcsr(caller_csr);
#endif
}
