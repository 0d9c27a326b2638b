#pragma once
// The error types every part of chipref throws. The CLI maps each to an exit code
// (docs/architecture.md): InputError → 1, VerificationMismatch → 3. Usage errors (2) are the CLI's own.

#include <stdexcept>
#include <string>

namespace chipref {

// Bad input from a user: a file, a config value, a model, a parameter out of range.
// The message is one line that names what was wrong and what was expected.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Valid input that chipref does not implement (an ONNX op configuration, an element type). Distinct
// from a malformed input so that callers (the conformance test, reports) can tell the two apart.
class Unsupported : public InputError {
 public:
  using InputError::InputError;
};

// A checked result differs from its golden reference (vectors verify, cosim).
class VerificationMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace chipref
