// gapp/kernels/cl/csr_gemm.cl.hpp — the element-wise (CSR) kernel: the unstructured
// baseline, one family for every device.
#pragma once

namespace gapp::kernels::cl_source {

/// Element-wise baseline: one output row per work-item, RN columns as NV vectors, walking
/// the row's CSR entries. Work-group WX × WY as the policy's, so it runs on every device
/// the policy does.
inline constexpr const char* csr_gemm = R"GAPPCL(
#define GAPP_NV (GAPP_RN / GAPP_VW)
__kernel __attribute__((reqd_work_group_size(GAPP_TN / GAPP_RN, GAPP_TM / GAPP_RM, 1)))
void gapp_csr(GAPP_CSR_PARAMS) {
  const int m = get_global_id(1);
  const int n0 = get_global_id(0) * GAPP_RN;
  if (m >= M || n0 >= N) return;
  const int full = n0 + GAPP_RN <= N;
  floatV acc[GAPP_NV];
  for (int j = 0; j < GAPP_NV; ++j) acc[j] = (floatV)(0.0f);
  const int p1 = row_ptr[m + 1];
  for (int p = row_ptr[m]; p < p1; ++p) {
    const floatV a = (floatV)(values[p]);
    __global const float* xr = X + (size_t)col_idx[p] * N + n0;
    if (full)
      for (int j = 0; j < GAPP_NV; ++j) acc[j] = fma(a, GAPP_VLOAD(xr + j * GAPP_VW), acc[j]);
    else
      for (int j = 0; j < GAPP_NV; ++j) acc[j] = fma(a, gapp_load_part(xr + j * GAPP_VW, N - n0 - j * GAPP_VW), acc[j]);
  }
  const floatV b = (floatV)(GAPP_BIAS_OF(m));
  __global float* yr = Y + (size_t)m * N + n0;
  for (int j = 0; j < GAPP_NV; ++j) {
    const floatV v = GAPP_ACT(acc[j] + b);
    if (full) GAPP_VSTORE(v, yr + j * GAPP_VW);
    else gapp_store_part(v, yr + j * GAPP_VW, N - n0 - j * GAPP_VW);
  }
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
