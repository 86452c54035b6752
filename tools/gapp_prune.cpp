// gapp-prune — prune a weight tensor stored as .npy with a gapp policy, from the shell.
//
//   gapp-prune --policy NAME|--profile FILE --unit UNIT --sparsity S [--criterion l1|l2|max] [--balanced]
//              [--tile-sparsity T] [--scores SCORES.npy] --mask MASK.npy
//              [--pruned PRUNED.npy] [--reorder PERM.npy [--reorder-next NEXT.npy]
//              [--reorder-evaluations N]] WEIGHTS.npy
//   gapp-prune --plan PLAN.json --weights DIR --masks DIR [--criterion l1|l2|max]
//   gapp-prune --permute PERMS_DIR --weights DIR --out DIR
//   gapp-prune --list-policies
//
// Prints one JSON line on success; on any error one line on stderr, exit status 1 for bad
// input or arguments, and no file written.
#include <gapp/prune.hpp>
#include <gapp/tune.hpp>
#include <gapp/nn/vgg16.hpp>
#include <gapp/tune/advise.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace {

const char* const usage =
    "usage: gapp-prune --policy NAME|--profile FILE\n"
    "                  --unit element|simd|tile|multi|filter|channel|nm:N:M|block:RxC\n"
    "                  --sparsity S [--criterion l1|l2|max] [--balanced] [--tile-sparsity T]\n"
    "                  [--scores SCORES.npy] --mask MASK.npy [--pruned PRUNED.npy]\n"
    "                  [--reorder PERM.npy [--reorder-next NEXT.npy] [--reorder-evaluations N]]\n"
    "                  WEIGHTS.npy\n"
    "       gapp-prune --plan PLAN.json --weights DIR --masks DIR [--criterion l1|l2|max]\n"
    "       gapp-prune --permute PERMS_DIR --weights DIR --out DIR\n"
    "       gapp-prune --list-policies\n"
    "WEIGHTS.npy is a float32 or float64 M x K matrix or an O x I x KH x KW (OIHW) tensor. The mask is\n"
    "written as uint8 (1 = kept) with the input's shape, its metadata (policy, technique, unit\n"
    "shapes, sparsity) as JSON beside it (MASK.npy -> MASK.json); one JSON line goes to stdout.\n"
    "NAME is a preset (--list-policies) or a tuned policy PRESET@TMxTNxTK/RMxRN/KV-staging; with\n"
    "--profile, the policy is the device profile's best for the technique (gapp-tune), and the\n"
    "output records it.\n"
    "With --plan (gapp-advise's), every sparse layer NAME of the plan is pruned from\n"
    "DIR/NAME.weight.npy with the plan's policy, technique and sparsity into DIR/NAME.mask.npy\n"
    "(and .json) of --masks; every layer is checked before anything is written.\n"
    "With --reorder, the rows (output channels) are first put in the order that keeps the most\n"
    "weight magnitude under the unit (a search of N prunings, default 300); the order is written\n"
    "to PERM.npy (int32: new row i is old row PERM[i]) and the mask and pruned weights are in that\n"
    "order. With --reorder-next, the weights of the next layer (its input channels follow this\n"
    "layer's rows) are pruned with the same unit and sparsity while searching, and the order keeps\n"
    "the most magnitude of both layers together: for tile and multi-level units it also groups the\n"
    "next layer's inputs (whole KH x KW groups); the next layer's own mask is made when it is\n"
    "pruned. --permute applies such orders to a VGG16 weights directory (as gapp-vgg16 reads it):\n"
    "each PERMS_DIR/NAME.perm.npy reorders layer NAME's output channels and bias and the next\n"
    "layer's inputs, so the network computes the same function; the whole directory is written\n"
    "to --out, or nothing on any error.\n";

struct usage_error : gapp::invalid_argument {
  using gapp::invalid_argument::invalid_argument;
};

double parse_double(const std::string& s, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
    throw usage_error(std::string(what) + " expects a number, got '" + s + "'");
  return v;
}

