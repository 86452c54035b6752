// gapp/kernels/cl/direct_gemm.cl.hpp — the `direct` family: no local memory, no barriers.
//
// A work-item computes an RM × RN register tile, RN = NV vectors of GAPP_VW floats along N,
// and walks K reading W and X straight from global memory (caches do the blocking). The
// walk over W depends on GAPP_MODE; the kept units come from packed lists, never from
// per-unit flags.
#pragma once

namespace gapp::kernels::cl_source {

inline constexpr const char* direct_gemm = R"GAPPCL(
#define GAPP_NV (GAPP_RN / GAPP_VW)
#define GAPP_WX (GAPP_TN / GAPP_RN)
#define GAPP_WY (GAPP_TM / GAPP_RM)
/* Software prefetch of the X rows of a unit GAPP_PD units ahead (and of the next kept
   tile): kept units make X rows irregular, which CPU hardware prefetchers do not follow.
   Into L2 (locality 2), which holds more misses in flight than L1: the rows of 8 units are
   up to 64 lines. Only where the compiler takes __builtin_prefetch on a global pointer
   (PoCL's CPU devices; the runtime defines GAPP_SOFTWARE_PREFETCH there); elsewhere it
   compiles to nothing. */
#if defined(GAPP_SOFTWARE_PREFETCH) && GAPP_RN * 4 > 64
#define GAPP_PREFETCH_ROW(p) { __builtin_prefetch((p), 0, 2); __builtin_prefetch((p) + 16, 0, 2); }
#elif defined(GAPP_SOFTWARE_PREFETCH)
#define GAPP_PREFETCH_ROW(p) __builtin_prefetch((p), 0, 2)
#else
#define GAPP_PREFETCH_ROW(p) {}
#endif
#ifndef GAPP_PD
#define GAPP_PD 8
#endif
#ifndef GAPP_KLOOP
#define GAPP_KLOOP _Pragma("unroll 1")
#endif

/* X row k -> xv[0..NV) for this work-item's columns. FULL: 0 = some of the RN columns lie
   past N, 1 = all inside N, 2 = all inside and vector-aligned (N % VW == 0). */
#define GAPP_LOAD_X(k, FULL)                                                              \
  {                                                                                       \
    __global const float* xr_ = X + (size_t)GAPP_XROW(k) * N + n0;                        \
    _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j)                                    \
      xv[j] = (FULL) == 2 ? GAPP_VLOAD_A(xr_ + j * GAPP_VW)                                 \
            : (FULL) == 1 ? GAPP_VLOAD(xr_ + j * GAPP_VW)                                   \
                          : gapp_load_part(xr_ + j * GAPP_VW, N - n0 - j * GAPP_VW);         \
  }

/* acc[i][*] += w(i) * xv[*] for the RM rows. */
#define GAPP_RANK1(WEXPR)                                                                  \
  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {                                    \
    const floatV a_ = (floatV)(WEXPR);                                                     \
    _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) acc[i][j] = fma(a_, xv[j], acc[i][j]); \
  }

/* GAPP_WALK_RANGE(FULL, c0, c1) walks part [c0, c1) of the work: k in dense mode, kept
   blocks in tile mode. GAPP_KCHUNK (in k, a multiple of GAPP_TK) splits the walk into
   chunks with a work-group barrier between them, so that the work-items of a group share
   each chunk's X rows while they are in cache: on CPU devices, where they run one after
   another on a core, each work-item's pass over a long K otherwise evicts the X rows (and
   their TLB entries) before the next one reads them. */
#if GAPP_MODE == GAPP_WALK_DENSE /* dense: W in k-major panels of RM rows, padded to Mp x Kp */
#define GAPP_WALK_RANGE(FULL, c0, c1)                                                      \
  for (int k0 = (c0); k0 < (c1); k0 += GAPP_TK) {                                          \
    GAPP_KLOOP for (int kk = 0; kk < GAPP_TK; ++kk) {                               \
      floatV xv[GAPP_NV];                                                                  \
      GAPP_LOAD_X(k0 + kk, FULL);                                                          \
      GAPP_RANK1(wp[(size_t)(k0 + kk) * GAPP_RM + i]);                                     \
    }                                                                                      \
  }
