#include "tunableop.h"

#include <cctype>
#include <charconv>

#include "args.h"

namespace gemmtune::cli {
namespace {

[[noreturn]] void bad(const std::string& message) {
  throw UsageError("TunableOp line: " + message, usage_hint(Command::tune));
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::int64_t number(const std::string& text, const char* what) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0)
    bad(std::string(what) + " '" + text + "' is not a non-negative integer");
  return v;
}

// TunableOp's dtype spellings (the C++ type names of GemmTunableOp and
// at::toString of ScaledGemmTunableOp) as gemmtune's. "tf32" is f32 with
// tensor-core rounding allowed.
struct DtypeName {
  const char* tunableop;
  const char* gemmtune;
  int tokens;  // underscore-separated words it takes in an operator name
};
constexpr DtypeName kDtypes[] = {
    {"float", "f32", 1},           {"Float", "f32", 1},          {"tf32", "f32", 1},
    {"double", "f64", 1},          {"Double", "f64", 1},         {"Half", "f16", 1},
    {"BFloat16", "bf16", 1},       {"Float8_e4m3fn", "f8e4m3", 2}, {"Float8_e5m2", "f8e5m2", 2},
};

// Reads one dtype from `tokens` at `at` (advancing it); the TunableOp name as written.
std::string take_dtype(const std::vector<std::string>& tokens, std::size_t& at, std::string& gemmtune_name) {
  for (const auto& d : kDtypes) {
    if (at + d.tokens > tokens.size()) continue;
    std::string joined = tokens[at];
    for (int i = 1; i < d.tokens; ++i) joined += "_" + tokens[at + i];
    if (joined == d.tunableop) {
      at += d.tokens;
      gemmtune_name = d.gemmtune;
      return joined;
    }
  }
  std::string rest;
  for (std::size_t i = at; i < tokens.size(); ++i) rest += (rest.empty() ? "" : "_") + tokens[i];
  bad("dtype in '" + rest + "' is not one gemmtune computes (float, tf32, double, Half, BFloat16, Float8_e4m3fn, "
      "Float8_e5m2)");
}

}  // namespace

bool is_tunableop_line(std::string_view line) {
  const std::string text = trim(line);
  if (text.rfind("Validator,", 0) == 0) return true;
  const auto comma = text.find(',');
  const auto underscore = text.find('_');
  if (comma == std::string::npos || underscore == std::string::npos || underscore > comma) return false;
  const std::string op = text.substr(0, underscore);
  return op.size() > 9 && op.compare(op.size() - 9, 9, "TunableOp") == 0;
}

