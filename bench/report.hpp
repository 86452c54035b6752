// bench/report.hpp — results: medians captured from Google Benchmark, the ratios against
// the peers, the CSV and the summary table.
#pragma once

#include "common.hpp"

#include <cstring>

namespace gapp_bench {

// ------------------------------------------------------------------ results, CSV, summary
struct result {
  double time = 0, wall = 0, device = 0, sparsity = 0, unit_rows = 0, unit_cols = 0;
  std::string label;
};
std::map<std::string, result> g_results; // "shape/technique/s" -> median

class capture_reporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      std::string name = r.benchmark_name();
      const bool median = r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) continue;
      for (const char* tail : {"/min_time", "/repeats", "/manual_time"}) {
        const auto cut = name.find(tail);
        if (cut != std::string::npos) name = name.substr(0, cut);
      }
      result& x = g_results[name];
      if (median || x.time == 0) {
        x.time = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
        x.label = r.report_label;
        auto get = [&](const char* c) {
          auto it = r.counters.find(c);
          return it == r.counters.end() ? 0.0 : static_cast<double>(it->second);
        };
        x.wall = get("wall_ms"), x.device = get("device_ms"), x.sparsity = get("sparsity");
        x.unit_rows = get("unit_rows"), x.unit_cols = get("unit_cols");
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

struct row {
  std::string shape, tech;
  double s, time_ms, device_ms, gflops, vs_dense, share, vs_oblas, vs_clb;
  double achieved = 0;
  std::string policy;     ///< the tuned rows' policy (from the device profile), else empty
  std::string unit, flag; ///< flag: "empty" (pruned away entirely), "off-target" (more than a unit from s)
};

/// Why a sparse row must stay out of geomeans and ranges: the layer pruned away entirely (a
/// GEMM that does nothing), or an achieved sparsity more than one unit's share of the matrix
/// from the target.
/// Balanced selection rounds in every bank (row of units), so its step is one unit per bank.
inline std::string flag_of(const layer& l, double target, const result& r, bool balanced) {
  if (r.unit_rows <= 0 || l.M <= 0) return "";
  if (r.sparsity >= 1.0 - 1e-9) return "empty";
  double step = r.unit_rows * r.unit_cols / (static_cast<double>(l.M) * l.K);
  if (balanced) step *= std::ceil(l.M / r.unit_rows);
  return std::fabs(r.sparsity - target) > step + 1e-9 ? "off-target" : "";
}

inline std::vector<row> rows_of(const std::vector<layer>& ls) {
  std::vector<row> out;
  for (const layer& l : ls) {
    const std::string base = l.name + "/";
    auto get = [&](const std::string& t) -> const result* {
      auto it = g_results.find(base + t);
      return it == g_results.end() ? nullptr : &it->second;
    };
    const result* ob = get("openblas/0.00");
    const result* cb = get("clblast/0.00");
    const result* dd = get("dense-direct/0.00");
    const result* dl = get("dense-local/0.00");
    const result* dp = get("dense-padded/0.00");
    // the tuned rows' dense: the faster of the preset's and the tuned dense (of their layout)
    auto faster = [](const result* a, const result* b) { return !a ? b : !b ? a : b->time < a->time ? b : a; };
    const result* dt = faster(dd, get("dense-tuned/0.00"));
    const result* dpt = faster(faster(dp, get("dense-padded-tuned/0.00")), get("dense-padded-layer-tuned/0.00"));
    const double flops = flops_of(l);
    for (auto& [name, r] : g_results) {
      if (name.rfind(base, 0) != 0) continue;
      const std::string rest = name.substr(base.size());
      const std::string tech = rest.substr(0, rest.find('/'));
      const double s = std::atof(rest.substr(rest.find('/') + 1).c_str());
      auto ends = [&](const char* suffix) {
        const std::size_t n = std::strlen(suffix);
        return tech.size() > n && tech.compare(tech.size() - n, n, suffix) == 0;
      };
      const bool tuned = ends("-tuned");
      const bool padded = tech.find("-padded") != std::string::npos;
      const result* dense = tuned && padded ? dpt
                          : tuned           ? dt
                          : padded          ? dp
                          : tech.find("local") != std::string::npos || !dd ? dl : dd;
      const bool peer = tech == "openblas" || tech == "clblast";
      const double sp = dense && !peer ? dense->time / r.time : 0.0;
      row x{l.name, tech, s, r.time * 1e3, r.device, flops / r.time * 1e-9, sp, sp * (1.0 - r.sparsity),
            ob ? ob->time / r.time : 0.0, cb ? cb->time / r.time : 0.0};
      x.achieved = r.sparsity;
      if (tuned) {
        const auto own = g_row_policies.find(name);
        x.policy = own != g_row_policies.end() ? own->second : g_tuned_policies[tech.substr(0, tech.find('-'))];
      }
      if (r.unit_rows > 0) x.unit = std::to_string(static_cast<int>(r.unit_rows)) + "x" + std::to_string(static_cast<int>(r.unit_cols));
      if (s > 0) x.flag = flag_of(l, s, r, tech.find("balanced") != std::string::npos);
      out.push_back(x);
    }
  }
  return out;
}

inline void write_csv(const std::vector<row>& rows, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::fprintf(f, "shape,technique,sparsity,time_ms,device_ms,gflops_dense_equiv,speedup_vs_gapp_dense,share_of_ideal,"
                  "speedup_vs_openblas,speedup_vs_clblast,device,achieved_sparsity,unit,flag,policy\n");
  for (const row& r : rows)
    std::fprintf(f, "%s,%s,%.2f,%.4f,%.4f,%.2f,%.4f,%.4f,%.4f,%.4f,\"%s\",%.4f,%s,%s,%s\n", r.shape.c_str(), r.tech.c_str(),
                 r.s, r.time_ms, r.device_ms, r.gflops, r.vs_dense, r.share, r.vs_oblas, r.vs_clb,
                 g_env->device_name.c_str(), r.achieved, r.unit.c_str(), r.flag.c_str(), r.policy.c_str());
  std::fclose(f);
}

inline void print_summary(const std::vector<row>& rows) {
  std::printf("\n# summary (medians of wall time; device: %s; OpenBLAS core %s)\n", g_env->device_name.c_str(),
              openblas_get_corename());
  std::printf("%-22s %-16s %5s %10s %8s %9s %7s %9s %8s\n", "shape", "technique", "s", "time_ms", "GFLOP/s", "vs_dense",
              "share", "vs_oblas", "vs_clb");
  for (const row& r : rows)
    std::printf("%-22s %-16s %5.2f %10.3f %8.1f %9.2f %7.2f %9.2f %8.2f\n", r.shape.c_str(), r.tech.c_str(), r.s,
                r.time_ms, r.gflops, r.vs_dense, r.share, r.vs_oblas, r.vs_clb);
  for (const std::string& dense : {g_sparse_dense, std::string("dense-tuned"), std::string("dense-padded"),
                                   std::string("dense-padded-tuned"), std::string("dense-padded-layer-tuned")}) {
    double g = 0;
    int n = 0;
    for (const row& r : rows)
      if (r.tech == dense && r.shape.rfind("conv", 0) == 0 && r.vs_oblas > 0) g += std::log(r.vs_oblas), ++n;
    if (n)
      std::printf("geometric mean over the 224 layers: gapp %s / OpenBLAS = %.2f\n", dense.c_str(), std::exp(g / n));
  }
  for (const auto& [tech, pol] : g_tuned_policies) std::printf("tuned %s rows: policy %s\n", tech.c_str(), pol.c_str());
}

} // namespace gapp_bench
