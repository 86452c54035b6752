// gapp/pack/formats.hpp — the compressed layouts the kernels read.
//
// Every format stores indices as int32 (what OpenCL kernels index with) and unpacks to the
// masked dense matrix exactly. Units that keep at least one weight are stored whole (with
// the removed weights inside them as zeros); edge units are zero-padded to full size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gapp {

/// Lists of kept blocks (tile units, fixed blocks): block-CSR over the block grid.
/// Block b of block-row i (row_ptr[i] <= b < row_ptr[i+1]) covers rows
/// [i·block_rows, …) and columns [col_idx[b]·block_cols, …); its values are
/// values[b·block_rows·block_cols …], row-major block_rows×block_cols.
struct block_list {
  std::size_t rows = 0, cols = 0;
  int block_rows = 1, block_cols = 1;
  std::vector<std::int32_t> row_ptr; ///< grid_rows + 1
  std::vector<std::int32_t> col_idx; ///< kept blocks' block-column index
  std::vector<float> values;

  std::size_t kept_blocks() const { return col_idx.size(); }
  std::size_t bytes() const { return 4 * (row_ptr.size() + col_idx.size() + values.size()); }
  std::vector<float> unpack() const;
};

/// Per-row-block lists of kept SIMD units. Row-block i (unit_rows rows of W, the rows one
/// SIMD group reads together) keeps units row_ptr[i] <= u < row_ptr[i+1]; unit u starts at
/// column k_idx[u] (a multiple of unit_cols) and its values are
/// values[u·unit_cols·unit_rows …] in k-major order: for kk in [0, unit_cols), the
/// unit_rows weights W[i·unit_rows + r][k_idx[u] + kk], r = 0…unit_rows−1, contiguous.
/// `fixed_count` ≥ 0 when every row-block keeps that many units (balanced masks): a kernel
/// can then walk each list with a fixed trip count and ignore row_ptr.
struct unit_list {
  std::size_t rows = 0, cols = 0;
  int unit_rows = 1, unit_cols = 1;
  std::vector<std::int32_t> row_ptr;
  std::vector<std::int32_t> k_idx;
  std::vector<float> values;
  std::int32_t fixed_count = -1;

  std::size_t kept_units() const { return k_idx.size(); }
  std::size_t bytes() const { return 4 * (row_ptr.size() + k_idx.size() + values.size()); }
  std::vector<float> unpack() const;
};

/// Multi-level: kept tiles, and the kept SIMD units inside each.
/// Tile-row t keeps tiles tile_ptr[t] <= j < tile_ptr[t+1] at tile column tile_col[j].
/// Inside tile j, row-block r (0 <= r < row_blocks_per_tile = tile_rows / unit_rows) keeps
/// units seg_ptr[j·row_blocks_per_tile + r] <= u < seg_ptr[j·row_blocks_per_tile + r + 1];
/// k_idx and values of units are as in unit_list.
struct multi_list {
  std::size_t rows = 0, cols = 0;
  int tile_rows = 1, tile_cols = 1, unit_rows = 1, unit_cols = 1;
  std::vector<std::int32_t> tile_ptr;
  std::vector<std::int32_t> tile_col;
  std::vector<std::int32_t> seg_ptr;
  std::vector<std::int32_t> k_idx;
  std::vector<float> values;

  int row_blocks_per_tile() const { return tile_rows / unit_rows; }
  std::size_t kept_tiles() const { return tile_col.size(); }
  std::size_t kept_units() const { return k_idx.size(); }
  std::size_t bytes() const {
    return 4 * (tile_ptr.size() + tile_col.size() + seg_ptr.size() + k_idx.size() + values.size());
  }
  std::vector<float> unpack() const;
};

/// Compressed sparse rows: the unstructured baseline.
struct csr_matrix {
  std::size_t rows = 0, cols = 0;
  std::vector<std::int32_t> row_ptr, col_idx;
  std::vector<float> values;

  std::size_t nnz() const { return values.size(); }
  std::size_t bytes() const { return 4 * (row_ptr.size() + col_idx.size() + values.size()); }
  std::vector<float> unpack() const;
};

/// N:M: every group of m columns of a row holds n slots: values[(r·groups + g)·n + i] and
/// its column offset inside the group, index[...] (uint8). Slots of groups that keep fewer
/// than n weights hold value 0 (their index is valid but irrelevant: they add nothing).
struct nm_matrix {
  std::size_t rows = 0, cols = 0;
  int n = 2, m = 4;
  std::vector<float> values;
  std::vector<std::uint8_t> index;

  std::size_t groups_per_row() const { return (cols + static_cast<std::size_t>(m) - 1) / static_cast<std::size_t>(m); }
  std::size_t bytes() const { return 4 * values.size() + index.size(); }
  std::vector<float> unpack() const;
};

/// Filter pruning: the kept rows, compacted (a smaller dense GEMM) and where they go.
/// Row i of `values` (kept_rows.size() × cols) is row kept_rows[i] of W; the others are 0.
struct row_compact {
  std::size_t rows = 0, cols = 0;
  std::vector<std::int32_t> kept_rows;
  std::vector<float> values;

  std::size_t bytes() const { return 4 * (kept_rows.size() + values.size()); }
  std::vector<float> unpack() const;
};

