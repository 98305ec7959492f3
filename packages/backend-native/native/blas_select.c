#define _GNU_SOURCE
#include "blas_select.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The linked OpenBLAS (Debian's, or the scipy-openblas32 wheel's with its scipy_ symbol prefix). */
#ifdef ADAPTERS_BLAS_SCIPY_PREFIX
#define cblas_sgemm scipy_cblas_sgemm
#define openblas_set_num_threads scipy_openblas_set_num_threads
#define openblas_get_num_threads scipy_openblas_get_num_threads
#define openblas_get_config scipy_openblas_get_config
#define openblas_get_corename scipy_openblas_get_corename
#endif
extern void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc);
extern void openblas_set_num_threads(int n);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

blas_sgemm_fn blas_sgemm = cblas_sgemm;
static void (*set_threads)(int) = NULL;
static int (*get_threads)(void) = NULL;
static char *(*get_config)(void) = NULL;
static char *(*get_corename)(void) = NULL;
static char library[1024] = "";
static char error[512] = "";
static char config[256] = "";
static const char *corename = NULL;

/* `name` from the library, with or without OpenBLAS-wheel prefixes. */
static void *find(void *lib, const char *name) {
  static const char *const prefixes[] = {"", "scipy_"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    char full[128];
    snprintf(full, sizeof full, "%s%s", prefixes[i], name);
    void *p = dlsym(lib, full);
    if (p != NULL) return p;
  }
  return NULL;
}

static void fail(const char *what, const char *detail) {
  snprintf(error, sizeof error, "%.60s%s%.440s", what, detail ? ": " : "", detail ? detail : "");
}

void blas_select_init(void) {
  const char *spec = getenv("ADAPTERS_BLAS_LIBRARY");
  if (spec == NULL || spec[0] == '\0') return;
  char paths[4096];
  if (strlen(spec) >= sizeof paths) {
    fail("ADAPTERS_BLAS_LIBRARY is too long", NULL);
    return;
  }
  strcpy(paths, spec);
  char *last = strrchr(paths, ':');
  if (last != NULL) {
    *last = '\0';
    for (char *p = strtok(paths, ":"); p != NULL; p = strtok(NULL, ":")) {
      if (dlopen(p, RTLD_NOW | RTLD_GLOBAL) == NULL) {
        fail("cannot preload", dlerror());
        return;
      }
    }
    last++;
  } else {
    last = paths;
  }
  void *lib = dlopen(last, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fail("cannot load", dlerror());
    return;
  }
  blas_sgemm_fn sgemm = (blas_sgemm_fn)find(lib, "cblas_sgemm");
  if (sgemm == NULL) {
    fail("no cblas_sgemm in", last);
    return;
  }
  blas_sgemm = sgemm;
  snprintf(library, sizeof library, "%.1000s", last);
  set_threads = (void (*)(int))find(lib, "openblas_set_num_threads");
  get_threads = (int (*)(void))find(lib, "openblas_get_num_threads");
  get_config = (char *(*)(void))find(lib, "openblas_get_config");
  get_corename = (char *(*)(void))find(lib, "openblas_get_corename");
  if (get_config != NULL) return; /* another OpenBLAS */
  /* Intel MKL (libmkl_rt): its own setter, getter and version string. */
  set_threads = (void (*)(int))dlsym(lib, "MKL_Set_Num_Threads");
  get_threads = (int (*)(void))dlsym(lib, "MKL_Get_Max_Threads");
  void (*version)(char *, int) = (void (*)(char *, int))dlsym(lib, "MKL_Get_Version_String");
  if (version != NULL) {
    version(config, (int)sizeof config);
    corename = "MKL";
  } else {
    snprintf(config, sizeof config, "CBLAS from %.200s", last);
    corename = "external";
  }
}

void blas_set_num_threads(int n) {
  if (library[0] == '\0') openblas_set_num_threads(n);
  else if (set_threads != NULL) set_threads(n);
}

int blas_get_num_threads(void) {
  if (library[0] == '\0') return openblas_get_num_threads();
  return get_threads != NULL ? get_threads() : 1;
}

const char *blas_config(void) {
  if (library[0] == '\0') return openblas_get_config();
  return get_config != NULL ? get_config() : config;
}

const char *blas_corename(void) {
  if (library[0] == '\0') return openblas_get_corename();
  return get_corename != NULL ? get_corename() : corename;
}

const char *blas_library(void) { return library; }
const char *blas_select_error(void) { return error; }