std::string json_shape(const std::vector<std::size_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void list_policies() {
  std::printf("%-18s %5s %-10s %-6s %-22s %-10s %-10s\n", "policy", "simd", "lanes", "stage", "tiling TMxTNxTK/RMxRN",
              "simd unit", "tile unit");
  gapp::presets::all::for_each([](auto p) {
    using P = decltype(p);
    const std::string tiling = std::to_string(P::tm) + "x" + std::to_string(P::tn) + "x" + std::to_string(P::tk) + "/" +
                               std::to_string(P::rm) + "x" + std::to_string(P::rn);
    const std::string su = std::to_string(P::simd_unit.rows) + "x" + std::to_string(P::simd_unit.cols);
    const std::string tu = std::to_string(P::tile_unit.rows) + "x" + std::to_string(P::tile_unit.cols);
    std::printf("%-18s %5d %-10s %-6s %-22s %-10s %-10s\n", std::string(P::name).c_str(), P::simd_width,
                gapp::to_string(P::lanes).c_str(), gapp::to_string(P::mode).c_str(), tiling.c_str(), su.c_str(),
                tu.c_str());
  });
}

/// Prunes one weight tensor (rows × cols as a GEMM) with a unit at a sparsity under a policy's
/// units; appends the mask, its metadata and (with `pruned_path`) the pruned weights to
/// `outputs` (path, bytes) and returns the metadata JSON with "balanced" and "metadata".
std::string prune_one(const gapp::npy::tensor<float>& w, std::size_t rows, std::size_t cols, const gapp::any_unit& unit,
                      double sparsity, const gapp::prune_options& opt, const std::string& policy,
                      const gapp::policy_info& pinfo, bool balanced, gapp::criterion crit, const std::string& mask_path,
                      const std::string& pruned_path, std::vector<std::pair<std::string, std::string>>& outputs) {
  const gapp::policy_units pu{pinfo.simd_unit, pinfo.tile_unit};
  const gapp::matrix_view wm(w.data, rows, cols);
  const std::string meta_path = gapp::metadata_path(mask_path);
  std::string json;
  std::visit(
      [&](const auto& u) {
        using U = std::decay_t<decltype(u)>;
        const std::vector<std::uint8_t> keep = gapp::select_keep(wm, u, sparsity, opt, pu);
        const std::size_t kept = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), std::uint8_t{1}));
        gapp::mask_metadata meta;
        meta.policy = policy;
        meta.technique = gapp::to_string(gapp::technique{u, balanced});
        meta.granularity = gapp::unit_traits<U>::name;
        meta.unit = gapp::shape_in(u, rows, cols, pu);
        meta.simd_unit = pinfo.simd_unit, meta.tile_unit = pinfo.tile_unit;
        meta.shape = w.shape;
        meta.gemm_rows = rows, meta.gemm_cols = cols;
        meta.criterion = std::string(gapp::to_string(crit));
        meta.target_sparsity = sparsity;
        meta.achieved_sparsity = 1.0 - static_cast<double>(kept) / static_cast<double>(keep.size());
        meta.kept_l2_fraction = gapp::kept_l2_fraction(wm, keep);
        // every output is made before any is written
        outputs.emplace_back(mask_path, gapp::npy::serialize(w.shape, keep.data()));
        std::string meta_json = gapp::to_json(meta);
        if constexpr (std::is_same_v<U, gapp::units::multi>)
          meta_json.insert(meta_json.size() - 1, ",\"tile_sparsity\":" + num(gapp::tile_phase_sparsity(u, sparsity)));
        outputs.emplace_back(meta_path, meta_json + "\n");
        if (!pruned_path.empty()) {
          std::vector<float> pw(w.data.begin(), w.data.end());
          for (std::size_t i = 0; i < pw.size(); ++i)
            if (!keep[i]) pw[i] = 0.0f;
          outputs.emplace_back(pruned_path, gapp::npy::serialize(w.shape, pw.data()));
        }
        json = meta_json.substr(0, meta_json.size() - 1) + ",\"balanced\":" + (balanced ? "true" : "false") +
               ",\"metadata\":" + gapp::detail::json_string(meta_path) + "}";
      },
      unit);
  return json;
}

/// The GEMM view of a weight tensor: M × K as it is, or O × I·KH·KW for OIHW.
void gemm_shape(const gapp::npy::tensor<float>& w, const std::string& path, std::size_t& rows, std::size_t& cols,
                int& kernel_area) {
  kernel_area = 1;
  if (w.shape.size() == 2) rows = w.shape[0], cols = w.shape[1];
  else if (w.shape.size() == 4) {
    const gapp::conv_shape cs{w.shape[0], w.shape[1], w.shape[2], w.shape[3]};
    rows = cs.gemm_rows(), cols = cs.gemm_cols(), kernel_area = static_cast<int>(cs.kernel_area());
  } else
    throw gapp::shape_error(path + ": expected a 2-D (M x K) or 4-D (OIHW) array, got shape " + json_shape(w.shape));
}

