#include "orchestrator/config/document.h"

#include <set>
#include <utility>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

namespace razar::orchestrator::config_internal {
namespace {

constexpr size_t kMaxYamlNodes = 1'000'000;  // bounds alias ("billion laughs") expansion

// The deepest nesting of [ and { outside strings, and the line where it
// first passes `limit` (0 if it never does). A linear scan, so that no
// parser ever recurses into a document nested deeper than we accept.
size_t LineBeyondDepth(std::string_view text, int limit) {
  int depth = 0;
  size_t line = 1;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return line;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return 0;
}

Status TooDeep(const std::string& file, size_t line) {
  return Status::InvalidArgument(file + ": nested deeper than " + std::to_string(kMaxConfigDepth) +
                                 " levels at line " + std::to_string(line) +
                                 " (a boot config needs about six)");
}

}  // namespace

// ---------------------------------------------------------------------------
// Parsing with duplicate-key detection. Both parsers would otherwise keep
// one of two values silently; a duplicated key is almost always a mistake.


// The message for a problem at `path` in `doc`, naming the component when
// the path is inside components[i].
Status PathError(const Json& doc, const std::vector<PathSeg>& path, const std::string& file,
                 std::string_view what) {
  size_t first = 0;
  std::string component;
  if (path.size() >= 2 && !path[0].is_index && path[0].key == "components" && path[1].is_index) {
    first = 2;
    const Json* c = nullptr;
    auto comps = doc.find("components");
    if (comps != doc.end() && comps->is_array() && path[1].index < comps->size()) {
      c = &(*comps)[path[1].index];
    }
    if (c != nullptr && c->is_object() && c->contains("name") && c->at("name").is_string()) {
      component = ComponentLabel(c->at("name").get<std::string>());
    } else {
      component = ComponentLabel(path[1].index);
    }
  }
  std::string key;
  for (size_t i = first; i < path.size(); ++i) {
    if (path[i].is_index) {
      key += "[" + std::to_string(path[i].index) + "]";
    } else {
      key += (key.empty() ? "" : ".") + path[i].key;
    }
  }
  return Where(file, component).Error(key, what);
}


Result<Json> ParseJson(std::string_view text, const std::string& file, DuplicateKey* dup) {
  if (size_t line = LineBeyondDepth(text, kMaxConfigDepth); line != 0) return TooDeep(file, line);
  // Frames mirror the parser's open containers so a duplicate can be named
  // by its full path.
  struct Frame {
    bool is_array = false;
    size_t index = 0;
    std::string last_key;
    std::set<std::string> keys;
  };
  std::vector<Frame> frames;
  auto element_done = [&frames] {
    if (!frames.empty() && frames.back().is_array) frames.back().index++;
  };
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        frames.push_back(Frame{event == Json::parse_event_t::array_start, 0, "", {}});
        break;
      case Json::parse_event_t::key: {
        Frame& f = frames.back();
        f.last_key = parsed.get<std::string>();
        if (!f.keys.insert(f.last_key).second && !dup->found) {
          dup->found = true;
          for (const Frame& fr : frames) {
            dup->path.push_back(fr.is_array ? PathSeg{"", fr.index, true}
                                            : PathSeg{fr.last_key, 0, false});
          }
        }
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        frames.pop_back();
        element_done();
        break;
      case Json::parse_event_t::value:
        element_done();
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string what = e.what();
    size_t at = what.find("at line");
    return Status::InvalidArgument(file + ": invalid JSON " +
                                   (at == std::string::npos ? what : what.substr(at)));
  }
}

// YAML -> the same tree JSON gives, except that every scalar stays a string
// (its text); the typed reads accept those strings for numbers and booleans.
class YamlConverter {
 public:
  explicit YamlConverter(const std::string& file) : file_(file) {}

  Status Convert(const YAML::Node& node, int depth, Json* out) {
    if (depth > kMaxConfigDepth) {
      return Problem(node, "nested deeper than " + std::to_string(kMaxConfigDepth) + " levels");
    }
    if (++nodes_ > kMaxYamlNodes) return Problem(node, "document too large (alias expansion?)");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        *out = nullptr;
        return Status::Ok();
      case YAML::NodeType::Scalar:
        *out = node.Scalar();
        return Status::Ok();
      case YAML::NodeType::Sequence:
        *out = Json::array();
        for (size_t i = 0; i < node.size(); ++i) {
          path_.push_back(PathSeg{"", i, true});
          Json item;
          RAZAR_RETURN_IF_ERROR(Convert(node[i], depth + 1, &item));
          out->push_back(std::move(item));      // kept even when partial: the
          if (duplicate_) return Status::Ok();  // message reads the name from it
          path_.pop_back();
        }
        return Status::Ok();
      case YAML::NodeType::Map:
        return ConvertMap(node, depth, out);
    }
    return Problem(node, "unsupported YAML node");
  }

  const std::vector<PathSeg>& path() const { return path_; }
  bool duplicate() const { return duplicate_; }

 private:
  Status ConvertMap(const YAML::Node& node, int depth, Json* out) {
    *out = Json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) return Problem(it->first, "mapping keys must be plain strings");
      const std::string& key = it->first.Scalar();
      path_.push_back(PathSeg{key, 0, false});
      if (out->contains(key)) {
        duplicate_ = true;
        return Status::Ok();  // path_ names it; the caller builds the message
      }
      Json value;
      RAZAR_RETURN_IF_ERROR(Convert(it->second, depth + 1, &value));
      (*out)[key] = std::move(value);
      if (duplicate_) return Status::Ok();  // path_ stays at the duplicate
      path_.pop_back();
    }
    return Status::Ok();
  }

  Status Problem(const YAML::Node& node, std::string_view what) const {
    YAML::Mark mark = node.Mark();
    std::string where = mark.is_null() ? "" : "line " + std::to_string(mark.line + 1) + ": ";
    return Status::InvalidArgument(file_ + ": " + where + std::string(what));
  }

  const std::string& file_;
  std::vector<PathSeg> path_;
  size_t nodes_ = 0;
  bool duplicate_ = false;
};

Result<Json> ParseYaml(std::string_view text, const std::string& file, DuplicateKey* dup) {
  // yaml-cpp bounds its own recursion (DepthGuard, 2000 levels) and throws
  // DeepRecursion beyond it; below that, the converter refuses more than
  // kMaxConfigDepth. (Brackets in YAML need not be nesting — comments,
  // plain and quoted scalars — so no text scan here, unlike JSON.)
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    return TooDeep(file, static_cast<size_t>(e.mark.line + 1));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ": invalid YAML at line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  YamlConverter converter(file);
  Json doc;
  RAZAR_RETURN_IF_ERROR(converter.Convert(root, 0, &doc));
  if (converter.duplicate()) {
    dup->found = true;
    dup->path = converter.path();
  }
  return doc;
}

}  // namespace razar::orchestrator::config_internal
