// gapp/prune/mask_file.hpp — a mask file and its metadata: the policy, technique and unit
// shapes it was made for, written beside it as JSON (m.npy → m.json) by gapp-prune, and
// checked by every loader against the policy and technique it is run with.
#pragma once

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../io/npy.hpp"
#include "../policy/policy.hpp"
#include "../version.hpp"
#include "mask.hpp"
#include "technique.hpp"

namespace gapp {

/// What a mask was made for and what it achieved.
struct mask_metadata {
  std::string policy;                ///< preset name (or a user policy's name)
  std::string technique;             ///< vocabulary name: "simd", "tile-balanced", "nm:2:4", ...
  std::string granularity;           ///< the unit family: simd, tile, ...
  unit_shape unit;                   ///< the selecting unit on the GEMM matrix
  unit_shape tile_unit;              ///< the policy's tile unit (TM×TK)
  unit_shape simd_unit;              ///< the policy's SIMD unit
  std::vector<std::size_t> shape;    ///< the mask's (= the weights') shape
  std::size_t gemm_rows = 0, gemm_cols = 0;
  std::string criterion;
  double target_sparsity = 0, achieved_sparsity = 0, kept_l2_fraction = 1;
  std::string version = GAPP_VERSION_STRING;
};

/// m.npy → m.json; any other name gets ".json" appended.
inline std::string metadata_path(const std::string& mask_path) {
  const std::string ext = ".npy";
  if (mask_path.size() > ext.size() && mask_path.compare(mask_path.size() - ext.size(), ext.size(), ext) == 0)
    return mask_path.substr(0, mask_path.size() - ext.size()) + ".json";
  return mask_path + ".json";
}

namespace detail {

inline std::string json_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

template <class T>
std::string json_array(const std::vector<T>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out + "]";
}

inline std::string json_shape(unit_shape s) { return "[" + std::to_string(s.rows) + "," + std::to_string(s.cols) + "]"; }

/// A flat JSON object's values, as their source text (strings unquoted), by key.
class flat_json {
public:
  flat_json(std::string_view text, std::string origin) : origin_(std::move(origin)) {
    std::size_t i = 0;
    auto ws = [&] {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    };
    auto expect = [&](char c) {
      ws();
      if (i >= text.size() || text[i] != c) fail("", std::string("expected '") + c + "' at byte " + std::to_string(i));
      ++i;
    };
    auto string = [&] {
      expect('"');
      std::string s;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        s += text[i++];
      }
      if (i >= text.size()) fail("", "unterminated string");
      ++i;
      return s;
    };
    expect('{');
    ws();
    if (i < text.size() && text[i] == '}') return;
    for (;;) {
      const std::string key = string();
      expect(':');
      ws();
      if (i >= text.size()) fail(key, "has no value");
      std::string value;
      if (text[i] == '"') {
        value = string();
      } else if (text[i] == '[') {
        const std::size_t e = text.find(']', i);
        if (e == std::string_view::npos) fail(key, "has an unterminated array");
        value = std::string(text.substr(i, e + 1 - i));
        i = e + 1;
      } else {
        const std::size_t b = i;
        while (i < text.size() && text[i] != ',' && text[i] != '}' && !std::isspace(static_cast<unsigned char>(text[i])))
          ++i;
        value = std::string(text.substr(b, i - b));
      }
      values_[key] = value;
      ws();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      expect('}');
      break;
    }
  }

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw file_error(origin_ + ": " + (field.empty() ? "" : "field \"" + field + "\" ") + what);
  }

