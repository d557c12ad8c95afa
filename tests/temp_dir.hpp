#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <caf/test/unit_test.hpp>

namespace am::test {

/// A fresh folder under /tmp, removed with the object.
struct temp_dir {
  std::string path;

  explicit temp_dir(const std::string& prefix = "agentmesh-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    auto p = mkdtemp(tmpl.data());
    CAF_REQUIRE(p != nullptr);
    path = p;
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The agentmesh option that puts a node's store here.
  std::string store_option() const {
    return "--store.path=" + path;
  }
};

} // namespace am::test
