// gapp/kernels/cl/common.cl.hpp — OpenCL C shared by every gapp kernel: vector types
// along N, guarded edge loads/stores and the fused epilogue. Real OpenCL C in a raw string.
#pragma once

namespace gapp::kernels::cl_source {

inline constexpr const char* common = R"GAPPCL(
/* Defaults for every GAPP_* parameter (the generated preamble defines them all), so that
   the text also compiles on its own. */
#ifndef GAPP_WALK_DENSE
#define GAPP_WALK_DENSE 0
#endif
#ifndef GAPP_WALK_TILE
#define GAPP_WALK_TILE 1
#endif
#ifndef GAPP_WALK_SIMD
#define GAPP_WALK_SIMD 2
#endif
#ifndef GAPP_WALK_MULTI
#define GAPP_WALK_MULTI 3
#endif
#ifndef GAPP_WALK_NM
#define GAPP_WALK_NM 4
#endif
#ifndef GAPP_WALK_CSR
#define GAPP_WALK_CSR 5
#endif
#ifndef GAPP_MODE
#define GAPP_MODE GAPP_WALK_DENSE
#endif
#ifndef GAPP_TM
#define GAPP_TM 64
#endif
#ifndef GAPP_TN
#define GAPP_TN 64
#endif
#ifndef GAPP_TK
#define GAPP_TK 16
#endif
#ifndef GAPP_RM
#define GAPP_RM 4
#endif
#ifndef GAPP_RN
#define GAPP_RN 4
#endif
#ifndef GAPP_KV
#define GAPP_KV 1
#endif
#ifndef GAPP_UR
#define GAPP_UR GAPP_RM
#endif
#ifndef GAPP_NM_N
#define GAPP_NM_N 0
#endif
#ifndef GAPP_NM_M
#define GAPP_NM_M 0
#endif
#ifndef GAPP_VW
#define GAPP_VW 1
#endif
#ifndef GAPP_BIAS
#define GAPP_BIAS 0
#endif
#ifndef GAPP_RELU
#define GAPP_RELU 0
#endif
#ifndef GAPP_ROWMAP
#define GAPP_ROWMAP 0
#endif
#ifndef GAPP_KMAP
#define GAPP_KMAP 0
#endif
#ifndef GAPP_FIXED
#define GAPP_FIXED 0
#endif
#ifndef GAPP_IMPLICIT
#define GAPP_IMPLICIT 0 /* 1: X is a CNHW activation tensor, read as its im2col matrix; 2: the same with
                           a zero border around each image (padded layout, direct family) */
#endif
#ifndef GAPP_KH
#define GAPP_KH 1
#endif
#ifndef GAPP_KW
#define GAPP_KW 1
#endif

#define GAPP_CAT_(a, b) a##b
#define GAPP_CAT(a, b) GAPP_CAT_(a, b)

#if GAPP_VW == 1
typedef float floatV;
#define GAPP_VLOAD(p) (*(p))
#define GAPP_VSTORE(v, p) (*(p) = (v))
#else
typedef GAPP_CAT(float, GAPP_VW) floatV;
#define GAPP_VLOAD(p) GAPP_CAT(vload, GAPP_VW)(0, (p))
#define GAPP_VSTORE(v, p) GAPP_CAT(vstore, GAPP_VW)((v), 0, (p))
#endif
/* Aligned forms: only where N is a multiple of GAPP_VW (rows start on vector boundaries). */
#if GAPP_VW == 1
#define GAPP_VLOAD_A(p) (*(p))
#define GAPP_VSTORE_A(v, p) (*(p) = (v))
#else
#define GAPP_VLOAD_A(p) (*(__global const floatV*)(p))
#define GAPP_VSTORE_A(v, p) (*(__global floatV*)(p) = (v))
#endif

/* The first `avail` lanes of p (fewer than GAPP_VW at the right edge of N); others 0. */
inline floatV gapp_load_part(__global const float* p, const int avail) {
#if GAPP_VW == 1
  return avail > 0 ? p[0] : 0.0f;
#else
  float t[GAPP_VW];
  for (int l = 0; l < GAPP_VW; ++l) t[l] = l < avail ? p[l] : 0.0f;
  return GAPP_CAT(vload, GAPP_VW)(0, t);
#endif
}

inline void gapp_store_part(const floatV v, __global float* p, const int avail) {
#if GAPP_VW == 1
  if (avail > 0) p[0] = v;
#else
  float t[GAPP_VW];
  GAPP_CAT(vstore, GAPP_VW)(v, 0, t);
  for (int l = 0; l < GAPP_VW; ++l)
    if (l < avail) p[l] = t[l];
#endif
}

/* Lanes first..GAPP_VW-1 of v to p (a register tile moved left at the edge of N). */
inline void gapp_store_from(const floatV v, __global float* p, const int first) {
#if GAPP_VW == 1
  if (first <= 0) p[0] = v;
#else
  if (first <= 0) {
    GAPP_CAT(vstore, GAPP_VW)(v, 0, p);
  } else if (first < GAPP_VW) {
    float t[GAPP_VW];
    GAPP_CAT(vstore, GAPP_VW)(v, 0, t);
    for (int l = first; l < GAPP_VW; ++l) p[l] = t[l];
  }
#endif
}

/* Fused epilogue: bias of output row `row`, then ReLU. */
#if GAPP_BIAS
#define GAPP_BIAS_OF(row) bias[row]
#else
#define GAPP_BIAS_OF(row) 0.0f
#endif
#if GAPP_RELU
#define GAPP_ACT(v) fmax((v), (floatV)(0.0f))
#define GAPP_ACT1(v) fmax((v), 0.0f)
#else
#define GAPP_ACT(v) (v)
#define GAPP_ACT1(v) (v)
#endif

/* X row of GEMM index k: through the channel map (compacted K), else clamped to K-1 so
   that zero-padded weights past K read a valid row (and add 0). */
inline int gapp_xrow(const int k, const int K, __global const int* restrict kmap) {
#if GAPP_KMAP
  return kmap[k];
#else
  return min(k, K - 1);
#endif
}
#define GAPP_XROW(k) gapp_xrow((k), K, kmap)

/* The entries [x, y) of list i (the kept tiles of a tile row, the kept units of a
   row-block): `count` each when every list keeps the same (balanced, no pointer reads),
   else from the pointer array. Both families read their lists' bounds here. */
inline int2 gapp_list(__global const int* restrict ptr, const int i, const int count) {
#if GAPP_FIXED
  return (int2)(i * count, i * count + count);
#else
  return (int2)(ptr[i], ptr[i + 1]);
#endif
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
