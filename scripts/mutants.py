#!/usr/bin/env python3
"""Mutants of gapp's host-side checks: can the host suite fail?

Each mutant replaces one exact piece of a header with a plausible mistake (a bound off by
one, a check dropped, a tie broken the other way, a formula without its square root). For
each: apply it, build `gapp_host_tests`, run it, restore the header. A mutant the suite
passes is a check no test can see fail — either a missing test, or a mutant that changes
nothing the library promises (marked `equivalent`, with the reason).

    python3 scripts/mutants.py                 # every mutant (about 2 minutes each on 2 cores)
    python3 scripts/mutants.py --list          # the list, numbered
    python3 scripts/mutants.py 3 17 40         # these
    python3 scripts/mutants.py --file select   # those of headers whose path contains 'select'

Needs a configured build directory with the tests (`--build`, default `build`, as
`bash scripts/test.sh` leaves it) and headers without uncommitted changes (they are edited
in place and restored from memory, also on Ctrl-C). The suite is first built and run as the
headers are: it must pass, or every mutant would look caught. Exit status 1 when a mutant
that is not marked equivalent survives, or when a mutant's text is no longer in its header
(keep this list in step with the code). Not part of `scripts/test.sh`: it takes hours.
"""
import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (header under include/gapp/, exact text, replacement, what a test must notice, equivalent?)
MUTANTS = [
    # global selection
    ("prune/global.hpp", "return a.score < b.score ||", "return a.score > b.score ||",
     "global ranking removes the lowest scores first", None),
    ("prune/global.hpp", "s.hi = std::max(s.lo, detail::closest_prefix(s.order, s.st, L.max_sparsity * size));",
     "s.hi = s.order.size();", "a layer's max_sparsity bounds what it loses", None),
    ("prune/global.hpp", "if (want < lo_sum - 0.5 || want > hi_sum + 0.5)", "if (want > hi_sum + 0.5)",
     "a target below the layers' minimums is refused", None),
    ("prune/global.hpp", "if (L.scores && L.scores.size != L.weights.size())", "if (false)",
     "scores of another size are refused", None),
    ("prune/global.hpp", "(a.score == b.score && (a.layer < b.layer ||", "(a.score == b.score && (a.layer > b.layer ||",
     "equal scores: the earlier layer loses first", None),
    ("prune/global.hpp", "L.min_sparsity >= 0 && L.min_sparsity <= L.max_sparsity &&", "L.min_sparsity >= 0 &&",
     "min_sparsity above max_sparsity is refused", None),
    ("prune/global.hpp", "s.st = detail::score_units(L.scores ? L.scores.data : L.weights.data,",
     "s.st = detail::score_units(L.weights.data,", "user scores rank the units", None),
    ("prune/global.hpp", "if (L.scores) detail::check_finite_matrix", "if (false) detail::check_finite_matrix",
     "NaN scores are refused", None),
    # gradual schedule
    ("prune/schedule.hpp", "((step - begin_step) / frequency) * frequency", "(step - begin_step)",
     "the target changes only at update steps", None),
    ("prune/schedule.hpp", "* f * f * f;", "* f * f;", "the schedule is cubic", None),
    ("prune/schedule.hpp", "if (end_step < begin_step) throw", "if (end_step < begin_step - 1) throw",
     "an end before the beginning is refused", None),
    # the selection engine
    ("prune/detail/select.hpp", "if (crit == criterion::l1) s /= area;", "if (crit == criterion::l1) s = s;",
     "L1 scores are per-element means (edge units compare fairly)", None),
    ("prune/detail/select.hpp", "return sa < sb || (sa == sb && a < b);", "return sa < sb || (sa == sb && a > b);",
     "equal scores: the earlier unit goes first", None),
    ("prune/detail/select.hpp", "(need - c <= next - need) ? p : p + 1", "(need - c < next - need) ? p : p + 1",
     "the closest prefix takes the smaller count on a tie", None),
    ("prune/detail/select.hpp", "std::ceil(q - 0.5)", "std::floor(q + 0.5)", "uniform units: nearest count, ties down",
     None),
    ("prune/detail/select.hpp", "const std::size_t p = std::min(target - empty, cand.size());",
     "const std::size_t p = std::min(target, cand.size());", "balanced banks count units already empty", None),
    ("prune/detail/select.hpp", "return ma < mb || (ma == mb && a < b);", "return ma < mb || (ma == mb && a > b);",
     "N:M ties keep the later weight", None),
    ("prune/detail/select.hpp", "n += k[c];", "n += 1;", "a unit's remaining count skips removed weights", None),
    ("prune/detail/select.hpp", " - static_cast<double>(count_removed(keep));", ";",
     "weights already removed count toward the target", None),
    ("prune/detail/select.hpp", "else a = std::max(a, v);", "else a = a + v;", "the max criterion is a maximum", None),
    # mask files and reordering
    ("prune/mask_file.hpp", "if (f.mask.data[i] > 1)", "if (f.mask.data[i] > 2)", "a mask value other than 0/1 is refused",
     None),
    ("prune/mask_file.hpp", "if (!(v >= 0 && v <= 1)) j.fail(", "if (!(v >= 0)) j.fail(",
     "metadata fractions above 1 are refused", None),
    ("prune/mask_file.hpp", "if (auto why = whole_units<P>(f.mask.data, rows, cols, unit))",
     "if (auto why = whole_units<P>(f.mask.data, rows, cols, unit); false)", "a mask of partial units is refused", None),
    ("prune/reorder.hpp", "if (seen[static_cast<std::size_t>(v)]++)", "if (false)", "a permutation with repeats is refused",
     None),
    ("prune/reorder.hpp", "if (k > r.kept_l2) {", "if (k >= r.kept_l2) {", "",
     "accepting a swap of equal kept L2 keeps the same kept L2, which is all the search promises"),
    ("prune/units.hpp", "if (u.kernel_area <= 0 || cols % static_cast<std::size_t>(u.kernel_area) != 0)",
     "if (u.kernel_area <= 0)", "a kernel area that does not divide K is refused", None),
    ("prune/units.hpp", "if (u.m <= 0 || u.n <= 0 || u.n > u.m || u.m > 255)", "if (u.m <= 0 || u.n <= 0 || u.n > u.m)",
     "N:M with M above 255 (one-byte offsets) is refused", None),
    # packing
    ("pack/pack.hpp", "!= out.fixed_count) out.fixed_count = -1;", "!= out.fixed_count) out.fixed_count = out.fixed_count;",
     "a SIMD list is balanced only when every row-block keeps the same count", None),
    ("pack/pack.hpp", "if (!any_kept(keep, w.cols, r0, r1, c0, std::min(w.cols, c0 + uc))) continue;",
     "if (!any_kept(keep, w.cols, r0, r1, c0, std::min(w.cols, c0 + uc - 1))) continue;",
     "a SIMD unit kept only in its last column is packed", None),
    ("pack/pack.hpp", "ch * a + a)) out.kept_channels", "ch * a + 1)) out.kept_channels", "",
     "a channel mask keeps whole channels (mask<> refuses others), so its first weight decides"),
    ("pack/pack.hpp", "if (!any_kept(keep, w.cols, q0, q1, k0, std::min(c1, k0 + uc))) continue;",
     "if (!any_kept(keep, w.cols, q0, q0 + 1, k0, std::min(c1, k0 + uc))) continue;",
     "a multi-level unit kept below its first row is packed", None),
    # validation of packed structures
    ("pack/validate.hpp", "if (v % step != 0) fail(", "if (false) fail(", "a unit index off its unit's first column",
     None),
    ("pack/validate.hpp", "if (i > b && v <= idx[", "if (i > b && v < idx[", "indices strictly increasing", None),
    ("pack/validate.hpp", "if (ptr[0] != 0) fail(", "if (false) fail(", "row_ptr[0] is 0", None),
    # the plan layer
    ("kernels/gemm_plan.hpp", "const std::size_t s = static_cast<std::size_t>(j) * per_tile + r;",
     "const std::size_t s = static_cast<std::size_t>(j) * per_tile + (r & 0);",
     "multi-level units as SIMD lists: each row-block's own segment", None),
    ("kernels/gemm_plan.hpp", "if (ptr[i + 1] - ptr[i] != c) return std::nullopt;", "if (false) return std::nullopt;",
     "the fixed trip count only where every bank keeps the same count", None),
    ("kernels/gemm_plan.hpp", "detail::round_up(std::max<std::size_t>(K, 1), 64) + 64)", "K)",
     "the padded offset table reaches as far as the walks read", None),
    ("kernels/gemm_plan.hpp", "b.walk_k(most * static_cast<std::size_t>(P::tk));", "b.walk_k(static_cast<std::size_t>(P::tk));",
     "the tile walk's length is its fullest tile row's", None),
    ("kernels/gemm_plan.hpp", "if (rows > 0x7fffffff / cols)", "if (rows > 0x7fffffff)",
     "a matrix beyond 32-bit indexing is refused before a read", None),
    ("kernels/gemm_plan.hpp", "cfg_.padded = cfg_.implicit && opt.padded;", "cfg_.padded = opt.padded;",
     "the local family plans a plain GEMM when asked for a padded one", None),
    ("kernels/gemm_plan.hpp", "if (opt.padded && (opt.implicit_kh > 3 || opt.implicit_kw > 3))",
     "if (opt.padded && (opt.implicit_kh > 5 || opt.implicit_kw > 5))", "the padded layout is for kernels up to 3x3",
     None),
    ("kernels/gemm_plan.hpp",
     "kmap[k] = w.kept_channels[k / a] * static_cast<std::int32_t>(a) + static_cast<std::int32_t>(k % a);",
     "kmap[k] = w.kept_channels[k / a] * static_cast<std::int32_t>(a);", "the channel map covers each kernel window",
     None),
    ("kernels/gemm_plan.hpp", '      gapp::detail::check_finite_matrix(matrix_view(opt.bias.data(), 1, rows), "bias");\n', "",
     "a NaN bias is refused", None),
    ("kernels/gemm_plan.hpp", "v.resize(detail::round_up(w.rows, static_cast<std::size_t>(P::tm)) * per_row, 0.0f);",
     "v.resize(w.rows * per_row, 0.0f);", "N:M slots padded to whole tiles", None),
    ("kernels/gemm_plan.hpp", "if (off > 0x7fffffff) throw", "if (off > 0x7fffffffLL * 4) throw",
     "padded offsets beyond 32 bits are refused", None),
    ("kernels/gemm_plan.hpp", "if (opt.implicit_kh % 2 == 0 || opt.implicit_kw % 2 == 0 || cols %",
     "if (opt.implicit_kh % 2 == 0 || cols %", "an even kernel width is refused", None),
    # dispatch and device limits
    ("policy/can_implement.hpp", "d.max_item_sizes.size() >= 2 &&", "d.max_item_sizes.size() >= 3 &&",
     "work-group extents checked on two-dimensional limits", None),
    ("policy/can_implement.hpp", "!constraints::fits_32bit_indexing(k, n) ||", "",
     "X beyond 32-bit indexing is refused", None),
    ("policy/can_implement.hpp", "std::max({m * k, k * n, m * n})", "std::max({m * k, m * n})",
     "X larger than the device's largest allocation is refused", None),
    ("policy/constraints.hpp", "return cols == 0 || rows <= 0x7fffffffu / cols;", "return cols == 0 || rows < 0x7fffffffu / cols;",
     "exactly 2^31 - 1 elements still index in 32 bits", None),
    ("policy/can_implement.hpp", "if (!constraints::local_memory_fits(P::staged_bytes",
     "if (false && !constraints::local_memory_fits(P::staged_bytes", "a policy staging more local memory than the device has",
     None),
    ("policy/constraints.hpp",
     "constexpr bool buffer_fits(std::size_t bytes, std::size_t max_alloc) { return max_alloc == 0 || bytes <= max_alloc; }",
     "constexpr bool buffer_fits(std::size_t bytes, std::size_t max_alloc) { return max_alloc == 0 || bytes < max_alloc; }",
     "a buffer of exactly the largest allocation fits", None),
    # profiles, plans, JSON, .npy
    ("tune/profile.hpp", "return d.name == device && d.vendor == vendor && d.driver == driver;",
     "return d.name == device && d.vendor == vendor;", "a profile from another driver falls back", None),
    ("tune/profile.hpp", "  if (p->preset != preset) {\n    c.reason", "  if (false) {\n    c.reason",
     "a profile made for another preset falls back", None),
    ("tune/profile.hpp", '  if (*best != preset && best->rfind(preset + "@", 0) != 0) {', "  if (false) {",
     "a best policy outside the preset's candidates falls back", None),
    ("tune/profile.hpp", 'if (x.ms.empty()) e->at("ms").fail("holds no time");', "",
     "a measurement without times is refused", None),
    ("tune/advise.hpp", "pl.kept_l2_fraction = l.l2 > 0 ? std::sqrt(o.kept_l2 / l.l2) : 1.0;",
     "pl.kept_l2_fraction = l.l2 > 0 ? o.kept_l2 / l.l2 : 1.0;", "a plan layer's kept L2 is a norm ratio", None),
    ("tune/advise.hpp", "const double need = goal.value * goal.value * all_l2;", "const double need = goal.value * all_l2;",
     "the kept-L2 target is a norm ratio", None),
    ("tune/advise.hpp", "lc.options.push_back({key.first, key.second, t, f * f * lc.l2, kept, 0});",
     "lc.options.push_back({key.first, key.second, t, f * lc.l2, kept, 0});", "an option's kept L2 squares its fraction",
     None),
    ("tune/advise.hpp", '      if (q.name == l.name) e->at("name").fail(', '      if (q.name == l.name + "#") e->at("name").fail(',
     "a plan naming a layer twice is refused", None),
    ("tune/advise.hpp", '  if (p.layers.empty()) d.at("layers").fail("holds no layer");', "",
     "a plan of no layer is refused", None),
    ("io/json.hpp", "if (v != std::floor(v) || v < static_cast<double>(lo)", "if (v < static_cast<double>(lo)",
     "a count that is not a whole number is refused", None),
    ("io/npy.hpp", "if (have_shape) bad(\"duplicate key 'shape'\");", "", "a header with two shapes is refused", None),
    ("io/npy.hpp", 'if (dims.size() > 32) bad("more than 32 dimensions");', "", "more than 32 dimensions are refused",
     None),
    # the advisor: its choices, the front, calibration, uniform plans
    ("tune/advise.hpp", "if (pt.cost <= budget * (1 + 1e-12)) pick = pt.choice;",
     "if (pt.cost < budget * (1 - 1e-9)) pick = pt.choice;", "a plan exactly at the latency budget meets it", None),
    ("tune/advise.hpp", "(dense_gemm + other) / goal.value - other;", "dense_gemm / goal.value;",
     "a speedup target counts the rest of the forward pass", None),
    ("tune/advise.hpp", "        pick = pt.choice;\n        break;", "        pick = pt.choice;",
     "a kept-L2 target takes the fastest plan that meets it", None),
    ("tune/advise.hpp", "if (pt.cost <= allowed + 0.5) pick = pt.choice;", "if (pt.cost < allowed - 0.5) pick = pt.choice;",
     "a plan exactly at the sparsity target meets it", None),
    ("tune/advise.hpp", "f[i] = it->second / l.options[0].ms;", "f[i] = l.options[0].ms / it->second;",
     "calibration scales a layer by its in-network over its profiled dense time", None),
    ("tune/advise.hpp", "x.policy == policy && x.implicit == implicit)", "x.policy == policy && (x.implicit == implicit || true))",
     "a layer's choices count only measurements made the way the network runs it", None),
    ("tune/advise.hpp", "if (!techniques.empty() && std::find(",
     "if (false && std::find(", "the technique list restricts a layer's choices", None),
    ("tune/advise.hpp", "if (static_cast<std::size_t>(c) != modelled) continue;", "",
     "a uniform choice is one every modelled layer was measured at", None),
    ("tune/advise.hpp", "    if (!found)\n      throw", "    if (!found && false)\n      throw",
     "a uniform plan with a choice a layer lacks is refused", None),
    ("tune/advise.hpp", "if (l.modelled) gemm += o.ms, dense += l.options[0].ms;", "if (l.modelled) gemm += o.ms, dense += o.ms;",
     "a plan's dense time is the layers' dense options", None),
    ("tune/advise.hpp", "return a.cost != b.cost ? a.cost < b.cost : a.value > b.value;",
     "return a.cost != b.cost ? a.cost < b.cost : a.value < b.value;",
     "at equal cost the front keeps the choice worth more", None),
    # the JSON reader
    ("io/json.hpp", 'if (m.first == key) fail("duplicate key', 'if (m.first == key && false) fail("duplicate key',
     "an object with a key twice is refused", None),
    ("io/json.hpp", 'if (i_ != s_.size()) fail("unexpected text after the document");', "",
     "text after the document is refused", None),
    ("io/json.hpp", 'if (static_cast<unsigned char>(c) < 0x20) fail("control character', 'if (false) fail("control character',
     "a raw control character in a string is refused", None),
    ("io/json.hpp", "if (!(v >= lo && v <= hi)) fail(", "if (!(v >= lo)) fail(",
     "a number above its field's range is refused", None),
]


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description="Mutants of gapp's host-side checks (see the module's text).")
    ap.add_argument("which", nargs="*", type=int, help="mutant numbers (default: all)")
    ap.add_argument("--build", default="build", help="configured build directory with the tests")
    ap.add_argument("--file", default="", help="only mutants of headers whose path contains this")
    ap.add_argument("--list", action="store_true", help="print the numbered list and stop")
    a = ap.parse_args()
    chosen = [i for i in (a.which or range(len(MUTANTS))) if a.file in MUTANTS[i][0]]
    for i in chosen:
        if not 0 <= i < len(MUTANTS):
            sys.exit(f"mutants: no mutant {i} (0..{len(MUTANTS) - 1})")
    if a.list:
        for i in chosen:
            f, _, _, what, eq = MUTANTS[i]
            print(f"{i:3} {f}: {what or 'equivalent: ' + eq}")
        return 0
    if run(["git", "diff", "--quiet", "--", "include"]).returncode != 0:
        sys.exit("mutants: include/ has uncommitted changes; commit or stash them first (headers are edited in place)")
    exe = ROOT / a.build / "tests" / "gapp_host_tests"
    # the suite must pass as the headers are, or every mutant would look caught
    if run(["cmake", "--build", a.build, "--target", "gapp_host_tests", "-j2"]).returncode != 0:
        sys.exit(f"mutants: gapp_host_tests does not build in {a.build} as the headers are")
    if run([str(exe)], timeout=900).returncode != 0:
        sys.exit("mutants: the host suite fails without any mutant; fix that first")
    bad = 0
    for i in chosen:
        f, old, new, what, eq = MUTANTS[i]
        path = ROOT / "include" / "gapp" / f
        src = path.read_text()
        if src.count(old) != 1:
            print(f"{i:3} STALE     {f}: the text occurs {src.count(old)} times", flush=True)
            bad += 1
            continue
        path.write_text(src.replace(old, new))
        try:
            b = run(["cmake", "--build", a.build, "--target", "gapp_host_tests", "-j2"])
            if b.returncode != 0:
                print(f"{i:3} NO-BUILD  {f}: the mutant does not compile; rewrite it", flush=True)
                bad += 1
                continue
            t = run([str(exe)], timeout=900)
            caught = t.returncode != 0
            verdict = "caught" if caught else ("equivalent" if eq else "SURVIVED")
            bad += not caught and not eq
            print(f"{i:3} {verdict:9} {f}: {what or eq}", flush=True)
        finally:
            path.write_text(src)
    # leave the build as the headers are
    run(["cmake", "--build", a.build, "--target", "gapp_host_tests", "-j2"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
