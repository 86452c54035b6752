// gapp/policy/tiling.hpp — how a GEMM Y[M×N] = W[M×K]·X[K×N] is cut into work.
#pragma once

namespace gapp {

/// Where a work-group keeps its W and X slices while it walks K.
///  - local:  both slices are staged through local memory with barriers (GPUs).
///  - direct: no local memory, no barriers; each work-item reads W and X from global
///            memory through explicit vectors along N and the caches do the blocking
///            (CPU devices, and GPUs where it wins).
enum class staging { local, direct };

/// A tiling of the GEMM.
///
/// @tparam TM, TN  output tile of one work-group (rows of W, columns of X)
/// @tparam TK      K step of one work-group (the K extent of a staged W slice)
/// @tparam RM, RN  register tile of one work-item
/// @tparam KV      width along K of a SIMD unit (K values a lane group reads together)
/// @tparam Staging staging mode of the kernel family
template <int TM, int TN, int TK, int RM, int RN, int KV, staging Staging>
struct tiling {
  static constexpr int tm = TM;
  static constexpr int tn = TN;
  static constexpr int tk = TK;
  static constexpr int rm = RM;
  static constexpr int rn = RN;
  static constexpr int kv = KV;
  static constexpr staging mode = Staging;
};

} // namespace gapp
