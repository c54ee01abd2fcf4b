// Token store checksums (HDF5's Fletcher32 filter on every dataset, checked
// on each chunk read): one bit flipped in the stored token ids, or in the
// document offsets, is an error naming the file and the split, never ids
// trained on in silence.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <filesystem>
#include <fstream>

#include "data/store/loader.h"
#include "data/store/token_store.h"
#include "tests/data/store/store_fixture.h"
#include "tests/test_paths.h"

namespace {

namespace fs = std::filesystem;

// File address and size of chunk `index` of dataset `name` (e.g. "/train/tokens").
std::pair<haddr_t, hsize_t> chunk_location(const std::string& path, const std::string& name, hsize_t index) {
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(file >= 0);
  hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  REQUIRE(dataset >= 0);
  hid_t space = H5Dget_space(dataset);
  hsize_t offset = 0, size = 0;
  unsigned mask = 0;
  haddr_t address = 0;
  REQUIRE(H5Dget_chunk_info(dataset, space, index, &offset, &mask, &address, &size) >= 0);
  H5Sclose(space);
  H5Dclose(dataset);
  H5Fclose(file);
  return {address, size};
}

void flip_bit(const std::string& path, uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char byte = 0;
  f.read(&byte, 1);
  byte = static_cast<char>(byte ^ 0x10);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&byte, 1);
}

}  // namespace

TEST_CASE("token store: a flipped bit in the token ids is an error naming file and split", "[store][checksum]") {
  const auto path = (hmt::test::temp_dir("store_checksum") / "lm.h5").string();
  hmt::test::write_lm_store(path, {40000, 30000});  // three chunks of 32768 ids
  {
    hmt::TokenStore store(path);
    CHECK(store.split("train").checksummed());
  }
  auto [address, size] = chunk_location(path, "/train/tokens", 1);
  REQUIRE(size > 16);
  flip_bit(path, address + size / 2);

  hmt::TokenStore store(path);  // the offsets are intact: the file opens
  const auto& split = store.split("train");
  CHECK_NOTHROW(split.read(0, 1000));  // chunk 0 is intact
  CHECK_THROWS_WITH(split.read(0, split.tokens()),
                    Catch::Contains(path) && Catch::Contains("split `train`") && Catch::Contains("checksum"));

  hmt::LoaderOptions o;
  o.path = path;
  o.segments = 4;
  o.segment_length = 100;
  o.batch_size = 2;
  hmt::Loader loader(o);
  auto read_epoch = [&] {
    for (int64_t s = 0; s < loader.steps_per_epoch(); ++s) loader.next();
  };
  CHECK_THROWS_WITH(read_epoch(), Catch::Contains(path) && Catch::Contains("split `train`"));
}

TEST_CASE("token store: a flipped bit in the document offsets is refused at open", "[store][checksum]") {
  const auto path = (hmt::test::temp_dir("store_checksum_offsets") / "lm.h5").string();
  hmt::test::write_lm_store(path, {500, 300, 200});
  auto [address, size] = chunk_location(path, "/train/doc_offsets", 0);
  flip_bit(path, address + size / 2);
  CHECK_THROWS_WITH(hmt::TokenStore(path),
                    Catch::Contains(path) && Catch::Contains("split `train`") && Catch::Contains("checksum"));
}
