// gapp/nn/vgg16.hpp — VGG16 (configuration D: 13 conv + 3 FC) as data: the layer list for
// any input size, width multiplier and classifier size; weights He-initialised from a seed
// or loaded from / saved to a directory of .npy files with PyTorch state_dict names and
// layouts; and the host reference forward pass.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/npy.hpp"
#include "../prune/conv.hpp"
#include "../prune/reorder.hpp"
#include "reference.hpp"

namespace gapp::nn {

struct vgg16_config {
  std::size_t input = 224;      ///< square input size (multiple of 32)
  std::size_t in_channels = 3;  ///< 3 for RGB, 1 for grey images
  double width = 1.0;           ///< multiplier of the conv channel counts (64 … 512)
  std::size_t hidden = 4096;    ///< width of the two hidden FC layers
  std::size_t classes = 1000;

  void validate() const {
    if (input < 32 || input % 32 != 0) throw invalid_argument("vgg16: input size must be a positive multiple of 32");
    if (in_channels == 0 || hidden == 0 || classes == 0) throw invalid_argument("vgg16: zero channels or classes");
    if (!(width > 0 && width <= 8)) throw invalid_argument("vgg16: width multiplier must lie in (0, 8]");
  }
};

/// One weight layer. Convolutions are 3×3, stride 1, padding 1, followed by ReLU; `pool`
/// marks the 2×2 max-pool after it. FC layers have kernel 1×1 and in_channels = inputs.
struct vgg16_layer {
  std::string name;   ///< PyTorch state_dict prefix: features.N or classifier.N
  std::string display; ///< the paper's name: conv1_1 … conv5_3, fc6, fc7, fc8
  bool conv = true;
  conv_shape shape;   ///< OIHW (FC: out × in × 1 × 1)
  std::size_t in_size = 0; ///< input height = width (conv only)
  bool pool = false;
  bool relu = true;
};

/// The 16 weight layers of VGG16-D. PyTorch names as in torchvision's vgg16: features.0,
/// .2, .5, .7, .10, .12, .14, .17, .19, .21, .24, .26, .28 and classifier.0, .3, .6. The
/// classifier reads the features flattened per sample (C·H·W); for 224 inputs that is
/// 512·7·7 = 25088 as torchvision, for smaller inputs the features are used as they are
/// (512 for 32×32, as CIFAR variants of VGG16 do).
inline std::vector<vgg16_layer> vgg16_layers(const vgg16_config& cfg) {
  cfg.validate();
  const int plan[] = {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1};
  std::vector<vgg16_layer> out;
  std::size_t c = cfg.in_channels, size = cfg.input;
  int index = 0, block = 1, in_block = 1;
  for (int p : plan) {
    if (p < 0) {
      out.back().pool = true;
      size /= 2;
      index += 1;
      block += 1, in_block = 1;
      continue;
    }
    const std::size_t oc = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(p * cfg.width)));
    out.push_back({"features." + std::to_string(index), "conv" + std::to_string(block) + "_" + std::to_string(in_block++),
                   true, conv_shape{oc, c, 3, 3}, size, false, true});
    index += 2;
    c = oc;
  }
  const std::size_t feat = c * size * size;
  out.push_back({"classifier.0", "fc6", false, conv_shape{cfg.hidden, feat, 1, 1}, 0, false, true});
  out.push_back({"classifier.3", "fc7", false, conv_shape{cfg.hidden, cfg.hidden, 1, 1}, 0, false, true});
  out.push_back({"classifier.6", "fc8", false, conv_shape{cfg.classes, cfg.hidden, 1, 1}, 0, false, false});
  return out;
}

/// The shape of a layer's weight tensor as PyTorch's state_dict holds it (and the .npy files
/// and gapp-prune's masks): O × I × 3 × 3 for a convolution, out × in for an FC layer.
inline std::vector<std::size_t> weight_shape(const vgg16_layer& l) {
  if (l.conv) return {l.shape.out_channels, l.shape.in_channels, l.shape.kernel_h, l.shape.kernel_w};
  return {l.shape.out_channels, l.shape.in_channels};
}

