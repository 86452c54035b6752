// gapp-advise — choose per layer the unit and sparsity that meet a target on a device, from
// its gapp-tune profile and the network's weights, and write the plan gapp-prune and
// gapp-vgg16 consume.
//
//   gapp-advise --weights DIR --profile FILE --plan OUT.json
//               (--speedup X | --latency-ms T | --sparsity S | --kept-l2 F|TECHNIQUE@S)
//               [--batch B] [--policy NAME] [--techniques LIST] [--sensitivity FILE]
//               [--dense-run FILE] [--plot OUT.svg]
//
// Prints one JSON line (the plan's summary); on any error one line on stderr, exit status 1,
// and no file written.
#include <gapp/io/paths.hpp>
#include <gapp/nn/vgg16.hpp>
#include <gapp/tune/advise.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char* const usage =
    "usage: gapp-advise --weights DIR --profile FILE --plan OUT.json\n"
    "                   (--speedup X | --latency-ms T | --sparsity S | --kept-l2 F|TECHNIQUE@S)\n"
    "                   [--batch B] [--policy NAME] [--techniques LIST] [--sensitivity FILE]\n"
    "                   [--dense-run FILE] [--plot OUT.svg] [--im2col]\n"
    "       gapp-advise --weights DIR --profile FILE --plan OUT.json --uniform TECHNIQUE@S [...]\n"
    "Chooses per layer of a VGG16 weights directory (as gapp-vgg16 reads it) dense or one of the\n"
    "(technique, sparsity) choices the device profile measured on that layer's GEMM at batch B\n"
    "(gapp-tune --weights DIR --batch B), so that the network meets the target while keeping the\n"
    "most weight magnitude (kept L2) or, with --sensitivity, losing the least accuracy:\n"
    "  --speedup X      X times faster than dense        --latency-ms T  at most T ms per batch\n"
    "  --sparsity S     at least S of all weights removed\n"
    "  --kept-l2 F      the fastest plan keeping at least F of the L2 norm; TECHNIQUE@S: the kept L2\n"
    "                   of that technique at that sparsity on every measured layer (e.g. simd@0.75)\n"
    "NAME: the policy every layer runs with (default the profile's preset; gapp-vgg16 runs presets).\n"
    "LIST: the sparse techniques allowed (default all the profile measured). FILE for --sensitivity:\n"
    "{\"format\": \"gapp-sensitivity\", \"layers\": {\"features.2\": {\"simd@0.75\": 0.1, ...}}} (points lost).\n"
    "--dense-run: gapp-vgg16's output line for the dense network with --layer-times at batch B; it\n"
    "gives the time outside the planned GEMMs, so that the plan predicts whole forward passes, and\n"
    "scales each planned layer's times by its dense GEMM's time in that run over the profile's\n"
    "(the profile times each GEMM alone, cold in cache; the factors are printed as \"calibration\").\n"
    "--uniform TECHNIQUE@S writes the plan of one technique at one sparsity on every measured layer,\n"
    "for comparison.\n"
    "--im2col: plan for a network whose convolutions run after im2col (gapp-vgg16 --im2col; the\n"
    "profile measured with gapp-tune --im2col); by default they are implicit GEMMs.\n"
    "--plot: an SVG of predicted time against kept L2 (the plan, the front, the uniform choices).\n";

std::size_t parse_count(const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos || std::stoull(s) == 0)
    throw gapp::invalid_argument(what + " expects a positive integer, got '" + s + "'");
  return static_cast<std::size_t>(std::stoull(s));
}

double parse_number(const std::string& s, const std::string& what) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
    throw gapp::invalid_argument(what + " expects a number, got '" + s + "'");
  return v;
}

std::string fixed(double v, int d) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", d, v);
  return b;
}