std::vector<std::string> tunableop_words(std::string_view line, const std::string& device) {
  const std::string text = trim(line);
  if (text.rfind("Validator,", 0) == 0) return {};
  const std::vector<std::string> fields = split(text, ',');
  if (fields.size() < 2) bad("expected OPERATOR,PARAMETERS[,...], got '" + text + "'");

  // OPERATOR: Name_Dtype[_Dtype_Dtype]_TT
  const std::vector<std::string> name = split(fields[0], '_');
  const std::string& op = name.front();
  const std::string& layout = name.back();
  if (name.size() < 3 || layout.size() != 2 || (layout[0] != 'N' && layout[0] != 'T') ||
      (layout[1] != 'N' && layout[1] != 'T'))
    bad("operator '" + fields[0] + "' does not end in _NN, _NT, _TN or _TT");
  std::vector<std::string> dtype_tokens(name.begin() + 1, name.end() - 1);
  std::size_t at = 0;
  std::string a_dtype, b_dtype, c_dtype, spelled;
  spelled = take_dtype(dtype_tokens, at, a_dtype);
  const bool tf32 = spelled == "tf32";
  const bool scaled = op == "ScaledGemmTunableOp";
  if (scaled) {
    take_dtype(dtype_tokens, at, b_dtype);
    take_dtype(dtype_tokens, at, c_dtype);
    if (b_dtype != a_dtype)
      bad("ScaledGemmTunableOp with A " + a_dtype + " and B " + b_dtype + ": gemmtune's scaled_mm takes one fp8 dtype");
  }
  if (at != dtype_tokens.size()) bad("operator '" + fields[0] + "' has more dtypes than " + op + " takes");

  // PARAMETERS: ta tb _M_N_K [_B_batch] [_ld_lda_ldb_ldc] [_rw_R] [_bias_DTYPE]
  const std::vector<std::string> p = split(fields[1], '_');
  if (p.size() < 4 || p[0].size() != 2) bad("parameters '" + fields[1] + "' do not start with tt_M_N_K");
  const char transa = static_cast<char>(std::tolower(static_cast<unsigned char>(p[0][0])));
  const char transb = static_cast<char>(std::tolower(static_cast<unsigned char>(p[0][1])));
  if (transa != std::tolower(static_cast<unsigned char>(layout[0])) ||
      transb != std::tolower(static_cast<unsigned char>(layout[1])))
    bad("parameters '" + fields[1] + "' and operator '" + fields[0] + "' disagree on the transposes");
  const std::int64_t blas_m = number(p[1], "M"), blas_n = number(p[2], "N"), k = number(p[3], "K");
  std::int64_t batch = 1;
  bool batched = false;
  std::optional<std::int64_t> lda, ldb, ldc;
  bool rowwise = false;
  std::string bias;
  for (std::size_t i = 4; i < p.size(); ++i) {
    if (p[i] == "B" && i + 1 < p.size()) {
      batch = number(p[++i], "batch");
      batched = true;
    } else if (p[i] == "ld" && i + 3 < p.size()) {
      lda = number(p[i + 1], "lda");
      ldb = number(p[i + 2], "ldb");
      ldc = number(p[i + 3], "ldc");
      i += 3;
    } else if (p[i] == "rw" && i + 1 < p.size()) {
      rowwise = p[++i] == "1";
    } else if (p[i] == "bias" && i + 1 < p.size()) {
      for (++i; i < p.size(); ++i) bias += (bias.empty() ? "" : "_") + p[i];
    } else {
      bad("parameters '" + fields[1] + "': unexpected '" + p[i] + "'");
    }
  }

  // Row-major torch C (M x N) = A . B computed as C^T = B^T . A^T by BLAS.
  const std::int64_t m = blas_n, n = blas_m;
  const char layout_a = transb == 't' ? 't' : 'n';
  const char layout_b = transa == 't' ? 't' : 'n';
  std::vector<std::string> words;
  if (op == "GemmTunableOp") {
    words = {"mm"};
  } else if (op == "GemmAndBiasTunableOp") {
    words = {"addmm"};
  } else if (op == "GemmStridedBatchedTunableOp") {
    if (!batched) bad("GemmStridedBatchedTunableOp parameters have no _B_batch");
    words = {"bmm"};
  } else if (scaled) {
    words = {"scaled_mm"};
  } else {
    bad("operator " + op + " is not one gemmtune tunes (GemmTunableOp, GemmAndBiasTunableOp, "
        "GemmStridedBatchedTunableOp, ScaledGemmTunableOp)");
  }
  if (batched && op != "GemmStridedBatchedTunableOp") bad(op + " parameters have a batch");
  const std::string shape = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
  words.push_back(batched ? std::to_string(batch) + "x" + shape : shape);
  words.insert(words.end(), {"--dtype", a_dtype, "--layout", std::string{layout_a, layout_b}});
  if (tf32) words.push_back("--allow-tf32");
  if (scaled) {
    words.insert(words.end(), {"--out-dtype", c_dtype});
    const char* scales = rowwise ? "per_channel" : "per_tensor";
    words.insert(words.end(), {"--scale-a", scales, "--scale-b", scales});
    if (!bias.empty() && bias != "None") words.insert(words.end(), {"--bias", "row"});
  }
  if (op == "GemmAndBiasTunableOp") words.insert(words.end(), {"--bias", "row"});
  // The leading dimensions, where they are not the dense ones: A's is BLAS's
  // ldb, B's is lda.
  if (ldb && *ldb != (layout_a == 'n' ? k : m)) words.insert(words.end(), {"--lda", std::to_string(*ldb)});
  if (lda && *lda != (layout_b == 'n' ? n : k)) words.insert(words.end(), {"--ldb", std::to_string(*lda)});
  if (ldc && *ldc != n) words.insert(words.end(), {"--ldc", std::to_string(*ldc)});
  words.insert(words.end(), {"--device", device});
  return words;
}

}  // namespace gemmtune::cli