#define GAPP_WALK(FULL) GAPP_WALK_RANGE(FULL, 0, Kp)
#elif GAPP_MODE == GAPP_WALK_TILE /* tile: kept TM x TK blocks of this tile row */
#define GAPP_WALK_RANGE(FULL, c0, c1)                                                      \
  for (int b = (c0); b < (c1); ++b) {                                                      \
    const int k0 = I1[b] * GAPP_TK;                                                        \
    const int kn_ = I1[b + 1 < b1 ? b + 1 : b] * GAPP_TK; /* the next kept block */        \
    __global const float* wb = Wv + (size_t)b * (GAPP_TM * GAPP_TK) + mt * GAPP_TK;        \
    GAPP_KLOOP for (int kk = 0; kk < GAPP_TK; ++kk) {                               \
      GAPP_PREFETCH_ROW(X + (size_t)GAPP_XROW(kn_ + kk) * N + n0);                         \
      floatV xv[GAPP_NV];                                                                  \
      GAPP_LOAD_X(k0 + kk, FULL);                                                          \
      GAPP_RANK1(wb[i * GAPP_TK + kk]);                                                    \
    }                                                                                      \
  }
#define GAPP_WALK(FULL) GAPP_WALK_RANGE(FULL, b0, b1)
#elif GAPP_MODE == GAPP_WALK_SIMD || GAPP_MODE == GAPP_WALK_MULTI /* simd / multi: kept UR x KV units, k-major values */
#define GAPP_UNITS(U0, U1, FULL)                                                           \
  for (int u = (U0); u < min((U0) + GAPP_PD, (U1)); ++u) { /* prologue: the first PD units */ \
    const int kp_ = I3[u];                                                                 \
    _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk)                                 \
      GAPP_PREFETCH_ROW(X + (size_t)GAPP_XROW(kp_ + kk) * N + n0);                         \
  }                                                                                        \
  for (int u = (U0); u < (U1); ++u) {                                                      \
    if (u + GAPP_PD < (U1)) {                                                              \
      const int kp_ = I3[u + GAPP_PD];                                                     \
      _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk)                               \
        GAPP_PREFETCH_ROW(X + (size_t)GAPP_XROW(kp_ + kk) * N + n0);                       \
    }                                                                                      \
    GAPP_UNIT(u, FULL)                                                                     \
  }
/* One kept unit: KV k-steps of UR rows. */
#define GAPP_UNIT(u, FULL)                                                                 \
  {                                                                                        \
    const int k0 = I3[u];                                                                  \
    __global const float* wu = Wv + (size_t)u * (GAPP_KV * GAPP_UR) + roff;                \
    _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk) {                               \
      floatV xv[GAPP_NV];                                                                  \
      GAPP_LOAD_X(k0 + kk, FULL);                                                          \
      GAPP_RANK1(wu[kk * GAPP_UR + i]);                                                    \
    }                                                                                      \
  }
#if GAPP_MODE == GAPP_WALK_SIMD
#define GAPP_WALK(FULL) GAPP_UNITS(u0, u1, FULL)
#else
/* Multi-level: the units of this row-block inside each kept tile. A kept tile holds only a
   few units per row-block, too few for a prefetch that runs ahead inside the tile, so the
   walk prefetches the next kept tile's TK rows instead: the work-group's row-blocks
   together read most of them. Only the first row-block does, which on CPU devices runs
   first; the others find the rows in cache. */
#define GAPP_WALK(FULL)                                                                    \
  for (int t = b0; t < b1; ++t) {                                                          \
    const int s = t * (GAPP_TM / GAPP_UR) + rblk;                                          \
    if (rblk == 0) {                                                                       \
      const int kn_ = I1[t + 1 < b1 ? t + 1 : t] * GAPP_TK;                                \
      _Pragma("unroll") for (int kk = 0; kk < GAPP_TK; ++kk)                               \
        GAPP_PREFETCH_ROW(X + (size_t)GAPP_XROW(kn_ + kk) * N + n0);                       \
    }                                                                                      \
    for (int u = I2[s]; u < I2[s + 1]; ++u) GAPP_UNIT(u, FULL)                             \
  }
#endif
#elif GAPP_MODE == GAPP_WALK_NM /* N:M: per row, NM_N (value, offset) slots in each group of NM_M */
#define GAPP_WALK(FULL)                                                                    \
  for (int g = 0; g < G; ++g) {                                                            \
    _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {                                  \
      _Pragma("unroll") for (int s = 0; s < GAPP_NM_N; ++s) {                              \
        const size_t slot = ((size_t)(m0 + i) * G + g) * GAPP_NM_N + s;                    \
        floatV xv[GAPP_NV];                                                                \
        GAPP_LOAD_X(g * GAPP_NM_M + (int)IB[slot], FULL);                                  \
        const floatV a_ = (floatV)(Wv[slot]);                                              \
        _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) acc[i][j] = fma(a_, xv[j], acc[i][j]); \
      }                                                                                    \
    }                                                                                      \
  }
