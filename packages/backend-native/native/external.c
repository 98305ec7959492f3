/* See external.h. Regions live exactly as long as the ArrayBuffer over them: its finalizer unmaps and frees the slot. */
#define _GNU_SOURCE
#include "external.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  uint8_t *base; /* NULL: free slot */
  size_t len;
} region;

/* Slot 0 is unused (offsets below 2^40 are the heap). Touched only on the JS thread (calls and finalizers). */
static region regions[EXTERNAL_MAX_REGIONS + 1];

const float *external_or_heap(const uint8_t *heap, size_t len, int64_t off, int64_t count) {
  if (off < 0 || (off & 3) != 0 || count < 0) return NULL;
  const uint64_t bytes = (uint64_t)count * 4u;
  if (off < EXTERNAL_OFFSET_BASE) {
    return (uint64_t)off + bytes <= (uint64_t)len ? (const float *)(heap + off) : NULL;
  }
  const int64_t r = off >> EXTERNAL_REGION_SHIFT;
  const uint64_t local = (uint64_t)(off & (EXTERNAL_OFFSET_BASE - 1));
  if (r > EXTERNAL_MAX_REGIONS || regions[r].base == NULL) return NULL;
  return local + bytes <= regions[r].len ? (const float *)(regions[r].base + local) : NULL;
}

static void release_region(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  const intptr_t r = (intptr_t)hint;
  if (regions[r].len > 0) munmap(regions[r].base, regions[r].len);
  regions[r].base = NULL;
  regions[r].len = 0;
}

/* A free region slot, or 0 after throwing (every slot is live). */
static int claim_slot(napi_env env) {
  for (int r = 1; r <= EXTERNAL_MAX_REGIONS; r++) {
    if (regions[r].base == NULL) return r;
  }
  napi_throw_range_error(env, NULL, "backend-native: too many mapped files or external regions (8191 live)");
  return 0;
}

/* { region, buffer, bytes } over base/len in slot r; on failure unmaps and throws. */
static napi_value wrap_region(napi_env env, int r, uint8_t *base, size_t len) {
  regions[r].base = base;
  regions[r].len = len;
  napi_value buffer, result, v;
  /* A zero-length mapping is not possible: such regions get a 1-byte dummy length of 0 in the table (see callers). */
  if (napi_create_external_arraybuffer(env, base, len, release_region, (void *)(intptr_t)r, &buffer) != napi_ok) {
    release_region(env, NULL, (void *)(intptr_t)r);
    napi_throw_error(env, NULL, "backend-native: cannot create an ArrayBuffer over mapped memory (external buffers not allowed?)");
    return NULL;
  }
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  napi_create_int32(env, r, &v);
  napi_set_named_property(env, result, "region", v);
  napi_set_named_property(env, result, "buffer", buffer);
  napi_create_double(env, (double)len, &v);
  napi_set_named_property(env, result, "bytes", v);
  return result;
}

napi_value external_map_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "backend-native: mapFile expects a path");
    return NULL;
  }
  char path[4096];
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok || plen == 0 || plen >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "backend-native: mapFile's path must be a non-empty string shorter than 4095 bytes");
    return NULL;
  }
  const int r = claim_slot(env);
  if (r == 0) return NULL;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char msg[4200];
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    snprintf(msg, sizeof msg, "backend-native: cannot map %s (%s)", path, fd < 0 ? strerror(errno) : "not a non-empty regular file");
    if (fd >= 0) close(fd);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  /* Private and writable so a stray write copies one page instead of faulting; unwritten pages stay the page cache's,
   * shared by every process mapping the file. */
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    snprintf(msg, sizeof msg, "backend-native: mmap of %s failed (%s)", path, strerror(errno));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  return wrap_region(env, r, (uint8_t *)p, (size_t)st.st_size);
}

napi_value external_alloc_region(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double d = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_double(env, argv[0], &d) != napi_ok || !(d >= 1 && d < (double)EXTERNAL_OFFSET_BASE) || d != (double)(int64_t)d) {
    napi_throw_range_error(env, NULL, "backend-native: allocRegion's bytes must be an integer in [1, 2^40)");
    return NULL;
  }
  const int r = claim_slot(env);
  if (r == 0) return NULL;
  void *p = mmap(NULL, (size_t)d, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    napi_throw_error(env, NULL, "backend-native: cannot allocate an external region (out of memory)");
    return NULL;
  }
  return wrap_region(env, r, (uint8_t *)p, (size_t)d);
}

napi_value external_regions(napi_env env, napi_callback_info info) {
  (void)info;
  int live = 0;
  for (int r = 1; r <= EXTERNAL_MAX_REGIONS; r++) live += regions[r].base != NULL;
  napi_value v;
  napi_create_int32(env, live, &v);
  return v;
}