  const std::string& raw(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) fail(key, "is missing");
    return it->second;
  }
  std::string text(const std::string& key) const { return raw(key); }
  double number(const std::string& key) const {
    const std::string& s = raw(key);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) fail(key, "is not a number: '" + s + "'");
    return v;
  }
  std::vector<std::size_t> integers(const std::string& key) const {
    const std::string& s = raw(key);
    if (s.size() < 2 || s.front() != '[' || s.back() != ']') fail(key, "is not an array: '" + s + "'");
    std::vector<std::size_t> out;
    std::stringstream in(s.substr(1, s.size() - 2));
    for (std::string item; std::getline(in, item, ',');) {
      const auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
      item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
      char* end = nullptr;
      const long long v = std::strtoll(item.c_str(), &end, 10);
      if (item.empty() || end != item.c_str() + item.size() || v < 0) fail(key, "holds '" + item + "', not a count");
      out.push_back(static_cast<std::size_t>(v));
    }
    return out;
  }
  unit_shape shape(const std::string& key) const {
    const auto v = integers(key);
    if (v.size() != 2 || v[0] == 0 || v[1] == 0 || v[0] > 1u << 30 || v[1] > 1u << 30)
      fail(key, "must be [rows, cols] of positive sizes, got " + raw(key));
    return {static_cast<int>(v[0]), static_cast<int>(v[1])};
  }

private:
  std::string origin_;
  std::map<std::string, std::string> values_;
};

} // namespace detail

/// The metadata as one JSON object (what gapp-prune writes beside a mask).
inline std::string to_json(const mask_metadata& m) {
  using namespace detail;
  return "{\"policy\":" + json_string(m.policy) + ",\"technique\":" + json_string(m.technique) +
         ",\"granularity\":" + json_string(m.granularity) + ",\"unit\":" + json_shape(m.unit) +
         ",\"simd_unit\":" + json_shape(m.simd_unit) + ",\"tile_unit\":" + json_shape(m.tile_unit) +
         ",\"shape\":" + json_array(m.shape) + ",\"gemm\":[" + std::to_string(m.gemm_rows) + "," +
         std::to_string(m.gemm_cols) + "],\"criterion\":" + json_string(m.criterion) +
         ",\"target_sparsity\":" + json_number(m.target_sparsity) + ",\"achieved_sparsity\":" +
         json_number(m.achieved_sparsity) + ",\"kept_l2_fraction\":" + json_number(m.kept_l2_fraction) +
         ",\"gapp_version\":" + json_string(m.version) + "}";
}

/// Parses metadata JSON; gapp::file_error naming `origin` and the field for anything
/// missing or malformed (unknown extra fields are ignored).
inline mask_metadata parse_mask_metadata(std::string_view json, const std::string& origin) {
  const detail::flat_json j(json, origin);
  mask_metadata m;
  m.policy = j.text("policy");
  m.technique = j.text("technique");
  try {
    parse_technique(m.technique);
  } catch (const invalid_argument& e) {
    j.fail("technique", e.what());
  }
  m.granularity = j.text("granularity");
  m.unit = j.shape("unit");
  m.simd_unit = j.shape("simd_unit");
  m.tile_unit = j.shape("tile_unit");
  m.shape = j.integers("shape");
  const auto g = j.integers("gemm");
  if (g.size() != 2) j.fail("gemm", "must be [rows, cols]");
  m.gemm_rows = g[0], m.gemm_cols = g[1];
  m.criterion = j.text("criterion");
  m.target_sparsity = j.number("target_sparsity");
  m.achieved_sparsity = j.number("achieved_sparsity");
  m.kept_l2_fraction = j.number("kept_l2_fraction");
  for (double v : {m.target_sparsity, m.achieved_sparsity, m.kept_l2_fraction})
    if (!(v >= 0 && v <= 1)) j.fail("", "holds a sparsity or kept fraction outside [0, 1]");
  m.version = j.text("gapp_version");
  return m;
}

/// The metadata beside `mask_path` (metadata_path), or nothing if there is no such file.
inline std::optional<mask_metadata> read_mask_metadata(const std::string& mask_path) {
  const std::string p = metadata_path(mask_path);
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::nullopt;
  if (!std::filesystem::is_regular_file(p, ec)) throw file_error(p + ": not a regular file");
  std::ifstream in(p, std::ios::binary);
  if (!in) throw file_error(p + ": cannot open for reading");
  std::stringstream s;
  s << in.rdbuf();
  return parse_mask_metadata(s.str(), p);
}

