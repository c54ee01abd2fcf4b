#include <catch2/catch.hpp>

#include <fstream>

#include "core/error.h"
#include "core/sha256.h"
#include "tests/test_paths.h"

TEST_CASE("sha256: FIPS 180-2 test vectors", "[core][sha256]") {
  REQUIRE(hmt::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  REQUIRE(hmt::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("sha256: file hash equals the hash of its bytes, and matches SOURCES.md", "[core][sha256]") {
  auto dir = hmt::test::temp_dir("sha256");
  std::string bytes(3 << 20, 'x');
  bytes[12345] = 'y';
  std::ofstream(dir / "f.bin", std::ios::binary) << bytes;
  REQUIRE(hmt::sha256_file((dir / "f.bin").string()) == hmt::sha256_hex(bytes));
  REQUIRE_THROWS_WITH(hmt::sha256_file((dir / "missing").string()), Catch::Contains("missing"));

  HMT_REQUIRE_SHARED("pg19/metadata.csv");
  REQUIRE(hmt::sha256_file((hmt::test::shared_data() / "pg19/metadata.csv").string()) ==
          "3acf1450c2b79be11f3fbbf269f2bb1107d0286beda7043851586561c78c79d6");
}
