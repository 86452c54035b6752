// gapp/io/json.hpp — a small, strict JSON reader and writer for gapp's own files (device
// profiles, advisor plans). Errors are gapp::file_error naming the file, the byte offset or
// the field's path ("shapes[3].times.pocl-avx512@…").
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../error.hpp"

namespace gapp::json {

/// A parsed JSON value with the path it was found at, for messages.
class value {
public:
  enum class kind { null, boolean, number, string, array, object };

  kind type() const { return kind_; }
  const std::string& path() const { return path_; }
  const std::string& origin() const { return origin_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw file_error(origin_ + ": " + (path_.empty() ? "the document" : "field \"" + path_ + "\"") + " " + what);
  }

  bool is(kind k) const { return kind_ == k; }
  const value& at(const std::string& key) const {
    const value* v = find(key);
    if (!v) {
      value missing;
      missing.origin_ = origin_, missing.path_ = child_path(key);
      missing.fail("is missing");
    }
    return *v;
  }
  const value* find(const std::string& key) const {
    if (kind_ != kind::object) fail("is not an object");
    for (const auto& [k, v] : members_)
      if (k == key) return v.get();
    return nullptr;
  }
  const std::vector<std::pair<std::string, std::unique_ptr<value>>>& members() const {
    if (kind_ != kind::object) fail("is not an object");
    return members_;
  }
  const std::vector<std::unique_ptr<value>>& items() const {
    if (kind_ != kind::array) fail("is not an array");
    return items_;
  }
  const std::string& str() const {
    if (kind_ != kind::string) fail("is not a string");
    return text_;
  }
  double num() const {
    if (kind_ != kind::number) fail("is not a number");
    return number_;
  }
  /// A number that must be finite and in [lo, hi].
  double num(double lo, double hi) const {
    const double v = num();
    if (!(v >= lo && v <= hi)) fail("is " + text_ + ", outside [" + fmt(lo) + ", " + fmt(hi) + "]");
    return v;
  }
  /// A whole number in [lo, hi].
  long long integer(long long lo, long long hi) const {
    const double v = num();
    if (v != std::floor(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi))
      fail("is " + text_ + ", not a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<long long>(v);
  }
  bool boolean() const {
    if (kind_ != kind::boolean) fail("is not true or false");
    return bool_;
  }

private:
  friend class parser;
  static std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
  }
  std::string child_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  kind kind_ = kind::null;
  bool bool_ = false;
  double number_ = 0;
  std::string text_; ///< a string's value, a number's source text
  std::vector<std::unique_ptr<value>> items_;
  std::vector<std::pair<std::string, std::unique_ptr<value>>> members_;
  std::string path_, origin_;
};

class parser {
public:
  parser(std::string_view text, std::string origin) : s_(text), origin_(std::move(origin)) {}

  std::unique_ptr<value> document() {
    auto v = parse("", 0);
    ws();
    if (i_ != s_.size()) fail("unexpected text after the document");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& what) const {
    throw file_error(origin_ + ": malformed JSON at byte " + std::to_string(i_) + ": " + what);
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("short \\u escape");
          unsigned cp = 0;
          for (int k = 0; k < 4; ++k) {
            const char h = s_[i_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
            else fail("bad \\u escape");
          }
          if (cp < 0x80) out += static_cast<char>(cp); // gapp writes ASCII; others pass as UTF-8
          else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
          else
            out += static_cast<char>(0xE0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                out += static_cast<char>(0x80 | (cp & 0x3F));
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  std::unique_ptr<value> parse(const std::string& path, int depth) {
    if (depth > 64) fail("nested too deeply");
    auto v = std::make_unique<value>();
    v->path_ = path, v->origin_ = origin_;
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      v->kind_ = value::kind::object;
      if (eat('}')) return v;
      do {
        ws();
        std::string key = string();
        for (const auto& m : v->members_)
          if (m.first == key) fail("duplicate key \"" + key + "\"");
        expect(':');
        v->members_.emplace_back(key, parse(path.empty() ? key : path + "." + key, depth + 1));
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v->kind_ = value::kind::array;
      if (eat(']')) return v;
      do v->items_.push_back(parse(path + "[" + std::to_string(v->items_.size()) + "]", depth + 1));
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v->kind_ = value::kind::string;
      v->text_ = string();
    } else if (s_.compare(i_, 4, "true") == 0) {
      v->kind_ = value::kind::boolean, v->bool_ = true, i_ += 4;
    } else if (s_.compare(i_, 5, "false") == 0) {
      v->kind_ = value::kind::boolean, i_ += 5;
    } else if (s_.compare(i_, 4, "null") == 0) {
      i_ += 4;
    } else {
      const std::size_t b = i_;
      if (i_ < s_.size() && s_[i_] == '-') ++i_;
      while (i_ < s_.size() && std::string_view("0123456789.eE+-").find(s_[i_]) != std::string_view::npos) ++i_;
      v->text_ = std::string(s_.substr(b, i_ - b));
      char* end = nullptr;
      v->kind_ = value::kind::number;
      v->number_ = std::strtod(v->text_.c_str(), &end);
      if (v->text_.empty() || end != v->text_.c_str() + v->text_.size() || !std::isfinite(v->number_)) {
        i_ = b;
        fail("expected a value");
      }
    }
    return v;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string origin_;
};

/// Parses a whole document; `origin` (a file name) prefixes every error.
inline std::unique_ptr<value> parse(std::string_view text, const std::string& origin) {
  return parser(text, origin).document();
}

// ------------------------------------------------------------------ writing
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += b;
    } else out += c;
  }
  return out + "\"";
}

/// A finite number, round-trip exact; non-finite values are written as null.
inline std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

} // namespace gapp::json