struct layer_params {
  std::vector<float> weight; ///< OIHW (conv) or out × in (FC), row-major
  std::vector<float> bias;
};

struct vgg16_weights {
  vgg16_config config;
  std::vector<vgg16_layer> layers;
  std::vector<layer_params> params;
};

/// He (Kaiming normal, fan-in) initialisation from a seed; biases 0.
inline vgg16_weights he_init(const vgg16_config& cfg, std::uint64_t seed) {
  vgg16_weights w{cfg, vgg16_layers(cfg), {}};
  std::mt19937_64 g(seed);
  for (const auto& l : w.layers) {
    std::normal_distribution<float> d(0.0f, std::sqrt(2.0f / static_cast<float>(l.shape.gemm_cols())));
    layer_params p{std::vector<float>(l.shape.size()), std::vector<float>(l.shape.out_channels, 0.0f)};
    for (auto& v : p.weight) v = d(g);
    w.params.push_back(std::move(p));
  }
  return w;
}

/// Loads `<dir>/<name>.weight.npy` and `<dir>/<name>.bias.npy` for every layer (float32 or
/// float64; conv weights O×I×3×3, FC weights out×in — the shapes PyTorch's state_dict
/// holds). Throws gapp::file_error for a missing or malformed file, gapp::shape_error
/// naming the file whose shape does not fit the configuration and gapp::value_error naming
/// the file and index of a NaN or infinite value.
inline vgg16_weights load_npy_dir(const vgg16_config& cfg, const std::string& dir) {
  vgg16_weights w{cfg, vgg16_layers(cfg), {}};
  for (const auto& l : w.layers) {
    const std::string wf = dir + "/" + l.name + ".weight.npy", bf = dir + "/" + l.name + ".bias.npy";
    npy::tensor<float> wt = npy::read_floats(wf), bt = npy::read_floats(bf);
    const std::vector<std::size_t> want = weight_shape(l);
    auto str = [](const std::vector<std::size_t>& s) {
      std::string o = "(";
      for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
      return o + ")";
    };
    if (wt.shape != want) throw shape_error(wf + ": shape " + str(wt.shape) + ", the configuration needs " + str(want));
    if (bt.shape != std::vector<std::size_t>{l.shape.out_channels})
      throw shape_error(bf + ": shape " + str(bt.shape) + ", the configuration needs (" +
                        std::to_string(l.shape.out_channels) + ")");
    for (const auto* f : {&wt, &bt}) // name the file of a non-finite value (gapp refuses them)
      for (std::size_t i = 0; i < f->data.size(); ++i)
        if (!std::isfinite(f->data[i]))
          throw value_error((f == &wt ? wf : bf) + ": holds " + (std::isnan(f->data[i]) ? "a NaN" : "an infinite") +
                            " value at index " + std::to_string(i));
    w.params.push_back({std::move(wt.data), std::move(bt.data)});
  }
  return w;
}

/// The configuration of a weights directory as load_npy_dir reads it, from the shapes of
/// features.0 (width, in_channels), classifier.0 (hidden, and with conv5_3's channels the
/// input size) and classifier.6 (classes). Throws gapp::file_error for a missing or
/// malformed file, gapp::shape_error for shapes no VGG16 configuration has.
inline vgg16_config infer_config(const std::string& dir) {
  const auto first = npy::read_floats(dir + "/features.0.weight.npy").shape;
  const auto fc6 = npy::read_floats(dir + "/classifier.0.weight.npy").shape;
  const auto fc8 = npy::read_floats(dir + "/classifier.6.weight.npy").shape;
  if (first.size() != 4 || first[2] != 3 || first[3] != 3 || fc6.size() != 2 || fc8.size() != 2 || fc8[1] != fc6[0])
    throw shape_error(dir + ": not a VGG16 weights directory (features.0 O×I×3×3, classifier.0 and .6 out×in)");
  vgg16_config c;
  c.width = static_cast<double>(first[0]) / 64.0;
  c.in_channels = first[1];
  c.hidden = fc6[0];
  c.classes = fc8[0];
  const std::size_t last = vgg16_layers(c)[12].shape.out_channels; // conv5_3
  const std::size_t cells = fc6[1] / last, side = static_cast<std::size_t>(std::lround(std::sqrt(double(cells))));
  if (fc6[1] % last != 0 || side * side != cells)
    throw shape_error(dir + "/classifier.0.weight.npy: " + std::to_string(fc6[1]) + " inputs are not " +
                      std::to_string(last) + " channels of a square feature map");
  c.input = side * 32;
  c.validate();
  if (vgg16_layers(c).front().shape.out_channels != first[0])
    throw shape_error(dir + "/features.0.weight.npy: " + std::to_string(first[0]) + " filters fit no width multiplier");
  return c;
}

