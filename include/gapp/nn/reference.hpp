// gapp/nn/reference.hpp — plain host implementations of the CNN layers, NCHW, used as
// the reference every device kernel is checked against. Direct loops, no lowering.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <thread>
#include <vector>

#include "../error.hpp"
#include "../prune/conv.hpp"

namespace gapp::nn {

/// Activations of a batch, NCHW.
struct tensor4 {
  std::size_t n = 0, c = 0, h = 0, w = 0;
  std::vector<float> data;
  tensor4() = default;
  tensor4(std::size_t n_, std::size_t c_, std::size_t h_, std::size_t w_)
      : n(n_), c(c_), h(h_), w(w_), data(n_ * c_ * h_ * w_, 0.0f) {}
  float& at(std::size_t b, std::size_t ch, std::size_t y, std::size_t x) { return data[((b * c + ch) * h + y) * w + x]; }
  const float& at(std::size_t b, std::size_t ch, std::size_t y, std::size_t x) const {
    return data[((b * c + ch) * h + y) * w + x];
  }
};

namespace detail {
/// Runs f(begin, end) over [0, n) split across up to `threads` threads.
template <class F>
void parallel_for(std::size_t n, unsigned threads, F&& f) {
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(n)));
  if (threads == 1) return f(std::size_t{0}, n);
  std::vector<std::thread> pool;
  const std::size_t chunk = (n + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    const std::size_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back([&f, b, e] { f(b, e); });
  }
  for (auto& th : pool) th.join();
}
inline unsigned default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }
} // namespace detail

/// Direct convolution (groups 1, dilation 1): out[b][o][y][x] = bias[o] + Σ w[o][c][r][s] ·
/// in[b][c][y·stride − pad + r][x·stride − pad + s], then ReLU if asked. Zero weights are
/// skipped (the result is the same).
inline tensor4 conv2d(const tensor4& in, const std::vector<float>& w, const std::vector<float>& bias,
                      const conv_shape& s, std::size_t stride, std::size_t pad, bool relu,
                      unsigned threads = detail::default_threads()) {
  if (in.c != s.in_channels || w.size() != s.size() || (!bias.empty() && bias.size() != s.out_channels))
    throw shape_error("conv2d reference: input, weights or bias do not match the convolution shape");
  if (in.h + 2 * pad < s.kernel_h || in.w + 2 * pad < s.kernel_w || stride == 0)
    throw shape_error("conv2d reference: kernel larger than the padded input");
  const std::size_t OH = (in.h + 2 * pad - s.kernel_h) / stride + 1, OW = (in.w + 2 * pad - s.kernel_w) / stride + 1;
  tensor4 out(in.n, s.out_channels, OH, OW);
  detail::parallel_for(in.n * s.out_channels, threads, [&](std::size_t b0, std::size_t b1) {
    for (std::size_t bo = b0; bo < b1; ++bo) {
      const std::size_t b = bo / s.out_channels, o = bo % s.out_channels;
      float* op = &out.at(b, o, 0, 0);
      std::fill(op, op + OH * OW, bias.empty() ? 0.0f : bias[o]);
      for (std::size_t c = 0; c < s.in_channels; ++c)
        for (std::size_t r = 0; r < s.kernel_h; ++r)
          for (std::size_t q = 0; q < s.kernel_w; ++q) {
            const float wv = w[s.oihw_index(o, c, r, q)];
            if (wv == 0.0f) continue;
            for (std::size_t oy = 0; oy < OH; ++oy) {
              const long y = static_cast<long>(oy * stride + r) - static_cast<long>(pad);
              if (y < 0 || y >= static_cast<long>(in.h)) continue;
              const float* ip = &in.at(b, c, static_cast<std::size_t>(y), 0);
              float* orow = op + oy * OW;
              // the output columns whose input column ox·stride + q − pad lies inside the row
              const long x0 = static_cast<long>(q) - static_cast<long>(pad), st = static_cast<long>(stride);
              const long lo = x0 >= 0 ? 0 : (-x0 + st - 1) / st;
              // (none where even the first lies past the row: the quotient truncates toward 0)
              const long hi = x0 >= static_cast<long>(in.w)
                                  ? lo
                                  : std::min(static_cast<long>(OW), (static_cast<long>(in.w) - 1 - x0) / st + 1);
              for (long ox = lo; ox < hi; ++ox) orow[ox] += wv * ip[ox * st + x0];
            }
          }
      if (relu)
        for (std::size_t i = 0; i < OH * OW; ++i) op[i] = std::max(op[i], 0.0f);
    }
  });
  return out;
}

