#include "orchestrator/base/json_text.h"

namespace razar::orchestrator {

std::string DumpJson(const nlohmann::json& json, int indent) {
  return json.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace razar::orchestrator
