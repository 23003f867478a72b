#include "npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>

#include "format.h"
#include "util/files.h"
#include "util/memory.h"
#include "util/numeric.h"

namespace gemmtune::cli {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
// NumPy pads headers so the data of a memory-mapped file is aligned; 64 is
// what current NumPy writes and what the format document recommends.
constexpr std::size_t kHeaderAlignment = 64;

[[noreturn]] void fail(const std::string& name, const std::string& message) {
  throw NpyError(name + ": " + message);
}

// Parser of the header, which is a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<std::int64_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = parse_string();
      expect(':');
      skip_space();
      if ((key == "descr" && have_descr) || (key == "fortran_order" && have_order) || (key == "shape" && have_shape))
        bad("'" + key + "' given twice");
      if (key == "descr") {
        if (peek() == '[') fail(name_, "structured arrays (a list descr) are not supported; save a plain numeric array");
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        shape = parse_shape();
        have_shape = true;
      } else {
        skip_value();
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') break;
      bad("expected ',' or '}'");
    }
    if (!have_descr) fail(name_, "the .npy header has no 'descr'");
    if (!have_order) fail(name_, "the .npy header has no 'fortran_order'");
    if (!have_shape) fail(name_, "the .npy header has no 'shape'");
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  [[noreturn]] void bad(const std::string& what) const {
    fail(name_, "malformed .npy header (" + what + " at offset " + std::to_string(pos_) + ")");
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    ++pos_;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) out += text_[pos_++];
    if (pos_ >= text_.size()) bad("unterminated string");
    ++pos_;
    return out;
  }
  bool parse_bool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::int64_t parse_int() {
    skip_space();
    std::size_t start = pos_;
    std::int64_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, text_[pos_] - '0', &value))
        fail(name_, "a dimension in the .npy shape is too large");
      ++pos_;
    }
    if (pos_ == start) bad("expected a non-negative integer dimension");
    if (peek() == 'L') ++pos_;  // Python 2 long literal
    return value;
  }
  std::vector<std::int64_t> parse_shape() {
    std::vector<std::int64_t> dims;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        return dims;
      }
      dims.push_back(parse_int());
      skip_space();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') bad("expected ',' or ')' in the shape");
    }
  }
  // Values of keys we do not know: strings, words, or bracketed groups.
  void skip_value() {
    skip_space();
    char c = peek();
    if (c == '\'' || c == '"') {
      parse_string();
      return;
    }
    int depth = 0;
    while (pos_ < text_.size()) {
      c = text_[pos_];
      if (c == '(' || c == '[' || c == '{') ++depth;
      if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) return;
        --depth;
      }
      if (c == ',' && depth == 0) return;
      ++pos_;
    }
  }

  std::string_view text_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

NpyType parse_descr(const std::string& raw_descr, const std::string& name) {
  // Escaped where the message shows it: a NUL in it ended the message there.
  const std::string descr = printable(raw_descr);
  if (raw_descr.size() < 2) fail(name, "unsupported dtype '" + descr + "'");
  const char order = raw_descr[0];
  const std::string kind = raw_descr.substr(1);
  if (kind == "O" || kind.rfind("O", 0) == 0)
    fail(name, "object arrays ('" + descr + "') are not supported; save a numeric array");
  struct Entry {
    const char* kind;
    NpyType type;
  };
  static const Entry kTypes[] = {{"f4", NpyType::f32}, {"f8", NpyType::f64}, {"f2", NpyType::f16},
                                 {"i1", NpyType::i8},  {"u1", NpyType::u8},  {"i4", NpyType::i32},
                                 {"i8", NpyType::i64}};
  for (const auto& entry : kTypes) {
    if (kind != entry.kind) continue;
    const bool one_byte = npy_type_size(entry.type) == 1;
    if (order == '>' && !one_byte)
      fail(name, "big-endian data ('" + descr + "') is not supported; save with a little-endian dtype ('<" + printable(kind) + "')");
    if (order != '<' && order != '|' && order != '=' && !(one_byte && order == '>'))
      fail(name, "unsupported byte order in dtype '" + descr + "'");
    return entry.type;
  }
  fail(name, "unsupported dtype '" + descr +
                 "'; supported: float32 '<f4', float64 '<f8', float16 '<f2', int8 '|i1', uint8 '|u1', int32 '<i4', "
                 "int64 '<i8'");
}

std::uint32_t read_le(const std::string& bytes, std::size_t pos, int width) {
  std::uint32_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[pos + i]);
  return v;
}

}  // namespace

std::size_t npy_type_size(NpyType t) {
  switch (t) {
    case NpyType::f32: return 4;
    case NpyType::f64: return 8;
    case NpyType::f16: return 2;
    case NpyType::i8: return 1;
    case NpyType::u8: return 1;
    case NpyType::i32: return 4;
    case NpyType::i64: return 8;
  }
  return 1;
}

