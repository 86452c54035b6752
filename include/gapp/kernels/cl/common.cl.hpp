// gapp/kernels/cl/common.cl.hpp — OpenCL C shared by every gapp kernel: vector types
// along N, guarded edge loads/stores and the fused epilogue. Real OpenCL C in a raw string.
#pragma once

namespace gapp::kernels::cl_source {

inline constexpr const char* common = R"GAPPCL(
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

/* The parameters of gapp_gemm, the same for both families (see kernels::gemm_args()). */
#define GAPP_GEMM_PARAMS                                                                    \
  const int M, const int N, const int K, __global const float* restrict X,                  \
      __global float* restrict Y, __global const float* restrict Wv,                        \
      __global const int* restrict I0, __global const int* restrict I1,                     \
      __global const int* restrict I2, __global const int* restrict I3,                     \
      __global const uchar* restrict IB, __global const int* restrict rowmap,               \
      __global const int* restrict kmap, __global const float* restrict bias, const int count

/* X row of GEMM index k: through the channel map (compacted K), else clamped to K-1 so
   that zero-padded weights past K read a valid row (and add 0). */
#if GAPP_KMAP
#define GAPP_XROW(k) kmap[(k)]
#else
#define GAPP_XROW(k) min((k), K - 1)
#endif
)GAPPCL";

/// Writes act(bias[row]) (or act(0)) into whole rows of Y: the output of pruned filters.
inline constexpr const char* fill_rows = R"GAPPCL(
__kernel void gapp_fill_rows(const int count, const int N, __global const int* restrict rows,
                             __global float* restrict Y, __global const float* restrict bias) {
  const int n = get_global_id(0), i = get_global_id(1);
  if (i >= count || n >= N) return;
  const int row = rows[i];
  Y[(size_t)row * N + n] = GAPP_ACT1(GAPP_BIAS_OF(row));
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
