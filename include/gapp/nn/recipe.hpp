// gapp/nn/recipe.hpp — a layer pruned with a technique: prune (or take a fixed mask),
// pack, and build the matching GEMM operation; and global selection by technique.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "../opencl/gemm_op.hpp"
#include "../pack/pack.hpp"
#include "../prune/global.hpp"
#include "../prune/prune.hpp"
#include "../prune/technique.hpp"

namespace gapp::nn {

/// A GEMM layer pruned with a technique: its operation and its masked weights.
template <class P>
struct pruned_gemm {
  std::unique_ptr<opencl::gemm_op<P>> op;
  std::vector<float> masked; ///< the weights the operation computes with (removed ones 0)
  std::size_t kept = 0;
};

/// Prunes `w` with technique `t` at `sparsity` (N:M ignores it: 1 − N/M), packs it and builds
/// its operation. `kernel_area` is kh·kw of a convolution (1 for FC) for channel units.
/// With `keep`, that mask (e.g. from a global selection) is used instead of pruning.
template <class P>
pruned_gemm<P> make_pruned_gemm(const cl::Context& ctx, const cl::Device& dev, opencl::program_cache& cache, matrix_view w,
                                const technique& t, double sparsity, std::size_t kernel_area,
                                const opencl::gemm_options& opt,
                                const std::vector<std::uint8_t>* keep = nullptr) {
  pruned_gemm<P> out;
  if (t.dense()) {
    out.masked.assign(w.data, w.data + w.size());
    out.kept = w.size();
    out.op = std::make_unique<opencl::gemm_op<P>>(ctx, dev, cache, w, opt);
    return out;
  }
  std::visit(
      [&](auto unit) {
        using U = decltype(unit);
        if constexpr (std::is_same_v<U, units::channel>) unit.kernel_area = static_cast<int>(kernel_area);
        double s = sparsity;
        if constexpr (std::is_same_v<U, units::nm>) s = nominal_sparsity(unit);
        prune_options po;
        po.balanced = t.balanced;
        const auto m = keep ? mask<P, U>(w.rows, w.cols, *keep, unit) : prune<P>(w, unit, s, po);
        if (keep) // a mask fixed elsewhere must be made of whole units of the kernel's unit
          if (auto why = whole_units<P>(m.keep(), w.rows, w.cols, unit)) throw invalid_argument("mask: " + *why);
        out.masked = m.apply(w);
        out.kept = m.kept_count();
        out.op = std::make_unique<opencl::gemm_op<P>>(ctx, dev, cache, pack(w, m), opt);
      },
      *t.unit);
  return out;
}

/// Global selection over the given layers (one sparsity target for all of them, each layer
/// free within [0, 1)), for the techniques whose unit allows it: element, filter, channel,
/// simd and tile. Returns one keep-mask per layer.
template <class P>
std::vector<std::vector<std::uint8_t>> global_masks(const std::vector<global_layer>& layers, const technique& t,
                                                    double sparsity) {
  std::vector<std::vector<std::uint8_t>> out;
  const bool done = !t.dense() && !t.balanced && std::visit(
      [&](auto unit) {
        if constexpr (unit_traits<decltype(unit)>::global) {
          for (auto& m : prune_global<P>(layers, unit, sparsity)) out.push_back(m.keep());
          return true;
        } else {
          return false;
        }
      },
      *t.unit);
  if (!done)
    throw invalid_argument("global selection is not defined for the " + to_string(t) +
                           " technique (element, filter, channel, simd, tile)");
  return out;
}

} // namespace gapp::nn
