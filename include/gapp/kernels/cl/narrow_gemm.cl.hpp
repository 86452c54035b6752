// gapp/kernels/cl/narrow_gemm.cl.hpp — the direct family's kernel for narrow X (N at most
// GAPP_NARROW_MAX columns: a fully connected layer at batch 1 to 4, a GEMV).
//
// The wide kernel's vectors run along N: at N = 1 one lane of every vector does useful
// work. Here a work-item computes RM rows × all N columns and its vectors run along the
// weights as they lie in memory — along the RM rows of a k step for the k-major layouts
// (dense panels, SIMD units), along K for the row-major tile blocks —
// so every weight is read once, with whole-vector loads, and the kernel streams W at the
// memory's speed. Same arguments, same packed arrays as gapp_gemm: a runtime binds the
// same buffers to both and picks one per launch by N.
#pragma once

namespace gapp::kernels::cl_source {

inline constexpr const char* narrow_gemm = R"GAPPCL(
#ifndef GAPP_NARROW_MAX
#define GAPP_NARROW_MAX 4
#endif
#define GAPP_WY (GAPP_TM / GAPP_RM)

/* floatR: the RM weights of one k step (k-major layouts). */
#if GAPP_RM == 1
typedef float floatR;
#define GAPP_RLOAD(p) (*(p))
#else
typedef GAPP_CAT(float, GAPP_RM) floatR;
#define GAPP_RLOAD(p) GAPP_CAT(vload, GAPP_RM)(0, (p))
#endif

/* floatK: KVW consecutive k of one row (the row-major tile blocks). */
#if GAPP_TK % 16 == 0
#define GAPP_KVW 16
#elif GAPP_TK % 8 == 0
#define GAPP_KVW 8
#elif GAPP_TK % 4 == 0
#define GAPP_KVW 4
#else
#define GAPP_KVW 1
#endif
#if GAPP_KVW == 1
typedef float floatK;
#define GAPP_KLOAD(p) (*(p))
#define GAPP_KSUM(v) (v)
#else
typedef GAPP_CAT(float, GAPP_KVW) floatK;
#define GAPP_KLOAD(p) GAPP_CAT(vload, GAPP_KVW)(0, (p))
#endif
#if GAPP_KVW == 16
#define GAPP_KSUM(v) gapp_sum4((v).lo.lo + (v).lo.hi + (v).hi.lo + (v).hi.hi)
#elif GAPP_KVW == 8
#define GAPP_KSUM(v) gapp_sum4((v).lo + (v).hi)
#elif GAPP_KVW == 4
#define GAPP_KSUM(v) gapp_sum4(v)
#endif
static inline float gapp_sum4(const float4 v) { return (v.x + v.y) + (v.z + v.w); }

/* acc[c] += w · X[k][c] for the NC columns (k-major layouts: w holds the RM rows of k). */
static inline __attribute__((always_inline)) void gapp_n_rank1(floatR* acc, const floatR w, __global const float* restrict X,
                                                               const int k, const int K, __global const int* restrict kmap,
                                                               const int N, const int nc) {
  __global const float* xr = X + (size_t)gapp_xrow(k, K, kmap) * N;
  _Pragma("unroll") for (int c = 0; c < nc; ++c) acc[c] = fma(w, (floatR)(xr[c]), acc[c]);
}

/* Dense: the work-item's k-major panel over [0, Kp), four k steps at a time into four
   accumulator sets (independent FMA chains). */
static inline __attribute__((always_inline)) void gapp_n_dense(floatR acc[4][GAPP_NARROW_MAX], __global const float* restrict wp,
                                                               __global const float* restrict X, const int K, const int Kp,
                                                               __global const int* restrict kmap, const int N, const int nc) {
  for (int k = 0; k < Kp; k += 4) {
    _Pragma("unroll") for (int j = 0; j < 4; ++j)
      gapp_n_rank1(acc[j], GAPP_RLOAD(wp + (size_t)(k + j) * GAPP_RM), X, k + j, K, kmap, N, nc);
  }
}

/* One kept unit (KV k steps of UR = RM rows, k-major), its k steps into the accumulator sets. */
static inline __attribute__((always_inline)) void gapp_n_unit(floatR acc[4][GAPP_NARROW_MAX], __global const float* restrict Wv,
                                                              __global const int* restrict I3, const int u,
                                                              __global const float* restrict X, const int K,
                                                              __global const int* restrict kmap, const int N, const int nc) {
  const int k0 = I3[u];
  __global const float* wu = Wv + (size_t)u * (GAPP_KV * GAPP_UR);
  _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk)
    gapp_n_rank1(acc[kk & 3], GAPP_RLOAD(wu + kk * GAPP_UR), X, k0 + kk, K, kmap, N, nc);
}

/* KVW values of X column c from row k (rows past K read as 0: their weights are padding). */
static inline __attribute__((always_inline)) floatK gapp_n_xk(__global const float* restrict X, const int k, const int K,
                                                              const int N, const int c) {
  if (N == 1 && k + GAPP_KVW <= K) return GAPP_KLOAD(X + k);
  float t[GAPP_KVW];
  for (int l = 0; l < GAPP_KVW; ++l) t[l] = k + l < K ? X[(size_t)(k + l) * N + c] : 0.0f;
#if GAPP_KVW == 1
  return t[0];
#else
  return GAPP_KLOAD(t);
#endif
}

