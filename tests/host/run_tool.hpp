// Runs one of gapp's command-line tools from a test and collects what it wrote.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace gapp_test {

struct tool_result {
  int status;
  std::string out, err;
};

/// Runs `exe args` with stdout and stderr sent to `<prefix>_stdout.txt` and
/// `<prefix>_stderr.txt` (distinct prefixes keep tests that CTest runs in parallel apart).
inline tool_result run_tool(const std::string& exe, const std::string& args, const std::string& prefix) {
  const std::string o = prefix + "_stdout.txt", e = prefix + "_stderr.txt";
  const int rc = std::system((exe + " " + args + " >" + o + " 2>" + e).c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return {rc, slurp(o), slurp(e)};
}

} // namespace gapp_test