/// What a dense forward pass says, from gapp-vgg16's output line (--layer-times): each
/// modelled layer's GEMM time inside it (by display name) and the time outside them,
/// batch_ms − Σ layer_ms["<display> gemm"] over the modelled.
struct dense_run_times {
  std::map<std::string, double> gemm_ms;
  double other_ms = 0;
};
dense_run_times read_dense_run(const std::string& path, const gapp::tune::profile& prof, std::size_t batch, bool im2col,
                               const std::vector<gapp::tune::layer_choices>& layers) {
  const std::vector<unsigned char> bytes = gapp::npy::detail::read_file(path);
  const auto doc = gapp::json::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
  const gapp::json::value& d = *doc;
  if (d.at("technique").str() != "dense") d.at("technique").fail("is not dense: the run must be of the dense network");
  if (d.at("device").str() != prof.device)
    d.at("device").fail("is '" + d.at("device").str() + "', the profile was measured on '" + prof.device + "'");
  if (static_cast<std::size_t>(d.at("batch").integer(1, 1 << 20)) != batch)
    d.at("batch").fail("is " + std::to_string(d.at("batch").integer(1, 1 << 20)) + ", the plan's batch is " +
                       std::to_string(batch));
  if (d.at("im2col").boolean() != im2col)
    d.at("im2col").fail(im2col ? "is false: the run read its convolutions' inputs directly, the plan is for --im2col"
                               : "is true: the run used im2col, the plan is for implicit convolutions (or give --im2col)");
  const double total = d.at("batch_ms").num(0, 1e9);
  const gapp::json::value& lm = d.at("layer_ms");
  dense_run_times r;
  double gemm = 0;
  for (const auto& l : layers)
    if (l.modelled) gemm += r.gemm_ms[l.display] = lm.at(l.display + " gemm").num(0, 1e9);
  if (gemm > total) d.at("batch_ms").fail("is less than the sum of the planned layers' GEMM times");
  r.other_ms = total - gemm;
  return r;
}

/// An SVG of predicted time (x) against kept L2 (y): the Pareto front, the uniform choices,
/// dense and the plan.
std::string plot_svg(const gapp::tune::plan& p) {
  const double other = p.other_ms >= 0 ? p.other_ms : 0;
  const double W = 720, H = 460, L = 70, R = 200, T = 40, B = 60;
  double xmax = p.dense_gemm_ms + other, ymin = 1;
  for (const auto& [x, y] : p.front) ymin = std::min(ymin, y);
  for (const auto& u : p.uniform) ymin = std::min(ymin, u.kept_l2_fraction), xmax = std::max(xmax, u.predicted_gemm_ms + other);
  ymin = std::floor(ymin * 20) / 20;
  xmax *= 1.05;
  auto X = [&](double ms) { return L + (W - L - R) * ms / xmax; };
  auto Y = [&](double f) { return T + (H - T - B) * (1 - (f - ymin) / (1 - ymin + 1e-12)); };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << L << "\" y=\"22\" font-size=\"14\">predicted time vs kept L2 — " << p.policy << ", batch "
    << p.batch << "</text>\n";
  o << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
  o << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 5; ++i) {
    const double ms = xmax * i / 5, f = ymin + (1 - ymin) * i / 5;
    o << "<text x=\"" << X(ms) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << fixed(ms, ms < 10 ? 1 : 0)
      << "</text>\n<text x=\"" << L - 6 << "\" y=\"" << Y(f) + 4 << "\" text-anchor=\"end\">" << fixed(f, 3) << "</text>\n";
  }
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 18 << "\" text-anchor=\"middle\">predicted ms per batch"
    << (p.other_ms >= 0 ? " (whole forward pass)" : " (planned GEMMs)") << "</text>\n";
  o << "<text transform=\"translate(16," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">kept L2 fraction</text>\n";
  o << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
  for (const auto& [x, y] : p.front) o << X(x + other) << "," << Y(y) << " ";
  o << "\"/>\n";
  const char* colours[] = {"#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
  double ly = T + 10;
  auto legend = [&](const std::string& colour, const std::string& label, bool square) {
    o << (square ? "<rect x=\"" + fixed(W - R + 16, 1) + "\" y=\"" + fixed(ly - 9, 1) + "\" width=\"10\" height=\"10\""
                 : "<circle cx=\"" + fixed(W - R + 21, 1) + "\" cy=\"" + fixed(ly - 4, 1) + "\" r=\"5\"")
      << " fill=\"" << colour << "\"/><text x=\"" << W - R + 32 << "\" y=\"" << ly << "\">" << label << "</text>\n";
    ly += 18;
  };
  o << "<line x1=\"" << W - R + 12 << "\" y1=\"" << ly - 4 << "\" x2=\"" << W - R + 30 << "\" y2=\"" << ly - 4
    << "\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/><text x=\"" << W - R + 32 << "\" y=\"" << ly
    << "\">best per time (front)</text>\n";
  ly += 18;
  o << "<circle cx=\"" << X(p.dense_gemm_ms + other) << "\" cy=\"" << Y(1) << "\" r=\"5\" fill=\"black\"/>\n";
  legend("black", "dense", false);
  for (std::size_t i = 0; i < p.uniform.size(); ++i) {
    const auto& u = p.uniform[i];
    const char* c = colours[i % 8];
    o << "<circle cx=\"" << X(u.predicted_gemm_ms + other) << "\" cy=\"" << Y(u.kept_l2_fraction) << "\" r=\"5\" fill=\""
      << c << "\"/>\n";
    legend(c, "uniform " + u.technique + " " + fixed(u.sparsity, 2), false);
  }
  o << "<rect x=\"" << X(p.predicted_gemm_ms + other) - 6 << "\" y=\"" << Y(p.kept_l2_fraction) - 6
    << "\" width=\"12\" height=\"12\" fill=\"#d62728\"/>\n";
  legend("#d62728", "the plan", true);
  o << "</svg>\n";
  return o.str();
}