/// gapp-prune --plan: the masks of every sparse layer of an advisor's plan.
int run_plan(const std::string& plan_path, const std::string& weights_dir, const std::string& masks_dir,
             gapp::criterion crit) {
  const auto t0 = std::chrono::steady_clock::now();
  const gapp::tune::plan plan = gapp::tune::load_plan(plan_path);
  const gapp::policy_info pinfo =
      gapp::tune::visit_policy(plan.policy, [](auto p) { return decltype(p)::info(decltype(p)::name); });
  // inputs first, all of them, so that a wrong layer stops the run before any work
  struct job {
    const gapp::tune::plan_layer* layer;
    std::string weights, mask;
  };
  std::vector<job> jobs;
  std::vector<gapp::io::named_path> inputs{{"--plan", plan_path}}, outs;
  for (const auto& l : plan.layers) {
    if (l.technique == "dense") continue;
    const std::string wf = weights_dir + "/" + l.name + ".weight.npy";
    if (!std::filesystem::exists(wf))
      throw gapp::file_error(plan_path + ": the plan names layer '" + l.name + "', but " + wf + " does not exist");
    jobs.push_back({&l, wf, masks_dir + "/" + l.name + ".mask.npy"});
    inputs.push_back({"a weights file", wf});
    outs.push_back({"a mask", jobs.back().mask});
    outs.push_back({"a mask's metadata", gapp::metadata_path(jobs.back().mask)});
  }
  if (jobs.empty()) throw usage_error(plan_path + ": the plan prunes no layer (every layer runs dense)");
  gapp::io::require_distinct(outs, inputs);
  std::vector<std::pair<std::string, std::string>> outputs;
  std::string layers_json;
  for (const auto& j : jobs) {
    const gapp::npy::tensor<float> w = gapp::npy::read_floats(j.weights);
    std::size_t rows = 0, cols = 0;
    int kernel_area = 1;
    gemm_shape(w, j.weights, rows, cols, kernel_area);
    if (rows != j.layer->m || cols != j.layer->k)
      throw gapp::shape_error(plan_path + ": layer '" + j.layer->name + "' was planned as a " +
                              std::to_string(j.layer->m) + " x " + std::to_string(j.layer->k) + " GEMM, " + j.weights +
                              " is " + std::to_string(rows) + " x " + std::to_string(cols));
    const gapp::technique t = gapp::parse_technique(j.layer->technique);
    gapp::prune_options opt;
    opt.criterion = crit;
    opt.balanced = t.balanced;
    gapp::any_unit unit = *t.unit;
    if (auto* c = std::get_if<gapp::units::channel>(&unit)) c->kernel_area = kernel_area;
    const std::string one = prune_one(w, rows, cols, unit, j.layer->sparsity, opt, plan.policy, pinfo, t.balanced,
                                      crit, j.mask, "", outputs);
    layers_json += std::string(layers_json.empty() ? "" : ",") + one;
  }
  std::filesystem::create_directories(masks_dir);
  gapp::npy::write_all_atomic(outputs); // all or nothing
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::puts(("{\"plan\":" + gapp::json::quote(plan_path) + ",\"policy\":" + gapp::json::quote(plan.policy) +
             ",\"masks\":" + std::to_string(jobs.size()) + ",\"layers\":[" + layers_json +
             "],\"elapsed_ms\":" + num(ms) + "}")
                .c_str());
  return 0;
}

