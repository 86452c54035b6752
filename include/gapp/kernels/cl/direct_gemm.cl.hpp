// gapp/kernels/cl/direct_gemm.cl.hpp — the `direct` family: no local memory, no barriers.
//
// A work-item computes an RM × RN register tile, RN = NV vectors of GAPP_VW floats along N,
// and walks K reading W and X straight from global memory (caches do the blocking). The
// walk over W is chosen by GAPP_MODE (one of the named GAPP_WALK_* modes); the kept units
// come from packed lists, never from per-unit flags (multi-level masks arrive as SIMD-unit
// lists: kernels::plan_gemm). Each walk is a small inline function,
// called once per edge case of the work-item's columns with that case as a constant, so
// the compiler specialises each copy (vector loads where the columns are inside N).
//
// With GAPP_IMPLICIT the kernel is an implicit convolution: X is the layer's CNHW input and
// each im2col row is read as a shifted view of one input plane, the padding masked lane by
// lane (only in work-items whose windows reach past the image), so no column matrix is ever
// written or read. With GAPP_IMPLICIT 2 (padded) the input is stored with a zero border of
// one pixel around every image (C × B × (H+2) × (W+2)) and the kernel computes over the
// padded coordinates from the first interior pixel to the last: X row k is then the input
// plane shifted by a constant offset per k, read as a matrix row (no masks, no edge cases),
// and Y is written in the same padded layout for the next layer — the columns that fall on
// the border (the two wrap-around columns between image rows, the rows between images)
// are stored as 0, so the output's border stays zero.
#pragma once

