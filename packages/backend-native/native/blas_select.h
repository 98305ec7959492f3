/*
 * Which BLAS the addon calls. By default the OpenBLAS it was linked against; when ADAPTERS_BLAS_LIBRARY names
 * another CBLAS library (e.g. Intel MKL's libmkl_rt.so), cblas_sgemm and the thread setter are resolved from it
 * with dlopen/dlsym when the addon loads. The value is a ':'-separated list of absolute paths: every entry but the
 * last is preloaded with RTLD_GLOBAL (MKL's Intel OpenMP runtime, libiomp5.so), the last is the CBLAS library.
 * If anything fails the linked OpenBLAS is used and blas_select_error() says why (info() reports it; the JS
 * loader turns it into a loud note). The JS loader only sets the variable after a child process has passed the
 * sgemm self-test with it.
 */
#ifndef ADAPTERS_BLAS_SELECT_H
#define ADAPTERS_BLAS_SELECT_H

typedef void (*blas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                              int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Resolves the library once (called from module init). */
void blas_select_init(void);
/* The sgemm to call (never NULL). */
extern blas_sgemm_fn blas_sgemm;
void blas_set_num_threads(int n);
int blas_get_num_threads(void);
/* "OpenBLAS 0.3.21 ... " or the library's version string. */
const char *blas_config(void);
/* OpenBLAS's core name, or "MKL" / "external" for another library. */
const char *blas_corename(void);
/* Path of the dlopen'ed library, or "" for the linked OpenBLAS. */
const char *blas_library(void);
/* Why ADAPTERS_BLAS_LIBRARY was not used, or "". */
const char *blas_select_error(void);

#endif
