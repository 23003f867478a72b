// A small reader and writer of NumPy's .npy files, enough for `gemmtune run`:
// little-endian numeric arrays of the dtypes below, C or Fortran order,
// format versions 1.0, 2.0 and 3.0. Anything else (big-endian data, object or
// structured arrays, truncated files) is refused with an NpyError whose
// message names the file, because guessing would silently compute on the
// wrong numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "gemmtune/types.h"

namespace gemmtune::cli {

// The element types gemmtune reads and writes. i64 exists only as an input
// (NumPy's default integer); it is converted to the problem's dtype.
enum class NpyType : std::uint8_t { f32, f64, f16, i8, u8, i32, i64 };

std::size_t npy_type_size(NpyType);
// NumPy's descr string: "<f4", "|i1", ...
std::string_view npy_descr(NpyType);
// The human name used in messages: "float32", "int8", ...
std::string_view npy_type_name(NpyType);
// The gemmtune dtype with the same bits, or nullopt (i64 has none).
std::optional<DType> npy_to_dtype(NpyType);
// The NumPy type a gemmtune dtype is written as: itself where NumPy has it,
// float32 for bf16 and fp8 (NumPy has no such type), nullopt never.
NpyType npy_type_for_output(DType);

// Read or format failure. what() starts with the file name.
class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  NpyType type = NpyType::f32;
  std::vector<std::int64_t> shape;  // empty for a 0-d array (one element)
  bool fortran_order = false;       // column-major in memory
  std::vector<unsigned char> data;  // element bytes, little-endian

  std::int64_t element_count() const;
  // Shape as "3x4" ("scalar" for 0-d), for messages.
  std::string shape_text() const;
  // Element at `index` (memory order) as a double. Exact for every type
  // except i64 beyond 2^53.
  double load(std::int64_t index) const;
  // Distance in elements between neighbours along each dimension, from the
  // array's memory order (C: the last dimension is contiguous; Fortran: the
  // first).
  std::vector<std::int64_t> element_strides() const;
  // Offset in elements of the element with these logical indices (one per
  // dimension).
  std::int64_t offset(const std::vector<std::int64_t>& indices) const;
};

// Parses a .npy image held in memory; `name` is used in error messages.
NpyArray parse_npy(const std::string& bytes, const std::string& name);
// Reads a regular file (anything else is an NpyError): the header first,
// bounded, then exactly the data it promises, which must be exactly what
// the file holds and fit in memory before it is allocated.
NpyArray read_npy(const std::string& path);

// Serialises an array as a .npy image (version 1.0 when the header fits,
// else 2.0), header padded so the data starts on a 64-byte boundary.
// Without `with_data`, only the header (`data` is not read).
std::string format_npy(NpyType type, const std::vector<std::int64_t>& shape, bool fortran_order,
                       const void* data, bool with_data = true);
// Writes through files::AtomicFile: the old file stays whole until the new
// one is complete on disk. Throws files::FileError naming the path (a
// usage fault for a path that cannot be written: a folder, a device).
void write_npy(const std::string& path, NpyType type, const std::vector<std::int64_t>& shape,
               bool fortran_order, const void* data);

}  // namespace gemmtune::cli