namespace gapp::kernels::cl_source {

inline constexpr const char* direct_gemm = R"GAPPCL(
#define GAPP_NV (GAPP_RN / GAPP_VW)
#define GAPP_WX (GAPP_TN / GAPP_RN)
#define GAPP_WY (GAPP_TM / GAPP_RM)
#define GAPP_PADDED (GAPP_IMPLICIT == 2)
/* Software prefetch of the X rows of a unit GAPP_PD units ahead (and of the next kept
   tile): kept units make X rows irregular, which CPU hardware prefetchers do not follow.
   Into L2 (locality 2), which holds more misses in flight than L1: the rows of 8 units are
   up to 64 lines. Only where the compiler takes __builtin_prefetch on a global pointer
   (PoCL's CPU devices; the runtime defines GAPP_SOFTWARE_PREFETCH there); elsewhere it
   compiles to nothing. */
#ifndef GAPP_PD
#define GAPP_PD 8
#endif
/* Over padded activations the prefetch runs GAPP_PFN columns ahead along N instead: every
   work-group reads the same X rows (a row-block's kept units do not depend on the columns),
   each over its own TN columns, and the work-groups of a core take the columns in order, so
   the rows a work-item reads now at n0 + GAPP_PFN are the rows a work-group a few groups on
   reads, one or two new cache lines per row. A row-block's rows lie in up to C planes × KH
   image rows — far more streams than hardware prefetchers follow. Measured on VGG16-224
   (AMD EPYC, preset): SIMD units 0.75 whole pass 44.9 → 32.9 ms with 64 columns (32: 35.3,
   96: 39.2), dense 125.6 → 108.6 ms. */
#ifndef GAPP_PFN
#define GAPP_PFN 64
#endif
#ifndef GAPP_KLOOP
#define GAPP_KLOOP _Pragma("unroll 1")
#endif

/* The edge cases of a work-item's RN columns. */
#define GAPP_EDGE_PART 0    /* some columns lie past N (N < RN): see gapp_walk_args::nlast */
#define GAPP_EDGE_FULL 1    /* all inside N */
#define GAPP_EDGE_ALIGNED 2 /* all inside N and vector-aligned (N % VW == 0) */
#define GAPP_EDGE_INTERIOR 3 /* implicit convolution: every column's whole window inside its image */

#if GAPP_VW == 1
typedef int intV;
#define GAPP_AS_UINTV(v) as_uint(v)
#else
typedef GAPP_CAT(int, GAPP_VW) intV;
#define GAPP_AS_UINTV(v) GAPP_CAT(as_uint, GAPP_VW)(v)
#endif

/* What every walk reads: the operands, and where this work-item's tile lies. */
typedef struct {
  __global const float* restrict X;
  __global const float* restrict Wv;
  __global const int* restrict I1;
  __global const int* restrict I2;
  __global const int* restrict I3;
  __global const uchar* restrict IB;
  __global const int* restrict kmap;
  int N, K, n0;
  /* Where N < RN (a launch narrower than one register tile: the padded 4 × 4 images of a
     network's last stages at batch 1, a GEMM of 16 to 31 columns) and N ≥ VW: the offset
     N − VW − n0 of the last whole vector inside N. Vectors that would reach past N are read
     from there instead (whole-vector loads, the columns that repeat are not stored), which
     keeps such launches off the per-lane path: on AVX-512 (RN = 32) a padded 4 × 4 image
     (N = 22) otherwise reads every X value one lane at a time. −1: per-lane loads (N < VW,
     and the plain implicit convolution, which masks its edges itself). */
  int nlast;
#if GAPP_IMPLICIT == 1
  int IH, IW;
  intV yv[GAPP_NV], xv[GAPP_NV]; /* image row and column of each of this work-item's columns */
  int interior;                  /* every column's KH × KW window lies inside its image */
#endif
} gapp_walk_args;

#if GAPP_PADDED
/* Padded input: the X row of GEMM row k, over the padded columns from the first interior
   pixel (a->X already points there). im2col row r = (c·KH + i)·KW + j is the plane of
   channel c shifted by (i − PH) rows and (j − PW) columns; the launch's table (in place of
   the channel map, which it includes) holds that offset for every k, so a row costs one
   load, as a matrix row costs one multiply. */
static inline __attribute__((always_inline)) __global const float* gapp_padded_row(const gapp_walk_args* a, const int k) {
  return a->X + a->kmap[k];
}
#elif GAPP_IMPLICIT
/* Implicit convolution: X is the CNHW input, one plane of N = B·H·W values per channel.
   im2col row r = (c·KH + i)·KW + j reads, at column n = (b·H + y)·W + x, the input at
   (y + i − PH, x + j − PW): the plane of channel c shifted by off = (i − PH)·W + (j − PW),
   where that pixel lies inside the image (else 0, the padding). */
typedef struct {
  __global const float* plane;
  int off, dy, dx;
} gapp_shift;

static inline __attribute__((always_inline)) gapp_shift gapp_shift_of(const gapp_walk_args* a, const int k) {
  const int r = gapp_xrow(k, a->K, a->kmap);
  const int c = r / (GAPP_KH * GAPP_KW), t = r - c * (GAPP_KH * GAPP_KW);
  gapp_shift s;
  s.dy = t / GAPP_KW - (GAPP_KH - 1) / 2, s.dx = t % GAPP_KW - (GAPP_KW - 1) / 2;
  s.off = s.dy * a->IW + s.dx;
  s.plane = a->X + (size_t)c * a->N;
  return s;
}

/* Lanes of p[s .. s + VW) that lie inside [0, n); others 0 (the first and last rows of the
   plane, whose shifted vectors reach past it). */
static inline floatV gapp_load_range(__global const float* p, const int s, const int n) {
#if GAPP_VW == 1
  return s >= 0 && s < n ? p[s] : 0.0f;
#else
  float t[GAPP_VW];
  for (int l = 0; l < GAPP_VW; ++l) t[l] = s + l >= 0 && s + l < n ? p[s + l] : 0.0f;
  return GAPP_CAT(vload, GAPP_VW)(0, t);
#endif
}
#endif

/* Not with the plain implicit convolution: its X rows are shifted reads of a few input
   planes, which stay in cache and which hardware prefetchers follow; computing each row's
   address twice cost more than it saved (measured on the tile walk: 0.78x without this
   rule). The padded layout reads a row's address from its table, as cheap as a matrix row's:
   there it is kept, GAPP_PFN columns ahead, and the dense walk takes it too (see GAPP_PFN). */
static inline __attribute__((always_inline)) void gapp_prefetch_row(const gapp_walk_args* a, const int k) {
#if defined(GAPP_SOFTWARE_PREFETCH) && (!GAPP_IMPLICIT || GAPP_PADDED)
#if GAPP_PADDED
  __global const float* p = gapp_padded_row(a, k) + a->n0 + GAPP_PFN;
#else
  __global const float* p = a->X + (size_t)gapp_xrow(k, a->K, a->kmap) * a->N + a->n0;
#endif
  __builtin_prefetch(p, 0, 2);
#if GAPP_RN * 4 > 64
  __builtin_prefetch(p + 16, 0, 2);
#endif
#endif
}

/* X row k → xv[0..NV) for this work-item's columns. */
static inline __attribute__((always_inline)) void gapp_load_x(floatV* xv, const gapp_walk_args* a, const int k, const int edge) {
#if GAPP_PADDED
  __global const float* xr = gapp_padded_row(a, k) + a->n0;
  _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j)
    xv[j] = edge == GAPP_EDGE_FULL ? GAPP_VLOAD(xr + j * GAPP_VW)
          : a->nlast >= 0          ? GAPP_VLOAD(xr + min(j * GAPP_VW, a->nlast))
                                   : gapp_load_part(xr + j * GAPP_VW, a->N - a->n0 - j * GAPP_VW);
#elif GAPP_IMPLICIT
  const gapp_shift sh = gapp_shift_of(a, k);
  _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) {
    const int s = a->n0 + j * GAPP_VW + sh.off;
    if (edge == GAPP_EDGE_INTERIOR) { /* no padding in reach: the shifted plane as it is */
      xv[j] = GAPP_VLOAD(sh.plane + s);
      continue;
    }
    const floatV v = s >= 0 && s + GAPP_VW <= a->N ? GAPP_VLOAD(sh.plane + s) : gapp_load_range(sh.plane, s, a->N);
    const intV inside = (GAPP_AS_UINTV(a->yv[j] + sh.dy) < (uint)a->IH) & (GAPP_AS_UINTV(a->xv[j] + sh.dx) < (uint)a->IW);
    xv[j] = select((floatV)(0.0f), v, inside);
  }