/// gapp-prune --permute: a VGG16 weights directory with output-channel orders folded in.
int run_permute(const std::string& perms_dir, const std::string& weights_dir, const std::string& out_dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(perms_dir)) throw gapp::file_error(perms_dir + ": not a directory of permutations");
  gapp::nn::vgg16_weights w = gapp::nn::load_npy_dir(gapp::nn::infer_config(weights_dir), weights_dir);
  // every permutation file must name a layer: none is silently ignored
  std::vector<std::string> applied;
  std::vector<gapp::io::named_path> inputs{{"--weights", weights_dir}, {"--permute", perms_dir}}, outs{{"--out", out_dir}};
  for (const auto& e : fs::directory_iterator(perms_dir)) {
    const std::string f = e.path().filename().string(), suffix = ".perm.npy";
    if (f.size() <= suffix.size() || f.compare(f.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string name = f.substr(0, f.size() - suffix.size());
    std::size_t li = w.layers.size();
    for (std::size_t i = 0; i < w.layers.size(); ++i)
      if (w.layers[i].name == name) li = i;
    if (li == w.layers.size())
      throw gapp::file_error(e.path().string() + ": names layer '" + name + "', which " + weights_dir + " does not have");
    const gapp::reorder::permutation p =
        gapp::reorder::read_permutation(e.path().string(), w.layers[li].shape.out_channels);
    try {
      gapp::nn::permute_channels(w, li, p);
    } catch (const gapp::error& err) {
      throw gapp::invalid_argument(e.path().string() + ": " + err.what());
    }
    applied.push_back(name);
  }
  if (applied.empty()) throw usage_error(perms_dir + ": holds no NAME.perm.npy file");
  gapp::io::require_distinct(outs, inputs);
  std::vector<std::pair<std::string, std::string>> outputs;
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    outputs.emplace_back(out_dir + "/" + l.name + ".weight.npy",
                         gapp::npy::serialize(gapp::nn::weight_shape(l), w.params[i].weight.data()));
    outputs.emplace_back(out_dir + "/" + l.name + ".bias.npy",
                         gapp::npy::serialize({l.shape.out_channels}, w.params[i].bias.data()));
  }
  fs::create_directories(out_dir);
  gapp::npy::write_all_atomic(outputs);
  std::sort(applied.begin(), applied.end());
  std::string names;
  for (const auto& n : applied) names += (names.empty() ? "" : ",") + gapp::json::quote(n);
  std::puts(("{\"permuted\":[" + names + "],\"weights\":" + gapp::json::quote(weights_dir) +
             ",\"out\":" + gapp::json::quote(out_dir) + ",\"files\":" + std::to_string(outputs.size()) + "}")
                .c_str());
  return 0;
}