/* Tile: the kept TM × TK blocks [b0, b1) of the tile row; the work-item's RM rows of a block
   are RM × TK values, row-major, read along K. acc[i][c]: row i, column c, KVW partial sums. */
static inline __attribute__((always_inline)) void gapp_n_tiles(floatK acc[GAPP_RM][GAPP_NARROW_MAX], __global const float* restrict Wv,
                                                               __global const int* restrict I1, const int b0, const int b1,
                                                               const int mt, __global const float* restrict X, const int K,
                                                               const int N, const int nc) {
  for (int b = b0; b < b1; ++b) {
    const int k0 = I1[b] * GAPP_TK;
    __global const float* wb = Wv + (size_t)b * (GAPP_TM * GAPP_TK) + mt * GAPP_TK;
    _Pragma("unroll") for (int kk = 0; kk < GAPP_TK; kk += GAPP_KVW) {
      floatK xk[GAPP_NARROW_MAX];
      _Pragma("unroll") for (int c = 0; c < nc; ++c) xk[c] = gapp_n_xk(X, k0 + kk, K, N, c);
      _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {
        const floatK w = GAPP_KLOAD(wb + i * GAPP_TK + kk);
        _Pragma("unroll") for (int c = 0; c < nc; ++c) acc[i][c] = fma(w, xk[c], acc[i][c]);
      }
    }
  }
}

/* Row i of the work-item (output row m0 + i, if inside M), column c: act(v + bias). */
static inline __attribute__((always_inline)) void gapp_n_store(__global float* restrict Y, const int m, const int M, const int N,
                                                               const int c, const float v,
                                                               __global const int* restrict rowmap,
                                                               __global const float* restrict bias) {
  if (m >= M) return;
#if GAPP_ROWMAP
  const int row = rowmap[m];
#else
  const int row = m;
#endif
  Y[(size_t)row * N + c] = GAPP_ACT1(v + GAPP_BIAS_OF(row));
}

/* The walk with its column count `nc` (= N) a constant. */
static inline __attribute__((always_inline)) void gapp_narrow(GAPP_GEMM_PARAMS, const int nc) {
  const int tr = get_group_id(1), mt = get_local_id(1) * GAPP_RM, m0 = tr * GAPP_TM + mt;
  if (m0 >= M) return;
#if GAPP_MODE == GAPP_WALK_TILE
  floatK acc[GAPP_RM][GAPP_NARROW_MAX];
  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i)
    _Pragma("unroll") for (int c = 0; c < GAPP_NARROW_MAX; ++c) acc[i][c] = (floatK)(0.0f);
  const int2 tiles = gapp_list(I0, tr, count);
  gapp_n_tiles(acc, Wv, I1, tiles.x, tiles.y, mt, X, K, N, nc);
  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i)
    _Pragma("unroll") for (int c = 0; c < nc; ++c) gapp_n_store(Y, m0 + i, M, N, c, GAPP_KSUM(acc[i][c]), rowmap, bias);
#else
  floatR acc[4][GAPP_NARROW_MAX];
  _Pragma("unroll") for (int j = 0; j < 4; ++j)
    _Pragma("unroll") for (int c = 0; c < GAPP_NARROW_MAX; ++c) acc[j][c] = (floatR)(0.0f);
#if GAPP_MODE == GAPP_WALK_DENSE
  const int Kp = ((K + GAPP_TK - 1) / GAPP_TK) * GAPP_TK;
  gapp_n_dense(acc, Wv + (size_t)(m0 / GAPP_RM) * Kp * GAPP_RM, X, K, Kp, kmap, N, nc);
#elif GAPP_MODE == GAPP_WALK_SIMD
  const int2 units = gapp_list(I0, m0 / GAPP_UR, count);
  for (int u = units.x; u < units.y; ++u) gapp_n_unit(acc, Wv, I3, u, X, K, kmap, N, nc);
#endif
  _Pragma("unroll") for (int c = 0; c < nc; ++c) {
    const floatR v = (acc[0][c] + acc[1][c]) + (acc[2][c] + acc[3][c]);
#if GAPP_RM == 1
    gapp_n_store(Y, m0, M, N, c, v, rowmap, bias);
#else
    float t[GAPP_RM];
    GAPP_CAT(vstore, GAPP_RM)(v, 0, t);
    _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) gapp_n_store(Y, m0 + i, M, N, c, t[i], rowmap, bias);
#endif
  }
#endif
}

__kernel __attribute__((reqd_work_group_size(1, GAPP_WY, 1)))
void gapp_gemm_narrow(GAPP_GEMM_PARAMS) {
  /* one copy of the walk per column count, each specialised for it */
  if (N == 1) gapp_narrow(M, N, K, X, Y, Wv, I0, I1, I2, I3, IB, rowmap, kmap, bias, count, IH, IW, 1);
#if GAPP_NARROW_MAX >= 2
  else if (N == 2) gapp_narrow(M, N, K, X, Y, Wv, I0, I1, I2, I3, IB, rowmap, kmap, bias, count, IH, IW, 2);
#endif
#if GAPP_NARROW_MAX >= 3
  else if (N == 3) gapp_narrow(M, N, K, X, Y, Wv, I0, I1, I2, I3, IB, rowmap, kmap, bias, count, IH, IW, 3);
#endif
#if GAPP_NARROW_MAX >= 4
  else if (N == 4) gapp_narrow(M, N, K, X, Y, Wv, I0, I1, I2, I3, IB, rowmap, kmap, bias, count, IH, IW, 4);
#endif
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