#else
  __global const float* xr = a->X + (size_t)gapp_xrow(k, a->K, a->kmap) * a->N + a->n0;
  _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j)
    xv[j] = edge == GAPP_EDGE_ALIGNED ? GAPP_VLOAD_A(xr + j * GAPP_VW)
          : edge == GAPP_EDGE_FULL    ? GAPP_VLOAD(xr + j * GAPP_VW)
          : a->nlast >= 0             ? GAPP_VLOAD(xr + min(j * GAPP_VW, a->nlast))
                                      : gapp_load_part(xr + j * GAPP_VW, a->N - a->n0 - j * GAPP_VW);
#endif
}

/* acc[i][*] += w[i·stride] · xv[*] for the RM rows. */
static inline __attribute__((always_inline)) void gapp_rank1(floatV acc[GAPP_RM][GAPP_NV], const floatV* xv, __global const float* w, const int stride) {
  _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {
    const floatV a = (floatV)(w[i * stride]);
    _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) acc[i][j] = fma(a, xv[j], acc[i][j]);
  }
}

/* k steps [k0, k0 + TK) of the row k0 reads, with W at w (RM weights per k, stride `ws`
   between rows, `ks` between k steps). */
static inline __attribute__((always_inline)) void gapp_k_steps(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, const int k0, __global const float* w,
                         const int ks, const int ws, const int edge) {
  GAPP_KLOOP for (int kk = 0; kk < GAPP_TK; ++kk) {
#if GAPP_PADDED
    gapp_prefetch_row(a, k0 + kk); /* GAPP_PFN columns ahead: see gapp_prefetch_row */
#endif
    floatV xv[GAPP_NV];
    gapp_load_x(xv, a, k0 + kk, edge);
    gapp_rank1(acc, xv, w + kk * ks, ws);
  }
}

/* One kept SIMD unit u: KV k steps of UR rows, k-major values; this work-item's rows
   start `roff` rows into the unit. With `prefetch` (a constant), each k step first
   prefetches its own row GAPP_PFN columns ahead (the padded SIMD walk, below). */