std::string_view npy_descr(NpyType t) {
  switch (t) {
    case NpyType::f32: return "<f4";
    case NpyType::f64: return "<f8";
    case NpyType::f16: return "<f2";
    case NpyType::i8: return "|i1";
    case NpyType::u8: return "|u1";
    case NpyType::i32: return "<i4";
    case NpyType::i64: return "<i8";
  }
  return "?";
}

std::string_view npy_type_name(NpyType t) {
  switch (t) {
    case NpyType::f32: return "float32";
    case NpyType::f64: return "float64";
    case NpyType::f16: return "float16";
    case NpyType::i8: return "int8";
    case NpyType::u8: return "uint8";
    case NpyType::i32: return "int32";
    case NpyType::i64: return "int64";
  }
  return "?";
}

std::optional<DType> npy_to_dtype(NpyType t) {
  switch (t) {
    case NpyType::f32: return DType::f32;
    case NpyType::f64: return DType::f64;
    case NpyType::f16: return DType::f16;
    case NpyType::i8: return DType::i8;
    case NpyType::u8: return DType::u8;
    case NpyType::i32: return DType::i32;
    case NpyType::i64: return std::nullopt;
  }
  return std::nullopt;
}

NpyType npy_type_for_output(DType d) {
  switch (d) {
    case DType::f32: return NpyType::f32;
    case DType::f64: return NpyType::f64;
    case DType::f16: return NpyType::f16;
    case DType::i8: return NpyType::i8;
    case DType::u8: return NpyType::u8;
    case DType::i32: return NpyType::i32;
    case DType::bf16:
    case DType::f8e4m3:
    case DType::f8e5m2: return NpyType::f32;
  }
  return NpyType::f32;
}

std::int64_t NpyArray::element_count() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string NpyArray::shape_text() const {
  if (shape.empty()) return "scalar";
  std::string out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(shape[i]);
  }
  return out;
}

double NpyArray::load(std::int64_t index) const {
  if (type == NpyType::i64) {  // no gemmtune dtype has these bits
    std::int64_t v;
    std::memcpy(&v, data.data() + static_cast<std::size_t>(index) * sizeof v, sizeof v);
    return static_cast<double>(v);
  }
  return numeric::load_as_double(data.data(), *npy_to_dtype(type), index);
}

std::vector<std::int64_t> NpyArray::element_strides() const {
  const std::size_t rank = shape.size();
  std::vector<std::int64_t> strides(rank);
  std::int64_t stride = 1;
  for (std::size_t step = 0; step < rank; ++step) {
    const std::size_t dim = fortran_order ? step : rank - 1 - step;
    strides[dim] = stride;
    stride *= shape[dim];
  }
  return strides;
}

std::int64_t NpyArray::offset(const std::vector<std::int64_t>& indices) const {
  const std::vector<std::int64_t> strides = element_strides();
  std::int64_t off = 0;
  for (std::size_t dim = 0; dim < strides.size(); ++dim) off += indices[dim] * strides[dim];
  return off;
}

namespace {

// NumPy itself refuses headers over 10000 bytes unless told otherwise; a
// megabyte leaves room for any shape while bounding what a hostile length
// field can make us read.
constexpr std::size_t kMaxHeaderBytes = 1 << 20;
// NumPy allows 64 dimensions.
constexpr std::size_t kMaxRank = 64;
// Magic (6), version (2), header length (2 or 4).
constexpr std::size_t kPreambleBytes = 12;

// The whole header's size (preamble and dict), from the first bytes of a
// file (at most kPreambleBytes of them).
std::size_t header_size(std::string_view first, const std::string& name) {
  if (first.size() < kMagicSize + 4 || std::memcmp(first.data(), kMagic, kMagicSize) != 0)
    fail(name, "not a .npy file (missing the \\x93NUMPY magic)");
  const std::string bytes(first);
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = read_le(bytes, 8, 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(name, "truncated .npy header");
    header_len = read_le(bytes, 8, 4);
    header_start = 12;
  } else {
    fail(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " (supported: 1.0, 2.0, 3.0)");
  }
  if (header_len > kMaxHeaderBytes)
    fail(name, "the .npy header claims " + std::to_string(header_len) + " bytes, more than the " +
                   std::to_string(kMaxHeaderBytes) + " accepted");
  return header_start + header_len;
}

// The array described by a whole header (no data yet) and its data size.
NpyArray parse_header(std::string_view header, const std::string& name, std::uint64_t& data_bytes) {
  const std::size_t start = static_cast<unsigned char>(header[6]) == 1 ? 10 : 12;
  NpyArray array;
  std::string descr;
  HeaderParser(header.substr(start), name).parse(descr, array.fortran_order, array.shape);
  array.type = parse_descr(descr, name);
  if (array.shape.size() > kMaxRank)
    fail(name, "the array has " + std::to_string(array.shape.size()) + " dimensions, more than NumPy's " +
                   std::to_string(kMaxRank));
  std::int64_t count = 1;
  for (auto d : array.shape)
    if (__builtin_mul_overflow(count, d, &count)) fail(name, "the array's shape overflows");
  std::int64_t bytes = 0;
  if (__builtin_mul_overflow(count, static_cast<std::int64_t>(npy_type_size(array.type)), &bytes))
    fail(name, "the array's shape overflows");
  data_bytes = static_cast<std::uint64_t>(bytes);
  return array;
}

// The file must hold exactly the data the header promises: fewer bytes is a
// truncated file, more is not a single array.
void check_data_size(const NpyArray& array, std::uint64_t data_bytes, std::uint64_t available,
                     const std::string& name) {
  if (available < data_bytes)
    fail(name, "truncated data: shape " + array.shape_text() + " of " + std::string(npy_type_name(array.type)) +
                   " needs " + std::to_string(data_bytes) + " bytes, the file has " + std::to_string(available));
  if (available > data_bytes)
    fail(name, "the file has " + std::to_string(available - data_bytes) +
                   " bytes after the array's data (not a single .npy array?)");
}

}  // namespace

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
  const std::size_t header = header_size(std::string_view(bytes).substr(0, kPreambleBytes), name);
  if (header > bytes.size()) fail(name, "truncated .npy header");
  std::uint64_t data_bytes = 0;
  NpyArray array = parse_header(std::string_view(bytes).substr(0, header), name, data_bytes);
  check_data_size(array, data_bytes, bytes.size() - header, name);
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

