// SPDX-License-Identifier: MIT
#pragma once
// The text of src/serve/page.html, embedded at build time (src/CMakeLists.txt
// writes the definition into the build tree). Private to page.cpp.

#include <string_view>

namespace faceverify::serve::detail {

/// The page as written, with its one settings placeholder still in it.
std::string_view page_template() noexcept;

}  // namespace faceverify::serve::detail
