// gapp/error.hpp — the exceptions gapp throws. The library never prints; every failure
// reaches the caller as one of these, with a message a person can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace gapp {

/// Base of every exception gapp throws.
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// An argument outside its domain: a sparsity outside [0, 1), an empty tensor,
/// an unknown preset or unit name, parameters that contradict each other.
class invalid_argument : public error {
public:
  using error::error;
};

/// Shapes that do not fit together (a mask for another matrix, a 3-D tensor where a
/// 2-D or 4-D one is needed, a channel size that does not divide K).
class shape_error : public invalid_argument {
public:
  using invalid_argument::invalid_argument;
};

/// Values gapp refuses: NaN or infinite weights or scores.
class value_error : public invalid_argument {
public:
  using invalid_argument::invalid_argument;
};

/// Packed weights (a gapp::packed<> or one of its format structs, hand-built or read back)
/// whose fields contradict each other: an index out of range, a pointer array that is not
/// monotone or does not end at its list's length, a value array of the wrong size, a
/// non-finite value. `field()` names the offending member.
class format_error : public invalid_argument {
public:
  format_error(std::string field, const std::string& what) : invalid_argument(what), field_(std::move(field)) {}
  const std::string& field() const noexcept { return field_; }

private:
  std::string field_;
};

/// A malformed, truncated, unsupported or unreadable file; or a file that cannot be
/// written. Nothing is left half-written when this is thrown from a writer.
class file_error : public error {
public:
  using error::error;
};

/// A policy that cannot run on a given device (checked at run time, before any launch).
class policy_error : public error {
public:
  using error::error;
};

} // namespace gapp
