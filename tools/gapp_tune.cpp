// gapp-tune — measure candidate policies on an OpenCL device and write its device profile.
//
//   gapp-tune [--device N] [--out FILE] [--shapes vgg16|FILE] [--weights DIR [--batch B]] [--im2col]
//             [--techniques dense,simd,tile] [--sparsity S[,S...]] [--repeats R] [--max-n N]
//
// Candidates: the preset dispatch picks for the device and every tiling of
// gapp::tune::tilings_for<preset> that fits it and is not the preset's own (13 candidates
// in all for the PoCL presets, 10 to 12 for the GPU presets).
// Each candidate is first checked against a host reference on the shape's first columns;
// then every candidate of every (technique, sparsity) group of the shape is timed together:
// untimed warm-up rounds (at least one, at least 100 ms), then R rounds in which each runs
// once (interleaved, so that drift and slow stretches hit all alike), each launch on one of
// up to 8 copies of the input and output in turn; the median is kept. Progress and time
// left go to stderr.
// Resumable: finished shapes' (technique, sparsity) groups are kept in FILE.partial and skipped when
// the same command runs again; the profile is written atomically at the end (a good profile
// is never replaced by a partial one). Prints the profile's summary as one JSON line.
#include <gapp/io/npy.hpp>
#include <gapp/io/paths.hpp>
#include <gapp/nn.hpp>
#include <gapp/opencl.hpp>
#include <gapp/tune/profile.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char* const usage =
    "usage: gapp-tune [--device N] [--out FILE] [--shapes vgg16|FILE] [--weights DIR [--batch B]]\n"
    "                 [--techniques LIST] [--sparsity S[,S...]] [--repeats R] [--max-n N] [--im2col]\n"
    "                 [--preset-only]\n"
    "Measures the device's preset and its candidate tilings on GEMM shapes and writes the\n"
    "device profile (JSON). Shapes: the five VGG16-224 layers at batch 1 (default), a file of\n"
    "lines 'M K N' (# comments; plain GEMMs), or the conv layers of a gapp-vgg16 weights directory\n"
    "(--weights, its configuration read from the files, batch B, default 1). Convolutions are\n"
    "measured as the network runs them: implicit GEMMs that read the layer's input, in the padded\n"
    "layout, where the candidate's family can; with --im2col, GEMMs over the im2col matrix.\n"
    "LIST: dense, simd, tile, multi,\n"
    "simd-balanced, tile-balanced (default dense,simd,tile); S: the sparse techniques'\n"
    "sparsities (default 0.75,0.9); R: timed rounds (default 7); N caps a shape's columns (default\n"
    "no cap). FILE defaults to the documented profile location for the device (see\n"
    "docs/tuning.md). Resumable through FILE.partial. --preset-only measures the preset alone (what\n"
    "gapp-advise plans with unless told another policy): one candidate instead of about a dozen.\n";

struct shape {
  std::string name;
  std::size_t m, k, n;
  std::size_t batch = 0, h = 0, w = 0; ///< h > 0: a 3×3 convolution's GEMM, measured as an implicit GEMM
  std::string weight_file;              ///< the layer's weights (--weights), else random ones
};

/// The five VGG16-224 layer GEMMs (batch 1); as convolutions of their 3×3 windows over
/// h × h images unless `im2col`.
std::vector<shape> vgg16_shapes(bool im2col) {
  std::vector<shape> out{{"conv1_2", 64, 576, 50176},
                         {"conv2_2", 128, 1152, 12544},
                         {"conv3_x", 256, 2304, 3136},
                         {"conv4_x", 512, 4608, 784},
                         {"conv5_x", 512, 4608, 196}};
  if (!im2col)
    for (auto& s : out) s.batch = 1, s.h = s.w = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(s.n))));
  return out;
}

std::size_t parse_count(const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos || std::stoull(s) == 0)
    throw gapp::invalid_argument(what + " expects a positive integer, got '" + s + "'");
  return static_cast<std::size_t>(std::stoull(s));
}

