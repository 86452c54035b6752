// gapp/io/paths.hpp — the rule for a command's files: no output may be the same file as an
// input or as another output. Files are compared as files (device and inode, through
// links), not as strings; an output that does not exist yet is compared by its resolved
// path.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "../error.hpp"

namespace gapp::io {

/// Whether paths `a` and `b` name the same file (or, where one does not exist yet, the same
/// resolved path).
inline bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) {
    const bool eq = fs::equivalent(a, b, ec);
    if (!ec) return eq;
  }
  const fs::path ca = fs::weakly_canonical(a, ec), cb = fs::weakly_canonical(b, ec);
  return !ec && ca == cb;
}

/// A named file of a command: what it is for ("--mask") and its path.
struct named_path {
  std::string role, path;
};

/// Throws gapp::invalid_argument if an output is the same file as an input or as another
/// output (empty paths are skipped), naming both.
inline void require_distinct(const std::vector<named_path>& outputs, const std::vector<named_path>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const named_path& o = outputs[i];
    if (o.path.empty()) continue;
    for (const named_path& in : inputs)
      if (!in.path.empty() && same_file(o.path, in.path))
        throw invalid_argument(o.role + " '" + o.path + "' is the same file as " + in.role + " '" + in.path +
                               "': an output never replaces an input");
    for (std::size_t j = i + 1; j < outputs.size(); ++j)
      if (!outputs[j].path.empty() && same_file(o.path, outputs[j].path))
        throw invalid_argument(o.role + " '" + o.path + "' and " + outputs[j].role + " '" + outputs[j].path +
                               "' are the same file");
  }
}

} // namespace gapp::io
