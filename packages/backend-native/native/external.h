/*
 * Read-only memory outside the wasm heap that the kernels can take operands from: files mapped with mmap (frozen base
 * weights, shared with every process that maps the same file) and anonymous regions. Kernels receive the same
 * double "offsets" as for the heap; offsets at or above EXTERNAL_OFFSET_BASE name region r = off / 2^40 (r >= 1),
 * byte off mod 2^40 inside it. Offsets stay exact in a double (regions < 8192).
 */
#ifndef BACKEND_NATIVE_EXTERNAL_H
#define BACKEND_NATIVE_EXTERNAL_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#define EXTERNAL_REGION_SHIFT 40
#define EXTERNAL_OFFSET_BASE ((int64_t)1 << EXTERNAL_REGION_SHIFT)
#define EXTERNAL_MAX_REGIONS 8191
/* Largest offset a kernel accepts for an input that may be external (region 8191's last byte). */
#define EXTERNAL_OFFSET_LIMIT (((int64_t)EXTERNAL_MAX_REGIONS + 1) * EXTERNAL_OFFSET_BASE - 1)

/*
 * The address of count float32 elements at off: inside the heap [heap, heap + len) or inside a live external region.
 * NULL when the range is outside both or misaligned.
 */
const float *external_or_heap(const uint8_t *heap, size_t len, int64_t off, int64_t count);

/* mapFile(path) -> { region, buffer, bytes }: the whole file mapped read-only; munmapped when buffer is collected. */
napi_value external_map_file(napi_env env, napi_callback_info info);
/* allocRegion(bytes) -> { region, buffer, bytes }: zeroed anonymous memory outside the heap, same lifetime rule. */
napi_value external_alloc_region(napi_env env, napi_callback_info info);
/* externalRegions() -> number of live regions (for leak tests). */
napi_value external_regions(napi_env env, napi_callback_info info);

#endif
