/*
 * The CPU's single-precision FMA peak: each thread runs 12 independent chains of 8-float FMAs (enough to cover the
 * FMA latency on two pipes), for `seconds`, and the program prints GFLOP/s for 1 thread and for all of them. Built
 * by fma-peak.js with -O3 -march=native -ffp-contract=fast, so the vector multiply-add becomes the CPU's FMA.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));
#define CHAINS 12

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
  long iters;
  float sink;
} job;

static void *run(void *arg) {
  job *j = arg;
  v8 acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = (v8){0} + 1e-3f * (float)c;
  const v8 b = (v8){0} + 0.999999f, d = (v8){0} + 1e-7f;
  for (long i = 0; i < j->iters; i++) {
    for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * b + d;
  }
  float s = 0;
  for (int c = 0; c < CHAINS; c++) s += acc[c][0];
  j->sink = s; /* keeps the loop live */
  return NULL;
}

/* GFLOP/s with `threads` threads, each running `iters` iterations. */
static double measure(int threads, long iters) {
  pthread_t ids[64];
  job jobs[64];
  const double t0 = now();
  for (int t = 0; t < threads; t++) {
    jobs[t].iters = iters;
    pthread_create(&ids[t], NULL, run, &jobs[t]);
  }
  for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  return (double)threads * (double)iters * CHAINS * 8 * 2 / (now() - t0) / 1e9;
}

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 1;
  const long iters = argc > 2 ? atol(argv[2]) : 100000000L;
  if (threads < 1 || threads > 64 || iters < 1) return 2;
  measure(1, iters / 10); /* warm-up: lets the clock settle */
  printf("{\"oneThread\": %.1f, \"threads\": %d, \"allThreads\": %.1f}\n", measure(1, iters), threads, measure(threads, iters));
  return 0;
}
