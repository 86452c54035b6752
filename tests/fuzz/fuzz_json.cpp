// libFuzzer target: the JSON readers of files a user hands gapp — device profiles (gapp-tune),
// plans (gapp-advise) and mask metadata (gapp-prune) — on arbitrary bytes. Any outcome but a
// parsed document or a gapp::file_error is a failure. A document that parses must come back
// through its writer: what the writer emits parses again, and writing that gives the same
// text (a writer whose output its own reader rejects or reads differently is a failure).
#include <gapp/prune/mask_file.hpp>
#include <gapp/tune/advise.hpp>
#include <gapp/tune/profile.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

// parse → write → parse → write: the two written texts must match.
template <class Parse, class Write>
void round_trip(std::string_view text, Parse parse, Write write) {
  std::string first;
  try {
    first = write(parse(text, "input"));
  } catch (const gapp::file_error&) {
    return; // rejected, with the typed error
  }
  try {
    if (write(parse(first, "written")) != first) std::abort();
  } catch (const gapp::file_error&) {
    std::abort(); // the writer's own output does not parse
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)gapp::json::parse(text, "input");
  } catch (const gapp::file_error&) {
  }
  round_trip(
      text, [](std::string_view t, const char* o) { return gapp::tune::parse_profile(t, o); },
      [](const gapp::tune::profile& p) { return gapp::tune::to_json(p); });
  round_trip(
      text, [](std::string_view t, const char* o) { return gapp::tune::parse_plan(t, o); },
      [](const gapp::tune::plan& p) { return gapp::tune::to_json(p); });
  round_trip(
      text, [](std::string_view t, const char* o) { return gapp::parse_mask_metadata(t, o); },
      [](const gapp::mask_metadata& m) { return gapp::to_json(m); });
  return 0;
}