std::vector<shape> shapes_from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw gapp::file_error(path + ": cannot open for reading");
  std::vector<shape> out;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string w; ls >> w;) f.push_back(w);
    if (f.empty()) continue;
    if (f.size() != 3)
      throw gapp::file_error(path + ": line " + std::to_string(no) + " must hold 'M K N', got '" + line + "'");
    try {
      out.push_back({"line" + std::to_string(no), parse_count(f[0], "M"), parse_count(f[1], "K"), parse_count(f[2], "N")});
    } catch (const gapp::invalid_argument& e) {
      throw gapp::file_error(path + ": line " + std::to_string(no) + ": " + e.what());
    }
  }
  if (out.empty()) throw gapp::file_error(path + ": no shape (lines of 'M K N')");
  return out;
}

std::vector<shape> shapes_from_weights(const std::string& dir, std::size_t batch, bool implicit) {
  const gapp::nn::vgg16_config cfg = gapp::nn::infer_config(dir);
  std::vector<shape> out;
  std::set<std::string> seen;
  for (const auto& l : gapp::nn::vgg16_layers(cfg)) {
    if (!l.conv || l.shape.in_channels * 9 < 64) continue; // conv1_1 stays dense
    // measured with the weights of the first layer of its shape: where the units and kept
    // weights fall decides how evenly a sparse GEMM's work spreads over the work-groups
    shape s{l.display, l.shape.gemm_rows(), l.shape.gemm_cols(), l.in_size * l.in_size * batch};
    s.weight_file = dir + "/" + l.name + ".weight.npy";
    if (implicit) s.batch = batch, s.h = s.w = l.in_size;
    const std::string key = std::to_string(s.m) + "," + std::to_string(s.k) + "," + std::to_string(s.n);
    if (seen.insert(key).second) out.push_back(s);
  }
  return out;
}

std::string fixed(double v, int d) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", d, v);
  return b;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

/// One candidate prepared for one (shape, technique): its operation and what it achieved.
struct runner {
  std::string policy;
  double achieved = 0;
  bool implicit = false; ///< reads the convolution's input (else the im2col matrix)
  bool padded = false;   ///< ... in the padded layout, as the network keeps its activations
  /// (queue, the input X — a K × N matrix, or the C × N input of a convolution —, that input
  /// in the padded layout, its im2col matrix (convolutions), Y)
  std::function<cl::Event(const cl::CommandQueue&, const cl::Buffer&, const cl::Buffer&, const cl::Buffer&, const cl::Buffer&)>
      enqueue;
};

/// The im2col matrix (K = C·9 rows, B·H·W columns, padding 1) of a CNHW input, columns
/// [0, ncols) only.
std::vector<float> im2col3(const std::vector<float>& in, std::size_t c, std::size_t b, std::size_t h, std::size_t w,
                           std::size_t ncols) {
  std::vector<float> out(c * 9 * ncols, 0.0f);
  for (std::size_t ch = 0; ch < c; ++ch)
    for (std::size_t r = 0; r < 9; ++r)
      for (std::size_t n = 0; n < ncols; ++n) {
        const std::size_t bi = n / (h * w), p = n % (h * w);
        const long y = static_cast<long>(p / w) + static_cast<long>(r / 3) - 1, x = static_cast<long>(p % w) + static_cast<long>(r % 3) - 1;
        if (y < 0 || x < 0 || y >= static_cast<long>(h) || x >= static_cast<long>(w)) continue;
        out[(ch * 9 + r) * ncols + n] = in[((ch * b + bi) * h + static_cast<std::size_t>(y)) * w + static_cast<std::size_t>(x)];
      }
  return out;
}

struct progress {
  std::size_t total = 0, done = 0;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  void note(const std::string& what) {
    std::fprintf(stderr, "\r%-110.110s\n", ("gapp-tune: " + what).c_str());
    std::fflush(stderr);
  }
  void tick(const std::string& what) {
    ++done;
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double left = done ? el / static_cast<double>(done) * static_cast<double>(total - done) : 0;
    const int width = 30, fill = total ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu  %4.0f s elapsed, ~%4.0f s left  %-48.48s", std::string(fill, '#').c_str(),
                 std::string(width - fill, '.').c_str(), done, total, el, left, what.c_str());
    std::fflush(stderr);
  }
};

