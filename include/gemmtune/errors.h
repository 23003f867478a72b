// Exceptions of the public API. Inside, backends return rejections as values;
// only the API surface throws. The CLI maps them to exit codes:
// InvalidProblemError, ConfigError and StoreInputError -> 2,
// NoValidChoicesError -> 3, everything else -> 1.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "gemmtune/record.h"

#pragma GCC visibility push(default)  // declared here = exported by libgemmtune.so

namespace gemmtune {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The problem (or the data of one call) is not well formed. `field` names
// what is wrong: "b.row_stride", "alignment", "bias_desc.dtype", "c.data".
class InvalidProblemError : public Error {
 public:
  InvalidProblemError(std::string field, const std::string& message);
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// An option or environment variable is wrong: an unknown backend name (the
// message lists the valid ones), an unparsable GEMMTUNE_* value.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Nothing in the enabled set can serve the problem. what() is the readable
// report; the structured parts are available for tools.
class NoValidChoicesError : public Error {
 public:
  NoValidChoicesError(TuningRecord record, std::vector<DisabledBackendHint> hints);
  const TuningRecord& record() const { return record_; }
  const std::vector<DisabledBackendHint>& hints() const { return hints_; }

 private:
  TuningRecord record_;
  std::vector<DisabledBackendHint> hints_;
};

// A backend was asked for something it cannot do on this machine.
class BackendUnavailableError : public Error {
 public:
  using Error::Error;
};

// The results database could not be opened, read or written.
class StoreError : public Error {
 public:
  using Error::Error;
};

// A path or argument given to the store cannot be used as asked, and nothing
// was changed: a database path that holds a file gemmtune did not create
// (another program's SQLite file, a .npy, a device), an export target that
// is the live database or not a regular file, an import file that is not a
// regular file, too large or not an export file, an ambiguous record id.
class StoreInputError : public StoreError {
 public:
  using StoreError::StoreError;
};

// The selected kernel failed while computing a user's call. gemmtune never
// hides this by calling another backend.
class KernelRunError : public Error {
 public:
  using Error::Error;
};

// A device could not be used for tuning: its measuring worker could not be
// started, died or hung twice while making a problem's inputs and exact
// reference, or found the device gone. Not a choice's fault. A tuning over
// several devices retires the device and gives its problems to the others;
// a tuning on one device stops with this error.
class DeviceFailedError : public Error {
 public:
  DeviceFailedError(Device device, const std::string& message);
  Device device() const { return device_; }

 private:
  Device device_;
};

// The readable multi-line report used by NoValidChoicesError::what().
std::string format_no_valid_choices(const TuningRecord&,
                                    const std::vector<DisabledBackendHint>&);

}  // namespace gemmtune

#pragma GCC visibility pop