/// Throws gapp::invalid_argument unless the mask described by `m` (from file `origin`) fits
/// policy P (named `policy_name`) and technique `t`: the same policy name and unit shapes,
/// the same technique.
template <class P>
void check_mask_metadata(const mask_metadata& m, std::string_view policy_name, const technique& t,
                         const std::string& origin) {
  auto shape = [](unit_shape s) { return std::to_string(s.rows) + "x" + std::to_string(s.cols); };
  if (m.policy != policy_name || m.simd_unit != P::simd_unit || m.tile_unit != P::tile_unit)
    throw invalid_argument(origin + ": the mask was made for policy '" + m.policy + "' (SIMD unit " + shape(m.simd_unit) +
                           ", tile unit " + shape(m.tile_unit) + ") but runs with policy '" + std::string(policy_name) +
                           "' (SIMD unit " + shape(P::simd_unit) + ", tile unit " + shape(P::tile_unit) +
                           "): its units are not the ones the kernel skips");
  const std::string want = to_string(t);
  if (m.technique != want)
    throw invalid_argument(origin + ": the mask was made with technique '" + m.technique + "' (" + m.granularity +
                           " units of " + shape(m.unit) + ") but runs as '" + want + "'");
}

/// A mask read from a .npy file with its metadata, if any.
struct mask_file {
  std::string path;
  npy::tensor<std::uint8_t> mask;
  std::optional<mask_metadata> metadata; ///< nothing: no metadata file, nothing was checked
};

/// Reads `path` and its metadata and checks them against policy P and technique `t`, and
/// the mask's shape against `shape`. A mask without metadata loads unchecked (see
/// mask_file::metadata). gapp::file_error for unreadable files, gapp::shape_error for a
/// shape mismatch (both shapes shown), gapp::invalid_argument for another policy or
/// technique.
template <class P>
mask_file load_mask(const std::string& path, std::string_view policy_name, const technique& t,
                    const std::vector<std::size_t>& shape) {
  mask_file f;
  f.path = path;
  f.mask = npy::read_bytes(path);
  auto text = [](const std::vector<std::size_t>& s) { return detail::json_array(s); };
  if (f.mask.shape != shape)
    throw shape_error(path + ": the mask has shape " + text(f.mask.shape) + ", the layer's weights " + text(shape));
  for (std::size_t i = 0; i < f.mask.data.size(); ++i)
    if (f.mask.data[i] > 1)
      throw file_error(path + ": value " + std::to_string(f.mask.data[i]) + " at index " + std::to_string(i) +
                       " (a mask holds 0 = removed or 1 = kept)");
  f.metadata = read_mask_metadata(path);
  if (f.metadata) {
    if (f.metadata->shape != shape)
      throw shape_error(metadata_path(path) + ": the metadata describes shape " + text(f.metadata->shape) +
                        ", the layer's weights are " + text(shape));
    check_mask_metadata<P>(*f.metadata, policy_name, t, metadata_path(path));
  }
  if (!t.dense()) { // the mask must be made of whole units of the technique's unit under P
    const std::size_t rows = shape.empty() ? 0 : shape[0], cols = rows ? f.mask.data.size() / rows : 0;
    std::visit(
        [&](auto unit) {
          using U = decltype(unit);
          if constexpr (std::is_same_v<U, units::channel>)
            unit.kernel_area = static_cast<int>(shape.size() == 4 ? shape[2] * shape[3] : 1);
          if (auto why = whole_units<P>(f.mask.data, rows, cols, unit))
            throw invalid_argument(path + ": " + *why + " (technique '" + to_string(t) + "')");
        },
        *t.unit);
  }
  return f;
}

} // namespace gapp
