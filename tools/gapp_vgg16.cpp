// gapp-vgg16 — run a VGG16 stored as .npy files (PyTorch state_dict names, batch norm folded)
// through gapp's OpenCL kernels over a set of images, with the masks it was pruned with.
//
//   gapp-vgg16 --weights DIR --images X.npy [--labels Y.npy] [--masks DIR]
//              [--technique dense|element|filter|channel|nm:N:M|simd|tile|multi|UNIT-balanced]
//              [--policy NAME] [--device N] [--input S] [--in-channels C] [--width W]
//              [--hidden H] [--classes K] [--batch B] [--logits OUT.npy]
//              [--plan PLAN.json] [--layer-times] [--im2col] [--tiles-per-group R]
//
// X.npy: float32 N × in_channels × input × input (NCHW, already normalised); Y.npy: N
// uint8 labels. With --masks, DIR/<layer>.mask.npy (uint8, the layer's weight shape, as
// gapp-prune writes it) fixes the kept weights of each layer that has one; the others run
// dense. With --plan (gapp-advise's), each layer runs the plan's technique at its sparsity
// with the plan's policy (its masks from --masks, or pruned here) and the predicted time is
// reported beside the measured one. Prints one JSON line; on any error one line on stderr
// and exit status 1.
#include <gapp/nn.hpp>
#include <gapp/tune/advise.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

const char* const usage =
    "usage: gapp-vgg16 --weights DIR --images X.npy [--labels Y.npy] [--masks DIR] [--technique T]\n"
    "                  [--policy NAME] [--device N] [--input S] [--in-channels C] [--width W]\n"
    "                  [--hidden H] [--classes K] [--batch B] [--logits OUT.npy]\n"
    "                  [--plan PLAN.json] [--layer-times] [--im2col] [--tiles-per-group R]\n"
    "Without any of --input, --in-channels, --width, --hidden, --classes the configuration is the\n"
    "one the weights' shapes give; with some, the others default to S 224, C 3, W 1, H 4096,\n"
    "K 1000. B defaults to 100 (at most 65536). With --masks DIR, the\n"
    "masks are DIR/<layer>.mask.npy for layer features.0 ... features.28, classifier.0, .3, .6.\n"
    "Runs VGG16-D (.npy weights with PyTorch state_dict names) on the images with gapp's OpenCL\n"
    "kernels; T is dense, element, filter, channel, nm:N:M, simd, tile, multi, block:RxC or\n"
    "UNIT-balanced (simd-balanced, tile-balanced, ...). --plan (gapp-advise's) sets the policy, the\n"
    "batch and each layer's technique and sparsity (no --technique then); with --masks, every sparse\n"
    "layer of the plan needs its mask. --layer-times reports each kernel's median device time.\n"
    "Convolutions read their input directly (implicit GEMM) where the policy's kernels can;\n"
    "--im2col writes the column matrix first instead. --tiles-per-group R: every GEMM launch computes R\n"
    "column tiles per work-group (1: one; default: chosen per launch, see gemm_options::tiles_per_group).\n";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.empty() ? 0 : v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

double number(const std::string& s, const std::string& what) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v >= 0) || v > 1e9)
    throw gapp::invalid_argument(what + " expects a non-negative number, got '" + s + "'");
  return v;
}

std::size_t count(const std::string& s, const std::string& what) {
  const double v = number(s, what);
  if (v < 1 || v != static_cast<double>(static_cast<std::size_t>(v)))
    throw gapp::invalid_argument(what + " expects a positive integer, got '" + s + "'");
  return static_cast<std::size_t>(v);
}

std::string fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