/// 2×2 max-pool, stride 2 (odd sizes round down, as PyTorch's default).
inline tensor4 maxpool2(const tensor4& in) {
  tensor4 out(in.n, in.c, in.h / 2, in.w / 2);
  for (std::size_t b = 0; b < in.n; ++b)
    for (std::size_t c = 0; c < in.c; ++c)
      for (std::size_t y = 0; y < out.h; ++y)
        for (std::size_t x = 0; x < out.w; ++x)
          out.at(b, c, y, x) = std::max(std::max(in.at(b, c, 2 * y, 2 * x), in.at(b, c, 2 * y, 2 * x + 1)),
                                        std::max(in.at(b, c, 2 * y + 1, 2 * x), in.at(b, c, 2 * y + 1, 2 * x + 1)));
  return out;
}

/// Fully connected: out[b][o] = bias[o] + Σ_i w[o][i] · in[b][i] (in flattened per sample,
/// C·H·W order as PyTorch's flatten), then ReLU if asked. Returns B × out rows.
inline std::vector<float> linear(const std::vector<float>& in, std::size_t batch, const std::vector<float>& w,
                                 const std::vector<float>& bias, std::size_t out_features, bool relu) {
  if (batch == 0 || in.size() % batch != 0) throw shape_error("linear reference: input size is not a multiple of the batch");
  const std::size_t inf = in.size() / batch;
  if (w.size() != out_features * inf || (!bias.empty() && bias.size() != out_features))
    throw shape_error("linear reference: weights or bias do not match " + std::to_string(out_features) + " x " +
                      std::to_string(inf));
  std::vector<float> out(batch * out_features);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t o = 0; o < out_features; ++o) {
      double s = bias.empty() ? 0.0 : bias[o];
      for (std::size_t i = 0; i < inf; ++i) s += static_cast<double>(w[o * inf + i]) * in[b * inf + i];
      out[b * out_features + o] = relu ? std::max(static_cast<float>(s), 0.0f) : static_cast<float>(s);
    }
  return out;
}

/// Row-wise softmax of a B × classes matrix.
inline std::vector<float> softmax(const std::vector<float>& logits, std::size_t classes) {
  std::vector<float> p(logits.size());
  for (std::size_t b = 0; b * classes < logits.size(); ++b) {
    const float* l = &logits[b * classes];
    const float mx = *std::max_element(l, l + classes);
    double sum = 0;
    for (std::size_t i = 0; i < classes; ++i) sum += std::exp(static_cast<double>(l[i] - mx));
    for (std::size_t i = 0; i < classes; ++i) p[b * classes + i] = static_cast<float>(std::exp(static_cast<double>(l[i] - mx)) / sum);
  }
  return p;
}

/// Index of the largest logit of each row (ties: the first).
inline std::vector<std::size_t> argmax(const std::vector<float>& logits, std::size_t classes) {
  std::vector<std::size_t> out;
  for (std::size_t b = 0; b * classes < logits.size(); ++b)
    out.push_back(static_cast<std::size_t>(std::max_element(logits.begin() + static_cast<std::ptrdiff_t>(b * classes),
                                                            logits.begin() + static_cast<std::ptrdiff_t>((b + 1) * classes)) -
                                           (logits.begin() + static_cast<std::ptrdiff_t>(b * classes))));
  return out;
}

} // namespace gapp::nn
