// gapp/kernels/cl/fill_rows.cl.hpp — act(bias) into whole rows of Y: the output of pruned
// filters (or of every row, when a channel-pruned W keeps nothing).
#pragma once

namespace gapp::kernels::cl_source {

/// Writes act(bias[row]) (or act(0)) into whole rows of Y: the output of pruned filters.
inline constexpr const char* fill_rows = R"GAPPCL(
__kernel void gapp_fill_rows(GAPP_FILL_PARAMS) {
  const int n = get_global_id(0), i = get_global_id(1);
  if (i >= count || n >= N) return;
  const int row = rows[i];
  Y[(size_t)row * N + n] = GAPP_ACT1(GAPP_BIAS_OF(row));
}
)GAPPCL";

} // namespace gapp::kernels::cl_source