/// Channel pruning: the kept input channels (blocks of kernel_area consecutive columns),
/// compacted: `values` is rows × (kept_channels.size()·kernel_area), row-major.
struct channel_compact {
  std::size_t rows = 0, cols = 0;
  int kernel_area = 1;
  std::vector<std::int32_t> kept_channels;
  std::vector<float> values;

  std::size_t bytes() const { return 4 * (kept_channels.size() + values.size()); }
  std::vector<float> unpack() const;
};

// ------------------------------------------------------------------ unpacking

inline std::vector<float> block_list::unpack() const {
  std::vector<float> out(rows * cols, 0.0f);
  const std::size_t br = static_cast<std::size_t>(block_rows), bc = static_cast<std::size_t>(block_cols);
  for (std::size_t i = 0; i + 1 < row_ptr.size(); ++i)
    for (std::int32_t b = row_ptr[i]; b < row_ptr[i + 1]; ++b)
      for (std::size_t r = 0; r < br && i * br + r < rows; ++r)
        for (std::size_t c = 0; c < bc; ++c) {
          const std::size_t col = static_cast<std::size_t>(col_idx[static_cast<std::size_t>(b)]) * bc + c;
          if (col < cols) out[(i * br + r) * cols + col] = values[(static_cast<std::size_t>(b) * br + r) * bc + c];
        }
  return out;
}

namespace detail {
/// Writes unit u's values (k-major, see unit_list) with its first row at row0.
inline void unpack_unit(std::vector<float>& out, std::size_t rows, std::size_t cols, std::size_t row0,
                        std::size_t k0, std::size_t ur, std::size_t uc, const float* v) {
  for (std::size_t kk = 0; kk < uc; ++kk)
    for (std::size_t r = 0; r < ur; ++r)
      if (row0 + r < rows && k0 + kk < cols) out[(row0 + r) * cols + k0 + kk] = v[kk * ur + r];
}
} // namespace detail

inline std::vector<float> unit_list::unpack() const {
  std::vector<float> out(rows * cols, 0.0f);
  const std::size_t ur = static_cast<std::size_t>(unit_rows), uc = static_cast<std::size_t>(unit_cols);
  for (std::size_t i = 0; i + 1 < row_ptr.size(); ++i)
    for (std::int32_t u = row_ptr[i]; u < row_ptr[i + 1]; ++u)
      detail::unpack_unit(out, rows, cols, i * ur, static_cast<std::size_t>(k_idx[static_cast<std::size_t>(u)]), ur, uc,
                          values.data() + static_cast<std::size_t>(u) * ur * uc);
  return out;
}

inline std::vector<float> multi_list::unpack() const {
  std::vector<float> out(rows * cols, 0.0f);
  const std::size_t ur = static_cast<std::size_t>(unit_rows), uc = static_cast<std::size_t>(unit_cols);
  const std::size_t rbt = static_cast<std::size_t>(row_blocks_per_tile());
  for (std::size_t t = 0; t + 1 < tile_ptr.size(); ++t)
    for (std::int32_t j = tile_ptr[t]; j < tile_ptr[t + 1]; ++j)
      for (std::size_t r = 0; r < rbt; ++r) {
        const std::size_t s = static_cast<std::size_t>(j) * rbt + r;
        for (std::int32_t u = seg_ptr[s]; u < seg_ptr[s + 1]; ++u)
          detail::unpack_unit(out, rows, cols, t * static_cast<std::size_t>(tile_rows) + r * ur,
                              static_cast<std::size_t>(k_idx[static_cast<std::size_t>(u)]), ur, uc,
                              values.data() + static_cast<std::size_t>(u) * ur * uc);
      }
  return out;
}

inline std::vector<float> csr_matrix::unpack() const {
  std::vector<float> out(rows * cols, 0.0f);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::int32_t p = row_ptr[r]; p < row_ptr[r + 1]; ++p)
      out[r * cols + static_cast<std::size_t>(col_idx[static_cast<std::size_t>(p)])] = values[static_cast<std::size_t>(p)];
  return out;
}

inline std::vector<float> nm_matrix::unpack() const {
  std::vector<float> out(rows * cols, 0.0f);
  const std::size_t G = groups_per_row(), N = static_cast<std::size_t>(n);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t i = 0; i < N; ++i) {
        const std::size_t slot = (r * G + g) * N + i;
        const std::size_t c = g * static_cast<std::size_t>(m) + index[slot];
        if (c < cols) out[r * cols + c] += values[slot];
      }
  return out;
}

inline std::vector<float> row_compact::unpack() const {
  std::vector<float> out(rows * cols, 0.0f);
  for (std::size_t i = 0; i < kept_rows.size(); ++i)
    for (std::size_t c = 0; c < cols; ++c) out[static_cast<std::size_t>(kept_rows[i]) * cols + c] = values[i * cols + c];
  return out;
}

inline std::vector<float> channel_compact::unpack() const {
  std::vector<float> out(rows * cols, 0.0f);
  const std::size_t a = static_cast<std::size_t>(kernel_area), kc = kept_channels.size() * a;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t i = 0; i < kept_channels.size(); ++i)
      for (std::size_t e = 0; e < a; ++e)
        out[r * cols + static_cast<std::size_t>(kept_channels[i]) * a + e] = values[r * kc + i * a + e];
  return out;
}

} // namespace gapp
