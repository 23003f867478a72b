#include "backends/compiled_out.h"

namespace gemmtune::backends {
namespace {

class CompiledOutBackend final : public Backend {
 public:
  CompiledOutBackend(std::string name, DeviceKind device, std::string why)
      : name_(std::move(name)), device_(device), why_(std::move(why)) {}
  std::string_view name() const override { return name_; }
  DeviceKind device_kind() const override { return device_; }
  std::string version() const override { return "compiled-out"; }
  Availability availability() const override { return Availability::no("compiled out: " + why_); }
  std::string capabilities() const override { return "none (compiled out)"; }
  Expected<std::vector<Choice>> enumerate(const Problem&, const TuningContext&) const override {
    return reject(Reason::compiled_out, why_);
  }
  Expected<std::unique_ptr<Kernel>> build(const Problem&, const Choice&, const TuningContext&) const override {
    return reject(Reason::compiled_out, why_);
  }

 private:
  std::string name_;
  DeviceKind device_;
  std::string why_;
};

}  // namespace

std::shared_ptr<Backend> make_compiled_out_backend(std::string name, DeviceKind device, std::string why) {
  return std::make_shared<CompiledOutBackend>(std::move(name), device, std::move(why));
}

}  // namespace gemmtune::backends