static inline __attribute__((always_inline)) void gapp_unit(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, const int u, const int roff,
                      const int edge, const int prefetch) {
  const int k0 = a->I3[u];
  __global const float* wu = a->Wv + (size_t)u * (GAPP_KV * GAPP_UR) + roff;
  _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk) {
    if (prefetch) gapp_prefetch_row(a, k0 + kk);
    floatV xv[GAPP_NV];
    gapp_load_x(xv, a, k0 + kk, edge);
    gapp_rank1(acc, xv, wu + kk * GAPP_UR, 1);
  }
}

/* Dense: k in [c0, c1) over W in k-major panels of RM rows (wp: this work-item's panel). */
static inline __attribute__((always_inline)) void gapp_walk_dense(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, __global const float* wp,
                            const int c0, const int c1, const int edge) {
  for (int k0 = c0; k0 < c1; k0 += GAPP_TK) gapp_k_steps(acc, a, k0, wp + (size_t)k0 * GAPP_RM, GAPP_RM, 1, edge);
}

/* Tile: kept TM × TK blocks [c0, c1) of this tile row, whose list ends at b_end; prefetches
   the next kept block's X rows (over padded activations the block's own, GAPP_PFN columns
   ahead: VGG16-224 tile units 0.9, AMD EPYC, 22.8/19.4 → 17.6/17.8 ms in two interleaved
   pairs). `mt`: this work-item's first row inside the tile. */
static inline __attribute__((always_inline)) void gapp_walk_tiles(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, const int mt, const int c0,
                            const int c1, const int b_end, const int edge) {
  for (int b = c0; b < c1; ++b) {
    const int k0 = a->I1[b] * GAPP_TK;
#if GAPP_PADDED
    const int kn = k0; /* the rows it reads, GAPP_PFN columns ahead */
#else
    const int kn = a->I1[b + 1 < b_end ? b + 1 : b] * GAPP_TK;
#endif
    __global const float* wb = a->Wv + (size_t)b * (GAPP_TM * GAPP_TK) + mt * GAPP_TK;
    GAPP_KLOOP for (int kk = 0; kk < GAPP_TK; ++kk) {
      gapp_prefetch_row(a, kn + kk);
      floatV xv[GAPP_NV];
      gapp_load_x(xv, a, k0 + kk, edge);
      gapp_rank1(acc, xv, wb + kk, GAPP_TK);
    }
  }
}

/* SIMD units: the kept units [u0, u1) of this row-block, prefetching the X rows of the
   unit PD ahead. Over padded activations the rows to prefetch are the unit's own, GAPP_PFN
   columns ahead (see GAPP_PFN), so each k step prefetches its row as the dense walk does,
   with no prologue. The prologue's burst of PD × KV × 2 prefetches, which mostly miss, cost
   conv1_2 of VGG16-224 (AMD EPYC, device time, three processes, both builds interleaved in
   each) 1.27–1.47 → 1.15–1.33 ms at 0.9 and 2.73–3.07 → 2.55–2.83 ms at 0.75, conv2_2 at
   0.9 1.18–1.37 → 1.13–1.26 ms; conv3_x unchanged. */
static inline __attribute__((always_inline)) void gapp_walk_units(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, const int u0, const int u1,
                            const int roff, const int edge) {
#if GAPP_PADDED
  for (int u = u0; u < u1; ++u) gapp_unit(acc, a, u, roff, edge, 1);
#else
  for (int u = u0; u < min(u0 + GAPP_PD, u1); ++u) { /* prologue: the first PD units */
    _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk) gapp_prefetch_row(a, a->I3[u] + kk);
  }
  for (int u = u0; u < u1; ++u) {
    if (u + GAPP_PD < u1) {
      _Pragma("unroll") for (int kk = 0; kk < GAPP_KV; ++kk) gapp_prefetch_row(a, a->I3[u + GAPP_PD] + kk);
    }
    gapp_unit(acc, a, u, roff, edge, 0);
  }
#endif
}

