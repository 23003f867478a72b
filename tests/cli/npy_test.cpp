// The .npy reader and writer, without NumPy: headers written by hand in the
// forms NumPy produces (versions 1.0-3.0, C and Fortran order) and the
// malformed files the reader must refuse with the file's name.
#include <gtest/gtest.h>

#include <cstring>

#include "npy.h"

namespace gemmtune::cli {
namespace {

// A .npy image with a given header dict, version and raw data.
std::string image(const std::string& dict, int major, const std::string& data) {
  std::string header = dict;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t n = header.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 24) & 0xff);
  }
  return out + header + data;
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST(Npy, RoundTripsFloat32InCOrder) {
  std::vector<float> values{1.5f, -2.0f, 3.25f, 4.0f, 5.0f, 6.0f};
  std::string text = format_npy(NpyType::f32, {2, 3}, false, values.data());
  NpyArray a = parse_npy(text, "a.npy");
  EXPECT_EQ(a.type, NpyType::f32);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_FALSE(a.fortran_order);
  ASSERT_EQ(a.element_count(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.load(i), values[i]);
  EXPECT_EQ(a.offset({1, 2}), 5);
}

TEST(Npy, WrittenHeaderIsPaddedTo64BytesAndEndsWithNewline) {
  std::vector<std::int32_t> values{1, 2, 3};
  std::string text = format_npy(NpyType::i32, {3}, false, values.data());
  const std::size_t header_len = static_cast<unsigned char>(text[8]) | (static_cast<unsigned char>(text[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(text[10 + header_len - 1], '\n');
  // A 1-D shape is written as a one-element tuple "(3,)", as Python spells it.
  EXPECT_NE(text.find("'shape': (3,)"), std::string::npos);
  EXPECT_NE(text.find("'descr': '<i4'"), std::string::npos);
}

TEST(Npy, FortranOrderOffsetsAreColumnMajor) {
  // Logical [[1, 2, 3], [4, 5, 6]] stored column by column.
  std::vector<double> column_major{1, 4, 2, 5, 3, 6};
  NpyArray a = parse_npy(image("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", 1, bytes_of(column_major)),
                         "f.npy");
  EXPECT_TRUE(a.fortran_order);
  EXPECT_EQ(a.load(a.offset({0, 2})), 3.0);
  EXPECT_EQ(a.load(a.offset({1, 0})), 4.0);
  EXPECT_EQ(a.load(a.offset({1, 2})), 6.0);
}

TEST(Npy, ReadsFormatVersions2And3) {
  std::vector<std::int8_t> values{-1, 2, -3, 4};
  for (int major : {2, 3}) {
    NpyArray a = parse_npy(image("{'descr': '|i1', 'fortran_order': False, 'shape': (4,), }", major, bytes_of(values)),
                           "v.npy");
    EXPECT_EQ(a.type, NpyType::i8) << "version " << major;
    EXPECT_EQ(a.load(2), -3.0);
  }
}

TEST(Npy, AcceptsKeysInAnyOrderAndDoubleQuotes) {
  std::vector<std::uint8_t> values{7, 8};
  NpyArray a = parse_npy(image("{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"|u1\"}", 1, bytes_of(values)),
                         "q.npy");
  EXPECT_EQ(a.type, NpyType::u8);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(a.load(1), 8.0);
}

TEST(Npy, ReadsFloat16AndInt64) {
  std::vector<std::uint16_t> halves{0x3c00, 0xc000};  // 1.0, -2.0
  NpyArray h = parse_npy(image("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 1, bytes_of(halves)), "h.npy");
  EXPECT_EQ(h.load(0), 1.0);
  EXPECT_EQ(h.load(1), -2.0);
  std::vector<std::int64_t> longs{-5, 1234567};
  NpyArray l = parse_npy(image("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 1, bytes_of(longs)), "l.npy");
  EXPECT_EQ(l.type, NpyType::i64);
  EXPECT_EQ(l.load(1), 1234567.0);
}

TEST(Npy, ReadsScalarAndEmptyArrays) {
  std::vector<float> one{2.5f};
  NpyArray s = parse_npy(image("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1, bytes_of(one)), "s.npy");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.element_count(), 1);
  EXPECT_EQ(s.load(0), 2.5);
  NpyArray e = parse_npy(image("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", 1, ""), "e.npy");
  EXPECT_EQ(e.element_count(), 0);
}

void expect_refused(const std::string& text, const std::string& needle) {
  try {
    parse_npy(text, "bad.npy");
    ADD_FAILURE() << "accepted a file that should be refused (" << needle << ")";
  } catch (const NpyError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.rfind("bad.npy: ", 0), 0u) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(Npy, RefusesBigEndianData) {
  std::vector<float> v{1.0f};
  expect_refused(image("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 1, bytes_of(v)), "big-endian");
}

TEST(Npy, RefusesObjectAndStructuredArrays) {
  expect_refused(image("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 1, std::string(8, '\0')),
                 "object arrays");
  expect_refused(image("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (1,), }", 1, std::string(4, '\0')),
                 "structured");
}

TEST(Npy, RefusesUnsupportedDtypesListingTheSupportedOnes) {
  expect_refused(image("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 1, std::string(8, '\0')),
                 "supported: float32");
}

TEST(Npy, AControlByteInTheDtypeIsShownEscapedAndTheMessageGoesOn) {
  // A NUL in the descr ended the message there (the supported list lost).
  expect_refused(image(std::string("{'descr': '<f4") + '\0' + "', 'fortran_order': False, 'shape': (1,), }", 1,
                       std::string(4, '\0')),
                 "unsupported dtype '<f4\\x00'; supported: float32");
}

TEST(Npy, RefusesTruncatedAndOverlongData) {
  std::vector<float> three{1, 2, 3};
  expect_refused(image("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 1, bytes_of(three)),
                 "truncated data");
  expect_refused(image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 1, bytes_of(three)),
                 "bytes after");
}

TEST(Npy, RefusesFilesThatAreNotNpy) {
  expect_refused("hello world, not numpy", "not a .npy file");
  std::string v9 = image("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 1, std::string(4, '\0'));
  v9[6] = 9;
  expect_refused(v9, "unsupported .npy format version 9");
  expect_refused(image("{'descr': '<f4', 'shape': (1,), }", 1, std::string(4, '\0')), "no 'fortran_order'");
  expect_refused(image("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", 1, std::string(4, '\0')),
                 "malformed");
}

TEST(Npy, RefusesShapesThatOverflow) {
  expect_refused(image("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 1, ""),
                 "overflows");
}

TEST(Npy, OutputTypesFollowNumPyWithFloat32ForBf16AndFp8) {
  EXPECT_EQ(npy_type_for_output(DType::f32), NpyType::f32);
  EXPECT_EQ(npy_type_for_output(DType::f16), NpyType::f16);
  EXPECT_EQ(npy_type_for_output(DType::i32), NpyType::i32);
  EXPECT_EQ(npy_type_for_output(DType::bf16), NpyType::f32);
  EXPECT_EQ(npy_type_for_output(DType::f8e4m3), NpyType::f32);
}

TEST(Npy, ReadFileNamesAMissingFile) {
  try {
    read_npy("/nonexistent/dir/x.npy");
    ADD_FAILURE() << "read a missing file";
  } catch (const NpyError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.npy"), std::string::npos);
  }
}

}  // namespace
}  // namespace gemmtune::cli