int run(int argc, char** argv) {
  std::string weights, profile_path, plan_path, plot_path, sensitivity_path, dense_run, policy, techs_arg, kept_ref,
      uniform;
  std::size_t batch = 1;
  bool im2col = false;
  std::optional<gapp::tune::target> goal;
  auto set_goal = [&](gapp::tune::target_kind k, double v) {
    if (goal) throw gapp::invalid_argument("give one target: --speedup, --latency-ms, --sparsity or --kept-l2");
    goal = gapp::tune::target{k, v};
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw gapp::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") return std::fputs(usage, stdout), 0;
    if (a == "--weights") weights = value();
    else if (a == "--profile") profile_path = value();
    else if (a == "--plan") plan_path = value();
    else if (a == "--plot") plot_path = value();
    else if (a == "--sensitivity") sensitivity_path = value();
    else if (a == "--dense-run") dense_run = value();
    else if (a == "--policy") policy = value();
    else if (a == "--uniform") uniform = value();
    else if (a == "--im2col") im2col = true;
    else if (a == "--techniques") techs_arg = value();
    else if (a == "--batch") {
      batch = parse_count(value(), a);
      if (batch > 65536) throw gapp::invalid_argument("--batch must be at most 65536");
    } else if (a == "--speedup") {
      const double v = parse_number(value(), a);
      if (!(v > 0)) throw gapp::invalid_argument("--speedup must be positive");
      set_goal(gapp::tune::target_kind::speedup, v);
    } else if (a == "--latency-ms") {
      const double v = parse_number(value(), a);
      if (!(v > 0)) throw gapp::invalid_argument("--latency-ms must be positive");
      set_goal(gapp::tune::target_kind::latency_ms, v);
    } else if (a == "--sparsity") {
      const double v = parse_number(value(), a);
      if (!(v >= 0 && v < 1)) throw gapp::invalid_argument("--sparsity must lie in [0, 1), got " + fixed(v, 6));
      set_goal(gapp::tune::target_kind::sparsity, v);
    } else if (a == "--kept-l2") {
      const std::string v = value();
      if (v.find('@') != std::string::npos) {
        kept_ref = v;
        set_goal(gapp::tune::target_kind::kept_l2, 1);
      } else {
        const double f = parse_number(v, a);
        if (!(f > 0 && f <= 1)) throw gapp::invalid_argument("--kept-l2 must lie in (0, 1], got " + v);
        set_goal(gapp::tune::target_kind::kept_l2, f);
      }
    } else throw gapp::invalid_argument("unknown argument '" + a + "' (see --help)");
  }
  if (weights.empty() || profile_path.empty() || plan_path.empty())
    throw gapp::invalid_argument("--weights, --profile and --plan are required (see --help)");
  if (!goal == uniform.empty())
    throw gapp::invalid_argument("give a target (--speedup, --latency-ms, --sparsity or --kept-l2) or --uniform");
  if (!uniform.empty() && (!sensitivity_path.empty() || !techs_arg.empty()))
    throw gapp::invalid_argument("--uniform takes no --sensitivity or --techniques");
  auto split_choice = [](const std::string& v, const std::string& what) {
    const auto at = v.find('@');
    if (at == std::string::npos) throw gapp::invalid_argument(what + " expects TECHNIQUE@SPARSITY, got '" + v + "'");
    const double s = parse_number(v.substr(at + 1), what);
    if (!(s > 0 && s < 1)) throw gapp::invalid_argument(what + ": the sparsity must lie in (0, 1), got '" + v + "'");
    return std::make_pair(gapp::to_string(gapp::parse_technique(v.substr(0, at))), s);
  };
  const gapp::nn::vgg16_config cfg = gapp::nn::infer_config(weights);
  const std::vector<gapp::nn::vgg16_layer> net = gapp::nn::vgg16_layers(cfg);
  {
    std::vector<gapp::io::named_path> inputs{{"--profile", profile_path}, {"--sensitivity", sensitivity_path},
                                             {"--dense-run", dense_run}};
    for (const auto& l : net)
      for (const char* suffix : {".weight.npy", ".bias.npy"}) inputs.push_back({"a weight file", weights + "/" + l.name + suffix});
    gapp::io::require_distinct({{"--plan", plan_path}, {"--plot", plot_path}}, inputs);
  }
  const gapp::tune::profile prof = gapp::tune::load_profile(profile_path);
  if (policy.empty()) policy = prof.preset;
  try {
    gapp::tune::visit_policy(policy, [](auto) {});
  } catch (const gapp::invalid_argument& e) {
    throw gapp::invalid_argument(std::string("--policy: ") + e.what());
  }
  if (std::none_of(prof.measurements.begin(), prof.measurements.end(), [&](const auto& x) { return x.policy == policy; }))
    throw gapp::invalid_argument(profile_path + ": the profile measured nothing with policy '" + policy + "'");
  std::vector<std::string> techs;
  {
    std::stringstream ss(techs_arg);
    for (std::string t; std::getline(ss, t, ',');) techs.push_back(gapp::to_string(gapp::parse_technique(t)));
  }
  std::optional<gapp::tune::sensitivity> sens;
  if (!sensitivity_path.empty()) {
    sens = gapp::tune::load_sensitivity(sensitivity_path);
    for (const auto& [layer, m] : sens->drop)
      if (std::none_of(net.begin(), net.end(), [&](const auto& l) { return l.name == layer; }))
        throw gapp::invalid_argument(sensitivity_path + ": names layer '" + layer + "', which the network does not have");
  }

  const gapp::nn::vgg16_weights w = gapp::nn::load_npy_dir(cfg, weights);
  std::vector<gapp::tune::layer_choices> layers;
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    const auto& l = w.layers[i];
    const gapp::matrix_view wv(w.params[i].weight.data(), l.shape.gemm_rows(), l.shape.gemm_cols());
    const std::size_t n = l.conv ? l.in_size * l.in_size * batch : batch;
    auto lc = gapp::tune::choices_for(prof, policy, l.name, l.display, wv, n, static_cast<int>(l.shape.kernel_area()),
                                      techs, l.conv && !im2col);
    if (sens)
      for (std::size_t o = 1; o < lc.options.size(); ++o) {
        const auto d = sens->of(l.name, lc.options[o].technique, lc.options[o].sparsity);
        lc.options[o].loss = d ? *d : std::nan(""); // not in the table: not a choice
      }
    layers.push_back(std::move(lc));
  }
  if (std::none_of(layers.begin(), layers.end(), [](const auto& l) { return l.modelled; }))
    throw gapp::invalid_argument(profile_path + ": the profile measured none of the network's layer GEMMs at batch " +
                                 std::to_string(batch) + (im2col ? " after im2col" : " as the network runs them") +
                                 " (run gapp-tune --weights " + weights + " --batch " + std::to_string(batch) +
                                 (im2col ? " --im2col" : "") + ")");
  // the dense run: the time outside the planned GEMMs, and each layer's times scaled to what
  // its dense GEMM took inside the network
  double other = -1;
  std::vector<double> factors;
  if (!dense_run.empty()) {
    const dense_run_times d = read_dense_run(dense_run, prof, batch, im2col, layers);
    other = d.other_ms;
    factors = gapp::tune::calibrate(layers, d.gemm_ms);
  }
  if (!kept_ref.empty()) {
    const auto [t, s] = split_choice(kept_ref, "--kept-l2");
    bool found = false;
    for (const auto& u : gapp::tune::uniform_points(layers))
      if (u.technique == t && std::fabs(u.sparsity - s) < 1e-9) goal->value = u.kept_l2_fraction, found = true;
    if (!found)
      throw gapp::invalid_argument("--kept-l2 " + kept_ref + ": the profile did not measure " + t + " at " +
                                   fixed(s, 4) + " on every planned layer");
  }
  gapp::tune::plan p;
  if (!uniform.empty()) {
    const auto [t, s] = split_choice(uniform, "--uniform");
    p = gapp::tune::uniform_plan(layers, t, s, other);
  } else {
    p = gapp::tune::advise(layers, *goal, sens ? gapp::tune::objective::sensitivity : gapp::tune::objective::kept_l2,
                           other);
  }
  p.policy = policy, p.device = prof.device, p.vendor = prof.vendor, p.driver = prof.driver;
  p.profile = profile_path, p.weights = weights, p.batch = batch;

  std::vector<std::pair<std::string, std::string>> outputs{{plan_path, gapp::tune::to_json(p)}};
  if (!plot_path.empty()) outputs.emplace_back(plot_path, plot_svg(p));
  gapp::npy::write_all_atomic(outputs);

  std::string layers_json;
  for (const auto& l : p.layers)
    if (l.modelled)
      layers_json += std::string(layers_json.empty() ? "" : ",") + "\"" + l.display + "\":\"" + l.technique +
                     (l.technique == "dense" ? "" : "@" + fixed(l.sparsity, 2)) + "\"";
  std::string json = "{\"plan\":" + gapp::json::quote(plan_path) + ",\"policy\":" + gapp::json::quote(policy) +
                     ",\"target\":{\"kind\":\"" + gapp::tune::to_string(p.goal.kind) +
                     "\",\"value\":" + gapp::json::number(p.goal.value) + "},\"objective\":\"" +
                     gapp::tune::to_string(p.by) + "\",\"predicted_gemm_ms\":" + fixed(p.predicted_gemm_ms, 3) +
                     ",\"dense_gemm_ms\":" + fixed(p.dense_gemm_ms, 3);
  if (p.predicted_ms >= 0)
    json += ",\"predicted_ms\":" + fixed(p.predicted_ms, 3) + ",\"dense_ms\":" + fixed(p.dense_ms, 3) +
            ",\"predicted_speedup\":" + fixed(p.dense_ms / p.predicted_ms, 3);
  if (!factors.empty()) {
    std::string cal;
    for (std::size_t i = 0; i < layers.size(); ++i)
      if (layers[i].modelled) cal += std::string(cal.empty() ? "" : ",") + "\"" + layers[i].display + "\":" + fixed(factors[i], 3);
    json += ",\"calibration\":{" + cal + "}";
  }
  json += ",\"kept_l2_fraction\":" + fixed(p.kept_l2_fraction, 4) + ",\"sparsity\":" + fixed(p.sparsity, 4) +
          (sens ? ",\"loss\":" + fixed(p.loss, 3) : std::string()) + ",\"layers\":{" + layers_json + "}}";
  std::puts(json.c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gapp-advise: error: %s\n", e.what());
    return 1;
  }
}
