// gapp/kernels/cl/conv.cl.hpp — the layers around the GEMMs of a CNN. Activations on the
// device are CNHW (channel, batch, row, column): a GEMM's output Y[C_out × (B·OH·OW)] is
// then directly the next layer's input.
#pragma once

namespace gapp::kernels::cl_source {

inline constexpr const char* conv_layers = R"GAPPCL(
/* im2col: col[k][n], k = (c·KH + r)·KW + s (gapp's OIHW ↔ GEMM order), n = (b·OH + oy)·OW + ox.
   One work-item writes one output row (all OW pixels of one (k, b, oy)): contiguous stores,
   and contiguous loads for stride 1. Stride 2 takes the even lanes of 16-float loads into
   8-float stores, as the row max-pool does (element by element, each work-item's loop
   becomes gathers: 2.28–2.34× the time on ResNet's 7×7/2 stem, AMD EPYC); the stride-1 loop
   stays element by element (8-float loads and stores took 1.1× its time on 224-wide rows). */
__kernel void gapp_im2col(const int C, const int B, const int H, const int W, const int KH, const int KW,
                          const int stride, const int pad, const int OH, const int OW,
                          __global const float* restrict in, __global float* restrict col) {
  const int row = get_global_id(0), k = get_global_id(1); /* row = b·OH + oy */
  if (row >= B * OH || k >= C * KH * KW) return;
  const int s = k % KW, r = (k / KW) % KH, c = k / (KH * KW);
  const int oy = row % OH, b = row / OH;
  const int y = oy * stride - pad + r;
  __global float* out = col + (size_t)k * B * OH * OW + (size_t)row * OW;
  if (y < 0 || y >= H) {
    for (int ox = 0; ox < OW; ++ox) out[ox] = 0.0f;
    return;
  }
  __global const float* ip = in + (((size_t)c * B + b) * H + y) * W;
  /* ox range whose input column x = ox·stride − pad + s lies inside [0, W) */
  const int x0 = s - pad;
  const int lo = x0 >= 0 ? 0 : min(OW, (-x0 + stride - 1) / stride);
  /* none where even the first lies past the row (x0 ≥ W: an image narrower than the kernel's
     reach, e.g. 1 × 1 under a 3 × 3 kernel with padding 1; the quotient cannot say so where
     stride > 1: C's division truncates toward 0) */
  const int hi = x0 >= W ? lo : max(lo, min(OW, (W - 1 - x0) / stride + 1));
  for (int ox = 0; ox < lo; ++ox) out[ox] = 0.0f;
  if (stride == 1) {
    for (int ox = lo; ox < hi; ++ox) out[ox] = ip[ox + x0];
  } else {
    int ox = lo;
    /* the 16-float load stays inside the input row: 2·ox + x0 + 16 ≤ W */
    if (stride == 2)
      for (; ox + 8 <= hi && 2 * ox + x0 + 16 <= W; ox += 8) vstore8(vload16(0, ip + 2 * ox + x0).even, 0, out + ox);
    for (; ox < hi; ++ox) out[ox] = ip[ox * stride + x0];
  }
  for (int ox = hi; ox < OW; ++ox) out[ox] = 0.0f;
}

/* 2x2 max-pool, stride 2 (floor): CNHW -> CNHW, each side plain (pad 0) or in the padded
   layout (pad 1: a one-pixel border around each image, which is neither read nor written). */
__kernel void gapp_maxpool2(const int CB, const int H, const int W, const int OH, const int OW, const int IPAD,
                            const int OPAD, __global const float* restrict in, __global float* restrict out) {
  const int p = get_global_id(0), cb = get_global_id(1);
  if (p >= OH * OW || cb >= CB) return;
  const int oy = p / OW, ox = p % OW;
  const int IP = W + 2 * IPAD, OP = OW + 2 * OPAD; /* row pitches */
  __global const float* i0 = in + ((size_t)cb * (H + 2 * IPAD) + 2 * oy + IPAD) * IP + 2 * ox + IPAD;
  out[((size_t)cb * (OH + 2 * OPAD) + oy + OPAD) * OP + ox + OPAD] = fmax(fmax(i0[0], i0[1]), fmax(i0[IP], i0[IP + 1]));
}

/* The same pool, one work-item per output row (of one image of one channel): a CPU device
   walks the row with contiguous 16-float loads and 8-float stores (a work-item per output
   made it gather every other float: 3.7 ms for pool1 of a batch-100 32x32 network that a
   copy-bound pass does in a fraction of that). Global size (OH, CB). */
__kernel void gapp_maxpool2_rows(const int CB, const int H, const int W, const int OH, const int OW, const int IPAD,
                                 const int OPAD, __global const float* restrict in, __global float* restrict out) {
  const int oy = get_global_id(0), cb = get_global_id(1);
  if (oy >= OH || cb >= CB) return;
  const int IP = W + 2 * IPAD, OP = OW + 2 * OPAD;
  __global const float* r0 = in + ((size_t)cb * (H + 2 * IPAD) + 2 * oy + IPAD) * IP + IPAD;
  __global const float* r1 = r0 + IP;
  __global float* o = out + ((size_t)cb * (OH + 2 * OPAD) + oy + OPAD) * OP + OPAD;
  int ox = 0;
  for (; ox + 8 <= OW; ox += 8) {
    const float16 a = vload16(0, r0 + 2 * ox), b = vload16(0, r1 + 2 * ox);
    vstore8(fmax(fmax(a.even, a.odd), fmax(b.even, b.odd)), 0, o + ox);
  }
  for (; ox < OW; ++ox)
    o[ox] = fmax(fmax(r0[2 * ox], r0[2 * ox + 1]), fmax(r1[2 * ox], r1[2 * ox + 1]));
}

/* CNHW between the plain and the padded layout: the interior of each of CB images of H x W
   is copied; a padded output's border is not written. */
__kernel void gapp_repad(const int CB, const int H, const int W, const int IPAD, const int OPAD,
                         __global const float* restrict in, __global float* restrict out) {
  const int p = get_global_id(0), cb = get_global_id(1);
  if (p >= H * W || cb >= CB) return;
  const int y = p / W, x = p % W;
  out[((size_t)cb * (H + 2 * OPAD) + y + OPAD) * (W + 2 * OPAD) + x + OPAD] =
      in[((size_t)cb * (H + 2 * IPAD) + y + IPAD) * (W + 2 * IPAD) + x + IPAD];
}

/* CNHW -> the FC input matrix X[(c·HW + s) × B], i.e. PyTorch's per-sample flatten. */
__kernel void gapp_flatten(const int C, const int B, const int HW, __global const float* restrict in,
                           __global float* restrict out) {
  const int f = get_global_id(0), b = get_global_id(1);
  if (f >= C * HW || b >= B) return;
  const int c = f / HW, s = f % HW;
  out[(size_t)f * B + b] = in[((size_t)c * B + b) * HW + s];
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