#endif

__kernel __attribute__((reqd_work_group_size(GAPP_WX, GAPP_WY, 1)))
void gapp_gemm(GAPP_GEMM_PARAMS) {
  const int tx = get_local_id(0), ty = get_local_id(1);
  const int tr = get_group_id(1);                 /* tile row */
  const int mt = ty * GAPP_RM;                    /* first row inside the tile */
  const int m0 = tr * GAPP_TM + mt;               /* first output row */
  /* A register tile that would cross the right edge of N moves left to end at N (when N
     holds a whole one): it recomputes `lo` columns of its neighbour, which it does not
     store, and keeps the vector loads instead of the guarded per-lane path. */
  const int nt = get_group_id(0) * GAPP_TN + tx * GAPP_RN;
  const int n0 = nt + GAPP_RN > N && N >= GAPP_RN ? N - GAPP_RN : nt;
  const int lo = nt - n0;
  floatV acc[GAPP_RM][GAPP_NV];
  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i)
    _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) acc[i][j] = (floatV)(0.0f);

#if GAPP_MODE == GAPP_WALK_DENSE
  const int Kp = ((K + GAPP_TK - 1) / GAPP_TK) * GAPP_TK;
  __global const float* wp = Wv + (size_t)(m0 / GAPP_RM) * Kp * GAPP_RM;
#elif GAPP_MODE == GAPP_WALK_TILE || GAPP_MODE == GAPP_WALK_MULTI
#if GAPP_FIXED
  const int b0 = tr * count, b1 = b0 + count;
#else
  const int b0 = I0[tr], b1 = I0[tr + 1];
#endif
#endif
#if GAPP_MODE == GAPP_WALK_SIMD || GAPP_MODE == GAPP_WALK_MULTI
  const int rblk = mt / GAPP_UR, roff = m0 % GAPP_UR;
#endif
#if GAPP_MODE == GAPP_WALK_SIMD
  const int rb = m0 / GAPP_UR, nrb = (M + GAPP_UR - 1) / GAPP_UR;
  int u0 = 0, u1 = 0;
  if (rb < nrb) {
#if GAPP_FIXED
    u0 = rb * count; u1 = u0 + count;
#else
    u0 = I0[rb]; u1 = I0[rb + 1];
#endif
  }
#endif
#if GAPP_MODE == GAPP_WALK_NM
  const int G = (K + GAPP_NM_M - 1) / GAPP_NM_M;
#endif

  const int full = n0 + GAPP_RN <= N, aligned = full && N % GAPP_VW == 0;
  const int active = m0 < M && nt < N; /* not a work-item wholly past M or N */
/* The walk compiled for each edge case of this work-item's columns. */
#define GAPP_BY_EDGE(WALK) { if (aligned) { WALK(2) } else if (full) { WALK(1) } else { WALK(0) } }
#if defined(GAPP_KCHUNK) && (GAPP_MODE == GAPP_WALK_DENSE || GAPP_MODE == GAPP_WALK_TILE)
#if GAPP_MODE == GAPP_WALK_DENSE
  const int c_begin = 0, c_end = Kp, c_step = GAPP_KCHUNK;
#else
  const int c_begin = b0, c_end = b1, c_step = GAPP_KCHUNK / GAPP_TK;
#endif
#define GAPP_WALK_CHUNK(FULL) GAPP_WALK_RANGE(FULL, c0, c1)
  for (int c0 = c_begin; c0 < c_end; c0 += c_step) { /* the same trip count in the group */
    const int c1 = min(c_end, c0 + c_step);
    if (active) GAPP_BY_EDGE(GAPP_WALK_CHUNK)
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#else
  if (active) GAPP_BY_EDGE(GAPP_WALK)
#endif
  if (!active) return;

  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {
    const int m = m0 + i;
    if (m >= M) break;
#if GAPP_ROWMAP
    const int row = rowmap[m];
#else
    const int row = m;
#endif
    const floatV b = (floatV)(GAPP_BIAS_OF(row));
    __global float* yr = Y + (size_t)row * N + n0;
    _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) {
      const floatV v = GAPP_ACT(acc[i][j] + b);
      if (lo > 0) gapp_store_from(v, yr + j * GAPP_VW, lo - j * GAPP_VW);
      else if (aligned) GAPP_VSTORE_A(v, yr + j * GAPP_VW);
      else if (full) GAPP_VSTORE(v, yr + j * GAPP_VW);
      else gapp_store_part(v, yr + j * GAPP_VW, N - n0 - j * GAPP_VW);
    }
  }
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