int run(int argc, char** argv) {
  std::string policy, unit_s, criterion_s = "l1", mask_path, pruned_path, weights_path, scores_path, profile_path,
      plan_path, weights_dir, masks_dir, reorder_path, reorder_next_path, permute_dir, out_dir;
  std::size_t reorder_evaluations = 300;
  std::optional<double> sparsity, tile_sparsity;
  bool balanced = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") return std::fputs(usage, stdout), 0;
    if (a == "--list-policies") return list_policies(), 0;
    if (a == "--policy") policy = value();
    else if (a == "--plan") plan_path = value();
    else if (a == "--weights") weights_dir = value();
    else if (a == "--masks") masks_dir = value();
    else if (a == "--profile") profile_path = value();
    else if (a == "--unit") unit_s = value();
    else if (a == "--sparsity") sparsity = parse_double(value(), "--sparsity");
    else if (a == "--tile-sparsity") {
      tile_sparsity = parse_double(value(), "--tile-sparsity");
      if (!(*tile_sparsity >= 0 && *tile_sparsity < 1))
        throw usage_error("--tile-sparsity must lie in [0, 1), got " + num(*tile_sparsity));
    }
    else if (a == "--criterion") criterion_s = value();
    else if (a == "--balanced") balanced = true;
    else if (a == "--scores") scores_path = value();
    else if (a == "--mask") mask_path = value();
    else if (a == "--pruned") pruned_path = value();
    else if (a == "--reorder") reorder_path = value();
    else if (a == "--reorder-next") reorder_next_path = value();
    else if (a == "--reorder-evaluations") {
      const double n = parse_double(value(), "--reorder-evaluations");
      if (!(n >= 1 && n <= 1e7 && n == std::floor(n))) throw usage_error("--reorder-evaluations must be a count from 1");
      reorder_evaluations = static_cast<std::size_t>(n);
    }
    else if (a == "--permute") permute_dir = value();
    else if (a == "--out") out_dir = value();
    else if (!a.empty() && a[0] == '-') throw usage_error("unknown option '" + a + "' (see --help)");
    else if (weights_path.empty()) weights_path = a;
    else throw usage_error("more than one weights file given ('" + weights_path + "', '" + a + "')");
  }
  if (!permute_dir.empty() || !out_dir.empty()) {
    if (permute_dir.empty() || weights_dir.empty() || out_dir.empty())
      throw usage_error("--permute, --weights and --out go together");
    if (!plan_path.empty() || !masks_dir.empty() || !policy.empty() || !profile_path.empty() || !unit_s.empty() ||
        sparsity || !mask_path.empty() || !weights_path.empty() || !reorder_path.empty() ||
        !reorder_next_path.empty())
      throw usage_error("--permute takes only --weights and --out");
    return run_permute(permute_dir, weights_dir, out_dir);
  }
  if (!plan_path.empty() || !weights_dir.empty() || !masks_dir.empty()) {
    if (plan_path.empty() || weights_dir.empty() || masks_dir.empty())
      throw usage_error("--plan, --weights and --masks go together");
    if (!policy.empty() || !profile_path.empty() || !unit_s.empty() || sparsity || tile_sparsity || balanced ||
        !scores_path.empty() || !mask_path.empty() || !pruned_path.empty() || !weights_path.empty() ||
        !reorder_path.empty() || !reorder_next_path.empty())
      throw usage_error("--plan sets the policy, units and sparsities of every layer: give only --weights, --masks "
                        "and --criterion with it");
    return run_plan(plan_path, weights_dir, masks_dir, gapp::parse_criterion(criterion_s));
  }
  if (policy.empty() == profile_path.empty())
    throw usage_error("give either --policy (see --list-policies) or --profile (a gapp-tune device profile)");
  if (unit_s.empty()) throw usage_error("--unit is required");
  if (mask_path.empty()) throw usage_error("--mask is required");
  if (weights_path.empty()) throw usage_error("no weights file given");
  // no output may be an input or another output (compared as files, through links)
  const std::string meta_path = gapp::metadata_path(mask_path);
  if (!reorder_path.empty() && !scores_path.empty())
    throw usage_error("--reorder searches by weight magnitude; it does not take --scores");
  if (!reorder_next_path.empty() && reorder_path.empty()) throw usage_error("--reorder-next goes with --reorder");
  gapp::io::require_distinct({{"--mask", mask_path}, {"--pruned", pruned_path}, {"the mask's metadata", meta_path},
                              {"--reorder", reorder_path}},
                             {{"the weights file", weights_path}, {"--scores", scores_path},
                              {"--reorder-next", reorder_next_path}});
  const gapp::criterion crit = gapp::parse_criterion(criterion_s);

  const auto t0 = std::chrono::steady_clock::now();
  const gapp::npy::tensor<float> w = gapp::npy::read_floats(weights_path);
  std::size_t rows = 0, cols = 0;
  int kernel_area = 1;
  gemm_shape(w, weights_path, rows, cols, kernel_area);
  std::optional<gapp::npy::tensor<float>> scores;
  if (!scores_path.empty()) {
    scores = gapp::npy::read_floats(scores_path);
    if (scores->shape != w.shape)
      throw gapp::shape_error(scores_path + ": scores have shape " + json_shape(scores->shape) + " but the weights " +
                              json_shape(w.shape));
  }

  gapp::any_unit unit = gapp::parse_unit(unit_s, kernel_area);
  if (auto* m = std::get_if<gapp::units::multi>(&unit)) {
    if (tile_sparsity) m->tile_sparsity = *tile_sparsity;
  } else if (tile_sparsity) {
    throw usage_error("--tile-sparsity applies only to --unit multi");
  }
  if (!sparsity) {
    if (auto* nm = std::get_if<gapp::units::nm>(&unit)) sparsity = gapp::nominal_sparsity(*nm);
    else throw usage_error("--sparsity is required");
  }

  // the policy: by name, or the profile's best for the technique; pruning needs only its units
  std::string profile_note;
  if (!profile_path.empty()) {
    const gapp::tune::profile prof = gapp::tune::load_profile(profile_path);
    const std::string tech = gapp::to_string(gapp::technique{unit, balanced});
    const auto best = prof.policy_for(tech);
    policy = best ? *best : prof.preset;
    profile_note = ",\"profile\":" + gapp::json::quote(profile_path) + ",\"profile_device\":" +
                   gapp::json::quote(prof.device) + ",\"profile_choice\":" +
                   gapp::json::quote(best ? "the profile's best " + tech + " policy"
                                          : "the profile measured no " + tech + " policy: its preset");
  }
  gapp::policy_info pinfo{};
  try {
    pinfo = gapp::tune::visit_policy(policy, [](auto p) { return decltype(p)::info(decltype(p)::name); });
  } catch (const gapp::invalid_argument& e) {
    throw usage_error(e.what());
  }
  gapp::prune_options opt;
  opt.criterion = crit;
  opt.balanced = balanced;
  if (scores) opt.scores = gapp::float_span(scores->data);

  std::vector<std::pair<std::string, std::string>> outputs;
  std::string reorder_note;
  const gapp::npy::tensor<float>* pw = &w;
  gapp::npy::tensor<float> permuted;
  if (!reorder_path.empty()) { // the row order first; the mask is of the reordered weights
    gapp::reorder::search_options so;
    so.crit = crit, so.balanced = balanced, so.max_evaluations = reorder_evaluations;
    const gapp::policy_units pu{pinfo.simd_unit, pinfo.tile_unit};
    const gapp::matrix_view wm(w.data, rows, cols);
    gapp::reorder::search_result r;
    std::string next_note;
    if (reorder_next_path.empty()) {
      r = std::visit([&](const auto& u) { return gapp::reorder::search_rows(wm, u, *sparsity, pu, so); }, unit);
    } else {
      // the next layer: O x I x KH x KW (groups of KH*KW) or M x K with K a multiple of the
      // rows here (a flattened C x H x W input: groups of H*W)
      const gapp::npy::tensor<float> nx = gapp::npy::read_floats(reorder_next_path);
      if (nx.shape.size() != 2 && nx.shape.size() != 4)
        throw gapp::shape_error(reorder_next_path + ": the next layer's weights must be 2-D or 4-D, got shape " +
                                json_shape(nx.shape));
      const std::size_t nrows = nx.shape[0], ncols = nrows ? nx.data.size() / nrows : 0;
      const bool chains = nx.shape.size() == 4 ? nx.shape[1] == rows : (ncols % rows == 0 && ncols > 0);
      if (nrows == 0 || !chains)
        throw gapp::shape_error(reorder_next_path + ": the next layer's weights " + json_shape(nx.shape) +
                                " do not take this layer's " + std::to_string(rows) + " output channels as inputs");
      for (std::size_t i = 0; i < nx.data.size(); ++i)
        if (!std::isfinite(nx.data[i]))
          throw gapp::value_error(reorder_next_path + ": weight " + std::to_string(i) + " is not finite");
      const std::size_t group = ncols / rows;
      const gapp::matrix_view nm(nx.data, nrows, ncols);
      if (std::holds_alternative<gapp::units::channel>(unit))
        throw usage_error("--reorder-next: channel units keep or drop whole input channels, no order changes that");
      std::visit(
          [&](const auto& u) {
            r = gapp::reorder::search_rows_with_next(wm, nm, group, u, *sparsity, pu, so);
            next_note = ",\"next\":" + gapp::json::quote(reorder_next_path) +
                        ",\"layer_kept_l2\":" + num(gapp::reorder::kept_l2_with(wm, r.order, u, *sparsity, pu, so)) +
                        ",\"layer_identity_kept_l2\":" +
                        num(gapp::reorder::kept_l2_with(wm, gapp::reorder::identity(rows), u, *sparsity, pu, so)) +
                        ",\"next_kept_l2\":" +
                        num(gapp::reorder::kept_l2_with_groups(nm, r.order, group, u, *sparsity, pu, so)) +
                        ",\"next_identity_kept_l2\":" +
                        num(gapp::reorder::kept_l2_with_groups(nm, gapp::reorder::identity(rows), group, u, *sparsity,
                                                               pu, so));
          },
          unit);
    }
    permuted.shape = w.shape;
    permuted.data = gapp::reorder::permute_rows(wm, r.order);
    pw = &permuted;
    outputs.emplace_back(reorder_path, gapp::npy::serialize({rows}, r.order.data()));
    reorder_note = ",\"reorder\":{\"permutation\":" + gapp::json::quote(reorder_path) + ",\"kept_l2\":" + num(r.kept_l2) +
                   ",\"identity_kept_l2\":" + num(r.identity_kept_l2) + ",\"evaluations\":" +
                   std::to_string(r.evaluations) + next_note + "}";
  }
  const std::string json = prune_one(*pw, rows, cols, unit, *sparsity, opt, policy, pinfo, balanced, crit, mask_path,
                                     pruned_path, outputs);
  gapp::npy::write_all_atomic(outputs); // all or nothing
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::puts((json.substr(0, json.size() - 1) + profile_note + reorder_note + ",\"elapsed_ms\":" + num(ms) + "}").c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gapp-prune: error: %s\n", e.what());
    return 1;
  }
}