int run(int argc, char** argv) {
  gapp::nn::vgg16_config cfg;
  std::vector<std::function<void(gapp::nn::vgg16_config&)>> set_cfg; // the configuration flags, in order
  std::string weights, images, labels, masks_dir, logits_path, policy, tech_s, plan_path;
  std::size_t batch = 100, device = 0, tiles_per_group = 0;
  bool batch_given = false, layer_times = false, im2col = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw gapp::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") return std::fputs(usage, stdout), 0;
    if (a == "--weights") weights = value();
    else if (a == "--images") images = value();
    else if (a == "--labels") labels = value();
    else if (a == "--masks") masks_dir = value();
    else if (a == "--logits") logits_path = value();
    else if (a == "--technique") tech_s = value();
    else if (a == "--policy") policy = value();
    else if (a == "--plan") plan_path = value();
    else if (a == "--layer-times") layer_times = true;
    else if (a == "--im2col") im2col = true;
    else if (a == "--tiles-per-group") {
      tiles_per_group = count(value(), a);
      if (tiles_per_group > 4096) throw gapp::invalid_argument("--tiles-per-group must be at most 4096, got " + std::to_string(tiles_per_group));
    }
    else if (a == "--device") {
      const std::string v = value();
      if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
        throw gapp::invalid_argument("--device expects a device index (0, 1, ...), got '" + v + "'");
      device = static_cast<std::size_t>(std::stoul(v));
    }
    else if (a == "--input") set_cfg.push_back([v = count(value(), a)](auto& c) { c.input = v; });
    else if (a == "--in-channels") set_cfg.push_back([v = count(value(), a)](auto& c) { c.in_channels = v; });
    else if (a == "--width") set_cfg.push_back([v = number(value(), a)](auto& c) { c.width = v; });
    else if (a == "--hidden") set_cfg.push_back([v = count(value(), a)](auto& c) { c.hidden = v; });
    else if (a == "--classes") set_cfg.push_back([v = count(value(), a)](auto& c) { c.classes = v; });
    else if (a == "--batch") {
      batch = count(value(), a), batch_given = true;
      if (batch > 65536) throw gapp::invalid_argument("--batch must be at most 65536, got " + std::to_string(batch));
    }
    else throw gapp::invalid_argument("unknown argument '" + a + "' (see --help)");
  }
  if (weights.empty() || images.empty()) throw gapp::invalid_argument("--weights and --images are required");
  // the configuration: the flags given, the rest as the weights' shapes say (or the defaults
  // when they say nothing: the weights are then checked against those and named if wrong)
  if (set_cfg.empty()) {
    try {
      cfg = gapp::nn::infer_config(weights);
    } catch (const gapp::error&) {
    }
  }
  for (const auto& f : set_cfg) f(cfg);
  std::optional<gapp::tune::plan> plan;
  if (!plan_path.empty()) {
    if (!tech_s.empty()) throw gapp::invalid_argument("--plan sets each layer's technique: no --technique with it");
    if (!policy.empty()) throw gapp::invalid_argument("--plan sets the policy: no --policy with it");
    plan = gapp::tune::load_plan(plan_path);
    policy = plan->policy;
    if (!batch_given) batch = plan->batch;
  }
  const gapp::technique tech = gapp::parse_technique(tech_s.empty() ? "dense" : tech_s);
  if (!plan && !masks_dir.empty() && tech.dense())
    throw gapp::invalid_argument("--masks needs a sparse --technique");
  if (!plan && !tech.dense() && masks_dir.empty())
    throw gapp::invalid_argument("a sparse --technique needs --masks (gapp-prune's mask files)");

  // --logits may be no input: not the images, the labels, a weight file, a mask or its metadata
  if (!logits_path.empty()) {
    std::vector<gapp::io::named_path> inputs{{"--images", images}, {"--labels", labels}, {"--plan", plan_path}};
    for (const auto& l : gapp::nn::vgg16_layers(cfg)) {
      for (const char* suffix : {".weight.npy", ".bias.npy"})
        inputs.push_back({"a weight file", weights + "/" + l.name + suffix});
      if (!masks_dir.empty())
        for (const char* suffix : {".mask.npy", ".mask.json"})
          inputs.push_back({"a mask file", masks_dir + "/" + l.name + suffix});
    }
    gapp::io::require_distinct({{"--logits", logits_path}}, inputs);
  }
  const gapp::nn::vgg16_weights w = gapp::nn::load_npy_dir(cfg, weights);
  // the plan, checked against the network before any work: every layer it names exists,
  // with the GEMM shape it was planned for
  std::vector<gapp::technique> layer_techs;
  std::vector<double> layer_sparsity;
  if (plan) {
    for (const auto& pl : plan->layers)
      if (std::none_of(w.layers.begin(), w.layers.end(), [&](const auto& l) { return l.name == pl.name; }))
        throw gapp::invalid_argument(plan_path + ": the plan names layer '" + pl.name + "', which the network has not");
    for (const auto& l : w.layers) {
      const gapp::tune::plan_layer* pl = gapp::tune::find_layer(*plan, l.name);
      if (!pl) throw gapp::invalid_argument(plan_path + ": the plan has no entry for layer '" + l.name + "'");
      if (pl->m != l.shape.gemm_rows() || pl->k != l.shape.gemm_cols())
        throw gapp::shape_error(plan_path + ": layer '" + l.name + "' was planned as a " + std::to_string(pl->m) +
                                " x " + std::to_string(pl->k) + " GEMM, the weights make it " +
                                std::to_string(l.shape.gemm_rows()) + " x " + std::to_string(l.shape.gemm_cols()));
      layer_techs.push_back(gapp::parse_technique(pl->technique));
      layer_sparsity.push_back(pl->sparsity);
    }
  }
  const gapp::npy::tensor<float> x = gapp::npy::read_floats(images);
  const std::size_t C = cfg.in_channels, S = cfg.input;
  if (x.shape.size() != 4 || x.shape[1] != C || x.shape[2] != S || x.shape[3] != S || x.shape[0] == 0)
    throw gapp::shape_error(images + ": images must be N x " + std::to_string(C) + " x " + std::to_string(S) + " x " +
                            std::to_string(S) + " (NCHW float32), got shape " + gapp::detail::json_array(x.shape));
  const std::size_t N = x.shape[0];
  for (float v : x.data)
    if (!std::isfinite(v)) throw gapp::value_error(images + ": the images hold NaN or Inf");
  std::vector<std::size_t> y;
  if (!labels.empty()) {
    const gapp::npy::tensor<std::uint8_t> l = gapp::npy::read_bytes(labels);
    if (l.shape != std::vector<std::size_t>{N})
      throw gapp::shape_error(labels + ": expected " + std::to_string(N) + " labels, one per image");
    for (std::uint8_t v : l.data) {
      if (v >= cfg.classes)
        throw gapp::value_error(labels + ": label " + std::to_string(v) + " is not a class index below " +
                                std::to_string(cfg.classes));
      y.push_back(v);
    }
  }

  const cl::Device dev = gapp::opencl::device_at(device);
  cl::Context ctx(dev);
  cl::CommandQueue queue(ctx, dev, layer_times ? cl::QueueProperties::Profiling : cl::QueueProperties::None);
  gapp::opencl::program_cache cache;
  const gapp::opencl::device_info info = gapp::opencl::query(dev);
  if (policy.empty()) policy = gapp::opencl::pick_preset(info);
  if (!gapp::presets::all::contains(policy))
    throw gapp::invalid_argument(plan ? plan_path + ": the plan's policy '" + policy + "' is not a preset; gapp-vgg16 "
                                            "runs the presets (" + gapp::presets::all::names() +
                                            "): make the plan with gapp-advise --policy PRESET"
                                      : "unknown policy '" + policy + "' (gapp-vgg16 runs the presets: " +
                                            gapp::presets::all::names() + ")");

  std::string json;
  gapp::presets::all::visit(policy, [&](auto preset) {
    using P = decltype(preset);
    gapp::opencl::require_can_run<P>(info);
    // masks, checked against the policy and technique they run with (where they have metadata)
    std::vector<std::vector<std::uint8_t>> masks;
    std::size_t masked_layers = 0, unchecked = 0;
    if (!masks_dir.empty()) {
      for (std::size_t li = 0; li < w.layers.size(); ++li) {
        const auto& l = w.layers[li];
        const std::string f = masks_dir + "/" + l.name + ".mask.npy";
        const bool planned_sparse = plan && !layer_techs[li].dense();
        if (plan && !planned_sparse && std::filesystem::exists(f))
          throw gapp::invalid_argument(f + ": a mask for layer '" + l.name + "', which the plan runs dense");
        if (!std::filesystem::exists(f)) {
          if (planned_sparse)
            throw gapp::file_error(f + ": missing; the plan runs layer '" + l.name + "' as " +
                                   gapp::to_string(layer_techs[li]) + " (gapp-prune --plan writes its masks)");
          masks.emplace_back();
          continue;
        }
        gapp::mask_file m = gapp::load_mask<P>(f, policy, plan ? layer_techs[li] : tech, gapp::nn::weight_shape(l));
        unchecked += !m.metadata;
        masks.push_back(std::move(m.mask.data));
        ++masked_layers;
      }
      if (masked_layers == 0) throw gapp::file_error(masks_dir + ": no <layer>.mask.npy file for any VGG16 layer");
    }
    typename gapp::nn::vgg16_net<P>::options opt;
    opt.tech = tech;
    opt.batch = std::min(batch, N);
    opt.masks = std::move(masks);
    opt.layer_techs = layer_techs, opt.layer_sparsity = layer_sparsity;
    opt.implicit_conv = !im2col;
    opt.tiles_per_group = tiles_per_group;
    opt.choose_lowering = false; // as told (a plan's predictions come from one way of running the convolutions)
    const auto t0 = std::chrono::steady_clock::now();
    gapp::nn::vgg16_net<P> net(ctx, dev, cache, w, opt);
    const std::size_t B = opt.batch, img = C * S * S, K = cfg.classes;
    std::vector<float> logits(N * K);
    gapp::nn::tensor4 in(B, C, S, S);
    net.forward(queue, in); // one pass before timing: some drivers finish compiling at the first launch
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<double> batch_ms;
    std::map<std::string, std::vector<double>> kernel_ms;
    std::vector<std::string> kernel_order;
    for (std::size_t b0 = 0; b0 < N; b0 += B) {
      const std::size_t nb = std::min(B, N - b0); // the last batch is zero-filled to the net's batch
      std::fill(in.data.begin(), in.data.end(), 0.0f);
      std::copy_n(&x.data[b0 * img], nb * img, in.data.begin());
      const auto tb = std::chrono::steady_clock::now();
      const std::vector<float> out = net.forward(queue, in);
      batch_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tb).count());
      std::copy_n(out.begin(), nb * K, &logits[b0 * K]);
      for (const auto& [name, ms] : net.last_profile()) {
        if (!kernel_ms.count(name)) kernel_order.push_back(name);
        kernel_ms[name].push_back(ms);
      }
    }
    const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    const double prep_s = std::chrono::duration<double>(t1 - t0).count();
    std::size_t correct = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      const float* r = &logits[i * K];
      correct += static_cast<std::size_t>(std::max_element(r, r + K) - r) == y[i];
    }
    if (!logits_path.empty()) gapp::npy::write(logits_path, {N, K}, logits.data());
    std::string kernels;
    for (const auto& v : net.variants()) kernels += (kernels.empty() ? "\"" : ",\"") + v + "\"";
    std::string dev_name;
    for (char c : info.name)
      if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) dev_name += c;
    json = "{\"device\":\"" + dev_name + "\",\"policy\":\"" + policy + "\",\"technique\":\"" +
           (plan ? std::string("plan") : gapp::to_string(tech)) + "\",\"im2col\":" + (im2col ? "true" : "false") + ",\"images\":" + std::to_string(N) +
           ",\"masked_layers\":" + std::to_string(masked_layers) +
           (masks_dir.empty() ? std::string()
                              : ",\"masks_checked\":" + std::to_string(masked_layers - unchecked) +
                                    ",\"masks_unchecked\":" + std::to_string(unchecked) +
                                    (unchecked ? ",\"mask_check\":\"" + std::to_string(unchecked) +
                                                     " mask(s) have no metadata file (MASK.json): not checked against "
                                                     "the policy and technique\""
                                               : std::string())) + ",\"sparsity\":" + fixed(net.sparsity(), 6) +
           (y.empty() ? std::string() : ",\"accuracy\":" + fixed(static_cast<double>(correct) / N, 6)) +
           ",\"batch\":" + std::to_string(B) + ",\"prepare_s\":" + fixed(prep_s, 3) +
           ",\"ms_per_image\":" + fixed(run_s * 1e3 / N, 4) + ",\"batch_ms\":" + fixed(median(batch_ms), 3) +
           ",\"kernels\":[" + kernels + "]";
    if (plan) {
      json += ",\"plan\":" + gapp::json::quote(plan_path) + ",\"kept_l2_fraction\":" + fixed(net.kept_l2_fraction(), 4);
      // the prediction holds for the device and batch the plan was made for
      if (!plan->device.empty() && plan->device != info.name)
        json += ",\"prediction\":" + gapp::json::quote("none: the plan was made for device '" + plan->device + "'");
      else if (plan->batch != B)
        json += ",\"prediction\":\"none: the plan was made for batch " + std::to_string(plan->batch) + "\"";
      else if (plan->predicted_ms < 0)
        json += ",\"prediction\":\"none: the plan predicts the planned GEMMs only (gapp-advise --dense-run)\"";
      else
        json += ",\"predicted_batch_ms\":" + fixed(plan->predicted_ms, 3) + ",\"prediction_error\":" +
                fixed(plan->predicted_ms / median(batch_ms) - 1, 4);
    }
    if (layer_times) {
      json += ",\"layer_ms\":{";
      for (std::size_t i = 0; i < kernel_order.size(); ++i)
        json += std::string(i ? "," : "") + gapp::json::quote(kernel_order[i]) + ":" +
                fixed(median(kernel_ms[kernel_order[i]]), 4);
      json += "}";
    }
    json += "}";
  });
  std::puts(json.c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gapp-vgg16: error: %s\n", e.what());
    return 1;
  }
}