#if GAPP_MODE == GAPP_WALK_NM
/* N:M: per row, NM_N (value, offset) slots in each of the G groups of NM_M along K. */
static inline __attribute__((always_inline)) void gapp_walk_nm(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, const int m0, const int edge) {
  const int G = (a->K + GAPP_NM_M - 1) / GAPP_NM_M;
  for (int g = 0; g < G; ++g) {
    _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {
      _Pragma("unroll") for (int s = 0; s < GAPP_NM_N; ++s) {
        const size_t slot = ((size_t)(m0 + i) * G + g) * GAPP_NM_N + s;
        floatV xv[GAPP_NV];
        gapp_load_x(xv, a, g * GAPP_NM_M + (int)a->IB[slot], edge);
        const floatV w = (floatV)(a->Wv[slot]);
        _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) acc[i][j] = fma(w, xv[j], acc[i][j]);
      }
    }
  }
}
#endif

/* Where this work-item's walk goes: the part [c0, c1) of its range (k for the dense walk,
   kept blocks for the tile walk; the other walks take their whole list). */
typedef struct {
  __global const float* wp; /* dense: this work-item's panel */
  int b0, b1;               /* tile: this tile row's kept tiles; simd: this row-block's units */
  int mt, m0, roff;
} gapp_walk_place;

static inline __attribute__((always_inline)) void gapp_walk(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, const gapp_walk_place* p, const int c0,
                      const int c1, const int edge) {
#if GAPP_MODE == GAPP_WALK_DENSE
  gapp_walk_dense(acc, a, p->wp, c0, c1, edge);
#elif GAPP_MODE == GAPP_WALK_TILE
  gapp_walk_tiles(acc, a, p->mt, c0, c1, p->b1, edge);
#elif GAPP_MODE == GAPP_WALK_SIMD
  gapp_walk_units(acc, a, p->b0, p->b1, p->roff, edge);
#elif GAPP_MODE == GAPP_WALK_NM
  gapp_walk_nm(acc, a, p->m0, edge);
#endif
}

/* The walk compiled once per edge case, each with its case as a constant. */
static inline __attribute__((always_inline)) void gapp_walk_by_edge(floatV acc[GAPP_RM][GAPP_NV], const gapp_walk_args* a, const gapp_walk_place* p,
                              const int c0, const int c1, const int aligned, const int full) {
#if GAPP_PADDED
  /* padded rows start anywhere: unaligned vector loads, guarded only past N */
  if (full) gapp_walk(acc, a, p, c0, c1, GAPP_EDGE_FULL);
  else gapp_walk(acc, a, p, c0, c1, GAPP_EDGE_PART);
  return;
#elif GAPP_IMPLICIT
  /* implicit convolution: work-items whose windows stay inside the image read the shifted
     plane as it is; the others mask the padding lane by lane */
  if (a->interior) gapp_walk(acc, a, p, c0, c1, GAPP_EDGE_INTERIOR);
  else gapp_walk(acc, a, p, c0, c1, GAPP_EDGE_PART);
  return;
#endif
  if (aligned) gapp_walk(acc, a, p, c0, c1, GAPP_EDGE_ALIGNED);
  else if (full) gapp_walk(acc, a, p, c0, c1, GAPP_EDGE_FULL);
  else gapp_walk(acc, a, p, c0, c1, GAPP_EDGE_PART);
}