/// Calls f with the technique's unit: only the tuned units (simd, tile, multi), so that each
/// candidate instantiates three packed formats, not every unit gapp has.
template <class F>
void with_unit(const gapp::technique& t, F&& f) {
  if (t.is<gapp::units::simd>()) f(std::get<gapp::units::simd>(*t.unit));
  else if (t.is<gapp::units::tile>()) f(std::get<gapp::units::tile>(*t.unit));
  else if (t.is<gapp::units::multi>()) f(std::get<gapp::units::multi>(*t.unit));
  else throw gapp::invalid_argument("gapp-tune: technique '" + gapp::to_string(t) + "' is not tuned");
}

/// Prunes and packs W for policy P and the technique; returns a runner, or nothing for a
/// technique the candidate does not support.
template <class P>
runner make_runner(const cl::Context& ctx, const cl::Device& dev, gapp::opencl::program_cache& cache,
                   const std::vector<float>& w, const shape& s, const gapp::technique& t, double sparsity) {
  const gapp::matrix_view wv(w.data(), s.m, s.k);
  runner r{std::string(P::name), 0, false, false, {}};
  gapp::opencl::gemm_options go;
  if (s.h) go.implicit_kh = go.implicit_kw = 3, go.padded = true; // as vgg16_net runs them
  auto bind = [&](std::shared_ptr<gapp::opencl::gemm_op<P>> op) {
    r.implicit = op->plan().implicit(); // a family that cannot reads the im2col matrix
    r.padded = op->plan().padded();
    const shape sh = s;
    r.enqueue = [op, sh](const cl::CommandQueue& q, const cl::Buffer& x, const cl::Buffer& xpad, const cl::Buffer& xcol,
                         const cl::Buffer& y) {
      if (op->plan().padded()) return op->enqueue_conv(q, xpad, y, sh.batch, sh.h, sh.w);
      return op->plan().implicit() ? op->enqueue_conv(q, x, y, sh.batch, sh.h, sh.w) : op->enqueue(q, xcol, y, sh.n);
    };
  };
  if (t.dense()) {
    bind(std::make_shared<gapp::opencl::gemm_op<P>>(ctx, dev, cache, wv, go));
    return r;
  }
  with_unit(t, [&](auto unit) {
    gapp::prune_options o;
    o.balanced = t.balanced;
    const auto m = gapp::prune<P>(wv, unit, sparsity, o);
    r.achieved = m.sparsity();
    bind(std::make_shared<gapp::opencl::gemm_op<P>>(ctx, dev, cache, gapp::pack(wv, m), go));
  });
  return r;
}

/// W·X on the host for the first `n` columns (X row-major, `ld` floats a row), with W masked as
/// the candidate prunes it.
template <class P>
std::vector<float> reference(const std::vector<float>& w, const shape& s, const gapp::technique& t, double sparsity,
                             const std::vector<float>& x, std::size_t ld, std::size_t n) {
  std::vector<float> wm = w;
  if (!t.dense())
    with_unit(t, [&](auto unit) {
      gapp::prune_options o;
      o.balanced = t.balanced;
      const auto m = gapp::prune<P>(gapp::matrix_view(w.data(), s.m, s.k), unit, sparsity, o);
      for (std::size_t i = 0; i < wm.size(); ++i)
        if (!m.keep()[i]) wm[i] = 0;
    });
  std::vector<double> y(s.m * n, 0.0);
  for (std::size_t i = 0; i < s.m; ++i)
    for (std::size_t kk = 0; kk < s.k; ++kk) {
      const double a = wm[i * s.k + kk];
      if (a == 0) continue;
      const float* xr = &x[kk * ld];
      for (std::size_t j = 0; j < n; ++j) y[i * n + j] += a * xr[j];
    }
  return std::vector<float>(y.begin(), y.end());
}

