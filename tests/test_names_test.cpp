// Every test case must reach ctest as its own test: catch_discover_tests
// passes the names through a CMake list, where a semicolon splits a name in
// two and a backslash or an unbalanced square bracket fuses the names that
// follow into one entry. Either way the ctest entries match no test case,
// and Catch reports "No tests ran" as a pass: the tests silently never ran.
#include <catch2/catch.hpp>

#include <string>

TEST_CASE("test names: each name survives ctest discovery (no semicolon or backslash, brackets balanced)", "[meta]") {
  const auto& tests = Catch::getRegistryHub().getTestCaseRegistry().getAllTests();
  REQUIRE(tests.size() > 100);
  for (const auto& test : tests) {
    const std::string& name = test.getTestCaseInfo().name;
    INFO(name);
    CHECK(name.find('\\') == std::string::npos);
    CHECK(name.find(';') == std::string::npos);  // a CMake list separator: the name is split in two
    int depth = 0;
    bool balanced = true;
    for (char c : name) {
      depth += c == '[' ? 1 : c == ']' ? -1 : 0;
      balanced = balanced && depth >= 0;
    }
    CHECK((balanced && depth == 0));
  }
}
