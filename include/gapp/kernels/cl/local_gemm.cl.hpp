// gapp/kernels/cl/local_gemm.cl.hpp — the `local` family: W and X slices staged through
// local memory with barriers (the GPU classic).
//
// A work-group of WX × WY work-items owns a TM × TN output tile; work-item (tx, ty) holds
// rows ty·RM … ty·RM+RM−1 and the strided columns tx + j·WX (coalesced on GPUs). Every
// loop that contains a barrier has a trip count that is uniform over the work-group, and
// no work-item leaves early.
#pragma once

namespace gapp::kernels::cl_source {

inline constexpr const char* local_gemm = R"GAPPCL(
#define GAPP_WX (GAPP_TN / GAPP_RN)
#define GAPP_WY (GAPP_TM / GAPP_RM)
#define GAPP_WG (GAPP_WX * GAPP_WY)

/* Stage the TK x TN slice of X at k0 (zero past K and N). */
#define GAPP_STAGE_X(k0)                                                                   \
  for (int e = tid; e < GAPP_TK * GAPP_TN; e += GAPP_WG) {                                 \
    const int r_ = e / GAPP_TN, c_ = e - r_ * GAPP_TN;                                     \
    const int k_ = (k0) + r_, n_ = nb + c_;                                                \
    Xl[r_][c_] = (k_ < K && n_ < N) ? X[(size_t)GAPP_XROW(k_) * N + n_] : 0.0f;           \
  }

/* acc[i][j] += w(i) * Xl[kk][tx + j*WX] */
#define GAPP_RANK1(KK, WEXPR)                                                              \
  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {                                    \
    const float a_ = (WEXPR);                                                              \
    _Pragma("unroll") for (int j = 0; j < GAPP_RN; ++j)                                    \
      acc[i][j] = fma(a_, Xl[(KK)][tx + j * GAPP_WX], acc[i][j]);                          \
  }

#define GAPP_UNIT(u)                                                                       \
  {                                                                                        \
    const int kk0 = I3[(u)] - k0;                                                          \
    __global const float* wu = Wv + (size_t)(u) * (GAPP_KV * GAPP_UR) + roff;              \
    _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk) GAPP_RANK1(kk0 + kk, wu[kk * GAPP_UR + i]) \
  }

__kernel __attribute__((reqd_work_group_size(GAPP_WX, GAPP_WY, 1)))
void gapp_gemm(GAPP_GEMM_PARAMS) {
  __local float Xl[GAPP_TK][GAPP_TN];
#if GAPP_MODE == GAPP_WALK_DENSE || GAPP_MODE == GAPP_WALK_TILE
  __local float Wl[GAPP_TK][GAPP_TM];
#endif
  const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * GAPP_WX + tx;
  const int tr = get_group_id(1);
  const int mt = ty * GAPP_RM, m0 = tr * GAPP_TM + mt;
  const int nb = get_group_id(0) * GAPP_TN;
  float acc[GAPP_RM][GAPP_RN];
  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i)
    _Pragma("unroll") for (int j = 0; j < GAPP_RN; ++j) acc[i][j] = 0.0f;
  const int nkt = (K + GAPP_TK - 1) / GAPP_TK;

