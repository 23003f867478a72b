#include "backends/cuda/framework/family.h"

#include <charconv>

namespace gemmtune::backends::cuda_kernels {

std::vector<std::string_view> split_name(std::string_view name) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = name.find('_', start);
    out.push_back(name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

namespace {
std::optional<int> whole_int(std::string_view text) {
  if (text.empty() || text.size() > 6) return std::nullopt;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;  // one spelling per value
  return v;
}
}  // namespace

std::optional<int> tagged_int(std::string_view field, std::string_view tag) {
  if (field.substr(0, tag.size()) != tag) return std::nullopt;
  return whole_int(field.substr(tag.size()));
}

std::optional<std::pair<int, int>> int_pair(std::string_view field) {
  const std::size_t x = field.find('x');
  if (x == std::string_view::npos) return std::nullopt;
  auto a = whole_int(field.substr(0, x));
  auto b = whole_int(field.substr(x + 1));
  if (!a || !b) return std::nullopt;
  return std::make_pair(*a, *b);
}

}  // namespace gemmtune::backends::cuda_kernels