NpyArray read_npy(const std::string& path) {
  // Bounded: the preamble, then the header it announces, then exactly the
  // data the header promises, checked against the file's size before
  // anything that size is allocated. Non-regular files are refused.
  try {
    files::InputFile file(path, path);
    std::string first(static_cast<std::size_t>(std::min<std::uint64_t>(file.size(), kPreambleBytes)), '\0');
    file.read_at(0, first.data(), first.size());
    const std::size_t header = header_size(first, path);
    if (header > file.size()) fail(path, "truncated .npy header");
    std::string header_bytes(header, '\0');
    file.read_at(0, header_bytes.data(), header);
    std::uint64_t data_bytes = 0;
    NpyArray array = parse_header(header_bytes, path, data_bytes);
    check_data_size(array, data_bytes, file.size() - header, path);
    const std::uint64_t usable = memory::usable_bytes();
    if (data_bytes > usable)
      fail(path, "the array holds " + memory::human_bytes(data_bytes) + " of data; this process may use " +
                     memory::human_bytes(usable));
    array.data.resize(static_cast<std::size_t>(data_bytes));
    file.read_at(header, array.data.data(), array.data.size());
    return array;
  } catch (const files::FileError& e) {
    if (e.fault() == files::FileError::Fault::usage) throw NpyError(e.what());
    throw;
  }
}

std::string format_npy(NpyType type, const std::vector<std::int64_t>& shape, bool fortran_order,
                       const void* data, bool with_data) {
  std::ostringstream dict;
  dict << "{'descr': '" << npy_descr(type) << "', 'fortran_order': " << (fortran_order ? "True" : "False")
       << ", 'shape': (";
  std::int64_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict << shape[i] << (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
    count *= shape[i];
  }
  dict << "), }";
  std::string header = dict.str();

  auto build = [&](int major, std::size_t len_bytes) {
    const std::size_t prefix = kMagicSize + 2 + len_bytes;
    std::size_t total = prefix + header.size() + 1;  // + the terminating newline
    std::size_t padded = (total + kHeaderAlignment - 1) / kHeaderAlignment * kHeaderAlignment;
    std::string text = header + std::string(padded - total, ' ') + "\n";
    std::string out(kMagic, kMagicSize);
    out += static_cast<char>(major);
    out += static_cast<char>(0);
    const std::size_t len = text.size();
    for (std::size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
    out += text;
    return out;
  };
  std::string out = header.size() + 64 < 65535 ? build(1, 2) : build(2, 4);
  const std::size_t data_bytes = static_cast<std::size_t>(count) * npy_type_size(type);
  if (with_data && data_bytes > 0) out.append(static_cast<const char*>(data), data_bytes);
  return out;
}

void write_npy(const std::string& path, NpyType type, const std::vector<std::int64_t>& shape, bool fortran_order,
               const void* data) {
  // The header and the data go out separately: no second copy of a large
  // output in memory.
  std::int64_t count = 1;
  for (auto d : shape) count *= d;
  const std::string header = format_npy(type, shape, fortran_order, nullptr, /*with_data=*/false);
  files::AtomicFile file(path, path);
  file.write(header);
  file.write(data, static_cast<std::size_t>(count) * npy_type_size(type));
  file.commit();
}

}  // namespace gemmtune::cli