__kernel __attribute__((reqd_work_group_size(GAPP_WX, GAPP_WY, 1)))
void gapp_gemm(GAPP_GEMM_PARAMS) {
  const int tx = get_local_id(0), ty = get_local_id(1);
  const int tr = get_group_id(1);                 /* tile row */
  const int mt = ty * GAPP_RM;                    /* first row inside the tile */
  const int m0 = tr * GAPP_TM + mt;               /* first output row */
  /* where the walk goes: the same for every column tile of this work-item's rows */
  gapp_walk_place p = {Wv, 0, 0, mt, m0, m0 % GAPP_UR};
  int c_begin = 0, c_end = 0;
#if GAPP_MODE == GAPP_WALK_DENSE
  const int Kp = ((K + GAPP_TK - 1) / GAPP_TK) * GAPP_TK;
  p.wp = Wv + (size_t)(m0 / GAPP_RM) * Kp * GAPP_RM;
  c_end = Kp;
#elif GAPP_MODE == GAPP_WALK_TILE
  const int2 kept = gapp_list(I0, tr, count);
  p.b0 = kept.x, p.b1 = kept.y;
  c_begin = kept.x, c_end = kept.y;
#elif GAPP_MODE == GAPP_WALK_SIMD
  const int rb = m0 / GAPP_UR;
  if (rb < (M + GAPP_UR - 1) / GAPP_UR) {
    const int2 units = gapp_list(I0, rb, count);
    p.b0 = units.x, p.b1 = units.y;
  }
#endif
  /* Column tiles: the launch may run fewer work-groups along N than there are TN-column
     tiles (grid_rule::column_tiles); each group then computes ceil(tiles / groups)
     consecutive tiles, one after the other. On CPU devices a work-group has a cost of its
     own (PoCL runs each as a call of the work-group function), which the sparse walks of
     layers with few rows and many columns pay once per tile: see gemm_op, which chooses. */
  const int n_tiles = (N + GAPP_TN - 1) / GAPP_TN, per = (n_tiles + (int)get_num_groups(0) - 1) / (int)get_num_groups(0);
  for (int t = (int)get_group_id(0) * per, t_end = min(n_tiles, t + per); t < t_end; ++t) {
    /* A register tile that would cross the right edge of N moves left to end at N (when N
       holds a whole one): it recomputes `lo` columns of its neighbour, which it does not
       store, and keeps the vector loads instead of the guarded per-lane path. */
    const int nt = t * GAPP_TN + tx * GAPP_RN;
    const int n0 = nt + GAPP_RN > N && N >= GAPP_RN ? N - GAPP_RN : nt;
    const int lo = nt - n0;
    /* N < RN (then n0 = 0): vectors past the last whole one inside N are read from there
       (gapp_walk_args::nlast) */
#if GAPP_IMPLICIT == 1
    const int nlast = -1;
#else
    const int nlast = n0 + GAPP_RN > N && N - n0 >= GAPP_VW ? N - GAPP_VW - n0 : -1;
#endif
    floatV acc[GAPP_RM][GAPP_NV];
    _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i)
      _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) acc[i][j] = (floatV)(0.0f);

#if GAPP_PADDED
    /* N: the padded columns from the first interior pixel (q0 = PW + 1) to the last */
    const int PW = IW + 2, q0 = PW + 1, PS = N + 2 * q0;
    const gapp_walk_args a = {X + q0, Wv, I1, I2, I3, IB, kmap, N, K, n0, nlast};
#elif GAPP_IMPLICIT
    gapp_walk_args a = {X, Wv, I1, I2, I3, IB, kmap, N, K, n0, nlast, IH, IW};
    {
      int lane[GAPP_VW];
      for (int l = 0; l < GAPP_VW; ++l) lane[l] = l;
#if GAPP_VW == 1
      const intV iota = 0;
#else
      const intV iota = GAPP_CAT(vload, GAPP_VW)(0, lane);
#endif
      _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) {
        const intV p = ((intV)(n0 + j * GAPP_VW) + iota) % (IH * IW);
        a.yv[j] = p / IW, a.xv[j] = p % IW;
      }
      const int p0 = n0 % (IH * IW), y0 = p0 / IW, x0 = p0 % IW;
      const int ph = (GAPP_KH - 1) / 2, pw = (GAPP_KW - 1) / 2;
#if GAPP_KH == 1 && GAPP_KW == 1
      a.interior = n0 + GAPP_RN <= N; /* a 1×1 window never reaches past its image */
#else
      a.interior = n0 + GAPP_RN <= N && x0 >= pw && x0 + GAPP_RN <= IW - pw && y0 >= ph && y0 < IH - ph;
#endif
    }
#else
    const gapp_walk_args a = {X, Wv, I1, I2, I3, IB, kmap, N, K, n0, nlast};
#endif

    const int full = n0 + GAPP_RN <= N, aligned = !GAPP_PADDED && full && N % GAPP_VW == 0;
    const int active = m0 < M && nt < N; /* not a work-item wholly past M or N */