/// Permutes the output channels of weight layer `layer` (its rows and bias: new channel i is
/// old channel p[i]) and, consistently, the inputs of the next weight layer (a conv's input
/// channels, the classifier's flattened C·H·W inputs, an FC layer's inputs), so that the
/// network computes the same function. The last layer's outputs (the classes) cannot be
/// permuted: gapp::invalid_argument. ReLU and max-pooling act per channel and commute.
inline void permute_channels(vgg16_weights& w, std::size_t layer, const reorder::permutation& p) {
  if (layer + 1 >= w.layers.size())
    throw invalid_argument("permute_channels: layer " + std::to_string(layer) + " has no next layer (the " +
                           std::to_string(w.layers.size()) + " layers end with the classes, which stay in order)");
  const vgg16_layer& l = w.layers[layer];
  const vgg16_layer& next = w.layers[layer + 1];
  layer_params& a = w.params[layer];
  layer_params& b = w.params[layer + 1];
  const std::size_t oc = l.shape.out_channels;
  reorder::check_permutation(p, oc, "permute_channels (" + l.display + ")");
  a.weight = reorder::permute_rows(matrix_view(a.weight, oc, l.shape.gemm_cols()), p);
  a.bias = reorder::permute_values(a.bias, p);
  // the next layer sees channel c's values in group p^-1(c): its inputs move as the rows did
  const std::size_t cols = next.shape.gemm_cols();
  if (cols % oc != 0)
    throw shape_error("permute_channels: " + next.display + " has " + std::to_string(cols) + " inputs, not a multiple of " +
                      l.display + "'s " + std::to_string(oc) + " channels");
  b.weight = reorder::permute_column_groups(matrix_view(b.weight, next.shape.gemm_rows(), cols), p, cols / oc);
}

/// Writes the weights in the layout load_npy_dir reads (and PyTorch's state_dict holds).
inline void save_npy_dir(const vgg16_weights& w, const std::string& dir) {
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    npy::write(dir + "/" + l.name + ".weight.npy", weight_shape(l), w.params[i].weight.data());
    npy::write(dir + "/" + l.name + ".bias.npy", {l.shape.out_channels}, w.params[i].bias.data());
  }
}

/// The host reference forward pass: input NCHW (batch × in_channels × input × input),
/// returns logits batch × classes. `params` overrides the weights (e.g. masked copies).
inline std::vector<float> forward_host(const vgg16_weights& w, const tensor4& input,
                                       const std::vector<layer_params>* params = nullptr) {
  const auto& ps = params ? *params : w.params;
  if (input.c != w.config.in_channels || input.h != w.config.input || input.w != w.config.input)
    throw shape_error("vgg16 forward: input must be N x " + std::to_string(w.config.in_channels) + " x " +
                      std::to_string(w.config.input) + " x " + std::to_string(w.config.input));
  tensor4 a = input;
  std::vector<float> v;
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    if (l.conv) {
      a = conv2d(a, ps[i].weight, ps[i].bias, l.shape, 1, 1, l.relu);
      if (l.pool) a = maxpool2(a);
      if (i + 1 < w.layers.size() && !w.layers[i + 1].conv) v = a.data; // NCHW per sample = C·H·W flatten
    } else {
      v = linear(v, input.n, ps[i].weight, ps[i].bias, l.shape.out_channels, l.relu);
    }
  }
  return v;
}

} // namespace gapp::nn
