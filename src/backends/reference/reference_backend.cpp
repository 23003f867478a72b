#include "backends/reference/reference_backend.h"

#include "backends/reference/reference_math.h"

namespace gemmtune::backends {
namespace {

class ReferenceKernel final : public Kernel {
 public:
  ReferenceKernel(Problem problem, int threads) : problem_(std::move(problem)), threads_(threads) {}
  Status run(const GemmArgs& args, const RunContext&) override {
    reference::compute(problem_, args, threads_);
    return Status::success();
  }

 private:
  Problem problem_;
  int threads_;
};

class ReferenceBackend final : public Backend {
 public:
  static constexpr const char* kChoice = "reference_exact";

  std::string_view name() const override { return "REFERENCE"; }
  DeviceKind device_kind() const override { return DeviceKind::cpu; }
  std::string version() const override { return "reference-1"; }
  Availability availability() const override { return Availability::yes(); }
  std::string capabilities() const override {
    return "every op and dtype, any strides; exact (double or int64 accumulation); slow";
  }
  bool may_be_inexact() const override { return false; }

  Expected<std::vector<Choice>> enumerate(const Problem&, const TuningContext&) const override {
    return std::vector<Choice>{Choice{kChoice, "double/int64 accumulation, one element at a time"}};
  }

  Expected<std::unique_ptr<Kernel>> build(const Problem& problem, const Choice& choice,
                                          const TuningContext& ctx) const override {
    if (choice.name != kChoice)
      return reject(Reason::internal_error, "'" + choice.name + "' is not a REFERENCE choice name");
    return std::unique_ptr<Kernel>(std::make_unique<ReferenceKernel>(problem, ctx.threads));
  }
};

}  // namespace

std::shared_ptr<Backend> make_reference_backend() { return std::make_shared<ReferenceBackend>(); }

}  // namespace gemmtune::backends