#if defined(GAPP_KCHUNK) && (GAPP_MODE == GAPP_WALK_DENSE || GAPP_MODE == GAPP_WALK_TILE)
    /* K in chunks (GAPP_KCHUNK k, a multiple of TK) with a work-group barrier between them,
       so that the work-items of a group share each chunk's X rows while they are in cache:
       on CPU devices, where they run one after another on a core, each work-item's pass over
       a long K otherwise evicts the X rows (and their TLB entries) before the next one reads
       them. The same trip count in the whole group, and at least one: PoCL 3.1 crashes on a
       loop with a barrier that runs no iteration inside another loop (a tile row with no
       kept tile, under the loop over column tiles). */
    const int c_step = GAPP_MODE == GAPP_WALK_DENSE ? GAPP_KCHUNK : GAPP_KCHUNK / GAPP_TK;
    int c0 = c_begin;
    do {
      if (active) gapp_walk_by_edge(acc, &a, &p, c0, min(c_end, c0 + c_step), aligned, full);
      barrier(CLK_LOCAL_MEM_FENCE);
      c0 += c_step;
    } while (c0 < c_end);
#else
    if (active) gapp_walk_by_edge(acc, &a, &p, c_begin, c_end, aligned, full);
#endif
    if (!active) continue;

#if GAPP_PADDED
    /* which of this work-item's columns lie inside their image (the others are the output's
       border: stored as 0); one division, and where the columns lie inside one image row (most
       work-items) nothing more, else a walk along the columns */
    intV keep[GAPP_NV];
    const int PI = (IH + 2) * PW; /* one padded image */
    const int t0 = (q0 + n0) % PI, y0 = t0 / PW, x0 = t0 - y0 * PW;
    if (y0 >= 1 && y0 <= IH && x0 >= 1 && x0 + GAPP_RN <= IW + 1) {
      _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) keep[j] = (intV)(-1);
    } else {
      int kl[GAPP_RN];
      for (int j = 0; j < GAPP_NV; ++j) { /* a vector read from nlast holds the columns from there */
        const int tj = nlast >= 0 && j * GAPP_VW > nlast ? (t0 + nlast) % PI : (t0 + j * GAPP_VW) % PI;
        int y = tj / PW, x = tj - y * PW;
        for (int l = j * GAPP_VW; l < (j + 1) * GAPP_VW; ++l) {
          kl[l] = y >= 1 && y <= IH && x >= 1 && x <= IW ? -1 : 0;
          if (++x == PW) {
            x = 0;
            if (++y == IH + 2) y = 0;
          }
        }
      }
      _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) {
#if GAPP_VW == 1
        keep[j] = kl[j];
#else
        keep[j] = GAPP_CAT(vload, GAPP_VW)(0, kl + j * GAPP_VW);
#endif
      }
    }
    __global float* Yp = Y + q0;
    const int ys = PS;
#else
    __global float* Yp = Y;
    const int ys = N;
#endif
    _Pragma("unroll") for (int i = 0; i < GAPP_RM; ++i) {
      const int m = m0 + i;
      if (m >= M) break;
#if GAPP_ROWMAP
      const int row = rowmap[m];
#else
      const int row = m;
#endif
      const floatV b = (floatV)(GAPP_BIAS_OF(row));
      __global float* yr = Yp + (size_t)row * ys + n0;
      _Pragma("unroll") for (int j = 0; j < GAPP_NV; ++j) {
#if GAPP_PADDED
#if GAPP_VW == 1
        const floatV v = keep[j] ? GAPP_ACT(acc[i][j] + b) : 0.0f;
#else
        const floatV v = select((floatV)(0.0f), GAPP_ACT(acc[i][j] + b), keep[j]);
#endif
#else
        const floatV v = GAPP_ACT(acc[i][j] + b);
#endif
        if (lo > 0) gapp_store_from(v, yr + j * GAPP_VW, lo - j * GAPP_VW);
        else if (aligned) GAPP_VSTORE_A(v, yr + j * GAPP_VW);
        else if (full) GAPP_VSTORE(v, yr + j * GAPP_VW);
        else if (nlast >= 0 && j * GAPP_VW > nlast) gapp_store_from(v, yr + nlast, j * GAPP_VW - nlast); /* its new columns */
        else if (nlast >= 0) GAPP_VSTORE(v, yr + j * GAPP_VW);
        else gapp_store_part(v, yr + j * GAPP_VW, N - n0 - j * GAPP_VW);
      }
    }
  }
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