int run(int argc, char** argv) {
  std::size_t device = 0, repeats = 7, max_n = 0, batch = 1;
  bool im2col = false, preset_only = false;
  std::string out, shapes_arg = "vgg16", weights, techs_arg = "dense,simd,tile";
  std::vector<double> sparsities{0.75, 0.9};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw gapp::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") return std::fputs(usage, stdout), 0;
    if (a == "--device") {
      const std::string v = value();
      if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
        throw gapp::invalid_argument("--device expects a device index (0, 1, ...), got '" + v + "'");
      device = std::stoul(v);
    } else if (a == "--out") out = value();
    else if (a == "--shapes") shapes_arg = value();
    else if (a == "--weights") weights = value();
    else if (a == "--techniques") techs_arg = value();
    else if (a == "--repeats") {
      repeats = parse_count(value(), a);
      if (repeats > 1000) throw gapp::invalid_argument("--repeats must be at most 1000");
    } else if (a == "--max-n") max_n = parse_count(value(), a);
    else if (a == "--im2col") im2col = true;
    else if (a == "--preset-only") preset_only = true;
    else if (a == "--batch") {
      batch = parse_count(value(), a);
      if (batch > 65536) throw gapp::invalid_argument("--batch must be at most 65536");
    }
    else if (a == "--sparsity") {
      sparsities.clear();
      std::stringstream ss(value());
      for (std::string v; std::getline(ss, v, ',');) {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || end != v.c_str() + v.size() || !(x > 0 && x < 1))
          throw gapp::invalid_argument("--sparsity expects numbers in (0, 1), got '" + v + "'");
        sparsities.push_back(x);
      }
      if (sparsities.empty()) throw gapp::invalid_argument("--sparsity is empty");
    } else throw gapp::invalid_argument("unknown argument '" + a + "' (see --help)");
  }
  // the measured groups of a shape: dense once, each sparse technique at each sparsity
  std::vector<gapp::technique> techs;
  std::vector<std::string> tech_names;
  std::vector<double> tech_sparsity;
  {
    std::stringstream ss(techs_arg);
    for (std::string t; std::getline(ss, t, ',');) {
      const gapp::technique x = gapp::parse_technique(t);
      if (!x.dense() && !(x.is<gapp::units::simd>() || x.is<gapp::units::tile>() || x.is<gapp::units::multi>()))
        throw gapp::invalid_argument("--techniques: '" + t + "' is not tuned (dense, simd, tile, multi and their "
                                     "balanced forms are)");
      for (double s : x.dense() ? std::vector<double>{0.0} : sparsities)
        techs.push_back(x), tech_names.push_back(gapp::to_string(x)), tech_sparsity.push_back(s);
    }
    if (techs.empty()) throw gapp::invalid_argument("--techniques is empty");
  }
  if (batch != 1 && weights.empty()) throw gapp::invalid_argument("--batch applies to --weights shapes only");
  const bool convs = !weights.empty() || shapes_arg == "vgg16";
  if (im2col && !convs) throw gapp::invalid_argument("--im2col applies to convolutions (--weights, --shapes vgg16) only");
  if (max_n && convs && !im2col)
    throw gapp::invalid_argument("--max-n cannot cut a convolution measured as an implicit GEMM (use --im2col with it)");
  std::vector<shape> shapes = !weights.empty() ? shapes_from_weights(weights, batch, !im2col)
                              : shapes_arg == "vgg16" ? vgg16_shapes(im2col)
                                                      : shapes_from_file(shapes_arg);
  if (max_n)
    for (auto& s : shapes) s.n = std::min(s.n, max_n);

  const cl::Device dev = gapp::opencl::device_at(device);
  const gapp::opencl::device_info info = gapp::opencl::query(dev);
  if (out.empty()) {
    const auto dirs = gapp::tune::profile_dirs();
    if (dirs.empty()) throw gapp::invalid_argument("--out is needed: no GAPP_PROFILE_DIR, XDG_CONFIG_HOME or HOME");
    std::filesystem::create_directories(dirs.front());
    out = dirs.front() + "/" + gapp::tune::profile_file_name(info);
  }
  const std::string partial = out + ".partial";
  { // the profile and its partial file may be no input
    std::vector<gapp::io::named_path> inputs;
    if (weights.empty() && shapes_arg != "vgg16") inputs.push_back({"--shapes", shapes_arg});
    if (!weights.empty())
      for (const auto& l : gapp::nn::vgg16_layers(gapp::nn::infer_config(weights)))
        for (const char* suffix : {".weight.npy", ".bias.npy"})
          inputs.push_back({"a weight file", weights + "/" + l.name + suffix});
    gapp::io::require_distinct({{"--out", out}, {"the partial profile", partial}}, inputs);
  }
  const std::string preset = gapp::choose_policy(info).name;

  gapp::tune::profile prof;
  prof.device = info.name, prof.vendor = info.vendor, prof.driver = info.driver, prof.preset = preset;
  std::set<std::string> done_groups; // "m,k,n,technique"
  auto group_key = [](std::size_t m, std::size_t k, std::size_t n, const std::string& t, double s, bool implicit) {
    return std::to_string(m) + "," + std::to_string(k) + "," + std::to_string(n) + "," + t + "," + fixed(s, 4) +
           (implicit ? ",implicit" : "");
  };
  if (std::filesystem::exists(partial)) {
    gapp::tune::profile old = gapp::tune::load_profile(partial);
    if (old.matches(info) && old.preset == preset) {
      prof.measurements = old.measurements;
      for (const auto& x : old.measurements) done_groups.insert(group_key(x.m, x.k, x.n, x.technique, x.sparsity, x.implicit));
      std::fprintf(stderr, "gapp-tune: resuming from %s (%zu groups measured)\n", partial.c_str(), done_groups.size());
    }
  }

  cl::Context ctx(dev);
  cl::CommandQueue q(ctx, dev);
  gapp::opencl::program_cache cache;
  std::size_t n_candidates = 0;
  std::string json;
  gapp::presets::all::visit(preset, [&](auto base) {
    using Base = decltype(base);
    using cands = gapp::tune::candidates<Base>;
    n_candidates = preset_only ? 1 : cands::size;
    progress bar;
    for (const auto& s : shapes)
      for (std::size_t ti = 0; ti < techs.size(); ++ti)
        if (!done_groups.count(group_key(s.m, s.k, s.n, tech_names[ti], tech_sparsity[ti], s.h > 0)))
          bar.total += n_candidates;
    std::fprintf(stderr, "gapp-tune: %s (%s, driver %s), preset %s, %zu candidates, %zu shapes, techniques %s\n",
                 info.name.c_str(), info.vendor.c_str(), info.driver.c_str(), preset.c_str(), n_candidates,
                 shapes.size(), techs_arg.c_str());
    for (const auto& s : shapes) {
      std::mt19937 g(11);
      std::normal_distribution<float> he(0.0f, std::sqrt(2.0f / static_cast<float>(s.k)));
      std::uniform_real_distribution<float> u(0.0f, 1.0f);
      // X: a K × N matrix, or for a convolution its C × N input (and, for a candidate whose
      // family reads no input directly, that input's im2col matrix)
      const std::size_t xrows = s.h ? s.k / 9 : s.k;
      std::vector<float> w(s.m * s.k), x(xrows * s.n);
      if (s.weight_file.empty())
        for (auto& v : w) v = he(g);
      else {
        gapp::npy::tensor<float> t = gapp::npy::read_floats(s.weight_file);
        if (t.data.size() != w.size())
          throw gapp::shape_error(s.weight_file + ": " + std::to_string(t.data.size()) + " weights, the layer's GEMM needs " +
                                  std::to_string(s.m) + "x" + std::to_string(s.k));
        for (float v : t.data)
          if (!std::isfinite(v)) throw gapp::value_error(s.weight_file + ": a weight is NaN or infinite (gapp refuses them)");
        w = std::move(t.data);
      }
      for (auto& v : x) v = u(g);
      cl::Buffer xb(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, x.size() * 4, x.data());
      // Y holds the plain or the padded output (the larger)
      const gapp::kernels::padded_extent pe = gapp::kernels::padded_layout(s.batch, s.h, s.w);
      cl::Buffer yb(ctx, CL_MEM_READ_WRITE, s.m * std::max(s.n, s.h ? pe.plane : 0) * 4);
      cl::Buffer xcol = xb, xpad = xb;
      if (s.h) {
        std::vector<float> col = im2col3(x, xrows, s.batch, s.h, s.w, s.n);
        xcol = cl::Buffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, col.size() * 4, col.data());
        std::vector<float> p = gapp::kernels::to_padded(x, xrows * s.batch, s.h, s.w);
        xpad = cl::Buffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, p.size() * 4, p.data());
      }
      // copies of the inputs and of Y, so that the timed launches take turns with them: a launch
      // finds its input out of cache, as a network layer finds the one the layer before it
      // wrote among everything else (one input read again and again stays cached, and made
      // the padded convolutions look up to 1.9x faster than in the network), and writes an
      // output that is not cached either, as a network layer writes into a buffer last used
      // layers ago
      std::vector<std::array<cl::Buffer, 4>> inputs{{xb, xpad, xcol, yb}};
      {
        std::size_t bytes = 0;
        for (const cl::Buffer& b : inputs[0]) bytes += b.getInfo<CL_MEM_SIZE>();
        const std::size_t copies = std::min<std::size_t>(8, (std::size_t{128} << 20) / std::max<std::size_t>(bytes, 1));
        for (std::size_t i = 1; i < copies; ++i) {
          std::array<cl::Buffer, 4> c;
          for (std::size_t j = 0; j < 3; ++j) {
            const std::size_t sz = inputs[0][j].getInfo<CL_MEM_SIZE>();
            c[j] = cl::Buffer(ctx, CL_MEM_READ_ONLY, sz);
            q.enqueueCopyBuffer(inputs[0][j], c[j], 0, 0, sz);
          }
          c[3] = cl::Buffer(ctx, CL_MEM_READ_WRITE, yb.getInfo<CL_MEM_SIZE>());
          q.enqueueFillBuffer(c[3], 0.0f, 0, yb.getInfo<CL_MEM_SIZE>());
          inputs.push_back(c);
        }
        q.finish();
      }
      const std::size_t nref = std::min<std::size_t>(s.n, 96);
      const std::vector<float> xref = s.h ? im2col3(x, xrows, s.batch, s.h, s.w, nref) : x;
      const std::size_t xref_ld = s.h ? nref : s.n;
      // every pending (technique, sparsity) group of the shape, each with its checked candidates
      struct group {
        std::size_t ti;
        std::vector<runner> rs;
      };
      std::vector<group> groups;
      for (std::size_t ti = 0; ti < techs.size(); ++ti) {
        const auto& t = techs[ti];
        const double sparsity = tech_sparsity[ti];
        if (done_groups.count(group_key(s.m, s.k, s.n, tech_names[ti], sparsity, s.h > 0))) continue;
        // prepare and check every candidate
        std::vector<runner> rs;
        const std::size_t nchk = nref;
        cands::for_each([&](auto cand) {
          using P = decltype(cand);
          if (preset_only && std::string_view(P::name) != preset) return;
          bar.tick(s.name + " " + tech_names[ti] + (t.dense() ? "" : " " + fixed(sparsity, 2)) + " " +
                   std::string(P::name));
          if (!gapp::can_implement<P>({s.m, s.n, s.k}, info)) return;
          runner r = make_runner<P>(ctx, dev, cache, w, s, t, sparsity);
          r.enqueue(q, xb, xpad, xcol, yb).wait(); // first launch: builds, warms
          const std::size_t ys = r.padded ? pe.plane : s.n; // Y's row stride
          std::vector<float> y(s.m * ys);
          q.enqueueReadBuffer(yb, CL_TRUE, 0, y.size() * 4, y.data());
          auto at = [&](std::size_t i, std::size_t j) { // output (row i, column j) in Y
            if (!r.padded) return y[i * ys + j];
            const std::size_t b = j / (s.h * s.w), p = j % (s.h * s.w);
            return y[i * ys + b * pe.image + (p / s.w + 1) * pe.pitch + p % s.w + 1];
          };
          const std::vector<float> ref = reference<P>(w, s, t, sparsity, xref, xref_ld, nchk);
          double err = 0, scale = 1e-6;
          for (std::size_t i = 0; i < s.m; ++i)
            for (std::size_t j = 0; j < nchk; ++j) {
              err = std::max(err, std::fabs(static_cast<double>(at(i, j)) - ref[i * nchk + j]));
              scale = std::max(scale, std::fabs(static_cast<double>(ref[i * nchk + j])));
            }
          if (!(err <= 1e-4 * scale))
            throw gapp::error("candidate " + std::string(P::name) + " computes a wrong " + tech_names[ti] + " GEMM " +
                              std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n) +
                              " (max error " + std::to_string(err) + " against the host reference, scale " +
                              std::to_string(scale) + ")");
          rs.push_back(std::move(r));
        });
        groups.push_back({ti, std::move(rs)});
      }
      // then every runner of the shape timed interleaved: a round launches each once, so that
      // the slow stretches of a shared machine (on a 2-core VM, launches 2x slower for tens of
      // milliseconds at a time, as when a core is taken away) fall on all groups alike instead
      // of on the few consecutive rounds of one group, which took whole medians 2x slow.
      // Warm-up rounds first, untimed: at least one and at least 100 ms. After the host work of
      // the preparation the first launches run slow for a while — on a 2-core VM up to 2x for
      // 3–5 launches (conv3_2 of a batch-100 network: 4.3, 4.3, 2.9, then 2.1 ms).
      std::vector<runner*> all;
      for (auto& gr : groups)
        for (auto& r : gr.rs) all.push_back(&r);
      // one timing of the shape: warm-up rounds, then the timed ones
      auto time_all = [&] {
        const auto w0 = std::chrono::steady_clock::now();
        for (std::size_t round = 0;
             round < 1 || (std::chrono::steady_clock::now() - w0 < std::chrono::milliseconds(100) && round < 100); ++round)
          for (std::size_t c = 0; c < all.size(); ++c) {
            const auto& in = inputs[(round * all.size() + c) % inputs.size()];
            all[c]->enqueue(q, in[0], in[1], in[2], in[3]).wait();
          }
        std::vector<std::vector<double>> t(all.size());
        for (std::size_t round = 0; round < repeats; ++round)
          for (std::size_t c = 0; c < all.size(); ++c) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto& in = inputs[(round * all.size() + c) % inputs.size()];
            all[c]->enqueue(q, in[0], in[1], in[2], in[3]).wait();
            t[c].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
          }
        return t;
      };
      // how disturbed a timing was: over the runners, the median of (median / fastest round).
      // Interleaving spreads a short slow stretch over all runners; one that lasts the whole
      // timing of a shape (seconds, on a shared VM) shows as rounds up to 2x their runner's
      // fastest, and such a timing is taken again, up to twice, keeping the least disturbed.
      // Slowness only ever adds time, so the least disturbed timing is the device's own.
      auto disturbance = [](const std::vector<std::vector<double>>& t) {
        std::vector<double> r;
        for (const auto& v : t)
          if (!v.empty()) r.push_back(median(v) / *std::min_element(v.begin(), v.end()));
        return r.empty() ? 1.0 : median(r);
      };
      std::vector<std::vector<double>> ms;
      if (!all.empty()) {
        ms = time_all();
        double dist = disturbance(ms);
        for (int again = 0; again < 2 && repeats >= 3 && dist > 1.15; ++again) {
          bar.note(s.name + ": slow stretch (x" + fixed(dist, 2) + "), timed again");
          auto t = time_all();
          const double d = disturbance(t);
          if (d < dist) ms = std::move(t), dist = d;
        }
      }
      {
        std::size_t c = 0;
        for (const auto& gr : groups)
          for (const auto& r : gr.rs) {
            prof.measurements.push_back({s.m, s.k, s.n, tech_names[gr.ti], tech_sparsity[gr.ti], r.policy, ms[c],
                                         median(ms[c]), r.achieved, r.implicit});
            ++c;
          }
      }
      if (!groups.empty()) {
        gapp::tune::summarise(prof);
        gapp::npy::write_atomic(partial, gapp::tune::to_json(prof));
      }
    }
    std::fputc('\n', stderr);
  });
  gapp::tune::summarise(prof);
  gapp::npy::write_atomic(out, gapp::tune::to_json(prof));
  std::filesystem::remove(partial);
  json = "{\"profile\":" + gapp::json::quote(out) + ",\"device\":" + gapp::json::quote(prof.device) +
         ",\"preset\":" + gapp::json::quote(preset) + ",\"candidates\":" + std::to_string(n_candidates) +
         ",\"measurements\":" + std::to_string(prof.measurements.size()) + ",\"best\":[";
  for (std::size_t i = 0; i < prof.best.size(); ++i)
    json += std::string(i ? "," : "") + "{\"technique\":" + gapp::json::quote(prof.best[i].technique) +
            ",\"policy\":" + gapp::json::quote(prof.best[i].policy) +
            ",\"speedup_vs_preset\":" + fixed(prof.best[i].speedup_vs_preset, 3) + "}";
  std::puts((json + "]}").c_str());
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\ngapp-tune: error: %s\n", e.what());
    return 1;
  }
}