#if GAPP_MODE == GAPP_WALK_DENSE /* dense, W padded to Mp x Kp */
  const int Kp = nkt * GAPP_TK;
  for (int kt = 0; kt < nkt; ++kt) {
    const int k0 = kt * GAPP_TK;
    for (int e = tid; e < GAPP_TM * GAPP_TK; e += GAPP_WG) {
      const int r_ = e / GAPP_TK, c_ = e - r_ * GAPP_TK;
      Wl[c_][r_] = Wv[(size_t)(tr * GAPP_TM + r_) * Kp + k0 + c_];
    }
    GAPP_STAGE_X(k0)
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < GAPP_TK; ++kk) GAPP_RANK1(kk, Wl[kk][mt + i])
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#elif GAPP_MODE == GAPP_WALK_TILE /* tile: only the kept blocks of this tile row */
  const int2 tiles = gapp_list(I0, tr, count);
  const int b0 = tiles.x, b1 = tiles.y;
  for (int b = b0; b < b1; ++b) {
    const int k0 = I1[b] * GAPP_TK;
    for (int e = tid; e < GAPP_TM * GAPP_TK; e += GAPP_WG) {
      const int r_ = e / GAPP_TK, c_ = e - r_ * GAPP_TK;
      Wl[c_][r_] = Wv[(size_t)b * (GAPP_TM * GAPP_TK) + e];
    }
    GAPP_STAGE_X(k0)
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < GAPP_TK; ++kk) GAPP_RANK1(kk, Wl[kk][mt + i])
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#elif GAPP_MODE == GAPP_WALK_SIMD /* simd: stage every X slice; each row-block walks its kept units in it */
  const int rb = m0 / GAPP_UR, roff = m0 % GAPP_UR, nrb = (M + GAPP_UR - 1) / GAPP_UR;
  int p = 0, p1 = 0;
  if (rb < nrb) {
    const int2 units = gapp_list(I0, rb, count);
    p = units.x, p1 = units.y;
  }
  for (int kt = 0; kt < nkt; ++kt) {
    const int k0 = kt * GAPP_TK;
    GAPP_STAGE_X(k0)
    barrier(CLK_LOCAL_MEM_FENCE);
    for (; p < p1 && I3[p] < k0 + GAPP_TK; ++p) GAPP_UNIT(p)
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#elif GAPP_MODE == GAPP_WALK_MULTI /* multi: kept tiles only; inside each, this row-block's kept units */
  const int2 tiles = gapp_list(I0, tr, count);
  const int b0 = tiles.x, b1 = tiles.y;
  const int rblk = mt / GAPP_UR, roff = m0 % GAPP_UR;
  for (int t = b0; t < b1; ++t) {
    const int k0 = I1[t] * GAPP_TK;
    GAPP_STAGE_X(k0)
    barrier(CLK_LOCAL_MEM_FENCE);
    const int s = t * (GAPP_TM / GAPP_UR) + rblk;
    for (int u = I2[s]; u < I2[s + 1]; ++u) GAPP_UNIT(u)
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#elif GAPP_MODE == GAPP_WALK_NM /* N:M: groups of NM_M never straddle a TK slice (NM_M divides TK) */
  const int G = (K + GAPP_NM_M - 1) / GAPP_NM_M;
  for (int kt = 0; kt < nkt; ++kt) {
    const int k0 = kt * GAPP_TK;
    GAPP_STAGE_X(k0)
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int g = k0 / GAPP_NM_M; g < min(G, (k0 + GAPP_TK) / GAPP_NM_M); ++g)
      _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i)
        _Pragma("unroll") for (int s = 0; s < GAPP_NM_N; ++s) {
          const size_t slot = ((size_t)(m0 + i) * G + g) * GAPP_NM_N + s;
          const int kk = g * GAPP_NM_M + (int)IB[slot] - k0;
          const float a_ = Wv[slot];
          _Pragma("unroll") for (int j = 0; j < GAPP_RN; ++j)
            acc[i][j] = fma(a_, Xl[kk][tx + j * GAPP_WX], acc[i][j]);
        }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#endif

  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {
    const int m = m0 + i;
    if (m < M) {
#if GAPP_ROWMAP
      const int row = rowmap[m];
#else
      const int row = m;
#endif
      const float b = GAPP_BIAS_OF(row);
      _Pragma("unroll") for (int j = 0; j < GAPP_RN; ++j) {
        const int n = nb + tx + j * GAPP_WX;
        if (n < N) Y[(size_t)row * N + n] = GAPP_ACT1(acc[i][j] + b);
      }
    }
  }
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
